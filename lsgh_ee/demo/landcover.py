"""Land cover (ESA WorldCover codes, 30 m, EPSG:5070) from rules on elevation, slope,
distances to rivers, roads and villages and seeded smooth noise (see
:func:`_land_cover_rules`), and red and NIR surface reflectance from it: per-class NDVI
and red levels plus smooth seeded noise, quantised to 1/1024 (see
:func:`simulate_reflectance`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import CRS
from rasterio.warp import transform_bounds

from lsgh_ee.demo.fields import distance_to, fill_nan_nearest, smooth_noise
from lsgh_ee.factors import terrain
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_onto_grid

LANDCOVER_CRS = "EPSG:5070"  # NAD83 / Conus Albers
LANDCOVER_RESOLUTION = 30.0
#: Reflectances are multiples of this (about 0.001; coarse so the files stay small).
REFLECTANCE_STEP = 1.0 / 1024.0

#: WorldCover code → (name, NDVI mean, red reflectance mean), and the display colours.
LAND_COVER = {
    10: ("tree cover", 0.72, 0.030),
    20: ("shrubland", 0.60, 0.045),
    30: ("grassland", 0.50, 0.060),
    40: ("cropland", 0.40, 0.080),
    50: ("built-up", 0.15, 0.120),
    60: ("bare", 0.08, 0.180),
    80: ("water", -0.30, 0.040),
    90: ("wetland", 0.45, 0.050),
}
LAND_COVER_COLOURS = {
    10: (0, 100, 0, 255),
    20: (255, 187, 34, 255),
    30: (255, 255, 76, 255),
    40: (240, 150, 255, 255),
    50: (250, 0, 0, 255),
    60: (180, 180, 180, 255),
    80: (0, 100, 200, 255),
    90: (0, 150, 160, 255),
}


def landcover_grid(grid: Grid) -> Grid:
    """30 m CONUS Albers grid covering the analysis grid with a 300 m margin."""
    left, bottom, right, top = transform_bounds(
        grid.crs, LANDCOVER_CRS, *grid.bounds, densify_pts=21
    )
    margin = 300.0
    return Grid.from_bounds(
        (left - margin, bottom - margin, right + margin, top + margin),
        CRS.from_user_input(LANDCOVER_CRS),
        LANDCOVER_RESOLUTION,
    )


def simulate_land_cover(
    dem_path: Path,
    lc_grid: Grid,
    rivers: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> np.ndarray:
    """WorldCover codes (uint8, 0 = nodata) on ``lc_grid``: see :func:`_land_cover_rules`."""
    elevation = read_onto_grid(dem_path, lc_grid, min_coverage=0.5).astype("float64")
    valid = ~np.isnan(elevation)
    slope = terrain.slope(elevation, (lc_grid.resolution,) * 2)
    slope = np.where(valid, fill_nan_nearest(slope), np.nan)
    top_order = int(rivers["order"].max())
    layers = {
        "elevation": elevation,
        "slope": slope,
        "d_river": distance_to(rivers, lc_grid),
        "d_big_river": distance_to(rivers[rivers["order"] >= top_order], lc_grid),
        "d_road": distance_to(roads, lc_grid),
        "d_village": distance_to(villages, lc_grid),
        "n1": smooth_noise(rng, lc_grid.shape, 600.0 / lc_grid.resolution),
        "n2": smooth_noise(rng, lc_grid.shape, 250.0 / lc_grid.resolution),
        "n3": smooth_noise(rng, lc_grid.shape, 120.0 / lc_grid.resolution),
    }
    with np.errstate(invalid="ignore"):
        codes = _land_cover_rules(**layers)
    codes[~valid] = 0
    return codes


def _land_cover_rules(
    elevation: np.ndarray,
    slope: np.ndarray,
    d_river: np.ndarray,
    d_big_river: np.ndarray,
    d_road: np.ndarray,
    d_village: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    n3: np.ndarray,
) -> np.ndarray:
    """The land-cover rules; later rules overwrite earlier ones.

    Tree cover everywhere, then: grassland (pasture) on slopes < 14° where the broad noise
    n1 > 0.4; cropland on slopes < 7° below 420 m, or < 5° within 300 m of a river, where
    n1 > -0.3; shrubland (regrowth) on slopes < 25° where n2 > 1.2; bare ground on
    surface-mine patches (above 550 m, slope < 20°, n2 > 2.0) and on slopes > 38°; wetland
    on flat (< 3°) river margins (< 60 m) where n3 > 0; built-up within 45 m of a road on
    slopes < 12° where n3 > 0.3, and within 500 + 250·n3 m of a village on slopes < 15°;
    water within 25 m of the rivers of the highest Strahler order.
    """
    codes = np.full(elevation.shape, 10, dtype="uint8")
    codes[(slope < 14) & (n1 > 0.4)] = 30
    valley_floor = (slope < 7) & (elevation < 420) | (slope < 5) & (d_river < 300)
    codes[valley_floor & (n1 > -0.3)] = 40
    codes[(slope < 25) & (n2 > 1.2)] = 20
    codes[(elevation > 550) & (slope < 20) & (n2 > 2.0)] = 60
    codes[slope > 38] = 60
    codes[(d_river < 60) & (slope < 3) & (n3 > 0.0)] = 90
    codes[(d_road < 45) & (slope < 12) & (n3 > 0.3)] = 50
    codes[(d_village < 500 + 250 * n3) & (slope < 15)] = 50
    codes[d_big_river < 25] = 80
    return codes


def simulate_reflectance(
    landcover: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Red and NIR reflectance (float32, NaN where land cover is nodata).

    NDVI = class mean + 0.04 · n_a; red = class red mean · (1 + 0.15 · n_b), with n_a, n_b
    independent smooth noises (σ 240 m, unit standard deviation); NIR = red (1 + NDVI) /
    (1 - NDVI); both clipped to [1/1024, 0.8] and rounded to multiples of
    :data:`REFLECTANCE_STEP` (no per-pixel noise: it would triple the file sizes).
    """
    valid = landcover > 0
    ndvi_mean = np.zeros(landcover.shape)
    red_mean = np.zeros(landcover.shape)
    for code, (_, ndvi, red) in LAND_COVER.items():
        ndvi_mean[landcover == code] = ndvi
        red_mean[landcover == code] = red
    ndvi = np.clip(ndvi_mean + 0.04 * smooth_noise(rng, landcover.shape, 8.0), -0.9, 0.95)
    red = red_mean * (1.0 + 0.15 * smooth_noise(rng, landcover.shape, 8.0))
    red = np.clip(red, REFLECTANCE_STEP, 0.8)
    nir = np.clip(red * (1.0 + ndvi) / (1.0 - ndvi), REFLECTANCE_STEP, 0.8)
    out = []
    for band in (red, nir):
        q = np.round(band / REFLECTANCE_STEP) * REFLECTANCE_STEP
        out.append(np.where(valid, q, np.nan).astype("float32"))
    return out[0], out[1]
