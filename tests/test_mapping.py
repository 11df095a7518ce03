"""Whole-region prediction: distinct vectors, streamed windows, the written COG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from lsgh_ee.grid import Grid, as_metric_crs
from lsgh_ee.mapping import VectorCache, predict_codes, predict_map, predict_stack, vector_keys
from lsgh_ee.rasters import write_geotiff

COUNTS = np.array([11, 9, 12, 5])


class RowModel:
    """A deterministic non-trivial function of the whole code vector; counts its calls."""

    def __init__(self) -> None:
        self.rows_seen = 0

    def predict(self, codes: np.ndarray) -> np.ndarray:
        self.rows_seen += codes.shape[0]
        c = codes.astype(float)
        return 1 / (1 + np.exp(-(np.sin(c[:, 0] * 1.3) + 0.2 * c[:, 1] - 0.1 * c[:, 2] * c[:, 3])))


def _codes(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(1, n + 1, size=shape) for n in COUNTS]).astype(np.uint8)
    codes[:, rng.random(shape) < 0.05] = 0  # nodata holes in every factor
    codes[2, rng.random(shape) < 0.02] = 0  # and in one factor only
    return codes


def test_vector_keys_are_unique_per_vector() -> None:
    codes = _codes((40, 40)).reshape(4, -1).T
    keys = vector_keys(codes, COUNTS)
    _, by_rows = np.unique(codes, axis=0, return_inverse=True)
    _, by_keys = np.unique(keys, return_inverse=True)
    assert np.array_equal(by_rows.ravel(), by_keys.ravel())


def test_distinct_vectors_give_the_same_map_as_every_pixel() -> None:
    codes = _codes((120, 90)).reshape(4, -1).T
    model = RowModel()
    fast = predict_codes(model, codes, COUNTS)
    valid = (codes > 0).all(axis=1)
    every = np.full(codes.shape[0], np.nan, np.float32)
    every[valid] = RowModel().predict(codes[valid])
    np.testing.assert_array_equal(fast, every)
    assert model.rows_seen == len(np.unique(codes[valid], axis=0)) < valid.sum()


def test_cache_is_reused_across_calls() -> None:
    codes = _codes((50, 50)).reshape(4, -1).T
    model, cache = RowModel(), VectorCache()
    first = predict_codes(model, codes, COUNTS, cache)
    seen = model.rows_seen
    second = predict_codes(model, codes[::-1], COUNTS, cache)
    assert model.rows_seen == seen  # nothing new to predict
    np.testing.assert_array_equal(second, first[::-1])


@pytest.mark.parametrize("rows_per_window", [7, 64, 1000])
def test_streamed_map_equals_in_memory_prediction(tmp_path: Path, rows_per_window: int) -> None:
    grid = Grid.from_bounds((0, 0, 280 * 30, 300 * 30), as_metric_crs("EPSG:32633"), 30)
    codes = _codes(grid.shape, seed=3)
    write_geotiff(tmp_path / "class_codes.tif", codes, grid, nodata=0)
    ticks: list[tuple[int, int]] = []
    stats = predict_map(RowModel(), tmp_path / "class_codes.tif", tmp_path / "s.tif", COUNTS,
                        rows_per_window=rows_per_window,
                        progress=lambda d, t: ticks.append((d, t)))  # fmt: skip
    expected = predict_codes(RowModel(), codes.reshape(4, -1).T, COUNTS).reshape(grid.shape)
    with rasterio.open(tmp_path / "s.tif") as src:
        got = src.read(1)
        assert src.crs.to_epsg() == 32633 and src.transform == grid.transform
        assert np.isnan(src.nodata) and src.descriptions == ("susceptibility",)
        assert src.overviews(1) == [2]
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    np.testing.assert_array_equal(got, expected)
    assert ticks[-1][0] == ticks[-1][1] == -(-grid.height // rows_per_window)
    assert stats["valid_pixels"] == int(np.isfinite(expected).sum())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class_codes.tif", "s.tif"]


def test_stats_count_distinct_vectors_once(tmp_path: Path) -> None:
    grid = Grid.from_bounds((0, 0, 60 * 30, 50 * 30), as_metric_crs("EPSG:32633"), 30)
    codes = _codes(grid.shape, seed=5)
    write_geotiff(tmp_path / "class_codes.tif", codes, grid, nodata=0)
    stats = predict_map(RowModel(), tmp_path / "class_codes.tif", tmp_path / "s.tif", COUNTS,
                        rows_per_window=7)  # fmt: skip
    flat = codes.reshape(4, -1).T
    valid = (flat > 0).all(axis=1)
    assert stats == {
        "pixels": flat.shape[0],
        "valid_pixels": int(valid.sum()),
        "distinct_vectors": len(np.unique(flat[valid], axis=0)),
    }


def test_vector_keys_refuse_more_than_62_bits() -> None:
    """Keys are int64: the class counts' radices (count + 1) may use at most 62 bits."""
    under = np.array([2**31 - 2, 2**31 - 1])  # radices 2^31 - 1 and 2^31: just under 62 bits
    top = np.array([[2**31 - 2, 2**31 - 1]], dtype=np.int64)
    assert vector_keys(top, under)[0] == (2**31 - 2) * 2**31 + 2**31 - 1
    with pytest.raises(ValueError, match="64 bits"):
        vector_keys(top, np.array([2**31 - 1, 2**31 - 1]))  # radices 2^31: exactly 62 bits


def test_predict_stack_of_a_run(tmp_path: Path) -> None:
    """In-memory prediction of a run's class-code stack equals predicting every pixel."""
    from conftest import make_region
    from lsgh_ee.config import load_config
    from lsgh_ee.factors.local import compute_local_factors
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.region import Region

    config = load_config(make_region(tmp_path / "region"))
    stack = compute_local_factors(Region.from_config(config), resolve_factors(config, "local"))
    stack.write(config.run_dir)
    got = predict_stack(RowModel(), config.run_dir)
    codes = stack.codes.reshape(len(stack.layers), -1).T
    valid = (codes > 0).all(axis=1)
    want = np.full(codes.shape[0], np.nan, np.float32)
    want[valid] = RowModel().predict(codes[valid])
    assert got.shape == stack.grid.shape
    np.testing.assert_array_equal(got.ravel(), want)
    assert np.isnan(got).any() and np.isfinite(got).any()
