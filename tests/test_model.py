"""The model package: one-hot encoding, scSE layers, LSGH-Net, estimators and bundles."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from lsgh_ee.config import TrainingConfig  # noqa: E402
from lsgh_ee.errors import LsghError  # noqa: E402
from lsgh_ee.model import (  # noqa: E402
    SCSE,
    VARIANTS,
    ChannelSE,
    ModelEstimator,
    OneHotFactors,
    SpatialSE,
    build_lsgh_net,
    check_schema,
    load_bundle,
    make_model,
    save_bundle,
    update_bundle,
)
from lsgh_ee.model.files import sha256_file  # noqa: E402

PAPER_COUNTS = [11, 9, 12, 8, 12, 8, 10, 13, 11]  # Table 2: 9 factors, up to 13 classes
COUNTS = [6, 4, 5, 3]
NAMES = ["slope", "aspect", "ndvi", "land_use"]
SMALL = {"filters": (8, 16, 16, 32), "learning_rate": 1e-2}
RF_SMALL = {"param_grid": {"n_estimators": [30]}, "n_jobs": 1}  # one grid point: fast tests
RAW_SMALL = {"n_estimators": 30, "n_jobs": 1}  # rf-raw takes the codes as values here


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def random_codes(rng, counts, n, nodata=False):
    low = 0 if nodata else 1
    return np.stack([rng.integers(low, c + 1, n) for c in counts], axis=1).astype("uint8")


def separable(n, seed):
    """Label 1 where factor 0's code is >= 3."""
    rng = np.random.default_rng(seed)
    codes = random_codes(rng, COUNTS, n)
    return codes, (codes[:, 0] >= 3).astype("float32")


def factor_schema(counts=COUNTS, names=NAMES):
    factors = []
    for name, k in zip(names, counts, strict=True):
        breaks = [float(10 * (i + 1)) for i in range(k - 1)]
        factors.append(
            {
                "name": name,
                "kind": "continuous",
                "units": "degree",
                "breaks": breaks,
                "classes": [f"c{i}" for i in range(k)],
                "n_classes": k,
                "method": {},
            }
        )
    return {"grid": {}, "factors": factors}


def params_for(variant):
    return {"rf": RF_SMALL, "rf-raw": RAW_SMALL}.get(variant, SMALL)


@pytest.fixture(scope="module")
def held_out():
    return separable(300, seed=2)


#: The variants fitted on one vector per sample here (lsgh-ctx takes neighbourhoods:
#: tests/test_context.py).
PIXEL_VARIANTS = [v for v, klass in VARIANTS.items() if klass.input_kind != "patches"]


@pytest.fixture(scope="module")
def trained():
    """One fitted model per variant on the separable problem (shared, read-only)."""
    codes, labels = separable(400, seed=1)
    models = {}
    training = TrainingConfig(epochs=6, patience=6, seed=0)  # rf takes the seed only
    for variant in PIXEL_VARIANTS:
        model = make_model(
            variant, COUNTS, factor_names=NAMES, training=training, **params_for(variant)
        )
        models[variant] = model.fit(codes, labels)
    return models


# -- encoding ---------------------------------------------------------------------------


def numpy_one_hot(codes, counts):
    out = np.zeros((codes.shape[0], len(counts), max(counts), 1), "float32")
    for n in range(codes.shape[0]):
        for f, code in enumerate(codes[n]):
            if code > 0:
                out[n, f, code - 1, 0] = 1.0
    return out


def test_one_hot_matches_numpy():
    counts = [3, 7, 2, 5]
    codes = random_codes(np.random.default_rng(0), counts, 64, nodata=True)
    assert (codes == 0).any()
    out = keras.ops.convert_to_numpy(OneHotFactors(counts)(codes))
    assert out.shape == (64, 4, 7, 1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, numpy_one_hot(codes, counts))


def test_one_hot_config_roundtrip():
    layer = OneHotFactors([4, 2])
    clone = OneHotFactors.from_config(layer.get_config())
    codes = np.array([[4, 2], [0, 1]], "int32")
    assert clone.class_counts == [4, 2]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(clone(codes)), numpy_one_hot(codes, [4, 2])
    )


# -- attention layers ------------------------------------------------------------------


def test_spatial_se_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    layer = SpatialSE()
    layer.build(x.shape)
    w, b = rng.normal(size=(5, 1)).astype("float32"), np.array([0.3], "float32")
    layer.set_weights([w, b])
    expected = x * sigmoid(x @ w + b)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5)


def test_channel_se_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4, 6)).astype("float32")
    layer = ChannelSE(reduction=2)
    layer.build(x.shape)
    w1, b1 = rng.normal(size=(6, 3)), rng.normal(size=3)
    w2, b2 = rng.normal(size=(3, 6)), rng.normal(size=6)
    layer.set_weights([a.astype("float32") for a in (w1, b1, w2, b2)])
    pooled = x.mean(axis=(1, 2))
    gate = sigmoid(np.maximum(pooled @ w1 + b1, 0) @ w2 + b2)
    expected = x * gate[:, None, None, :]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5)


def test_scse_is_cse_plus_sse_and_keeps_shape():
    x = np.random.default_rng(2).normal(size=(2, 5, 7, 8)).astype("float32")
    layer = SCSE(reduction=2)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == x.shape
    expected = keras.ops.convert_to_numpy(layer.cse(x) + layer.sse(x))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert SCSE.from_config(layer.get_config()).reduction == 2


# -- network ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts", [PAPER_COUNTS, [12, 3, 4, 5, 6], [2], [1]], ids=["9x13", "5x12", "1x2", "1x1"]
)
def test_network_reaches_1x1x256_for_any_image(counts):
    model = build_lsgh_net(counts)
    assert tuple(model.get_layer("flatten").input.shape) == (None, 1, 1, 256)
    codes = random_codes(np.random.default_rng(0), counts, 16, nodata=True)
    out = model.predict(codes, verbose=0)
    assert out.shape == (16, 1)
    assert np.all((out >= 0) & (out <= 1))


def test_network_layout_for_the_paper_factors():
    model = build_lsgh_net(PAPER_COUNTS)
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["one_hot"] == (9, 13, 1)
    assert shapes["block1_pool"] == (5, 7, 32)
    assert shapes["block2_pool"] == (3, 4, 64)
    assert shapes["block3_pool"] == (2, 2, 128)
    assert shapes["head_scse"] == (1, 1, 256)
    assert model.get_layer("dropout").rate == 0.5
    plain = build_lsgh_net(PAPER_COUNTS, scse=False)
    assert not any(isinstance(layer, SCSE) for layer in plain.layers)
    assert sum(isinstance(layer, SCSE) for layer in model.layers) == 4


# -- estimators ------------------------------------------------------------------------


def test_variant_flags():
    assert VARIANTS["lsgh"].uses_soft_samples and VARIANTS["lsgh-noscse"].uses_soft_samples
    assert not VARIANTS["cnn"].uses_soft_samples and not VARIANTS["rf"].uses_soft_samples
    assert VARIANTS["cnn"].scse and not VARIANTS["lsgh-noscse"].scse


@pytest.mark.parametrize("variant", PIXEL_VARIANTS)
def test_each_variant_learns_a_separable_problem(trained, held_out, variant):
    codes, labels = held_out
    model = trained[variant]
    predicted = model.predict(codes)
    assert predicted.shape == (len(codes),)
    assert np.all((predicted >= 0) & (predicted <= 1))
    assert roc_auc_score(labels, predicted) > 0.9
    assert model.samples_per_second_ > 0


def test_keras_fit_reports_history_and_epochs():
    codes, labels = separable(120, seed=3)
    seen = []
    model = make_model(
        "lsgh-noscse",
        COUNTS,
        filters=(4, 8),
        epochs=3,
        patience=1,
        on_epoch=lambda e, logs: seen.append((e, logs)),
    )
    model.fit(codes, labels)
    assert [e for e, _ in seen] == list(range(len(seen)))
    assert {"loss", "val_loss", "mae", "val_mae"} <= set(model.history_)
    assert len(model.history_["loss"]) == len(seen) == model.fit_info_["epochs_run"]
    assert model.fit_info_["n_train"] + model.fit_info_["n_validation"] == 120
    assert model.samples_per_second_ > 0


def test_same_seed_same_predictions():
    codes, labels = separable(150, seed=4)
    labels[::7] = 0.5  # a few soft samples
    runs = [
        make_model("lsgh", COUNTS, filters=(4, 8, 8), epochs=2, seed=7).fit(codes, labels)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].predict(codes), runs[1].predict(codes))
    other = make_model("lsgh", COUNTS, filters=(4, 8, 8), epochs=2, seed=8).fit(codes, labels)
    assert not np.array_equal(other.predict(codes), runs[0].predict(codes))


# -- bundles ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", PIXEL_VARIANTS)
def test_bundle_roundtrip_predicts_identically(trained, held_out, tmp_path, variant):
    codes, _ = held_out
    model = trained[variant]
    folder = save_bundle(
        tmp_path / "bundle",
        model,
        factor_schema(),
        heatmap_diameter=13,
        training_hash="abc123",
        extra={"metrics": {"auc": 0.95}, "sampling": {"ratio": 1}},
    )
    loaded, schema = load_bundle(folder)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(codes), model.predict(codes))
    assert schema["variant"] == variant
    assert schema["class_counts"] == COUNTS
    assert schema["factor_names"] == NAMES
    assert schema["factors"][0]["breaks"] == factor_schema()["factors"][0]["breaks"]
    assert schema["heatmap_diameter"] == 13 and schema["training_hash"] == "abc123"
    assert schema["metrics"] == {"auc": 0.95} and schema["sampling"] == {"ratio": 1}
    assert {"lsgh_ee", "keras", "tensorflow", "scikit-learn"} <= set(schema["versions"])
    assert schema["model_sha256"] == sha256_file(folder / schema["model_file"])
    assert schema["created"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no temporary left


def test_keras_bundle_loads_with_plain_keras(trained, held_out, tmp_path):
    codes, _ = held_out
    folder = save_bundle(
        tmp_path / "b", trained["lsgh"], factor_schema(), heatmap_diameter=13, training_hash="h"
    )
    plain = keras.saving.load_model(folder / "model.keras")  # safe mode is Keras's default
    expected = trained["lsgh"].predict(codes)
    np.testing.assert_allclose(plain.predict(codes, verbose=0)[:, 0], expected, rtol=1e-6)


def test_safe_mode_refuses_a_lambda_model(trained, tmp_path):
    folder = save_bundle(
        tmp_path / "b", trained["lsgh"], factor_schema(), heatmap_diameter=13, training_hash="h"
    )
    inputs = keras.Input((len(COUNTS),))
    evil = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    evil.save(folder / "model.keras")
    # Even with a matching hash (an attacker can rewrite schema.json), the code is not run.
    schema = json.loads((folder / "schema.json").read_text())
    schema["model_sha256"] = sha256_file(folder / "model.keras")
    (folder / "schema.json").write_text(json.dumps(schema))
    with pytest.raises(LsghError, match="Lambda layer.*safe mode refuses"):
        load_bundle(folder)


def test_rf_joblib_with_another_hash_is_refused(trained, tmp_path):
    folder = save_bundle(
        tmp_path / "b", trained["rf"], factor_schema(), heatmap_diameter=13, training_hash="h"
    )
    with open(folder / "model.joblib", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(LsghError, match="does not match the sha256"):
        load_bundle(folder)


def test_update_bundle_fills_metrics(trained, tmp_path):
    folder = save_bundle(
        tmp_path / "b", trained["rf"], factor_schema(), heatmap_diameter=9, training_hash="h"
    )
    update_bundle(folder, {"metrics": {"accuracy": 0.9}})
    _, schema = load_bundle(folder)
    assert schema["metrics"] == {"accuracy": 0.9}
    with pytest.raises(ValueError, match="class_counts"):
        update_bundle(folder, {"class_counts": [1]})


def test_save_bundle_is_atomic(trained, tmp_path, monkeypatch):
    model = trained["lsgh-noscse"]
    folder = save_bundle(
        tmp_path / "b", model, factor_schema(), heatmap_diameter=13, training_hash="first"
    )

    def crash(path):
        path.write_bytes(b"half a model")
        raise RuntimeError("disk died")

    monkeypatch.setattr(model, "_save_model", crash)
    with pytest.raises(RuntimeError, match="disk died"):
        save_bundle(folder, model, factor_schema(), heatmap_diameter=13, training_hash="second")
    with pytest.raises(RuntimeError, match="disk died"):
        save_bundle(
            tmp_path / "new", model, factor_schema(), heatmap_diameter=13, training_hash="x"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert load_bundle(folder)[1]["training_hash"] == "first"


def test_save_bundle_refuses_mismatched_schema_and_foreign_folder(trained, tmp_path):
    model = trained["rf"]
    wrong = factor_schema(counts=[6, 4, 5, 4])
    with pytest.raises(LsghError, match=r"class counts \[6, 4, 5, 3\] but the factor schema"):
        save_bundle(tmp_path / "b", model, wrong, heatmap_diameter=13, training_hash="h")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("precious")
    with pytest.raises(LsghError, match="not a saved model"):
        save_bundle(
            tmp_path / "docs", model, factor_schema(), heatmap_diameter=13, training_hash="h"
        )
    assert (tmp_path / "docs" / "thesis.txt").read_text() == "precious"


def test_load_bundle_errors(tmp_path):
    with pytest.raises(LsghError, match="not found"):
        load_bundle(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LsghError, match="no schema.json"):
        load_bundle(tmp_path / "empty")


# -- schema checks ---------------------------------------------------------------------


def test_check_schema_accepts_the_same_factors():
    """The same factors pass, also when the region's schema differs only where it may: break
    values equal up to float round-off (written and re-read as JSON), units not recorded on
    one side, other grid and method entries."""
    model = factor_schema()
    assert check_schema(model, factor_schema()) is None
    region = json.loads(json.dumps(factor_schema()))
    region["grid"] = {"crs": "EPSG:32616", "resolution": 90}
    region["factors"][0]["breaks"] = [b * (1 + 1e-12) for b in region["factors"][0]["breaks"]]
    region["factors"][1]["units"] = ""
    region["factors"][2]["method"] = {"name": "another"}
    assert check_schema(model, region) is None
    # ...and the check is not a no-op: a break moved by 1e-6 is refused
    region["factors"][0]["breaks"][0] += 1e-6
    with pytest.raises(LsghError, match="slope breaks"):
        check_schema(model, region)


def test_check_schema_names_different_breaks():
    region = factor_schema()
    region["factors"][0]["breaks"] = [5.0, 15.0, 25.0, 35.0, 45.0]
    message = "model was trained with slope breaks [10, 20, 30, 40, 50] but this region uses "
    message += "[5, 15, 25, 35, 45]; re-run export-factors with the model's breaks"
    with pytest.raises(LsghError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_schema(factor_schema(), region)


def test_check_schema_names_missing_extra_reordered_and_classes():
    model = factor_schema()
    region = factor_schema()
    region["factors"][3]["name"] = "lithology"
    with pytest.raises(LsghError) as info:
        check_schema(model, region)
    assert "needs factor 'land_use'" in str(info.value)
    assert "has factor 'lithology'" in str(info.value)

    region = factor_schema()
    region["factors"] = region["factors"][::-1]
    with pytest.raises(LsghError, match="factor order is"):
        check_schema(model, region)

    region = factor_schema()
    region["factors"][3]["classes"] = ["a", "b", "c"]
    with pytest.raises(LsghError, match=r"land_use classes \[c0, c1, c2\] \(3\) but this region"):
        check_schema(model, region)


# -- input validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "labels", "message"),
    [
        (np.ones((20,), "uint8"), np.zeros(20), "2-D array"),
        (np.ones((20, 3), "uint8"), np.zeros(20), "3 factor columns but the model knows 4"),
        (np.full((20, 4), 7, "uint8"), np.zeros(20), r"factor 0 \(slope\) has codes up to 7 but"),
        (np.full((20, 4), 1.5), np.zeros(20), "fractions"),
        (np.full((20, 4), -1), np.zeros(20), "negative codes"),
        (np.ones((20, 4), "uint8"), np.zeros(19), "one label per sample"),
        (np.ones((20, 4), "uint8"), np.full(20, 2.0), r"labels must lie in \[0, 1\]"),
        (np.ones((20, 4), "uint8"), np.full(20, np.nan), "NaN"),
        (np.ones((5, 4), "uint8"), np.array([0, 1, 0, 1, 0]), "only 5 training samples"),
        (np.ones((20, 4), "uint8"), np.zeros(20), "0 landslide"),
    ],
)
@pytest.mark.parametrize("variant", ["lsgh", "rf"])
def test_invalid_training_data_is_a_clear_error(codes, labels, message, variant):
    model = make_model(variant, COUNTS, factor_names=NAMES, training=TrainingConfig(epochs=1))
    with pytest.raises(LsghError, match=message):
        model.fit(codes, labels)


def test_codes_above_the_class_count_are_refused_at_prediction(trained):
    codes = np.array([[1, 1, 1, 4]], "uint8")
    with pytest.raises(LsghError, match=r"factor 3 \(land_use\) has codes up to 4 but the model"):
        trained["cnn"].predict(codes)
    nodata = np.zeros((2, 4), "uint8")  # nodata rows are allowed: all-zero one-hot rows
    assert trained["cnn"].predict(nodata).shape == (2,)


def test_make_model_errors():
    with pytest.raises(LsghError, match="unknown model variant 'svm'; choose one of lsgh"):
        make_model("svm", COUNTS)
    with pytest.raises(LsghError, match="unknown parameter"):
        make_model("rf", COUNTS, epochs=3)
    with pytest.raises(LsghError, match="not trained yet"):
        make_model("lsgh", COUNTS).predict(np.ones((1, 4), "uint8"))
    with pytest.raises(LsghError, match="validation_fraction"):
        make_model("lsgh", COUNTS, validation_fraction=1.5)


def test_estimator_save_and_typed_load(trained, tmp_path):
    trained["rf"].save(tmp_path / "rf")
    assert isinstance(ModelEstimator.load(tmp_path / "rf"), VARIANTS["rf"])
    with pytest.raises(LsghError, match="holds a 'rf' model, not 'lsgh'"):
        VARIANTS["lsgh"].load(tmp_path / "rf")
    with pytest.raises(LsghError, match="without its factor schema"):
        load_bundle(tmp_path / "rf")


def test_early_stopping_keeps_the_epoch_of_the_best_validation_auc():
    codes, labels = separable(300, seed=5)
    labels = labels.copy()
    labels[::7] = 0.5  # some soft samples: they take no part in the validation AUC
    model = make_model("lsgh", COUNTS, epochs=8, patience=3, seed=3, **params_for("lsgh"))
    model.fit(codes, labels)
    history = model.history_["val_auc"]
    assert len(history) == len(model.history_["loss"])
    best = int(np.argmax(history))
    assert len(history) == 8 or len(history) == best + 1 + 3  # stopped `patience` after the best
    # the kept weights are the best epoch's: recompute the validation AUC from the split
    from lsgh_ee.evaluation import roc_auc
    from lsgh_ee.model.data import validation_split

    _, _, x_val, y_val = validation_split(codes, labels, 0.2, 3)
    hard = (y_val == 0) | (y_val == 1)
    assert roc_auc(y_val[hard], model.predict(x_val[hard])) == pytest.approx(history[best])
