"""The model package's shape: TensorFlow-free schema and CLI check, one variant table,
estimator parameters in the constructors, fine-tuning from a bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lsgh_ee
from conftest import make_region
from lsgh_ee.config import MODEL_VARIANTS, TrainingConfig
from lsgh_ee.errors import LsghError

ROOT = Path(lsgh_ee.__file__).resolve().parent.parent
COUNTS = [6, 4, 5, 3]
NAMES = ["slope", "aspect", "ndvi", "land_use"]
TINY = {"filters": (4, 8), "epochs": 2, "learning_rate": 1e-2}


def python(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run this checkout's package in a fresh interpreter."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, env=env, **kwargs
    )


def separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(1, c + 1, n) for c in COUNTS], axis=1).astype("uint8")
    return codes, (codes[:, 0] >= 3).astype("float32")


def factor_schema() -> dict:
    factors = [
        {
            "name": name,
            "kind": "continuous",
            "units": "degree",
            "breaks": [float(10 * (i + 1)) for i in range(k - 1)],
            "classes": [f"c{i}" for i in range(k)],
            "n_classes": k,
        }
        for name, k in zip(NAMES, COUNTS, strict=True)
    ]
    return {"factors": factors}


# -- no TensorFlow where none is needed ---------------------------------------------------


def test_schema_and_package_import_without_tensorflow():
    code = (
        "import sys, lsgh_ee.model.schema, lsgh_ee.model, lsgh_ee.model.bundle, "
        "lsgh_ee.earthengine.hosted; "
        "from lsgh_ee.model import check_schema, check_hostable, load_bundle; "
        "check_hostable('lsgh'); "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    proc = python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_check_command_does_not_import_tensorflow(tmp_path):
    config = make_region(tmp_path / "region")
    proc = python("-X", "importtime", "-m", "lsgh_ee", "check", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "usable" in proc.stdout
    imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    assert "lsgh_ee.regions.check" in imported  # the measurement sees the package's imports
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras")]


def test_a_keras_name_starts_tensorflow_lazily():
    code = (
        "import sys, lsgh_ee.model as m; before = 'tensorflow' in sys.modules; "
        "m.OneHotFactors; import keras; "
        "print(before, 'tensorflow' in sys.modules, "
        "keras.saving.get_registered_object('lsgh_ee>SCSE') is not None)"
    )
    proc = python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", "True"]


# -- one variant table ------------------------------------------------------------------


def test_the_variant_table_maps_every_config_name_to_its_class():
    from lsgh_ee.model import VARIANTS
    from lsgh_ee.model.schema import HOSTABLE_VARIANTS

    assert set(VARIANTS) == set(MODEL_VARIANTS)
    assert all(klass.variant == name for name, klass in VARIANTS.items())
    assert HOSTABLE_VARIANTS == ("cnn", "lsgh-noscse", "lsgh")


def test_hosted_and_savedmodel_share_the_schema_hostable_check():
    from lsgh_ee.earthengine import hosted
    from lsgh_ee.model import savedmodel, schema

    assert hosted.check_hostable is schema.check_hostable is savedmodel.check_hostable
    with pytest.raises(LsghError, match="the rf model cannot be hosted on Vertex AI"):
        schema.check_hostable("rf")


# -- parameters in the constructors -----------------------------------------------------


def test_make_model_fills_what_each_variant_takes_from_training():
    from lsgh_ee.model import make_model

    training = TrainingConfig(epochs=7, patience=3, batch_size=16, seed=5)
    keras_model = make_model("lsgh", COUNTS, training=training, patience=4)
    assert (keras_model.epochs, keras_model.patience, keras_model.batch_size) == (7, 4, 16)
    assert keras_model.seed == 5 and keras_model.early_stopping == "val_auc"
    forest = make_model("rf", COUNTS, training=training, param_grid={"n_estimators": [5]})
    assert forest.seed == 5 and not hasattr(forest, "epochs")
    with pytest.raises(LsghError, match="unknown parameter.*epochs.*'rf'"):
        make_model("rf", COUNTS, epochs=3)
    with pytest.raises(LsghError, match="early_stopping must be one of val_auc, val_loss"):
        make_model("cnn", COUNTS, early_stopping="val_mae")


def test_get_params_is_json_and_leaves_out_the_epoch_callback():
    from lsgh_ee.model import make_model

    model = make_model("lsgh", COUNTS, train_only=("head_conv",), on_epoch=print)
    params = model.get_params()
    assert json.loads(json.dumps(params)) == params
    assert "on_epoch" not in params and params["train_only"] == ["head_conv"]
    assert params["epochs"] == 200 and params["warm_start"] is False
    model.set_params(epochs=3, seed=9)
    assert (model.epochs, model.seed, model.on_epoch) == (3, 9, print)
    with pytest.raises(LsghError, match="must be >= 1"):
        model.set_params(batch_size=0)


@pytest.mark.parametrize("variant", ["cnn", "rf"])
def test_a_bundle_saved_before_the_move_still_loads(tmp_path, variant):
    from lsgh_ee.model import load_bundle, make_model, save_bundle

    params = {"param_grid": {"n_estimators": [5]}, "n_jobs": 1} if variant == "rf" else TINY
    model = make_model(variant, COUNTS, factor_names=NAMES, **params).fit(*separable(80, 0))
    folder = save_bundle(
        tmp_path / "b", model, factor_schema(), heatmap_diameter=11, training_hash="h"
    )
    schema = json.loads((folder / "schema.json").read_text())
    old = {"filters", "dropout", "reduction", "learning_rate", "predict_batch_size"}
    old |= {"bn_momentum", "param_grid", "cv", "n_jobs"}
    schema["params"] = {k: v for k, v in schema["params"].items() if k in old}
    (folder / "schema.json").write_text(json.dumps(schema))
    loaded, saved = load_bundle(folder)
    codes, _ = separable(30, 1)
    np.testing.assert_array_equal(loaded.predict(codes), model.predict(codes))
    assert loaded.seed == 0 and saved["heatmap_diameter"] == 11


def test_hard_roc_auc_is_bit_identical_to_the_evaluation_one():
    from lsgh_ee.evaluation import roc_auc
    from lsgh_ee.model.callbacks import hard_roc_auc

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(4, 200))
        y = (rng.random(n) < 0.4).astype("float32")
        y[:2] = [0, 1]
        score = (np.round(rng.random(n) * rng.integers(2, 20)) / 10).astype("float32")
        assert hard_roc_auc(y, score) == roc_auc(y, score)


# -- fine-tuning ----------------------------------------------------------------------------


def test_head_layers_are_the_layers_the_network_builds_after_the_blocks():
    from lsgh_ee.model import HEAD_LAYERS, build_lsgh_net

    names = [layer.name for layer in build_lsgh_net(COUNTS, filters=(4, 8)).layers]
    assert names[names.index("head_conv") :] == list(HEAD_LAYERS)
    plain = [layer.name for layer in build_lsgh_net(COUNTS, filters=(4, 8), scse=False).layers]
    assert plain[plain.index("head_conv") :] == [n for n in HEAD_LAYERS if n != "head_scse"]


def test_fine_tune_start_trains_only_the_head_from_the_bundle_weights(tmp_path):
    from lsgh_ee.model import HEAD_LAYERS, fine_tune_start, make_model, save_bundle

    codes, labels = separable(120, 3)
    source = make_model("lsgh", COUNTS, factor_names=NAMES, **TINY).fit(codes, labels)
    folder = save_bundle(
        tmp_path / "b", source, factor_schema(), heatmap_diameter=13, training_hash="h"
    )
    model = fine_tune_start(
        folder, "lsgh", factor_schema(), training=TrainingConfig(epochs=2, seed=1)
    )
    assert model.warm_start and model.train_only == HEAD_LAYERS and model.seed == 1
    assert model.filters == (4, 8)  # the bundle's architecture
    model.fit(*separable(120, 4))
    assert model.fit_info_["fine_tuned"] and model.fit_info_["trained_layers"] == list(HEAD_LAYERS)
    for old, new in zip(source.model_.layers, model.model_.layers, strict=True):
        same = all(
            np.array_equal(a, b) for a, b in zip(old.get_weights(), new.get_weights(), strict=True)
        )
        assert same == (old.name not in HEAD_LAYERS) or not old.get_weights(), old.name
    with pytest.raises(LsghError, match="holds a lsgh model; pass --model lsgh"):
        fine_tune_start(folder, "cnn", factor_schema())
    region = factor_schema()
    region["factors"][0]["breaks"][0] = 5.0
    with pytest.raises(LsghError, match="cannot fine-tune .* slope breaks"):
        fine_tune_start(folder, "lsgh", region)
