"""Terrain derivatives at the edges of their input: tiny DEMs, NaN windows, integer DEMs
and DEMs large enough for the threaded path, against a cell-by-cell reference written from
the textbook stencils (Horn 1981; Zevenbergen & Thorne 1987)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lsgh_ee.factors.terrain import curvature, gradient, slope, slope_aspect, slope_position


def reference(z: np.ndarray, lx: float, ly: float, method: str = "horn"):
    """(dz/dx east, dz/dy north, slope °, curvature) cell by cell in float64; NaN on the
    outer ring and wherever the 3×3 window holds a NaN."""
    z = np.asarray(z, dtype=np.float64)
    shape = z.shape
    gx, gy, curv = (np.full(shape, np.nan) for _ in range(3))
    for r in range(1, shape[0] - 1):
        for c in range(1, shape[1] - 1):
            w = z[r - 1 : r + 2, c - 1 : c + 2]
            if np.isnan(w).any():
                continue
            (a, b, cc), (d, e, f), (g, h, i) = w
            if method == "horn":
                gx[r, c] = ((cc + 2 * f + i) - (a + 2 * d + g)) / (8 * lx)
                gy[r, c] = ((a + 2 * b + cc) - (g + 2 * h + i)) / (8 * ly)
            else:
                gx[r, c] = (f - d) / (2 * lx)
                gy[r, c] = (b - h) / (2 * ly)
            dd = ((d + f) / 2 - e) / lx**2
            ee = ((b + h) / 2 - e) / ly**2
            curv[r, c] = -200 * (dd + ee)
    with np.errstate(invalid="ignore"):
        deg = np.degrees(np.arctan(np.hypot(gx, gy)))
    return gx, gy, deg, curv


def _dem(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, cols = np.indices(shape)
    return (300 + 4 * rows - 3 * cols + rng.normal(0, 5, shape)).astype(np.float32)


@pytest.mark.parametrize("shape", [(1, 1), (2, 6), (6, 2), (3, 3), (3, 5), (5, 3), (4, 4)])
@pytest.mark.parametrize("method", ["horn", "zevenbergen_thorne"])
def test_small_dems(shape: tuple[int, int], method: str) -> None:
    """Every output has the DEM's shape; the outer ring is NaN, so a DEM under 3 cells
    on a side is all NaN; the interior matches the stencils."""
    dem = _dem(shape)
    lx, ly = 30.0, 25.0
    gx, gy, deg, curv = reference(dem, lx, ly, method)
    got_gx, got_gy = gradient(dem, (lx, ly), method)
    s, a = slope_aspect(dem, (lx, ly), method)
    for got, want in ((got_gx, gx), (got_gy, gy), (s, deg), (curvature(dem, (lx, ly)), curv)):
        assert got.shape == shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    assert a.shape == shape and np.isnan(a[np.isnan(deg)]).all()
    np.testing.assert_array_equal(slope(dem, (lx, ly), method), s)


def test_nan_anywhere_in_the_window() -> None:
    """A NaN at the centre of a window is not in Horn's x or y stencil, yet every output of
    the windows that hold it is NaN."""
    dem = _dem((7, 8), seed=1)
    dem[3, 4] = np.nan
    gx, gy, deg, curv = reference(dem, 30.0, 30.0)
    got_gx, got_gy = gradient(dem, (30.0, 30.0))
    assert np.isnan(got_gx[2:5, 3:6]).all() and np.isnan(got_gy[2:5, 3:6]).all()
    np.testing.assert_allclose(got_gx, gx, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got_gy, gy, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(curvature(dem, (30.0, 30.0)), curv, rtol=1e-5, atol=1e-3)


def test_integer_dem_and_bad_cellsizes() -> None:
    dem = np.round(_dem((5, 6), seed=2)).astype(np.int16)
    _, _, deg, _ = reference(dem, 30.0, 30.0)
    np.testing.assert_allclose(slope(dem, (30.0, 30.0)), deg, rtol=1e-5, atol=1e-4)
    for bad in ((30.0, 0.0), (0.0, 30.0), (30.0, -1.0), (math.inf, 30.0), (30.0, math.nan)):
        with pytest.raises(ValueError):
            slope(dem, bad)


def test_large_dem_on_the_threaded_path() -> None:
    """Over 2^20 cells the rows are split into blocks on threads; 1027 rows make the last
    block a single row (1025 = 32 · 32 + 1), which must not be lost."""
    rows, cols = 1027, 1024
    r, c = np.indices((rows, cols), dtype=np.float64)
    dem = (0.05 * r * r / rows + 0.3 * c + 20 * np.sin(r / 37.0) * np.cos(c / 53.0)).astype(
        np.float32
    )
    lx = ly = 10.0
    z = dem.astype(np.float64)
    gx = (z[:-2, 2:] + 2 * z[1:-1, 2:] + z[2:, 2:]) - (z[:-2, :-2] + 2 * z[1:-1, :-2] + z[2:, :-2])
    gy = (z[:-2, :-2] + 2 * z[:-2, 1:-1] + z[:-2, 2:]) - (z[2:, :-2] + 2 * z[2:, 1:-1] + z[2:, 2:])
    want = np.degrees(np.arctan(np.hypot(gx / (8 * lx), gy / (8 * ly))))
    flat = slope(np.zeros_like(dem), (lx, ly))  # first, so no block can reuse its memory
    got = slope(dem, (lx, ly))
    assert np.isnan(got[[0, -1]]).all() and np.isnan(got[:, [0, -1]]).all()
    np.testing.assert_allclose(got[1:-1, 1:-1], want, rtol=1e-4, atol=1e-3)
    assert (flat[1:-1, 1:-1] == 0).all()


def _weiss(z: float, s: float) -> int:
    """The documented rule, one cell at a time (README; Weiss 2001 with five middle bands)."""
    if z < -1:
        return 1
    if z < -0.5:
        return 2
    if z <= 0.5 and s <= 5:
        return 3
    if z <= 0.5:
        bands = [(-0.5, -0.3), (-0.3, -0.1), (-0.1, 0.1), (0.1, 0.3)]
        return next((4 + i for i, (lo, hi) in enumerate(bands) if lo <= z < hi), 8)
    return 9 if z <= 1 else 10


def test_slope_position_classes_follow_the_documented_rule() -> None:
    rng = np.random.default_rng(3)
    tpi = rng.normal(2.0, 3.0, (40, 50))
    tpi[0, :3] = np.nan
    slope_deg = rng.uniform(0, 12, tpi.shape)
    slope_deg[5, 5] = np.nan
    ok = ~np.isnan(tpi)
    z = (tpi - tpi[ok].mean()) / tpi[ok].std()
    want = np.zeros(tpi.shape, dtype=np.uint8)
    for idx in np.ndindex(tpi.shape):
        if ok[idx] and not np.isnan(slope_deg[idx]):
            want[idx] = _weiss(float(z[idx]), float(slope_deg[idx]))
    got = slope_position(tpi, slope_deg)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    assert set(np.unique(want)) == set(range(11))  # every class and nodata occur
    # a constant TPI has z = 0 everywhere: flat, or the middle band on slopes
    flat = slope_position(np.full((3, 4), 7.0), np.array([[2.0] * 4, [9.0] * 4, [5.0] * 4]))
    assert flat.tolist() == [[3] * 4, [6] * 4, [3] * 4]
    with pytest.raises(ValueError, match="shapes differ"):
        slope_position(np.zeros((2, 3)), np.zeros((3, 2)))
