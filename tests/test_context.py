"""The context variant ``lsgh-ctx``: neighbourhoods of class codes (patches) cut from the
stack, the network on them, its streamed map (strips with a halo) and the stages feeding
it patches."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from sklearn.metrics import roc_auc_score

import lsgh_ee as lg
from conftest import edit_config, fast_training
from lsgh_ee.config import TrainingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.model import ModelEstimator, check_hostable, load_bundle, make_model
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.sampling import Samples
from lsgh_ee.sampling.patches import CodeFile, gather_patches

COUNTS = [4, 3, 5]
TINY = {"epochs": 2, "filters": (4, 8), "batch_size": 16, "verbose": 0}


def _loop_patches(codes: np.ndarray, rows, cols, size: int) -> np.ndarray:
    """Independent reference: a plain loop over window offsets, 0 outside the grid."""
    n_factors, height, width = codes.shape
    half = size // 2
    out = np.zeros((len(rows), size, size, n_factors), np.uint8)
    for n, (r, c) in enumerate(zip(rows, cols, strict=True)):
        for i in range(size):
            for j in range(size):
                rr, cc = r + i - half, c + j - half
                if 0 <= rr < height and 0 <= cc < width:
                    out[n, i, j] = codes[:, rr, cc]
    return out


def _stack(seed: int, shape=(11, 9)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, c + 1, shape) for c in COUNTS]).astype(np.uint8)
    codes[:, 0, 0] = 0  # a nodata pixel in a corner
    return codes


@pytest.mark.parametrize("size", [3, 5])
def test_patches_equal_a_direct_loop_at_edges_nodata_and_outside(size: int) -> None:
    codes = _stack(1)
    rows = np.array([0, 0, 10, 5, 10, 3, -1, 12, 4])
    cols = np.array([0, 8, 0, 4, 8, 1, 2, 3, 10])  # corners, inside, and three outside
    got = gather_patches(codes, rows, cols, size)
    assert got.shape == (9, size, size, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, _loop_patches(codes, rows, cols, size))
    assert (got[0, : size // 2, :, :] == 0).all()  # above the grid
    assert (got[0, size // 2, size // 2] == 0).all()  # the nodata corner itself


@pytest.mark.parametrize("size", [3, 5])
def test_patches_cut_strip_by_strip_from_the_file_equal_the_loop(tmp_path: Path, size: int) -> None:
    from affine import Affine

    from lsgh_ee.grid import Grid
    from lsgh_ee.rasters import write_geotiff

    codes = _stack(1)
    grid = Grid("EPSG:32633", Affine(10, 0, 500000, 0, -10, 4000000), *codes.shape[1:])
    path = write_geotiff(tmp_path / "class_codes.tif", codes, grid, nodata=0)
    rows = np.array([0, 0, 10, 5, 10, 3, -1, 12, 4, 7, 6, 2])  # every strip, edges, outside
    cols = np.array([0, 8, 0, 4, 8, 1, 2, 3, 10, 5, 0, 7])
    expected = _loop_patches(codes, rows, cols, size)
    for strip_rows in (1, 2, 3, 4, 11, 0):  # thinner than the halo, up to one strip
        got = gather_patches(CodeFile(path, strip_rows), rows, cols, size)
        np.testing.assert_array_equal(got, expected, err_msg=f"strip_rows={strip_rows}")


def test_patch_size_is_checked() -> None:
    for bad in (1, 2, 4, 0):
        with pytest.raises(LsghError, match="context must be an odd window side"):
            gather_patches(_stack(1), np.array([1]), np.array([1]), bad)
    with pytest.raises(LsghError, match="context must be an odd window side"):
        make_model("lsgh-ctx", COUNTS, context=4)


def test_samples_hand_out_patches_from_the_stack_they_index() -> None:
    codes = _stack(2)
    rows, cols = np.array([0, 4, 10]), np.array([8, 4, 0])
    samples = Samples(rows=rows, cols=cols, x=np.zeros(3), y=np.zeros(3),
                      codes=codes[:, rows, cols].T, label=np.array([1, 0, 0.5]),
                      kind=np.array(["positive", "negative", "soft"]),
                      split=np.array(["train"] * 3), factor_names=("a", "b", "c"))  # fmt: skip
    got = samples.inputs("patches", codes, 3)
    np.testing.assert_array_equal(got, _loop_patches(codes, rows, cols, 3))
    np.testing.assert_array_equal(got[:, 1, 1], samples.codes)  # the centre is the sample


def _trained(seed: int = 0, context: int = 3) -> ModelEstimator:
    rng = np.random.default_rng(seed)
    codes = _stack(seed, (12, 10))
    rows, cols = rng.integers(0, 12, 80), rng.integers(0, 10, 80)
    labels = (codes[0, rows, cols] >= 3).astype("float32")
    model = make_model("lsgh-ctx", COUNTS, context=context, seed=seed, **TINY)
    model.fit(gather_patches(codes, rows, cols, context), labels)
    return model


def test_untrained_network_is_the_paper_network_on_the_centre_pixel() -> None:
    from lsgh_ee.model.context import MIX_LAYER

    model = make_model("lsgh-ctx", COUNTS, **TINY)
    net = model.build()
    mix = net.get_layer(MIX_LAYER).get_weights()[0]
    assert mix.shape == (3, 3, 3 * 5, 1)
    assert mix[1, 1].min() == 1 and np.abs(mix).sum() == 3 * 5
    body = {layer.name for layer in net.layers}
    assert {"block1_conv", "block1_scse", "head_conv", "head_scse", "susceptibility"} <= body
    assert model.input_kind == "patches" and model.uses_soft_samples
    assert model.get_params()["context"] == 3


def test_map_streams_strips_with_a_halo_and_equals_the_model_on_whole_stack_patches(
    tmp_path: Path,
) -> None:
    from lsgh_ee.grid import Grid, as_metric_crs
    from lsgh_ee.mapping import predict_map, predict_patches
    from lsgh_ee.rasters import write_geotiff

    model = _trained(context=5)
    codes = _stack(7, (13, 9))
    codes[:, 6, :4] = 0  # a row of nodata pixels inside
    grid = Grid.from_bounds((0, 0, 9 * 100, 13 * 100), as_metric_crs("EPSG:32616"), 100)
    assert grid.shape == (13, 9)
    path = write_geotiff(tmp_path / "class_codes.tif", codes, grid, nodata=0)
    rows, cols = np.indices((13, 9)).reshape(2, -1)
    patches = _loop_patches(codes, rows, cols, 5)
    valid = (codes > 0).all(axis=0).ravel()
    want = np.full(13 * 9, np.nan, np.float32)
    want[valid] = model.predict(patches[valid])
    for strip, cached in ((2, True), (3, False), (256, None)):
        out = tmp_path / f"s{strip}{cached}.tif"
        options = {} if cached is None else {"patch_cache": cached}  # default: every pixel
        stats = predict_map(model, path, out, COUNTS, input_kind="patches",
                            rows_per_window=strip, **options)  # fmt: skip
        with rasterio.open(out) as src:
            got = src.read(1).ravel()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6, equal_nan=True)
        assert stats["valid_pixels"] == int(valid.sum())
        assert stats["distinct_vectors"] == (int(valid.sum()) if cached else None)
    # the cache predicts a repeated neighbourhood once, with the same number
    twice = np.concatenate([patches[valid][:5], patches[valid][:5]])
    from lsgh_ee.mapping import PatchCache

    cache = PatchCache()
    np.testing.assert_allclose(predict_patches(model, twice, cache), np.tile(want[valid][:5], 2),
                               atol=1e-6)  # fmt: skip
    assert cache.predicted == 5


def test_inputs_are_checked_and_it_is_not_hostable() -> None:
    model = _trained()
    with pytest.raises(LsghError, match=r"takes 3 x 3 neighbourhoods of class codes"):
        model.predict(np.ones((4, 3), np.uint8))
    bad = np.ones((2, 3, 3, 3), np.uint8)
    bad[1, 0, 0, 1] = 9
    with pytest.raises(LsghError, match="has codes up to 9"):
        model.predict(bad)
    with pytest.raises(LsghError, match="reads each pixel's neighbourhood.*cannot be hosted"):
        check_hostable("lsgh-ctx")
    assert "lsgh-ctx" not in TrainingConfig().models  # beyond the paper: only when named


def test_saved_and_loaded_with_the_same_predictions(tmp_path: Path) -> None:
    model = _trained(seed=3)
    patches = gather_patches(_stack(5), np.arange(9), np.arange(9), 3)
    model.save(tmp_path / "m")
    back = ModelEstimator.load(tmp_path / "m")
    assert type(back).__name__ == "ContextNet" and back.context == 3
    np.testing.assert_array_equal(back.predict(patches), model.predict(patches))


# -- the stages feed it patches -----------------------------------------------------------


@pytest.fixture(scope="module")
def sampled(built_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("context") / "region"
    shutil.copytree(built_region.parent, folder)
    config = edit_config(folder / built_region.name, training=fast_training(epochs=2, patience=1))
    lg.sample(config)
    return config


def test_train_evaluate_and_predict_feed_patches_of_the_run_stack(sampled: Path) -> None:
    lg.train(sampled, "lsgh-ctx")
    result = lg.evaluate(sampled)
    run = RunFolder(result.run_dir)
    table = pd.read_csv(run.path / "table4.csv", index_col="model")
    model, schema = load_bundle(run.model_dir("lsgh-ctx"))
    assert schema["input_kind"] == "patches" and schema["params"]["context"] == 3
    test = Samples.read_gpkg(run.samples).test
    test = test.subset(test.kind != "soft")
    stack = FactorStack.read(run.path)
    patches = _loop_patches(stack.codes, test.rows, test.cols, 3)
    expected = roc_auc_score(test.label, model.predict(patches))
    assert table.loc["lsgh-ctx", "auc"] == pytest.approx(expected)
    mapped = lg.predict(sampled, "lsgh-ctx")
    with rasterio.open(run.susceptibility("lsgh-ctx")) as src:
        got = src.read(1)
    at = model.predict(patches)
    np.testing.assert_allclose(got[test.rows, test.cols], at, atol=1e-6)
    assert mapped.summary["valid_pixels"] > 0


def test_cv_runs_lsgh_ctx(sampled: Path, tmp_path: Path) -> None:
    shutil.copytree(sampled.parent, tmp_path / "region")
    config = tmp_path / "region" / sampled.name
    sampling = yaml.safe_load(config.read_text(encoding="utf-8")).get("sampling") or {}
    edit_config(config, sampling={**sampling, "block_size": 450.0})
    result = lg.cv(config, folds=2, models=["lsgh-ctx"])
    run = RunFolder(result.run_dir)
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    assert list(per_fold["model"]) == ["lsgh-ctx"] * 2 and per_fold["auc"].between(0, 1).all()
