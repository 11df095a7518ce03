"""Earth Engine recipes for causative factors, each an ``ee.Image`` on the analysis grid.

Every image here is reprojected onto the grid's CRS and pixel lattice (:func:`on_grid`),
so the neighbourhood operators are evaluated at the grid's resolution and a download on
the grid is pixel for pixel the local factor stack's grid. :func:`factor_image` is the
dispatcher: one band named after the factor with its raw value (continuous and distance
factors: the value in the catalogue's units; categorical factors: the class code 1..k as a
number), masked where it is nodata.

DEM datasets (``dem.ee_asset``, band ``dem.ee_band`` or the dataset's own):

=========================  ==========  =========  ==============================
id                         kind        band       note
=========================  ==========  =========  ==============================
``USGS/SRTMGL1_003``       image       elevation  SRTM 1″ (the default)
``NASA/NASADEM_HGT/001``   image       elevation  NASADEM, reprocessed SRTM
``COPERNICUS/DEM/GLO30``   collection  DEM        Copernicus GLO-30, mosaicked;
                                                  superseded in the catalogue
``COPERNICUS/DEM/          collection  DEM        Copernicus GLO-30 2024 release
GLO30_2024_1``                                    (the one to choose for GLO-30)
any other id               image       first      or ``dem.ee_band``
=========================  ==========  =========  ==============================

The default stays ``USGS/SRTMGL1_003`` (:data:`DEFAULT_DEM_ASSET`: same DEM as the paper's
region and the tests' references). ``COPERNICUS/DEM/GLO30`` still works but is logged as
superseded by ``COPERNICUS/DEM/GLO30_2024_1`` (the Earth Engine data catalogue:
https://developers.google.com/earth-engine/datasets/catalog/COPERNICUS_DEM_GLO30_2024_1).

Terrain factors, local definition (:mod:`lsgh_ee.factors.terrain`) beside the Earth Engine
one (ZT: ``terrain.method: zevenbergen_thorne``, horn: ``horn``). With ZT and a DEM on the
grid lattice the two give the same values (float rounding aside); ``horn`` is built from
kernels here, since ``ee.Terrain`` only knows the 4-neighbour form.

==============  ==========================================  =====================================
factor          local                                       Earth Engine
==============  ==========================================  =====================================
slope           ``atan(|∇z|)``, ∇z by Horn's 3×3 stencil    ZT: ``ee.Terrain.slope``; horn: the
                or 4-neighbour central differences (ZT)     same stencil as two ``Kernel.fixed``
                                                            convolutions
aspect          downslope azimuth ``atan2(gx, gy) + 180°``  ZT: ``ee.Terrain.aspect``; horn:
                clockwise from north; ``-1`` where the      ``atan2`` of the kernel gradient;
                slope is below ``terrain.flat_slope``       then ``where(slope < flat, -1)``
curvature       ``-200 (D + E)``, D and E the second        one 3×3 ``Kernel.fixed`` with the
                differences / cell size² (ArcGIS)           same weights (``convolve``)
slope_position  TPI = z − mean of a disk of radius          ``reduceNeighborhood(mean)`` over the
                ``terrain.tpi_radius`` (centre left out);   same disk as a fixed kernel (centre
                z-score over the grid; Weiss's 10 classes   0); mean and std by ``reduceRegion``
                                                            on the grid; the classes by ``where``
local_relief    max − min over a disk of radius             ``reduceNeighborhood`` max − min over
                ``terrain.relief_radius`` (centre in)       the same disk as a fixed kernel
==============  ==========================================  =====================================

The field's DEM factors (elevation, plan / profile curvature, TRI, flow accumulation, TWI,
SPI, distance to drainage) are in :mod:`lsgh_ee.earthengine.dem_factors`, with their table.

The disks are the local footprint (:func:`lsgh_ee.factors.terrain.disk`) sent as fixed
kernels, not ``ee.Kernel.circle``, so both backends use exactly the same cells.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsgh_ee.earthengine import dem_factors, kernels
from lsgh_ee.earthengine.geometry import crs_code, crs_transform, grid_region, on_grid
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.catalogue import HYDROLOGY_FACTORS
from lsgh_ee.factors.terrain import disk
from lsgh_ee.grid import Grid

if TYPE_CHECKING:
    from lsgh_ee.config import RegionConfig
    from lsgh_ee.factors.resolve import ResolvedFactor

log = logging.getLogger(__name__)

DEFAULT_DEM_ASSET = "USGS/SRTMGL1_003"
TERRAIN_BANDS = ("slope", "aspect")
TERRAIN_METHOD = "ee.Terrain 4-neighbour central difference (Zevenbergen-Thorne)"
#: Slope (degrees) above which a mid-slope TPI is a mesoslope, not flat (Weiss 2001).
_STEEP_DEG = 5.0


@dataclass(frozen=True)
class DemDataset:
    """A DEM in the Earth Engine catalogue: ``collection`` True for an ImageCollection
    (mosaicked), ``band`` the elevation band (metres)."""

    collection: bool
    band: str


DEM_DATASETS: dict[str, DemDataset] = {
    "USGS/SRTMGL1_003": DemDataset(False, "elevation"),
    "NASA/NASADEM_HGT/001": DemDataset(False, "elevation"),
    "COPERNICUS/DEM/GLO30": DemDataset(True, "DEM"),
    "COPERNICUS/DEM/GLO30_2024_1": DemDataset(True, "DEM"),
}
#: Catalogue ids replaced by a newer release: old id -> new id (a warning names the new one).
SUPERSEDED_DEMS = {"COPERNICUS/DEM/GLO30": "COPERNICUS/DEM/GLO30_2024_1"}


def dem_image(dem_asset: str, grid: Grid, band: str | None = None) -> Any:
    """The DEM as one band ``elevation`` (metres) on the grid.

    Args:
        dem_asset: an image id, or a catalogue collection of :data:`DEM_DATASETS`
            (mosaicked: the tiles do not overlap).
        grid: the analysis grid.
        band: the elevation band; default: the dataset's (:data:`DEM_DATASETS`), else the
            first band.
    """
    import ee

    known = DEM_DATASETS.get(dem_asset)
    if dem_asset in SUPERSEDED_DEMS:
        newer = SUPERSEDED_DEMS[dem_asset]
        log.warning("DEM %s is superseded in the catalogue by %s", dem_asset, newer)
    selector: str | int = band or (known.band if known else 0)
    if known is not None and known.collection:
        source = ee.ImageCollection(dem_asset).select([selector]).mosaic()
    else:
        source = ee.Image(dem_asset).select([selector])
    return on_grid(source.rename(["elevation"]), grid)


def terrain_image(dem_asset: str, grid: Grid) -> Any:
    """An ``ee.Image`` with bands ``slope`` and ``aspect`` (degrees; aspect clockwise from
    north) computed by ``ee.Terrain`` from ``dem_asset`` resampled onto ``grid``."""
    import ee

    dem = dem_image(dem_asset, grid)
    slope = ee.Terrain.slope(dem).rename(["slope"])
    aspect = ee.Terrain.aspect(dem).rename(["aspect"])
    return on_grid(slope.addBands(aspect).toFloat(), grid)


# --- terrain factors ---------------------------------------------------------------------


def slope_aspect_images(dem: Any, grid: Grid, method: str, flat_slope: float) -> tuple[Any, Any]:
    """Slope (degrees) and aspect (degrees clockwise from north, -1 where the slope is
    below ``flat_slope`` degrees) of a DEM image on the grid, both float32."""
    import ee

    if method == "zevenbergen_thorne":
        slope = ee.Terrain.slope(dem)
        aspect = ee.Terrain.aspect(dem)
    else:
        gx, gy = kernels.gradient(dem, grid, method)
        slope = gx.hypot(gy).atan().multiply(180.0 / math.pi)
        # downslope azimuth atan2(gx, gy) + 180°, in [0, 360)
        aspect = gx.atan2(gy).multiply(180.0 / math.pi).add(180.0)
        aspect = aspect.where(aspect.gte(360.0), 0.0)
    slope = slope.toFloat().rename(["slope"])
    aspect = aspect.where(slope.lt(flat_slope), -1.0).toFloat().rename(["aspect"])
    return slope, aspect


def curvature_image(dem: Any, grid: Grid) -> Any:
    """ArcGIS curvature ``-200 (D + E)`` (1/100 m) as one 3×3 stencil; float32."""
    inv = 1.0 / (grid.resolution * grid.resolution)
    side, centre = -100.0 * inv, 400.0 * inv  # -200 × (½ neighbour, −1 centre) per axis
    stencil = kernels.fixed([[0, side, 0], [side, centre, side], [0, side, 0]])
    return dem.convolve(stencil).toFloat().rename(["curvature"])


def _disk_kernel(radius_cells: float, centre: bool) -> Any:
    footprint = disk(radius_cells).astype("float64")
    if not centre:
        k = footprint.shape[0] // 2
        footprint[k, k] = 0.0
    return kernels.fixed(footprint.tolist())


def tpi_image(dem: Any, radius_cells: float) -> Any:
    """Topographic position index (m): elevation minus the mean of the disk around it
    (valid neighbours only, the centre left out); float32."""
    import ee

    mean = dem.reduceNeighborhood(ee.Reducer.mean(), _disk_kernel(radius_cells, False))
    return dem.subtract(mean).toFloat().rename(["tpi"])


def slope_position_image(tpi: Any, slope: Any, grid: Grid) -> Any:
    """Weiss's ten slope-position classes (codes 1..10, masked where TPI or slope is) as
    :func:`lsgh_ee.factors.terrain.slope_position` defines them: the TPI standardised by
    its mean and population standard deviation over the grid."""
    import ee

    def stat(reducer: Any) -> Any:
        values = tpi.reduceRegion(
            reducer, grid_region(grid), None, crs_code(grid), crs_transform(grid),
            False, grid.height * grid.width + 1,
        )  # fmt: skip
        return ee.Number(ee.Dictionary(values).get("tpi"))

    # divide() answers 0 for a zero std, which is the local rule (z = 0) too
    z = tpi.subtract(ee.Image(stat(ee.Reducer.mean()))).divide(ee.Image(stat(ee.Reducer.stdDev())))
    steep = slope.gt(_STEEP_DEG)
    middle = z.gte(-0.5).And(z.lte(0.5))
    rules = [  # first match wins, as np.select in the local rule
        (z.lt(-1.0), 1),
        (z.lt(-0.5), 2),
        (middle.And(steep.Not()), 3),
        (middle.And(z.lt(-0.3)), 4),
        (middle.And(z.lt(-0.1)), 5),
        (middle.And(z.lt(0.1)), 6),
        (middle.And(z.lt(0.3)), 7),
        (middle, 8),
        (z.lte(1.0), 9),
    ]
    codes = z.multiply(0).add(10).updateMask(slope.mask())
    for test, code in reversed(rules):
        codes = codes.where(test, code)
    return codes.toFloat().rename(["slope_position"])


def local_relief_image(dem: Any, radius_cells: float) -> Any:
    """Highest minus lowest elevation (m) within the disk around each cell (centre
    included, nodata cells ignored); float32."""
    import ee

    kernel = _disk_kernel(radius_cells, True)
    high = dem.reduceNeighborhood(ee.Reducer.max(), kernel)
    low = dem.reduceNeighborhood(ee.Reducer.min(), kernel)
    return high.subtract(low).toFloat().rename(["local_relief"])


def terrain_factor_image(name: str, grid: Grid, config: RegionConfig) -> Any:
    """One terrain factor (``slope``, ``aspect``, ``curvature``, ``slope_position``,
    ``local_relief``, and the field's DEM factors of :mod:`lsgh_ee.earthengine.dem_factors`)
    from ``dem.ee_asset`` on the grid (the hydrology factors from MERIT Hydro), with the
    region's ``terrain`` settings; one float32 band named ``name``."""
    if config.dem is None:
        raise LsghError(f"factor {name} comes from the DEM: add a 'dem' section with 'source: ee'")
    settings = config.terrain
    dem = dem_image(config.dem.ee_asset, grid, config.dem.ee_band)
    if name == "curvature":
        image = curvature_image(dem, grid)
    elif name == "elevation":
        image = dem
    elif name in ("plan_curvature", "profile_curvature"):
        plan, profile = dem_factors.plan_profile_curvature_images(dem, grid)
        image = plan if name == "plan_curvature" else profile
    elif name == "tri":
        image = dem_factors.tri_image(dem)
    elif name in HYDROLOGY_FACTORS:
        image = dem_factors.hydrology_image(name, dem, grid, settings)
    elif name == "local_relief":
        image = local_relief_image(dem, grid.cells_for(settings.relief_radius))
    else:
        slope, aspect = slope_aspect_images(dem, grid, settings.method, settings.flat_slope)
        if name == "slope":
            image = slope
        elif name == "aspect":
            image = aspect
        elif name == "slope_position":
            tpi = tpi_image(dem, grid.cells_for(settings.tpi_radius))
            image = slope_position_image(tpi, slope, grid)
        else:
            raise LsghError(f"{name!r} is not a terrain factor")
    return on_grid(image, grid)


# --- the dispatcher ----------------------------------------------------------------------


def factor_image(factor: ResolvedFactor, grid: Grid, config: RegionConfig) -> Any:
    """The raw values of one factor as an ``ee.Image`` on ``grid``.

    Args:
        factor: from :func:`lsgh_ee.factors.resolve.resolve_factors`; its ``classes`` set
            the codes of categorical factors (a schema's classes, to apply a model).
        grid: the analysis grid.
        config: the region (DEM, terrain settings, Earth Engine options).

    Returns:
        One float32 band named ``factor.name``: the value in the factor's units, or the
        class code 1..k of a categorical factor; masked where nodata.

    Raises:
        LsghError: the factor has no Earth Engine recipe, or its recipe lacks a setting
            (one line naming the key to set).
    """
    return factor_image_with_classes(factor, grid, config)[0]


def factor_image_with_classes(
    factor: ResolvedFactor, grid: Grid, config: RegionConfig
) -> tuple[Any, tuple[str, ...]]:
    """:func:`factor_image` and the class names in code order (categorical factors; the
    classes found in the data for polygon layers without ``classes``), else ``()``."""
    from lsgh_ee.earthengine import features, imagery

    spec, key = factor.spec, f"factors.{factor.name}"
    classes = factor.classes
    if spec.source == "local" and (factor.recipe == "ndvi" or factor.name == "land_use"):
        # Earth Engine has its own imagery for these: a local raster's values (and a remap
        # keyed on them) do not carry over, so the choice must be explicit
        raise LsghError(
            f"factor {factor.name} comes from local rasters; set '{key}.source: ee' to compute "
            "it in Earth Engine (Landsat NDVI, ESA WorldCover land use)"
        )
    if factor.recipe == "terrain":
        image = terrain_factor_image(factor.name, grid, config)
    elif factor.recipe == "ndvi":
        image = imagery.ndvi_image(grid, **({"years": spec.years} if spec.years else {}))
    elif factor.name == "land_use":
        options: dict[str, Any] = {"band": spec.band}
        if spec.dataset is not None:
            options["dataset"] = spec.dataset
        image = imagery.land_use_image(grid, spec.remap, **options)
    elif factor.recipe == "distance":
        reach = max(factor.breaks) if factor.breaks else max(grid.shape) * grid.resolution
        fc = features.feature_collection(spec, grid, name=factor.name, reach_m=reach)
        image = features.distance_image(fc, grid, reach)
    elif factor.recipe == "polygons":
        if spec.attribute is None:
            raise LsghError(f"set '{key}.attribute' to the property holding the classes")
        fc = features.feature_collection(spec, grid, name=factor.name)
        image, classes = features.category_image(
            fc, spec.attribute, grid, factor.classes or None, spec.remap
        )
    else:
        raise LsghError(
            f"factor '{factor.name}' ({factor.recipe}) has no Earth Engine recipe; give "
            f"'{key}' a local file ('source: local', 'path')"
        )
    return image.toFloat().rename([factor.name]), tuple(classes)


def export_terrain_factors(
    session: Any,
    grid: Grid,
    dem_asset: str,
    out_path: str | os.PathLike,
    **download_options: Any,
) -> Path:
    """Download slope and aspect from Earth Engine as a float32 GeoTIFF on ``grid``
    (bands ``slope``, ``aspect``; NaN nodata). ``dem_asset``: an image asset id whose first
    band is elevation in metres (:data:`DEFAULT_DEM_ASSET` is SRTM 30 m). ``session`` is an open
    :class:`~lsgh_ee.earthengine.session.EarthEngineSession`; ``download_options`` go to
    :func:`~lsgh_ee.earthengine.download.download_image` (tile limits, workers, retries)."""
    from lsgh_ee.earthengine.download import download_image

    del session  # the ee client is initialised by open_session; the argument proves it
    return download_image(
        terrain_image(dem_asset, grid),
        grid,
        out_path,
        band_names=list(TERRAIN_BANDS),
        dtype="float32",
        **download_options,
    )
