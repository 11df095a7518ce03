"""The Gaussian heatmap against an independent brute force and the paper's definition."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from pyproj import CRS

from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import gaussian_heatmap, sigma_for, write_heatmap

METHODS = ("auto", "stamp", "edt")


def brute_force(rows, cols, shape, diameter: int) -> np.ndarray:
    """Paper's recipe, point by point: each kernel in its circumscribed square (side 2R),
    exp(-d²/2σ²) with 0.1 on the circle, 0 outside, np.maximum where they overlap."""
    radius = diameter / 2
    sigma2 = radius**2 / (2 * math.log(10))
    out = np.zeros(shape, dtype=np.float64)
    for r, c in zip(rows, cols, strict=True):
        r0, r1 = max(math.ceil(r - radius), 0), min(math.floor(r + radius), shape[0] - 1)
        c0, c1 = max(math.ceil(c - radius), 0), min(math.floor(c + radius), shape[1] - 1)
        rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
        d2 = (rr - r) ** 2 + (cc - c) ** 2
        kernel = np.where(d2 <= radius**2, np.exp(-d2 / (2 * sigma2)), 0.0)
        np.maximum(out[r0 : r1 + 1, c0 : c1 + 1], kernel, out=out[r0 : r1 + 1, c0 : c1 + 1])
    return out


def awkward_points(shape: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points plus corners, edges, a tight overlapping cluster and duplicates."""
    rng = np.random.default_rng(seed)
    h, w = shape
    rows = [rng.integers(0, h, 30)]
    cols = [rng.integers(0, w, 30)]
    edge = np.array([0, 0, h - 1, h - 1, 0, h - 1, 1, h - 2, h // 2, h // 2])
    edge_c = np.array([0, w - 1, 0, w - 1, w // 2, w // 3, 2, w - 3, 0, w - 1])
    rows.append(edge)
    cols.append(edge_c)
    cluster_r = np.clip(h // 3 + rng.integers(-3, 4, 12), 0, h - 1)
    cluster_c = np.clip(w // 3 + rng.integers(-3, 4, 12), 0, w - 1)
    rows += [cluster_r, cluster_r[:4]]  # duplicates
    cols += [cluster_c, cluster_c[:4]]
    return np.concatenate(rows), np.concatenate(cols)


@pytest.mark.parametrize("diameter", [7, 12, 13, 19])
@pytest.mark.parametrize("method", METHODS)
def test_equals_brute_force(diameter: int, method: str) -> None:
    shape = (71, 97)
    rows, cols = awkward_points(shape, seed=diameter)
    got = gaussian_heatmap((rows, cols), shape, diameter, method=method)
    assert got.dtype == np.float32 and got.shape == shape
    assert_allclose(got, brute_force(rows, cols, shape, diameter), rtol=0, atol=1e-6)


def test_methods_agree_bit_for_bit() -> None:
    shape = (120, 90)
    rng = np.random.default_rng(7)
    rows, cols = rng.integers(0, shape[0], 300), rng.integers(0, shape[1], 300)
    for diameter in (1, 2, 5, 13, 19, 40):
        stamp = gaussian_heatmap((rows, cols), shape, diameter, method="stamp")
        edt = gaussian_heatmap((rows, cols), shape, diameter, method="edt")
        assert np.array_equal(stamp, edt), diameter


def test_dense_points_and_small_strips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many overlapping kernels (auto picks the EDT) and EDT strips thinner than R."""
    import lsgh_ee.heatmap as hm

    monkeypatch.setattr(hm, "_STRIP_PIXELS", 3 * 50)
    shape = (40, 50)
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, shape[0], 900), rng.integers(0, shape[1], 900)
    expected = brute_force(rows, cols, shape, 19)
    for method in METHODS:
        got = gaussian_heatmap((rows, cols), shape, 19, method=method)
        assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_centre_boundary_and_outside(method: str) -> None:
    shape = (41, 41)
    heat = gaussian_heatmap((np.array([20]), np.array([20])), shape, 10, method=method)
    assert heat[20, 20] == 1.0
    # R = 5: along an axis and at (3, 4), exactly on the circle → 0.1
    for dr, dc in [(0, 5), (5, 0), (0, -5), (-5, 0), (3, 4), (-4, 3)]:
        assert heat[20 + dr, 20 + dc] == pytest.approx(0.1, abs=1e-7)
    # just beyond R → 0
    for dr, dc in [(0, 6), (6, 0), (4, 4), (1, 5), (-5, -1)]:
        assert heat[20 + dr, 20 + dc] == 0.0
    assert heat[20, 21] == pytest.approx(math.exp(-1 / (2 * sigma_for(10) ** 2)), abs=1e-7)
    assert np.count_nonzero(heat) == sum(
        1 for i in range(-5, 6) for j in range(-5, 6) if i * i + j * j <= 25
    )


def test_sigma_gives_point_one_on_the_circle() -> None:
    for diameter in (1, 7, 12, 13, 19, 101):
        radius = diameter / 2
        assert math.exp(-(radius**2) / (2 * sigma_for(diameter) ** 2)) == pytest.approx(0.1)
    assert sigma_for(13) == pytest.approx(6.5 / math.sqrt(2 * math.log(10)))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "13", None])
def test_bad_diameters(bad: object) -> None:
    with pytest.raises(LsghError, match=r"heatmap\.diameter .*pixels"):
        gaussian_heatmap((np.array([1]), np.array([1])), (30, 30), bad)  # type: ignore[arg-type]


def test_diameter_must_be_smaller_than_the_grid() -> None:
    with pytest.raises(LsghError, match=r"heatmap\.diameter is 30 .*smaller than the grid"):
        gaussian_heatmap((np.array([1]), np.array([1])), (30, 300), 30)
    assert gaussian_heatmap((np.array([1]), np.array([1])), (30, 300), 29).max() == 1.0


def test_empty_centres_and_bad_centres() -> None:
    empty = np.array([], dtype=int)
    with pytest.raises(LsghError, match="no landslide centre"):
        gaussian_heatmap((empty, empty), (30, 30), 7)
    with pytest.raises(ValueError, match="outside"):
        gaussian_heatmap((np.array([30]), np.array([0])), (30, 30), 7)
    with pytest.raises(ValueError, match="outside"):
        gaussian_heatmap((np.array([0]), np.array([-1])), (30, 30), 7)
    with pytest.raises(ValueError, match="integer"):
        gaussian_heatmap((np.array([1.5]), np.array([1.0])), (30, 30), 7)
    with pytest.raises(ValueError, match="method"):
        gaussian_heatmap((np.array([1]), np.array([1])), (30, 30), 7, method="fft")  # type: ignore[arg-type]


def test_write_heatmap(tmp_path: Path) -> None:
    grid = Grid(CRS.from_epsg(32633), Affine(30, 0, 300_000, 0, -30, 5_000_000), 64, 80)
    heat = gaussian_heatmap((np.array([10, 40]), np.array([10, 60])), grid.shape, 13)
    path = write_heatmap(tmp_path / "heatmap.tif", heat, grid, diameter=13)
    with rasterio.open(path) as src:
        assert src.descriptions == ("gaussian_heatmap",)
        assert src.crs == grid.crs and src.transform == grid.transform
        tags = src.tags()
        assert tags["content"] == "lsgh-ee landslide Gaussian heatmap"
        assert tags["diameter_pixels"] == "13"
        assert float(tags["radius_pixels"]) == 6.5
        assert float(tags["sigma_pixels"]) == pytest.approx(sigma_for(13))
        assert float(tags["boundary_value"]) == 0.1
        assert src.dtypes == ("float32",)
        assert np.array_equal(src.read(1), heat)
    # a float64 array is written as float32
    write_heatmap(tmp_path / "h64.tif", heat.astype(np.float64), grid, diameter=13)
    with rasterio.open(tmp_path / "h64.tif") as src:
        assert src.dtypes == ("float32",) and np.array_equal(src.read(1), heat)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h64.tif", "heatmap.tif"]


# --- properties -------------------------------------------------------------------------------

shapes = st.tuples(st.integers(8, 40), st.integers(8, 40))


@st.composite
def heatmap_cases(draw: st.DrawFn) -> tuple[tuple[int, int], np.ndarray, np.ndarray, int]:
    shape = draw(shapes)
    diameter = draw(st.integers(1, min(shape) - 1))
    n = draw(st.integers(1, 12))
    rows = np.array(draw(st.lists(st.integers(0, shape[0] - 1), min_size=n, max_size=n)))
    cols = np.array(draw(st.lists(st.integers(0, shape[1] - 1), min_size=n, max_size=n)))
    return shape, rows, cols, diameter


@settings(max_examples=60, deadline=None)
@given(heatmap_cases(), st.sampled_from(METHODS))
def test_property_range_and_brute_force(case, method: str) -> None:
    shape, rows, cols, diameter = case
    heat = gaussian_heatmap((rows, cols), shape, diameter, method=method)
    assert heat.min() >= 0.0 and heat.max() == 1.0
    assert (heat[rows, cols] == 1.0).all()
    assert_allclose(heat, brute_force(rows, cols, shape, diameter), rtol=0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 39),
    st.integers(0, 39),
    st.integers(1, 39),
    st.sampled_from([(0, 1), (1, 0), (1, 1), (1, -1), (0, -1), (-1, 0), (-1, -1), (2, 1)]),
)
def test_property_single_point_ray_and_support(r: int, c: int, diameter: int, step) -> None:
    shape = (40, 40)
    heat = gaussian_heatmap((np.array([r]), np.array([c])), shape, diameter)
    # along a ray away from the point, the value never increases
    ray = []
    i, j = r, c
    while 0 <= i < shape[0] and 0 <= j < shape[1]:
        ray.append(heat[i, j])
        i, j = i + step[0], j + step[1]
    assert all(a >= b for a, b in zip(ray, ray[1:], strict=False))
    # support: non-zero exactly within R = D/2 (inclusive), ≥ 0.1 there
    rr, cc = np.indices(shape)
    d2 = (rr - r) ** 2 + (cc - c) ** 2
    inside = 4 * d2 <= diameter * diameter
    assert (heat[inside] >= np.float32(0.1) - 1e-7).all()
    assert (heat[~inside] == 0).all()
    # value is a non-increasing function of distance over the whole grid
    order = np.argsort(d2, axis=None, kind="stable")
    dist, vals = d2.ravel()[order], heat.ravel()[order]
    assert (np.diff(vals)[np.diff(dist) > 0] <= 0).all()
    assert (np.diff(vals)[np.diff(dist) == 0] == 0).all()


# --- the strip-wise EDT with sparse centres, and what gaussian_heatmap refuses -----------------


@pytest.mark.parametrize("strip_rows", [1, 2, 5])
@pytest.mark.parametrize("diameter", [7, 12, 13, 19])
def test_sparse_centres_and_small_strips(
    monkeypatch: pytest.MonkeyPatch, diameter: int, strip_rows: int
) -> None:
    """Few, isolated centres with EDT strips of a few rows: a pixel's only centre may lie
    floor(R) rows away in another strip (and whole strips hold no centre at all), so the
    strip halo must reach floor(R) rows (mutants: a halo one row short, stopping at the
    first empty strip)."""
    import lsgh_ee.heatmap as hm

    shape = (60, 45)
    monkeypatch.setattr(hm, "_STRIP_PIXELS", strip_rows * shape[1])
    rows = np.array([3, 20, 21, 40, 59, 59])
    cols = np.array([5, 30, 2, 44, 0, 22])
    got = gaussian_heatmap((rows, cols), shape, diameter, method="edt")
    assert_allclose(got, brute_force(rows, cols, shape, diameter), rtol=0, atol=1e-6)
    single = gaussian_heatmap((np.array([30]), np.array([20])), shape, diameter, method="edt")
    assert_allclose(
        single, brute_force([30], [20], shape, diameter), rtol=0, atol=1e-6
    )  # exactly floor(R) rows above and below the centre: 0.1 or more (D odd: more)
    k = diameter // 2
    assert single[30 - k, 20] >= np.float32(0.1) and single[30 + k, 20] >= np.float32(0.1)


def test_auto_picks_the_cheaper_method(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` stamps a few kernels on a large grid and runs the EDT for centres that
    cover it (the cost model of the module doc: centres x kernel area against grid pixels)."""
    import lsgh_ee.heatmap as hm

    def refuse(*args: object) -> np.ndarray:
        raise AssertionError("auto chose the costlier method")

    shape = (400, 300)
    with monkeypatch.context() as patch:
        patch.setattr(hm, "_edt", refuse)
        few = gaussian_heatmap((np.array([10, 200]), np.array([10, 150])), shape, 13)
    assert_allclose(few, brute_force([10, 200], [10, 150], shape, 13), rtol=0, atol=1e-6)
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(0, shape[0], 20_000), rng.integers(0, shape[1], 20_000)
    with monkeypatch.context() as patch:
        patch.setattr(hm, "_stamp", refuse)
        many = gaussian_heatmap((rows, cols), shape, 19)
    assert many.shape == shape and many.max() == 1.0


def test_centre_checks_name_the_problem() -> None:
    one, two = np.array([1]), np.array([1, 2])
    with pytest.raises(ValueError, match="1 centre rows but 2 centre columns"):
        gaussian_heatmap((one, two), (30, 40), 7)
    with pytest.raises(ValueError, match="integer"):  # one integer, one float array
        gaussian_heatmap((np.array([1]), np.array([1.0])), (30, 40), 7)
    with pytest.raises(ValueError, match="integer"):
        gaussian_heatmap((np.array([1.0]), np.array([1])), (30, 40), 7)
    # the last row and column are inside, one beyond is outside
    assert gaussian_heatmap((np.array([29]), np.array([39])), (30, 40), 7)[29, 39] == 1.0
    with pytest.raises(ValueError, match="outside the 30 x 40 grid"):
        gaussian_heatmap((np.array([0]), np.array([40])), (30, 40), 7)
    with pytest.raises(ValueError, match="outside"):
        gaussian_heatmap((np.array([30]), np.array([0])), (30, 40), 7)
    with pytest.raises(LsghError, match=r"grid is only 30 x 300 pixels"):
        gaussian_heatmap((one, one), (30, 300), 30)
