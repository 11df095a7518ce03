"""The reference model ``rf-raw``: a random forest on the factor values (categorical factors
one-hot), the samples' values in ``samples.gpkg``, maps from ``factors.tif``, and the
stages (train, evaluate, predict, cv) feeding it values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import yaml
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import roc_auc_score

import lsgh_ee as lg
from conftest import edit_config, fast_training
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.model import ModelEstimator, check_hostable, load_bundle, make_model
from lsgh_ee.model.raw_forest import encode_values, feature_names
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.sampling import Samples

COUNTS = [5, 3, 4]  # slope (continuous), land_use (3 classes), distance
KINDS = ["continuous", "categorical", "distance"]
NAMES = ["slope", "land_use", "distance"]
SMALL = {"n_estimators": 40, "n_jobs": 1}


def _values(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Values (slope in degrees, land-use codes 1..3, distance in metres) and labels that
    depend on slope and on land use 2."""
    rng = np.random.default_rng(seed)
    values = np.column_stack(
        [rng.uniform(0, 60, n), rng.integers(1, 4, n), rng.uniform(0, 3000, n)]
    ).astype("float32")
    p = 1 / (1 + np.exp(-(values[:, 0] - 30) / 6 - 1.5 * (values[:, 1] == 2)))
    return values, (rng.random(n) < p).astype("float32")


# -- encoding ---------------------------------------------------------------------------


def test_categorical_factors_become_one_hot_columns_in_place() -> None:
    values = np.array(
        [
            [12.5, 1, 100.0],
            [40.0, 3, 0.0],
            [7.0, 2, np.nan],  # nodata distance: NaN stays NaN
            [np.nan, np.nan, 5.0],  # nodata land use: NaN in each of its columns
            [3.0, 7, 1.0],  # a class the model never had: no column set
        ],
        dtype="float32",
    )
    got = encode_values(values, COUNTS, [1])
    nan = np.nan
    want = np.array(
        [
            [12.5, 1, 0, 0, 100.0],
            [40.0, 0, 0, 1, 0.0],
            [7.0, 0, 1, 0, nan],
            [nan, nan, nan, nan, 5.0],
            [3.0, 0, 0, 0, 1.0],
        ],
        dtype="float32",
    )
    np.testing.assert_array_equal(got, want)  # NaN compares equal in the same places
    assert feature_names(NAMES, COUNTS, [1]) == [
        "slope",
        "land_use=1",
        "land_use=2",
        "land_use=3",
        "distance",
    ]
    np.testing.assert_array_equal(encode_values(values, COUNTS, []), values)  # no categorical


# -- the estimator ----------------------------------------------------------------------


def test_predictions_equal_an_independent_scikit_learn_forest() -> None:
    values, labels = _values(400, seed=1)
    model = make_model("rf-raw", COUNTS, factor_names=NAMES, factor_kinds=KINDS, seed=3, **SMALL)
    assert model.input_kind == "values" and model.categorical == [1]
    model.fit(values, labels)
    # the same matrix built by hand: slope, the three land-use indicators, distance
    land = values[:, 1:2] == np.array([[1, 2, 3]], dtype="float32")
    matrix = np.column_stack([values[:, 0], land.astype("float32"), values[:, 2]])
    forest = RandomForestRegressor(n_estimators=40, min_samples_leaf=5, max_features="sqrt",
                                   random_state=3, n_jobs=1).fit(matrix, labels)  # fmt: skip
    test, test_labels = _values(300, seed=2)
    land = test[:, 1:2] == np.array([[1, 2, 3]], dtype="float32")
    expected = forest.predict(np.column_stack([test[:, 0], land.astype("float32"), test[:, 2]]))
    np.testing.assert_array_equal(model.predict(test), np.clip(expected, 0, 1).astype("float32"))
    assert roc_auc_score(test_labels, model.predict(test)) > 0.75
    assert model.fit_info_["features"] == feature_names(NAMES, COUNTS, [1])
    assert sum(model.fit_info_["importances"]) == pytest.approx(1.0, abs=1e-4)


def test_rf_raw_calibrates_on_its_out_of_bag_scores_like_rf() -> None:
    values, labels = _values(400, seed=2)
    model = make_model("rf-raw", COUNTS, factor_kinds=KINDS, calibration="platt", **SMALL)
    model.fit(values, labels)
    info = model.fit_info_["calibration"]
    assert info["method"] == "platt" and info["source"] == "out-of-bag"
    raw = model.predict(values, calibrated=False)
    assert not np.allclose(model.predict(values), raw)  # the calibration is applied
    assert np.array_equal(
        np.argsort(model.predict(values), kind="stable"), np.argsort(raw, kind="stable")
    )  # platt keeps the ranking; fmt: skip


def test_defaults_and_parameters() -> None:
    model = make_model("rf-raw", COUNTS, factor_kinds=KINDS)
    params = model.get_params()
    assert params == {"categorical": [1], "n_estimators": 500, "min_samples_leaf": 5,
                      "max_features": "sqrt", "n_jobs": -1, "seed": 0,
                      "calibration": "none"}  # fmt: skip
    from lsgh_ee.config import TrainingConfig

    seeded = make_model("rf-raw", COUNTS, training=TrainingConfig(seed=9, rf_grid={"x": [1]}))
    assert seeded.seed == 9 and seeded.categorical == []  # no kinds: every factor as is
    with pytest.raises(LsghError, match="2 factor kinds for 3 factors"):
        make_model("rf-raw", COUNTS, factor_kinds=KINDS[:2])
    with pytest.raises(LsghError, match=r"categorical names columns \[5\]"):
        make_model("rf-raw", COUNTS, categorical=[5])
    with pytest.raises(LsghError, match="unknown parameter.*param_grid.*'rf-raw'"):
        make_model("rf-raw", COUNTS, param_grid={"n_estimators": [5]})
    with pytest.raises(LsghError, match="n_estimators must be >= 1"):
        make_model("rf-raw", COUNTS, n_estimators=0)


def test_values_are_checked() -> None:
    values, labels = _values(60, seed=4)
    model = make_model("rf-raw", COUNTS, factor_kinds=KINDS, **SMALL).fit(values, labels)
    with pytest.raises(LsghError, match=r"shape \(60, 2\).*takes \(samples, 3\)"):
        model.predict(values[:, :2])
    bad = values.copy()
    bad[3, 2] = np.inf
    with pytest.raises(LsghError, match=r"infinities \(factor columns \[2\]\); use NaN"):
        model.predict(bad)
    with pytest.raises(LsghError, match="takes factor values"):
        model.predict([["a", "b", "c"]])


def test_saved_and_loaded_like_rf_with_its_hash_checked(tmp_path: Path) -> None:
    values, labels = _values(200, seed=5)
    model = make_model("rf-raw", COUNTS, factor_names=NAMES, factor_kinds=KINDS, **SMALL)
    model.fit(values, labels).save(tmp_path / "m")
    schema = json.loads((tmp_path / "m" / "schema.json").read_text())
    assert schema["variant"] == "rf-raw" and schema["input_kind"] == "values"
    assert schema["model_file"] == "model.joblib" and schema["params"]["categorical"] == [1]
    loaded = ModelEstimator.load(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.categorical == [1]
    np.testing.assert_array_equal(loaded.predict(values), model.predict(values))
    (tmp_path / "m" / "model.joblib").write_bytes(b"not the model")
    with pytest.raises(LsghError, match="does not match the sha256"):
        ModelEstimator.load(tmp_path / "m")


def test_not_hostable() -> None:
    with pytest.raises(LsghError, match="the rf-raw model cannot be hosted on Vertex AI"):
        check_hostable("rf-raw")


# -- samples carry the values -------------------------------------------------------------


@pytest.fixture(scope="module")
def sampled(built_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built region, sampled, with rf-raw and rf trained (shared)."""
    folder = tmp_path_factory.mktemp("rawforest") / "region"
    shutil.copytree(built_region.parent, folder)
    config = edit_config(folder / built_region.name, training=fast_training())
    lg.sample(config)
    lg.train(config, "rf-raw")
    lg.train(config, "rf")
    return config


def test_samples_carry_the_stack_values_through_the_geopackage(sampled: Path) -> None:
    run = RunFolder(lg.load_config(sampled).run_dir)
    stack = FactorStack.read(run.path)
    samples = Samples.read_gpkg(run.samples)
    want = np.stack([layer.values[samples.rows, samples.cols] for layer in stack.layers], axis=1)
    np.testing.assert_array_equal(samples.values, want)
    assert np.isfinite(samples.values).all() and samples.values.dtype == np.float32
    frame = gpd.read_file(run.samples)  # the file itself: one value column per factor
    for i, name in enumerate(stack.names):
        np.testing.assert_array_equal(frame[f"value_{name}"].to_numpy("float32"), want[:, i])
        np.testing.assert_array_equal(frame[name].to_numpy(), samples.codes[:, i])
    test = samples.test  # subsets carry them
    np.testing.assert_array_equal(test.values, want[samples.split == "test"])
    assert samples.inputs("values") is samples.values and samples.inputs("codes") is samples.codes


@pytest.mark.parametrize("split", ["spatial", "temporal"])
def test_the_spatial_and_temporal_splits_carry_the_values_too(
    built_region: Path, tmp_path: Path, split: str
) -> None:
    # the two sides of these splits are drawn apart and joined; the join once dropped the
    # values, so rf-raw could not train on a spatial or temporal split
    folder = tmp_path / "region"
    shutil.copytree(built_region.parent, folder)
    config = folder / built_region.name
    sampling = yaml.safe_load(config.read_text(encoding="utf-8")).get("sampling") or {}
    edit_config(config, sampling={**sampling, "split": split, "block_size": 450.0},
                training=fast_training())  # fmt: skip
    lg.sample(config)
    run = RunFolder(lg.load_config(config).run_dir)
    samples = Samples.read_gpkg(run.samples)
    stack = FactorStack.read(run.path)
    want = np.stack([layer.values[samples.rows, samples.cols] for layer in stack.layers], axis=1)
    assert set(samples.split) == {"train", "test"}
    np.testing.assert_array_equal(samples.values, want)
    assert lg.train(config, "rf-raw").summary["training_samples"] > 0


def test_samples_without_values_say_to_resample(sampled: Path, tmp_path: Path) -> None:
    run = RunFolder(lg.load_config(sampled).run_dir)
    frame = gpd.read_file(run.samples)
    old = tmp_path / "samples.gpkg"  # written by an older lsgh-ee: codes only
    keep = frame[[c for c in frame.columns if not c.startswith("value_")]]
    meta = pyogrio.read_info(run.samples, layer="samples")["layer_metadata"]
    pyogrio.write_dataframe(keep, old, layer="samples", driver="GPKG", layer_metadata=meta)
    samples = Samples.read_gpkg(old)
    assert samples.values is None and samples.codes.shape[1] == 9  # codes models still work
    new = Samples.read_gpkg(run.samples)
    assert samples.digest() == Samples(**_fields(new)).digest() != new.digest()
    with pytest.raises(LsghError, match=r"re-run 'lsgh-ee sample CONFIG --force'"):
        samples.inputs("values")
    shutil.copy(old, run.samples)  # the stage says the same, naming the fix
    try:
        with pytest.raises(LsghError, match=r"carry no factor values.*sample CONFIG --force"):
            lg.train(sampled, "rf-raw", seed=5)
    finally:
        lg.sample(sampled, force=True)
    assert Samples.read_gpkg(run.samples).values is not None


def _fields(samples: Samples) -> dict:
    names = ("rows", "cols", "x", "y", "codes", "label", "kind", "split", "factor_names")
    return {name: getattr(samples, name) for name in names}


# -- the stages feed it values ------------------------------------------------------------


def test_evaluate_scores_rf_raw_on_the_test_values(sampled: Path) -> None:
    lg.train(sampled, "rf-raw")  # up to date, or retrained after a re-sample
    lg.train(sampled, "rf")
    result = lg.evaluate(sampled)
    run = RunFolder(result.run_dir)
    table = pd.read_csv(run.path / "table4.csv", index_col="model")
    assert list(table.index) == ["rf-raw", "rf"]  # the reference first
    frame = gpd.read_file(run.samples)
    hard = frame[(frame["split"] == "test") & (frame["kind"] != "soft")]
    names = json.loads(run.factor_schema.read_text())["factors"]
    values = hard[[f"value_{f['name']}" for f in names]].to_numpy("float32")
    model, _ = load_bundle(run.model_dir("rf-raw"))
    expected = roc_auc_score(hard["label"].to_numpy(), model.predict(values))
    assert table.loc["rf-raw", "auc"] == pytest.approx(expected)


def test_map_of_rf_raw_is_the_model_on_the_stack_values(sampled: Path) -> None:
    lg.train(sampled, "rf-raw")
    result = lg.predict(sampled, "rf-raw")
    run = RunFolder(result.run_dir)
    stack = FactorStack.read(run.path)
    model, _ = load_bundle(run.model_dir("rf-raw"))
    flat = stack.values.reshape(len(stack.layers), -1).T
    valid = np.isfinite(flat).all(axis=1)
    want = np.full(flat.shape[0], np.nan, np.float32)
    want[valid] = model.predict(flat[valid])
    with rasterio.open(run.susceptibility("rf-raw")) as src:
        got = src.read(1).ravel()
        assert src.tags()["model"] == "rf-raw"
    np.testing.assert_array_equal(got, want)
    assert result.summary["valid_pixels"] == int(valid.sum()) > 0
    assert result.summary["distinct_vectors"] is None  # every valid pixel is predicted
    # small windows give the same map
    from lsgh_ee.mapping import input_raster, predict_map

    out = run.path / "small.tif"
    predict_map(model, input_raster(run.path, "values"), out, model.class_counts,
                input_kind="values", rows_per_window=7)  # fmt: skip
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1).ravel(), want)


def test_rf_raw_cannot_be_fine_tuned(sampled: Path) -> None:
    run = RunFolder(lg.load_config(sampled).run_dir)
    with pytest.raises(LsghError, match="rf-raw cannot be fine-tuned"):
        lg.train(sampled, "rf-raw", init_from=run.model_dir("rf"))


def test_cv_runs_rf_raw_beside_rf(sampled: Path, tmp_path: Path) -> None:
    shutil.copytree(sampled.parent, tmp_path / "region")
    config = tmp_path / "region" / sampled.name
    sampling = yaml.safe_load(config.read_text(encoding="utf-8")).get("sampling") or {}
    edit_config(config, sampling={**sampling, "block_size": 450.0})
    result = lg.cv(config, folds=3, models=["rf", "rf-raw"])
    run = RunFolder(result.run_dir)
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    assert sorted(set(per_fold["model"])) == ["rf", "rf-raw"]
    raw = per_fold[per_fold["model"] == "rf-raw"]
    assert list(raw["fold"]) == [1, 2, 3] and raw["auc"].between(0, 1).all()
    assert "rf-raw" in result.summary["table"]
    # same test samples per fold, other scores: the two models saw different inputs
    both = per_fold.pivot(index="fold", columns="model", values="n_test")
    assert (both["rf"] == both["rf-raw"]).all()


def test_a_values_model_needs_units_and_categories_not_breaks() -> None:
    from lsgh_ee.model import check_schema

    def schema(breaks: list[float], units: str, classes: list[str]) -> dict:
        return {"factors": [
            {"name": "slope", "kind": "continuous", "units": units, "breaks": breaks,
             "classes": [f"c{i}" for i in range(len(breaks) + 1)]},
            {"name": "land_use", "kind": "categorical", "units": "class", "breaks": [],
             "classes": classes},
        ]}  # fmt: skip

    model = schema([10.0, 20.0], "degree", ["forest", "grass"])
    other_breaks = schema([5.0, 15.0, 30.0], "degree", ["forest", "grass"])
    check_schema(model, other_breaks, "values")  # the values are the same quantity
    with pytest.raises(LsghError, match="slope breaks"):
        check_schema(model, other_breaks)  # a codes model's classes would differ
    with pytest.raises(LsghError, match="slope in 'degree' but this region has 'percent'"):
        check_schema(model, schema([10.0, 20.0], "percent", ["forest", "grass"]), "values")
    with pytest.raises(LsghError, match=r"land_use classes \[forest, grass\].*\[grass, forest\]"):
        check_schema(model, schema([10.0, 20.0], "degree", ["grass", "forest"]), "values")
