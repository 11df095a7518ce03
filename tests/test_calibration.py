"""Calibration (none / platt / isotonic) and the Youden threshold: checked against
scikit-learn and brute force, fitted by the models on their validation samples, saved with
them, applied to maps and evaluation; the forest's grid search on whole blocks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import lsgh_ee as lg
from conftest import SMALL_RF_GRID, edit_config, fast_training
from lsgh_ee.errors import LsghError
from lsgh_ee.evaluation import binary_metrics, roc_auc
from lsgh_ee.evaluation.calibration import (
    brier_score,
    expected_calibration_error,
    reliability_bins,
)
from lsgh_ee.model import ModelEstimator, make_model
from lsgh_ee.model.calibration import (
    MIN_PER_CLASS,
    PLATT_RIDGE,
    Calibrator,
    fit_calibrator,
    isotonic_fit,
    logit,
    platt_fit,
    youden_threshold,
)
from lsgh_ee.runfolder import RunFolder


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true probability, score, label): the score is p³, far below the frequency."""
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    labels = (rng.random(n) < p).astype("float64")
    return p, p**3, labels


# -- the calibrators against independent implementations ---------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_platt_matches_scikit_learn_logistic_regression_on_the_logit(seed: int) -> None:
    from sklearn.linear_model import LogisticRegression

    _, scores, labels = _miscalibrated(400, seed)
    scores[:4] = [0.0, 1.0, 0.0, 1.0]  # the clipped ends
    a, b = platt_fit(scores, labels)
    reference = LogisticRegression(C=1 / PLATT_RIDGE, tol=1e-12, max_iter=10_000)
    reference.fit(logit(scores)[:, None], labels)
    assert a == pytest.approx(reference.coef_[0, 0], rel=1e-6)
    assert b == pytest.approx(reference.intercept_[0], rel=1e-6, abs=1e-8)
    calibrated = fit_calibrator("platt", scores, labels).apply(scores)
    np.testing.assert_allclose(calibrated, reference.predict_proba(logit(scores)[:, None])[:, 1],
                               atol=1e-7)  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_isotonic_steps_match_scikit_learn_and_interpolate_between_block_centres(
    seed: int,
) -> None:
    from sklearn.isotonic import IsotonicRegression

    _, scores, labels = _miscalibrated(500, seed)
    scores = np.round(scores, 2)  # many ties
    centres, values = isotonic_fit(scores, labels)
    fitted = IsotonicRegression().fit(scores, labels).predict(scores)  # the step at each sample
    assert np.allclose(values, np.unique(fitted))  # the same steps, strictly increasing
    for centre, value in zip(centres, values, strict=True):
        block = np.isclose(fitted, value)
        assert centre == pytest.approx(scores[block].mean())  # weighted by tied samples
    calibrator = fit_calibrator("isotonic", scores, labels)
    grid = np.linspace(centres[0], centres[-1], 1001)
    assert np.all(np.diff(calibrator.apply(grid)) > 0)  # ranking kept between the centres
    assert calibrator.apply(np.array([0.0, 1.0])).tolist() == [values[0], values[-1]]


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_improves_the_brier_score_of_a_miscalibrated_model(method: str) -> None:
    _, val_scores, val_labels = _miscalibrated(2000, 1)
    p, test_scores, test_labels = _miscalibrated(5000, 2)
    calibrator = fit_calibrator(method, val_scores, val_labels)
    raw = brier_score(test_labels, test_scores)
    calibrated = calibrator.apply(test_scores)
    after = brier_score(test_labels, calibrated)
    best = brier_score(test_labels, p)  # the true probability: the floor
    assert after < raw - 0.02 and after < best + 0.005
    assert expected_calibration_error(test_labels, calibrated) < 0.03
    assert expected_calibration_error(test_labels, test_scores) > 0.15
    raw_auc, auc = roc_auc(test_labels, test_scores), roc_auc(test_labels, calibrated)
    if method == "platt":
        assert auc == pytest.approx(raw_auc, abs=1e-12)  # strictly monotone: same ranking
    else:
        assert abs(auc - raw_auc) < 0.002  # ties only beyond the outer block centres


@pytest.mark.parametrize("seed", range(5))
def test_youden_threshold_is_the_brute_force_maximum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(300), 2)
    labels = (rng.random(300) < scores).astype("float64")
    best_j, best_t = -np.inf, None
    for t in sorted(np.unique(scores), reverse=True):  # the highest threshold wins ties
        called = scores >= t
        j = called[labels == 1].mean() - called[labels == 0].mean()
        if j > best_j + 1e-12:
            best_j, best_t = j, t
    assert youden_threshold(scores, labels) == best_t
    m = binary_metrics(labels, scores, threshold=best_t)
    assert m["sensitivity"] + m["specificity"] - 1 == pytest.approx(best_j)
    assert youden_threshold(scores, np.zeros(300)) is None


def test_too_few_validation_landslides_is_an_error_naming_the_fix() -> None:
    scores = np.linspace(0, 1, 50)
    labels = np.r_[np.zeros(50 - MIN_PER_CLASS + 1), np.ones(MIN_PER_CLASS - 1)]
    with pytest.raises(LsghError, match="needs at least 10 landslides.*calibration: none"):
        fit_calibrator("platt", scores, labels)
    kept = fit_calibrator("none", scores, labels)  # no calibration asked: only the threshold
    assert kept.method == "none" and kept.threshold == scores[-MIN_PER_CLASS + 1]
    inverted = fit_calibrator("platt", scores, 1.0 - (scores > 0.5))  # higher: fewer
    assert inverted.method == "none" and "left uncalibrated" in inverted.notice
    assert np.array_equal(inverted.apply(scores), scores)
    with pytest.raises(LsghError, match="training.calibration must be one of none, platt"):
        make_model("rf", [3], calibration="sigmoid")


def test_soft_validation_labels_are_left_out_and_the_calibrator_round_trips() -> None:
    _, scores, labels = _miscalibrated(300, 3)
    soft = np.r_[labels, np.full(50, 0.5)]
    fitted = fit_calibrator("isotonic", np.r_[scores, np.full(50, 0.9)], soft, source="x")
    assert fitted == fit_calibrator("isotonic", scores, labels, source="x")
    back = Calibrator.from_json(json.loads(json.dumps(fitted.to_json())))
    assert back == fitted and Calibrator.from_json(None) is None
    with pytest.raises(LsghError, match="saved calibration"):
        Calibrator.from_json({"method": "magic"})


# -- models ----------------------------------------------------------------------------------
def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class codes (n, 3), labels with landslide probability rising with factor 0, and
    block ids (12 blocks)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 6, size=(n, 3)).astype("uint8")
    p = 0.05 + 0.2 * (codes[:, 0] - 1)
    labels = (rng.random(n) < p).astype("float32")
    return codes, labels, rng.integers(0, 12, n)


@pytest.mark.parametrize("method", ["none", "platt", "isotonic"])
def test_a_calibrated_forest_saves_loads_and_maps_its_calibrated_scores(
    method: str, tmp_path: Path
) -> None:
    from lsgh_ee.mapping import predict_codes

    codes, labels, _ = _data(600, 0)
    model = make_model("rf", [5, 5, 5], param_grid=SMALL_RF_GRID, calibration=method, n_jobs=1)
    model.fit(codes, labels)  # no validation: out-of-bag scores
    fitted = model.calibrator_
    assert fitted.method == method and fitted.source == "out-of-bag"
    assert model.fit_info_["calibration"]["method"] == method
    raw = model.predict(codes, calibrated=False)
    np.testing.assert_allclose(model.predict(codes), fitted.apply(raw), atol=1e-6)
    if method != "none":
        assert not np.allclose(model.predict(codes), raw)
    back = ModelEstimator.load(model.save(tmp_path / "rf"))
    assert back.calibrator_ == fitted and back.threshold_ == fitted.threshold
    assert back.get_params()["calibration"] == method
    np.testing.assert_array_equal(back.predict(codes), model.predict(codes))
    mapped = predict_codes(back, codes, np.array([5, 5, 5]))
    np.testing.assert_array_equal(mapped, model.predict(codes))
    with_val = make_model("rf", [5, 5, 5], param_grid=SMALL_RF_GRID, calibration=method)
    val_codes, val_labels, _ = _data(300, 1)
    with_val.fit(codes, labels, validation=(val_codes, val_labels))
    assert with_val.calibrator_.source == "validation"
    assert with_val.calibrator_.n_validation == 300


def test_the_forest_grid_search_never_scores_a_block_it_was_fitted_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sklearn.model_selection as ms

    seen: list = []
    real = ms.GridSearchCV

    def spy(*args, **kwargs):
        seen.append(kwargs["cv"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ms, "GridSearchCV", spy)
    codes, labels, groups = _data(600, 2)
    model = make_model("rf", [5, 5, 5], param_grid=SMALL_RF_GRID, n_jobs=1, seed=3)
    model.fit(codes, labels, groups=groups)
    assert model.fit_info_["grid_search_cv"].startswith("StratifiedGroupKFold: 3 folds of 12")
    splits = seen[-1]
    assert len(splits) == 3
    scored = np.concatenate([score for _, score in splits])
    assert np.array_equal(np.sort(scored), np.arange(600))  # each sample scored once
    for fit, score in splits:
        assert not set(groups[fit]) & set(groups[score])
        assert labels[score].sum() > 0
    model.fit(codes, labels)  # without groups: random pixel folds
    assert model.fit_info_["grid_search_cv"].startswith("StratifiedKFold")
    assert any(set(groups[f]) & set(groups[s]) for f, s in seen[-1])
    with pytest.raises(LsghError, match="groups has 5 values for 600 samples"):
        model.fit(codes, labels, groups=groups[:5])


@pytest.mark.slow
def test_a_network_calibrates_on_its_validation_samples(tmp_path: Path) -> None:
    codes, labels, _ = _data(400, 4)
    val_codes, val_labels, _ = _data(200, 5)
    model = make_model("cnn", [5, 5, 5], epochs=2, patience=1, filters=(8, 16),
                       calibration="platt")  # fmt: skip
    model.fit(codes, labels, validation=(val_codes, val_labels))
    fitted = model.calibrator_
    assert fitted.method == "platt" and fitted.n_validation == 200
    raw = model.predict(val_codes, calibrated=False)
    assert fitted.threshold == youden_threshold(fitted.apply(raw), val_labels)
    back = ModelEstimator.load(model.save(tmp_path / "cnn"))
    np.testing.assert_allclose(back.predict(codes), model.predict(codes), atol=1e-6)
    drawn = make_model("cnn", [5, 5, 5], epochs=1, filters=(8, 16), calibration="isotonic",
                       validation_fraction=0.3)  # fmt: skip
    drawn.fit(codes, labels)  # the validation share drawn inside fit
    assert drawn.calibrator_.n_validation == pytest.approx(0.3 * 400, abs=2)
    none = make_model("cnn", [5, 5, 5], calibration="platt", validation_fraction=0.0)
    with pytest.raises(LsghError, match="validation_fraction is 0"):
        none.fit(codes, labels)


# -- the stages --------------------------------------------------------------------------------
def _calibrated_region(built_region: Path, folder: Path, method: str) -> Path:
    shutil.copytree(built_region.parent, folder)
    config = folder / built_region.name
    sampling = yaml.safe_load(config.read_text(encoding="utf-8")).get("sampling") or {}
    training = fast_training(epochs=2, patience=1, calibration=method)
    split = {**sampling, "split": "spatial", "block_size": 450.0}
    return edit_config(config, sampling=split, training=training)


def test_evaluate_writes_the_reliability_diagram_and_the_youden_table(
    built_region: Path, tmp_path: Path
) -> None:
    import matplotlib.image

    from lsgh_ee.model import load_bundle
    from lsgh_ee.sampling import Samples

    config = _calibrated_region(built_region, tmp_path / "region", "isotonic")
    lg.sample(config)
    lg.train(config, "rf")
    result = lg.evaluate(config)
    run = RunFolder(result.run_dir)
    model, schema = load_bundle(run.model_dir("rf"))
    assert schema["calibration"]["method"] == "isotonic"
    assert "StratifiedGroupKFold" in schema["fit_info"]["grid_search_cv"]  # spatial split
    image = matplotlib.image.imread(run / run.RELIABILITY_PNG)
    assert image.shape[0] > 400 and image.shape[1] > 400 and image[..., :3].std() > 0.05
    test = Samples.read_gpkg(run.samples).test
    test = test.subset(test.kind != "soft")
    score = model.predict(test.codes)
    table = pd.read_csv(run / run.YOUDEN_CSV, index_col="model")
    assert table.loc["rf", "threshold"] == pytest.approx(model.threshold_, abs=1e-6)
    expected = binary_metrics(test.label, score, threshold=model.threshold_)
    for metric in ("accuracy", "sensitivity", "specificity", "precision", "f1"):
        assert table.loc["rf", metric] == pytest.approx(expected[metric], abs=1e-6)
    markdown = (run / run.YOUDEN_MD).read_text(encoding="utf-8")
    assert "Threshold (Youden)" in markdown and "| rf |" in markdown
    assert "MSE (Brier)" in run.table4_md.read_text(encoding="utf-8")
    summary = json.loads(run.evaluation.read_text(encoding="utf-8"))
    entry = summary["calibration"]["rf"]
    assert entry["method"] == "isotonic" and entry["fitted_on"] == "out-of-bag"
    assert entry["brier"] == pytest.approx(brier_score(test.label, score), abs=1e-9)
    assert entry["brier"] == pytest.approx(summary["table4"]["rf"]["mse"], abs=1e-6)
    bins = reliability_bins(test.label, score)
    assert bins["count"].sum() == len(test)
    lg.report(config)
    page = run.report.read_text(encoding="utf-8")
    assert "Calibration" in page and "Youden" in page and page.count("data:image/png") >= 3


def test_cv_records_the_brier_score_before_and_after_calibration(
    built_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lsgh_ee.model.calibration as calibration

    # the synthetic region's validation blocks hold a handful of landslides per fold
    monkeypatch.setattr(calibration, "MIN_PER_CLASS", 3)
    config = _calibrated_region(built_region, tmp_path / "region", "isotonic")
    result = lg.cv(config, folds=3, models=["rf"])
    run = RunFolder(result.run_dir)
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    assert {"brier", "brier_raw"} <= set(per_fold.columns)
    assert per_fold["brier"].between(0, 1).all() and per_fold["brier_raw"].between(0, 1).all()
    assert (per_fold["brier"] != per_fold["brier_raw"]).all()
    table = pd.read_csv(run.cv_file(run.CV_TABLE_CSV), index_col="model")
    assert table.loc["rf", "brier_mean"] == pytest.approx(per_fold["brier"].mean(), abs=1e-6)
    assert table.loc["rf", "brier_raw_mean"] == pytest.approx(
        per_fold["brier_raw"].mean(), abs=1e-6
    )
    assert "Brier before calibration" in run.cv_file(run.CV_TABLE_MD).read_text("utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_the_exported_savedmodel_serves_the_calibrated_scores(method: str, tmp_path: Path) -> None:
    import base64

    import tensorflow as tf
    from tensorflow.core.framework.tensor_pb2 import TensorProto

    from lsgh_ee.model import save_bundle
    from lsgh_ee.model.savedmodel import export_savedmodel, read_metadata

    codes, labels, _ = _data(400, 6)
    val_codes, val_labels, _ = _data(200, 7)
    model = make_model("lsgh", [5, 5, 5], epochs=2, patience=1, filters=(8, 16),
                       calibration=method)  # fmt: skip
    model.fit(codes, labels, validation=(val_codes, val_labels))
    names = ["a", "b", "c"]
    schema = {"factors": [{"name": n, "kind": "categorical", "classes": [str(c) for c in
                                                                       range(1, 6)]}
                          for n in names]}  # fmt: skip
    bundle = save_bundle(tmp_path / "bundle", model, schema, heatmap_diameter=7,
                         training_hash="x")  # fmt: skip
    folder = export_savedmodel(bundle, tmp_path / "savedmodel")
    assert read_metadata(folder)["calibration"]["method"] == method
    tiles = np.stack([np.arange(1, 6).repeat(5).reshape(5, 5), np.tile(np.arange(1, 6), (5, 1)),
                      np.full((5, 5), 3)]).astype("float32")  # (F, rows, cols)  # fmt: skip

    def encode(tile: np.ndarray) -> str:
        proto = tf.make_tensor_proto(tile[..., np.newaxis])
        return base64.urlsafe_b64encode(proto.SerializeToString()).decode()

    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    answer = signature(**{n: tf.constant([encode(tiles[i])]) for i, n in enumerate(names)})
    text = answer["susceptibility"].numpy()[0]
    raw = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
    served = tf.make_ndarray(TensorProto.FromString(raw)).ravel()
    expected = model.predict(tiles.reshape(3, -1).T.astype("uint8"))
    assert not np.allclose(expected, model.predict(tiles.reshape(3, -1).T.astype("uint8"),
                                                   calibrated=False))  # fmt: skip
    np.testing.assert_allclose(served, expected, atol=1e-6)
