"""Terrain derivatives: checked against gdaldem, hand-derived values and brute force."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from lsgh_ee.factors.terrain import (
    SLOPE_POSITION_CLASSES,
    aspect,
    curvature,
    gradient,
    local_relief,
    slope,
    slope_aspect,
    slope_position,
    topographic_position_index,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GDALDEM = shutil.which("gdaldem")
needs_gdaldem = pytest.mark.skipif(
    GDALDEM is None, reason="gdaldem (GDAL's command-line tools, e.g. gdal-bin) is not on PATH"
)
TOL_DEG = 0.01


# ------------------------------------------------------------------ DEMs for gdaldem


def _synthetic_float32(path: Path) -> None:
    """A hill and a valley with every aspect, an exactly flat plateau, NaN holes and a
    NaN strip on the edge; 5 m square cells."""
    rows, cols = 64, 72
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64) * 5.0
    z = 400.0 + 30.0 * np.exp(-((x - 120) ** 2 + (y - 150) ** 2) / 2500.0)
    z -= 20.0 * np.exp(-((x - 260) ** 2 + (y - 90) ** 2) / 1800.0)
    z += 3.0 * np.sin(x / 17.0) * np.cos(y / 23.0) + 0.013 * x
    dem = z.astype(np.float32)
    dem[40:52, 50:64] = np.float32(385.25)  # a flat plateau (zero gradient inside)
    dem[10, 20] = np.nan
    dem[30:33, 44] = np.nan
    dem[0:5, 0] = np.nan
    _write(path, dem, 5.0, 5.0, nodata=float("nan"))


def _synthetic_int16(path: Path) -> None:
    """Integer DEM with a nodata value (like the Czech one), 25 m square cells."""
    rows, cols = 48, 40
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    z = 600 + 40 * np.sin(x / 6.0) + 25 * np.cos(y / 5.0) + 2 * x
    dem = np.rint(z).astype(np.int16)
    dem[20:24, 10:13] = -32768
    dem[47, 5:9] = -32768
    _write(path, dem, 25.0, 25.0, nodata=-32768)


def _write(path: Path, dem: np.ndarray, xres: float, yres: float, nodata: float) -> None:
    profile = {
        "driver": "GTiff",
        "dtype": dem.dtype.name,
        "width": dem.shape[1],
        "height": dem.shape[0],
        "count": 1,
        "crs": "EPSG:32633",
        "transform": Affine(xres, 0.0, 500_000.0, 0.0, -yres, 5_000_000.0),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dem, 1)


def _real(rel: str) -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (a fresh clone has no shared test data)")
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"{path} is absent from the shared test data")
    return path


DEMS = {
    "synthetic-float32": lambda tmp: (_synthetic_float32(tmp / "syn.tif"), tmp / "syn.tif")[1],
    "synthetic-int16": lambda tmp: (_synthetic_int16(tmp / "syn16.tif"), tmp / "syn16.tif")[1],
    "ecuador": lambda tmp: _real("ecuador/dem_elev_10m.tif"),
    "czech": lambda tmp: _real("czech/dem_78m.tif"),
}


def _read_dem(path: Path) -> tuple[np.ndarray, tuple[float, float]]:
    with rasterio.open(path) as src:
        dem = src.read(1, masked=True).astype(np.float32).filled(np.nan)
        return dem, (src.transform.a, -src.transform.e)


def _gdaldem(mode: str, src: Path, dst: Path, method: str, *extra: str) -> np.ndarray:
    """Run gdaldem; return its output with its nodata value (-9999) turned into NaN."""
    alg = ["-alg", "ZevenbergenThorne"] if method == "zevenbergen_thorne" else []
    cmd = [GDALDEM, mode, "-q", "-s", "1", *alg, *extra, str(src), str(dst)]
    subprocess.run(cmd, check=True, capture_output=True)
    with rasterio.open(dst) as ds:
        out = ds.read(1).astype(np.float64)
        assert ds.nodata == -9999
        out[out == ds.nodata] = np.nan
    return out


def _circular_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b) % 360.0
    return np.minimum(d, 360.0 - d)


# --------------------------------------------------------------- slope/aspect vs gdaldem


@needs_gdaldem
@pytest.mark.parametrize("method", ["horn", "zevenbergen_thorne"])
@pytest.mark.parametrize(
    "dem_name",
    [
        "synthetic-float32",
        "synthetic-int16",
        pytest.param("ecuador", marks=pytest.mark.realdata),
        pytest.param("czech", marks=pytest.mark.realdata),
    ],
)
def test_slope_aspect_match_gdaldem(dem_name: str, method: str, tmp_path: Path) -> None:
    src = DEMS[dem_name](tmp_path)
    dem, cellsize = _read_dem(src)
    ours_slope, ours_aspect = slope_aspect(dem, cellsize, method)
    g_slope = _gdaldem("slope", src, tmp_path / "slope.tif", method)
    g_aspect = _gdaldem("aspect", src, tmp_path / "aspect.tif", method)

    # Validity: our NaN set is exactly gdaldem's nodata set (ring + windows touching nodata).
    assert np.array_equal(np.isnan(ours_slope), np.isnan(g_slope))
    both = ~np.isnan(ours_slope)
    assert both.sum() > 0.8 * dem.size
    assert np.abs(ours_slope[both] - g_slope[both]).max() <= TOL_DEG

    # Aspect: gdaldem writes nodata on flat cells, we write -1 (and slope 0 there).
    flat = ours_aspect == -1
    assert np.array_equal(np.isnan(ours_aspect) | flat, np.isnan(g_aspect))
    assert np.all(ours_slope[flat] == 0) and np.all(g_slope[flat] == 0)
    cmp = ~np.isnan(g_aspect)
    assert cmp.sum() > 0.8 * dem.size
    assert np.all((ours_aspect[cmp] >= 0) & (ours_aspect[cmp] < 360))
    assert _circular_diff(ours_aspect[cmp], g_aspect[cmp]).max() <= TOL_DEG

    # The separate functions give the same numbers as the combined one.
    np.testing.assert_array_equal(slope(dem, cellsize, method), ours_slope)
    np.testing.assert_array_equal(aspect(dem, cellsize, method), ours_aspect)

    if dem_name.startswith("synthetic"):
        # Nodata inside the DEM really was exercised (not only the outer ring).
        assert np.isnan(ours_slope[1:-1, 1:-1]).any()
    if dem_name == "synthetic-float32":
        assert flat.sum() >= 100  # the plateau's inside


@needs_gdaldem
def test_slope_non_square_cells_match_gdaldem(tmp_path: Path) -> None:
    """x and y cell sizes are used separately (10 m × 25 m cells)."""
    rows, cols = 30, 34
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    dem = (200 + 15 * np.sin(x / 4.0) + 0.8 * y**1.5).astype(np.float32)
    src = tmp_path / "rect.tif"
    _write(src, dem, 10.0, 25.0, nodata=float("nan"))
    for method in ("horn", "zevenbergen_thorne"):
        ours = slope(dem, (10.0, 25.0), method)
        theirs = _gdaldem("slope", src, tmp_path / f"s_{method}.tif", method)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs))
        ok = ~np.isnan(ours)
        assert np.abs(ours[ok] - theirs[ok]).max() <= TOL_DEG
        # Swapping the sizes would be visibly wrong.
        swapped = slope(dem, (25.0, 10.0), method)
        assert np.abs(swapped[ok] - theirs[ok]).max() > 1.0


# ------------------------------------------------------- slope/aspect: known geometry


@pytest.mark.parametrize("method", ["horn", "zevenbergen_thorne"])
@pytest.mark.parametrize(
    ("dzdx", "dzdy", "expected_aspect"),
    [
        (1.0, 0.0, 270.0),  # rises to the east: faces (drains) west
        (-1.0, 0.0, 90.0),  # rises to the west: faces east
        (0.0, 1.0, 180.0),  # rises to the north: faces south
        (0.0, -1.0, 0.0),  # rises to the south: faces north
        (1.0, 1.0, 225.0),  # rises to the north-east: faces south-west
    ],
)
def test_planes(method: str, dzdx: float, dzdy: float, expected_aspect: float) -> None:
    cell = (10.0, 10.0)
    rows, cols = 6, 7
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    x_m, y_m = xx * cell[0], -yy * cell[1]  # y grows northwards = upwards = row 0
    dem = 500 + dzdx * x_m + dzdy * y_m
    gx, gy = gradient(dem, cell, method)
    s, a = slope_aspect(dem, cell, method)
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(gx[inner], dzdx, atol=1e-6)
    np.testing.assert_allclose(gy[inner], dzdy, atol=1e-6)
    np.testing.assert_allclose(s[inner], math.degrees(math.atan(math.hypot(dzdx, dzdy))), atol=1e-4)
    np.testing.assert_allclose(_circular_diff(a[inner], expected_aspect), 0, atol=1e-4)
    for out in (gx, gy, s, a):
        assert out.dtype == np.float32 and out.shape == dem.shape
        assert np.isnan(out[0]).all() and np.isnan(out[-1]).all()
        assert np.isnan(out[:, 0]).all() and np.isnan(out[:, -1]).all()


def test_flat_and_nan_windows() -> None:
    dem = np.full((6, 6), 100.0, dtype=np.float32)
    dem[5, 5] = np.nan  # touches the window of (4, 4) only, as a corner
    s, a = slope_aspect(dem, (5.0, 5.0), "zevenbergen_thorne")
    assert np.isnan(s[4, 4]) and np.isnan(a[4, 4])  # corner NaN poisons ZT too (as gdaldem)
    interior = np.zeros((6, 6), bool)
    interior[1:-1, 1:-1] = True
    interior[4, 4] = False
    assert np.all(s[interior] == 0) and np.all(a[interior] == -1)
    assert np.isnan(s[~interior]).all()


def test_bad_arguments() -> None:
    dem = np.zeros((5, 5), np.float32)
    with pytest.raises(ValueError, match="unknown gradient method"):
        gradient(dem, (1.0, 1.0), method="sobel")
    with pytest.raises(ValueError, match="cellsize"):
        slope(dem, (0.0, 1.0))
    with pytest.raises(ValueError, match="2-D"):
        slope(np.zeros((2, 5, 5)), (1.0, 1.0))
    with pytest.raises(ValueError, match="radius"):
        topographic_position_index(dem, 0.5)


# ------------------------------------------------------------------------ curvature


def _quadric(a: float, b: float, lx: float, ly: float, shape=(5, 5)) -> np.ndarray:
    """z = a·x² + b·y² (+ a tilt), x east and y north in metres."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    x, y = (xx - 2) * lx, (2 - yy) * ly
    return (a * x**2 + b * y**2 + 0.3 * x - 0.1 * y + 50.0).astype(np.float32)


@pytest.mark.parametrize(
    ("a", "b", "lx", "ly", "expected"),
    [
        # z = x²: (Z4 + Z6)/2 - Z5 = ((x-L)² + (x+L)²)/2 - x² = L², so D = L²/L² = 1, and
        # E = 0 (no y term): curvature = -2·(1 + 0)·100 = -200 (a valley: concave).
        (1.0, 0.0, 10.0, 10.0, -200.0),
        # In general D = a, E = b: -200·(0.01 + 0.02) = -6.
        (0.01, 0.02, 10.0, 10.0, -6.0),
        # A dome z = -0.005 x² - 0.0025 y² is convex: -200·(-0.0075) = +1.5. Non-square
        # cells: D uses Lx and E uses Ly, so the result is still exactly a and b.
        (-0.005, -0.0025, 10.0, 30.0, 1.5),
        # A tilted plane: 0.
        (0.0, 0.0, 10.0, 10.0, 0.0),
    ],
)
def test_curvature_quadrics(a: float, b: float, lx: float, ly: float, expected: float) -> None:
    c = curvature(_quadric(a, b, lx, ly), (lx, ly))
    assert c.dtype == np.float32 and c.shape == (5, 5)
    np.testing.assert_allclose(c[1:-1, 1:-1], expected, rtol=1e-4, atol=2e-3)
    ring = np.ones((5, 5), bool)
    ring[1:-1, 1:-1] = False
    assert np.isnan(c[ring]).all()


def test_curvature_nan_window() -> None:
    dem = _quadric(0.01, 0.02, 10.0, 10.0)
    dem[0, 0] = np.nan  # a corner of (1, 1)'s window only: not used by D or E, still NaN
    dem[4, 2] = np.nan  # south neighbour of (3, 2), corner of (3, 1) and (3, 3)
    c = curvature(dem, (10.0, 10.0))
    expected_nan = {(1, 1), (3, 1), (3, 2), (3, 3)}
    for r in range(1, 4):
        for col in range(1, 4):
            if (r, col) in expected_nan:
                assert np.isnan(c[r, col]), (r, col)
            else:
                assert c[r, col] == pytest.approx(-6.0, abs=2e-3), (r, col)


# -------------------------------------------------------------------------------- TPI


def _neighbours(shape, r, c, radius):
    """Cells within ``radius`` cells of (r, c), (r, c) itself included, in the array."""
    k = int(radius) + 1
    for rr in range(r - k, r + k + 1):
        for cc in range(c - k, c + k + 1):
            inside = 0 <= rr < shape[0] and 0 <= cc < shape[1]
            if inside and (rr - r) ** 2 + (cc - c) ** 2 <= radius**2:
                yield rr, cc


def _random_dem(seed: int, shape=(13, 16)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dem = (1500 + 80 * rng.random(shape)).astype(np.float32)
    dem[rng.random(shape) < 0.15] = np.nan
    dem[6:9, 0:3] = np.nan
    dem[7, 1] = 1520.0  # isolated from every valid cell at radius 1
    return dem


@pytest.mark.parametrize("radius", [1.0, 2.5, 3.2])
def test_tpi_brute_force(radius: float) -> None:
    dem = _random_dem(1)
    tpi = topographic_position_index(dem, radius)
    assert tpi.dtype == np.float32
    for r in range(dem.shape[0]):
        for c in range(dem.shape[1]):
            if np.isnan(dem[r, c]):
                assert np.isnan(tpi[r, c])
                continue
            vals = [
                float(dem[rr, cc])
                for rr, cc in _neighbours(dem.shape, r, c, radius)
                if (rr, cc) != (r, c) and not np.isnan(dem[rr, cc])
            ]
            if not vals:
                assert np.isnan(tpi[r, c]), (r, c)
            else:
                assert tpi[r, c] == pytest.approx(dem[r, c] - np.mean(vals), abs=2e-3), (r, c)
    if radius == 1.0:
        assert np.isnan(tpi[7, 1])  # its 4 neighbours are all NaN


def test_tpi_by_hand() -> None:
    dem = np.array([[1.0, 2.0, 3.0], [4.0, 9.0, 6.0], [7.0, 8.0, np.nan]], np.float32)
    tpi = topographic_position_index(dem, 1.0)
    # centre: 9 - mean(2, 4, 6, 8) = 4; corner (0,0): 1 - mean(2, 4) = -2;
    # (1,2): 6 - mean(3, 9) (south neighbour NaN) = 0; (2,2) is NaN.
    assert tpi[1, 1] == pytest.approx(4.0)
    assert tpi[0, 0] == pytest.approx(-2.0)
    assert tpi[1, 2] == pytest.approx(0.0, abs=1e-5)
    assert np.isnan(tpi[2, 2])


def test_tpi_large_radius_shape_and_constant() -> None:
    dem = np.full((300, 280), 1234.5, np.float32)
    dem[100:110, 50:60] = np.nan
    tpi = topographic_position_index(dem, 30.0)
    ok = ~np.isnan(dem)
    np.testing.assert_allclose(tpi[ok], 0.0, atol=1e-3)  # FFT round-off stays tiny
    assert np.isnan(tpi[~ok]).all()


# ---------------------------------------------------------------------- slope position

# (tpi, slope°, expected code). tpi values are integers chosen so that, together with the
# four balancing cells at the end, mean(tpi) = 0 and std(tpi) = 10 exactly: z = tpi / 10
# is then exactly the decimal (e.g. -3/10 == -0.3), and the band edges are hit exactly.
SLOPE_POSITION_CASES = [
    (-15, 10.0, 1),  # z = -1.5: valley
    (-10, 10.0, 2),  # z = -1: downslope (-1 <= z)
    (-7, 10.0, 2),  # z = -0.7
    (-5, 5.0, 3),  # z = -0.5 with slope = 5°: flat (slope <= 5)
    (-5, 5.001, 4),  # z = -0.5 with slope > 5°: mesoslope-1
    (-4, 30.0, 4),  # z = -0.4
    (-3, 30.0, 5),  # z = -0.3: mesoslope-2 (band [-0.3, -0.1))
    (-2, 30.0, 5),
    (-1, 30.0, 6),  # z = -0.1: mesoslope-3
    (0, 30.0, 6),
    (0, 0.0, 3),  # z = 0, slope 0: flat
    (1, 30.0, 7),  # z = 0.1: mesoslope-4
    (2, 30.0, 7),
    (3, 30.0, 8),  # z = 0.3: mesoslope-5
    (4, 30.0, 8),
    (5, 30.0, 8),  # z = 0.5 is still the middle band (<= 0.5)
    (5, 5.0, 3),  # ... and flat when slope <= 5°
    (7, 0.0, 9),  # z = 0.7: upslope, whatever the slope
    (10, 0.0, 9),  # z = 1: upslope (z <= 1)
    (12, 0.0, 10),  # z = 1.2: ridge
    (0, np.nan, 0),  # slope nodata: 0 (its tpi still counts in mean and std)
    (-22, 40.0, 1),  # balancing cells
    (-17, 2.0, 1),
    (18, 2.0, 10),
    (24, 40.0, 10),
    (np.nan, 10.0, 0),  # tpi nodata: 0, left out of mean and std
]


def test_slope_position_every_class_and_boundary() -> None:
    tpi = np.array([c[0] for c in SLOPE_POSITION_CASES], np.float64).reshape(2, 13)
    slope_deg = np.array([c[1] for c in SLOPE_POSITION_CASES], np.float64).reshape(2, 13)
    expected = np.array([c[2] for c in SLOPE_POSITION_CASES], np.uint8).reshape(2, 13)
    valid = tpi[~np.isnan(tpi)]
    assert valid.mean() == 0.0 and valid.std() == 10.0  # the construction holds
    codes = slope_position(tpi.astype(np.float32), slope_deg.astype(np.float32))
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, expected)
    assert set(np.unique(codes)) == set(range(11))
    # Standardisation: shifting and scaling tpi changes nothing.
    np.testing.assert_array_equal(slope_position(tpi * 3.0 + 7.0, slope_deg), expected)


def test_slope_position_names() -> None:
    assert len(SLOPE_POSITION_CLASSES) == 10
    assert SLOPE_POSITION_CLASSES[0] == "valley" and SLOPE_POSITION_CLASSES[-1] == "ridge"
    assert SLOPE_POSITION_CLASSES[2] == "flat"
    assert SLOPE_POSITION_CLASSES[3:8] == tuple(f"mesoslope-{i}" for i in range(1, 6))


# ------------------------------------------------------------------------ local relief


@pytest.mark.parametrize("radius", [1.0, 1.5, 2.5, 4.0])
def test_local_relief_brute_force(radius: float) -> None:
    dem = _random_dem(2)
    relief = local_relief(dem, radius)
    assert relief.dtype == np.float32
    for r in range(dem.shape[0]):
        for c in range(dem.shape[1]):
            if np.isnan(dem[r, c]):
                assert np.isnan(relief[r, c])
                continue
            vals = [
                float(dem[rr, cc])
                for rr, cc in _neighbours(dem.shape, r, c, radius)
                if not np.isnan(dem[rr, cc])
            ]
            assert relief[r, c] == pytest.approx(max(vals) - min(vals), abs=1e-4), (r, c)
    if radius == 1.0:
        assert relief[7, 1] == 0.0  # only itself is valid


def test_tpi_isolated_cells_are_nan() -> None:
    """Cells with no valid neighbour are NaN, not sum/count of FFT round-off."""
    dem = np.full((240, 260), np.nan, np.float32)
    dem[::2, ::2] = 900.0 + np.arange(120 * 130, dtype=np.float32).reshape(120, 130) % 97
    assert np.isnan(topographic_position_index(dem, 1.0)).all()
    # At radius 2 the cells two rows / columns away count: every valid cell has a TPI.
    tpi = topographic_position_index(dem, 2.0)
    assert not np.isnan(tpi[::2, ::2]).any()
