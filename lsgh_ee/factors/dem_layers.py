"""The DEM factors of a region: every terrain and hydrology factor from one padded DEM.

The DEM is read onto the region's grid grown by a halo, so that neighbourhood operators
(3×3 derivatives, TPI and relief disks) see real terrain beyond the AOI edge and the flow
routing sees the catchments upstream of it; the factors are then cut back to the grid.
The halo is the largest TPI / relief radius (+1 cell), and, when a hydrology factor is
asked for, at least ``terrain.hydrology_halo`` metres: an upstream area is only complete
when its whole catchment lies in the halo (catchments crossing the halo's edge are
truncated there, see :mod:`lsgh_ee.factors.hydrology`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

from lsgh_ee.config import RegionConfig, TerrainConfig
from lsgh_ee.factors import hydrology, neighbourhood, terrain
from lsgh_ee.factors.catalogue import HYDROLOGY_FACTORS
from lsgh_ee.grid import Grid
from lsgh_ee.headroom import require_memory
from lsgh_ee.rasters import open_raster
from lsgh_ee.region import Region

#: ``read_dem(grid, min_coverage) -> elevations`` on ``grid`` (float32, NaN nodata).
DemReader = Callable[[Grid, float], np.ndarray]

#: ``dem_file(grid, min_coverage) -> path``: a GeoTIFF whose band 1 is the DEM on exactly
#: ``grid`` (float32, NaN nodata), checked to have data over ``min_coverage`` of it (the
#: Earth Engine backend downloads one), read strip by strip like the local DEM.
DemFile = Callable[[Grid, float], Path]


#: Peak bytes per padded-grid pixel of :func:`terrain_layers` with hydrology factors:
#: measured 74 (peak RSS of export-factors on the demo with twi and flow accumulation, 15 m
#: against 30 m: +225 MB for +3.0 M padded pixels), plus a quarter.
HYDROLOGY_BYTES_PER_PIXEL = 92


def dem_halo(grid: Grid, settings: TerrainConfig, names: Collection[str]) -> int:
    """Cells of DEM read around the grid for the terrain factors ``names``."""
    cells = max(grid.cells_for(settings.tpi_radius), grid.cells_for(settings.relief_radius))
    if any(name in HYDROLOGY_FACTORS for name in names):
        cells = max(cells, grid.cells_for(settings.hydrology_halo))
    return int(math.ceil(cells)) + 1


def terrain_layers(
    region: Region, read_dem: DemReader, names: Collection[str]
) -> dict[str, np.ndarray]:
    """Raw values of the DEM factors ``names`` on the region's grid (float32, NaN nodata),
    keyed by factor name, from the whole padded DEM at once (the hydrology factors need
    whole catchments; :mod:`lsgh_ee.factors.windows` computes the others strip by strip
    with the same :func:`dem_factors`)."""
    grid, settings = region.grid, region.config.terrain
    pad = dem_halo(grid, settings, names)
    padded = grid.padded(pad)
    hydrology = sorted(set(names) & set(HYDROLOGY_FACTORS))
    if hydrology:
        require_memory(
            padded.height * padded.width * HYDROLOGY_BYTES_PER_PIXEL,
            f"the hydrology factors ({', '.join(hydrology)}) of a {padded.height:,} x "
            f"{padded.width:,} grid (flow routing holds the whole DEM with its halo)",
            "drop them from 'factors', raise 'resolution' or shrink the AOI (the other "
            "factors are computed strip by strip)",
        )
    # The DEM must cover the AOI; the pad beyond it is a bonus where the DEM extends further.
    dem = read_dem(padded, coverage_needed(grid, pad))
    layers = dem_factors(dem, grid.resolution, settings, names, pad)
    if "slope_position" in names:
        tpi, slope = layers.pop("tpi"), layers["slope"]
        position = neighbourhood.slope_position(tpi, slope, neighbourhood.tpi_moments(tpi))
        layers["slope_position"] = slope_position_values(position)
    return layers


def whole_dem(dem_file: DemFile) -> DemReader:
    """A :data:`DemReader` of the whole band 1 of the file ``dem_file`` gives (for the
    hydrology factors, which need the whole padded DEM at once)."""

    def read(grid: Grid, min_coverage: float) -> np.ndarray:
        with open_raster(dem_file(grid, min_coverage)) as src:
            return src.read(1)

    return read


def dem_factors(
    dem: np.ndarray,
    resolution: float,
    settings: TerrainConfig,
    names: Collection[str],
    pad: int,
) -> dict[str, np.ndarray]:
    """The DEM factors ``names`` of a DEM read with a halo of ``pad`` cells, cut back to
    the inner cells (float32, NaN nodata). For ``slope_position`` it gives ``tpi`` (and
    ``slope``) instead: the classes need the whole region's TPI moments.

    Every factor but the hydrology ones is local: a cell's value depends only on the DEM
    within ``pad`` cells, so strips of rows with that halo give the whole array's values.
    """
    cellsize = (resolution, resolution)
    wanted = set(names) | ({"tpi", "slope"} if "slope_position" in names else set())
    wanted.discard("slope_position")
    layers: dict[str, np.ndarray] = {}
    if wanted & {"slope", "aspect", *HYDROLOGY_FACTORS}:
        slope, aspect = terrain.slope_aspect(dem, cellsize, method=settings.method)
        aspect = np.where(slope < settings.flat_slope, np.float32(-1), aspect)
        aspect[np.isnan(slope)] = np.nan
        layers.update(slope=slope, aspect=aspect)
    if "tpi" in wanted:
        layers["tpi"] = neighbourhood.topographic_position_index(
            dem, dem_radius(resolution, settings.tpi_radius)
        )
    if "curvature" in wanted:
        layers["curvature"] = terrain.curvature(dem, cellsize)
    if "local_relief" in wanted:
        radius = dem_radius(resolution, settings.relief_radius)
        layers["local_relief"] = neighbourhood.local_relief(dem, radius)
    if "elevation" in wanted:
        layers["elevation"] = np.asarray(dem, dtype=np.float32)
    if wanted & {"plan_curvature", "profile_curvature"}:
        plan, profile = terrain.plan_profile_curvature(dem, cellsize)
        layers.update(plan_curvature=plan, profile_curvature=profile)
    if "tri" in wanted:
        layers["tri"] = terrain.terrain_ruggedness_index(dem)
    if wanted & set(HYDROLOGY_FACTORS):
        layers.update(hydrology_layers(dem, layers["slope"], cellsize, settings))
    inner = (slice(pad, dem.shape[0] - pad), slice(pad, dem.shape[1] - pad))
    return {name: layers[name][inner] for name in wanted}


def dem_radius(resolution: float, metres: float) -> float:
    """A neighbourhood radius in cells (``Grid.cells_for``)."""
    return metres / resolution


def slope_position_values(codes: np.ndarray) -> np.ndarray:
    """Slope-position codes as the factor's float32 values (0 = nodata → NaN)."""
    position = codes.astype("float32")
    position[position == 0] = np.nan
    return position


def hydrology_layers(
    dem: np.ndarray, slope_deg: np.ndarray, cellsize: tuple[float, float], settings: TerrainConfig
) -> dict[str, np.ndarray]:
    """``flow_accumulation`` (m²), ``twi``, ``spi`` and ``distance_to_drainage`` (m) of a
    DEM, all float32 of its shape, NaN where the DEM (for TWI/SPI: the slope) is NaN."""
    area = hydrology.upstream_area(dem, cellsize)
    channels = hydrology.drainage_network(area, settings.drainage_area)
    return {
        "flow_accumulation": area,
        "twi": hydrology.topographic_wetness_index(area, slope_deg, cellsize, settings.min_slope),
        "spi": hydrology.stream_power_index(area, slope_deg, cellsize, settings.min_slope),
        "distance_to_drainage": hydrology.distance_to_drainage(
            channels, cellsize, valid=~np.isnan(area)
        ),
    }


def coverage_needed(grid: Grid, pad: int) -> float:
    """Share of the grid padded by ``pad`` cells that the DEM must cover: all the grid."""
    inner = grid.height * grid.width
    outer = (grid.height + 2 * pad) * (grid.width + 2 * pad)
    return 0.999 * inner / outer


_DEFINITIONS = {
    "curvature": "ArcGIS curvature, -200 (D + E), Zevenbergen & Thorne",
    "elevation": "the DEM resampled bilinearly onto the grid",
    "plan_curvature": "SAGA plan curvature (Zevenbergen-Thorne derivatives, Evans-Young "
    "form), 1/m, + = convex",
    "profile_curvature": "SAGA profile curvature (Zevenbergen-Thorne derivatives, "
    "Evans-Young form), 1/m, + = convex",
    "tri": "Riley et al. 1999: sqrt(sum of squared differences to the 8 neighbours)",
    "flow_accumulation": "upstream area (m², cell included), D8 steepest descent on the "
    "depression-filled DEM (pyflwdir)",
    "twi": "ln(a / tan(slope)), a = upstream area / cell size",
    "spi": "a * tan(slope), a = upstream area / cell size",
    "distance_to_drainage": "Euclidean distance to cells with upstream area >= drainage_area",
}


def terrain_method(config: RegionConfig, name: str) -> dict:
    """How a terrain factor was computed, for the stack's metadata."""
    t = config.terrain
    dem = config.dem.path if config.dem.source == "local" else f"earthengine:{config.dem.ee_asset}"
    method = {"recipe": "terrain", "dem": str(dem)}
    if name in ("slope", "aspect", "twi", "spi"):
        method["gradient"] = t.method
    if name == "aspect":
        method["flat_slope_deg"] = t.flat_slope
    if name in _DEFINITIONS:
        method["definition"] = _DEFINITIONS[name]
    if name == "slope_position":
        method.update(tpi_radius_m=t.tpi_radius, rule="Weiss 2001, standardised TPI, 10 classes")
    if name == "local_relief":
        method["radius_m"] = t.relief_radius
    if name in HYDROLOGY_FACTORS:
        method["halo_m"] = t.hydrology_halo
    if name in ("twi", "spi"):
        method["min_slope_deg"] = t.min_slope
    if name == "distance_to_drainage":
        method["drainage_area_km2"] = t.drainage_area
    return method
