"""DEM hydrology and the field's DEM factors: checked against closed-form answers on planes
and valleys, brute force, and SAGA's terrain attributes of the real Ecuador DEM."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio

from lsgh_ee.config import TerrainConfig
from lsgh_ee.factors import hydrology
from lsgh_ee.factors.dem_layers import dem_halo
from lsgh_ee.factors.terrain import plan_profile_curvature, slope, terrain_ruggedness_index
from lsgh_ee.grid import Grid

L = 10.0
CELL = (L, L)


def _plane(rows: int = 12, cols: int = 9, drop: float = 2.0) -> np.ndarray:
    """A plane falling ``drop`` metres per row towards the south."""
    r = np.arange(rows, dtype="float64")[:, None]
    return np.broadcast_to((rows - r) * drop, (rows, cols)).copy()


def _valley(rows: int = 12, cols: int = 9, side: float = 1.0, down: float = 0.1) -> np.ndarray:
    """A V valley: sides falling ``side`` m/m towards the middle column, which falls
    ``down`` m/m to the south. side > 2.414 down, so the sides drain straight across."""
    r, c = np.mgrid[0:rows, 0:cols].astype("float64")
    return np.abs(c - cols // 2) * L * side + (rows - r) * L * down


# ------------------------------------------------------------------ upstream area


def test_plane_accumulates_row_by_row() -> None:
    area = hydrology.upstream_area(_plane(), CELL)
    rows, cols = area.shape
    expected = (np.arange(rows)[:, None] + 1) * L * L * np.ones((1, cols))
    np.testing.assert_array_equal(area, expected)  # D8 steepest descent: straight downhill
    assert area.dtype == np.float32


def test_valley_sides_drain_into_the_channel() -> None:
    area = hydrology.upstream_area(_valley(), CELL) / (L * L)
    rows, cols = area.shape
    mid = cols // 2
    c = np.arange(cols)
    across = np.where(c < mid, c + 1, cols - c)  # cells of the row upslope of each side cell
    np.testing.assert_array_equal(
        area[:, c != mid], np.broadcast_to(across, (rows, cols))[:, c != mid]
    )
    np.testing.assert_array_equal(area[:, mid], (np.arange(rows) + 1) * cols)


def test_a_closed_basin_is_filled_and_drains_through_its_notch() -> None:
    rows, cols = 11, 13
    r, c = np.mgrid[0:rows, 0:cols].astype("float64")
    dem = 100.0 + np.hypot(r - 5, c - 6) * 3.0  # a bowl: its floor is a depression
    dem[5, 6] -= 20.0  # a deep pit at the bottom
    dem[rows - 1, 6] = 0.0  # the only way out
    area = hydrology.upstream_area(dem, CELL)
    assert area[rows - 1, 6] == rows * cols * L * L  # every cell reaches the notch
    assert area[5, 6] > L * L  # the pit passes its water on


def test_nodata_cells_are_nan_and_water_leaves_into_them() -> None:
    dem = _plane(rows=12, cols=5)
    dem[5] = np.nan  # a nodata row across the slope
    dem[:, 0] = np.nan  # and a nodata strip on the west edge
    area = hydrology.upstream_area(dem, CELL) / (L * L)
    assert np.array_equal(np.isnan(area), np.isnan(dem))
    np.testing.assert_array_equal(area[:5, 1:], np.repeat(np.arange(1, 6)[:, None], 4, axis=1))
    # below the gap the count starts again: nothing crosses nodata
    np.testing.assert_array_equal(area[6:, 1:], np.repeat(np.arange(1, 7)[:, None], 4, axis=1))


def test_all_nodata_gives_all_nan() -> None:
    assert np.isnan(hydrology.upstream_area(np.full((4, 4), np.nan), CELL)).all()


# ------------------------------------------------------------------ TWI and SPI


def test_twi_and_spi_on_a_plane_match_the_closed_form() -> None:
    dem = _plane(drop=2.0)
    area = hydrology.upstream_area(dem, CELL)
    beta = slope(dem, CELL)
    twi = hydrology.topographic_wetness_index(area, beta, CELL)
    spi = hydrology.stream_power_index(area, beta, CELL)
    rows = np.arange(dem.shape[0])[:, None] + 1
    tan_beta = 2.0 / L
    a = rows * L  # specific catchment area: (i + 1) cells of L² over a contour width L
    inner = (slice(1, -1), slice(1, -1))  # slope is NaN on the outer ring
    expected_twi = np.broadcast_to(np.log(a / tan_beta), dem.shape)
    expected_spi = np.broadcast_to(a * tan_beta, dem.shape)
    np.testing.assert_allclose(twi[inner], expected_twi[inner], rtol=1e-6)
    np.testing.assert_allclose(spi[inner], expected_spi[inner], rtol=1e-6)
    assert np.isnan(twi[0]).all() and np.isnan(spi[:, -1]).all()


def test_flat_cells_use_the_minimum_slope() -> None:
    area = np.full((3, 3), 500.0)
    flat = np.zeros((3, 3))
    twi = hydrology.topographic_wetness_index(area, flat, CELL, min_slope_deg=0.5)
    spi = hydrology.stream_power_index(area, flat, CELL, min_slope_deg=0.5)
    tan_min = math.tan(math.radians(0.5))
    np.testing.assert_allclose(twi, math.log(50.0 / tan_min), rtol=1e-6)
    np.testing.assert_allclose(spi, 50.0 * tan_min, rtol=1e-6)
    with pytest.raises(ValueError, match="min_slope_deg"):
        hydrology.topographic_wetness_index(area, flat, CELL, min_slope_deg=0)


# ------------------------------------------------------------------ drainage network


def test_distance_to_drainage_matches_brute_force() -> None:
    dem = _valley(rows=20, cols=15)
    area = hydrology.upstream_area(dem, CELL)
    threshold_km2 = 10 * 15 * L * L / 1e6  # the channel starts where 10 rows drain into it
    channels = hydrology.drainage_network(area, threshold_km2)
    mid = 15 // 2
    expected_channels = np.zeros(dem.shape, bool)
    expected_channels[9:, mid] = True
    np.testing.assert_array_equal(channels, expected_channels)
    distance = hydrology.distance_to_drainage(channels, CELL)
    r, c = np.mgrid[0:20, 0:15]
    cr, cc = np.nonzero(channels)
    brute = np.min(np.hypot((r[..., None] - cr) * L, (c[..., None] - cc) * L), axis=-1)
    np.testing.assert_allclose(distance, brute, rtol=1e-6)
    np.testing.assert_allclose(distance[9:], np.abs(c[9:] - mid) * L)


def test_distance_to_drainage_without_channels_and_with_nodata() -> None:
    valid = np.ones((4, 5), bool)
    valid[0, 0] = False
    none = hydrology.distance_to_drainage(np.zeros((4, 5), bool), CELL, valid=valid)
    assert np.isnan(none[0, 0]) and np.isinf(none[valid]).all()
    with pytest.raises(ValueError, match="positive area in km²"):
        hydrology.drainage_network(np.ones((2, 2)), 0.0)


def test_the_hydrology_halo_only_grows_for_hydrology_factors() -> None:
    grid = Grid("EPSG:32633", rasterio.Affine(30, 0, 0, 0, -30, 0), 10, 10)
    settings = TerrainConfig(tpi_radius=150, relief_radius=90, hydrology_halo=1500)
    assert dem_halo(grid, settings, ["slope", "tri", "elevation"]) == 6  # 150 m / 30 m + 1
    assert dem_halo(grid, settings, ["slope", "twi"]) == 51  # 1500 m / 30 m + 1


# ------------------------------------------------------------------ TRI and curvature


def test_tri_equals_a_direct_loop() -> None:
    rng = np.random.default_rng(3)
    dem = rng.normal(500, 20, (7, 8))
    dem[3, 5] = np.nan
    tri = terrain_ruggedness_index(dem)
    for i in range(7):
        for j in range(8):
            window = dem[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]
            if i in (0, 6) or j in (0, 7) or np.isnan(window).any():
                assert np.isnan(tri[i, j])
                continue
            total = sum(
                (dem[i + di, j + dj] - dem[i, j]) ** 2 for di in (-1, 0, 1) for dj in (-1, 0, 1)
            )
            assert tri[i, j] == pytest.approx(math.sqrt(total), rel=1e-6)


def test_tri_of_a_plane_is_sqrt6_cell_tan_slope() -> None:
    r, c = np.mgrid[0:6, 0:6].astype("float64")
    dem = 3.0 * c + 4.0 * r  # |grad| = 5 m per cell
    np.testing.assert_allclose(terrain_ruggedness_index(dem)[1:-1, 1:-1], math.sqrt(6) * 5.0)


def test_curvatures_of_a_paraboloid() -> None:
    # z = -(x² + y²) / 2R: a dome, convex in every direction; at a point at distance d from
    # the top, profile = -(1/R) / (1 + (d/R)²)^1.5 · (-1) and plan = 1/d in the SAGA signs.
    radius = 200.0
    r, c = np.mgrid[0:41, 0:41].astype("float64")
    x, y = (c - 20) * L, (20 - r) * L
    dem = -(x**2 + y**2) / (2 * radius)
    plan, profile = plan_profile_curvature(dem, CELL)
    d = np.hypot(x, y)
    away = (d > 30) & ~np.isnan(plan)
    np.testing.assert_allclose(profile[away], (1 / radius) / (1 + (d[away] / radius) ** 2) ** 1.5,
                               rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(plan[away], 1 / d[away], rtol=1e-5)
    assert plan[20, 20] == 0.0 and profile[20, 20] == 0.0  # the flat top: undefined, 0


@pytest.fixture(scope="module")
def ecuador() -> tuple[np.ndarray, np.ndarray]:
    from conftest import SHARED_DATA

    folder = SHARED_DATA / "ecuador"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (a fresh clone has no shared test data)")
    with rasterio.open(folder / "dem_elev_10m.tif") as src:
        dem = src.read(1)
        assert src.res == (10.0, 10.0)
    with rasterio.open(folder / "ta_terrain_attributes_10m.tif") as src:
        assert src.descriptions == ("slope", "cplan", "cprof", "elev", "log10_carea")
        saga = src.read()
    return dem, saga


def test_plan_and_profile_curvature_equal_saga_on_ecuador(ecuador) -> None:
    """SAGA's "Slope, Aspect, Curvature" (Zevenbergen & Thorne's fit, its default in RSAGA)
    on the same DEM: both in 1/m, positive = convex. SAGA computes in double and stores
    float32 (7 significant digits); we compute in double and return float32. The tolerance,
    1e-6 1/m absolute + 1e-4 relative, is 0.005 % of the median |plan curvature| (0.02 1/m)
    and far below any class break, while a sign or unit slip (×100, ×-1) or another
    derivative stencil (Evans, Horn) misses it by orders of magnitude."""
    dem, saga = ecuador
    plan, profile = plan_profile_curvature(dem, (10.0, 10.0))
    both = ~np.isnan(plan) & ~np.isnan(saga[1])
    assert both.sum() > 0.98 * np.isfinite(saga[1]).sum()
    np.testing.assert_allclose(plan[both], saga[1][both], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(profile[both], saga[2][both], rtol=1e-4, atol=1e-6)


def test_upstream_area_ranks_like_saga_catchment_area_on_ecuador(ecuador) -> None:
    """SAGA's band is log10 of its *modified* catchment area (multiple flow direction,
    SAGA Wetness Index, m²): another algorithm, so only the ranking and the one-cell
    minimum can agree. Measured Spearman ρ = 0.70 with D8 (pyflwdir's own priority-flood
    directions give 0.68); a wrong unit or a broken routing falls far below 0.6."""
    from scipy.stats import spearmanr

    dem, saga = ecuador
    area = hydrology.upstream_area(dem, (10.0, 10.0))
    both = np.isfinite(area) & np.isfinite(saga[4])
    assert np.nanmin(area) == 100.0 and np.nanmin(saga[4]) == pytest.approx(2.0)
    rho = spearmanr(np.log10(area[both]), saga[4][both]).correlation
    assert rho > 0.6
    # the network (>= 0.5 km²) holds SAGA's own cells above that area
    saga_channels = saga[4] >= math.log10(0.5e6)
    ours = hydrology.drainage_network(area, 0.5)
    assert saga_channels.sum() > 0
    near = hydrology.distance_to_drainage(ours, (10.0, 10.0))[saga_channels]
    assert np.all(near <= 30.0)  # within 3 cells of our channel


def test_czech_integer_dem_with_nodata(shared_data: Path) -> None:
    with rasterio.open(shared_data / "czech" / "dem_78m.tif") as src:
        raw = src.read(1)  # int16; nodata 32767 (no cell has it: we cut a hole below)
        cell = (src.res[0], src.res[1])
    assert raw.dtype == np.int16
    cell_area = cell[0] * cell[1]
    whole = hydrology.upstream_area(raw, cell)  # integers are read as float32 elevations
    assert np.isfinite(whole).all() and np.nanmin(whole) == pytest.approx(cell_area)
    dem = np.where(raw == src.nodata, np.nan, raw.astype("float32"))
    dem[40:60, 50:70] = np.nan
    area = hydrology.upstream_area(dem, cell)
    assert np.array_equal(np.isnan(area), np.isnan(dem))
    assert np.nanmax(area) <= np.isfinite(dem).sum() * cell_area * (1 + 1e-6)


def test_init_proposes_the_field_factors(tmp_path: Path) -> None:
    import yaml

    from lsgh_ee.factors.catalogue import CATALOGUE, FIELD_FACTORS
    from lsgh_ee.regions.init import init_region

    assert FIELD_FACTORS == (
        "elevation", "plan_curvature", "profile_curvature", "tri", "flow_accumulation", "twi",
        "spi", "distance_to_drainage",
    )  # fmt: skip
    written = init_region(tmp_path / "valley", bbox=(103.71, 33.11, 103.9, 33.33))
    for path in written:
        factors = yaml.safe_load(path.read_text())["factors"]
        assert set(FIELD_FACTORS) <= set(factors), path.name
        assert all(CATALOGUE[n].classify == "quantile" for n in FIELD_FACTORS)
        if path.name == "region.yaml":
            assert all(factors[n] == {"source": "ee"} for n in FIELD_FACTORS)
        else:
            assert all(factors[n] == {} for n in FIELD_FACTORS)
