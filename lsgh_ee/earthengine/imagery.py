"""Earth Engine recipes for the imagery factors: Landsat NDVI and land use.

Public API (stable; :func:`lsgh_ee.earthengine.recipes.factor_image` calls these)::

    ndvi_image(grid: Grid, years: Sequence[int] = DEFAULT_NDVI_YEARS,
               collections: Sequence[str] = LANDSAT_SR_COLLECTIONS) -> ee.Image   # band "ndvi"
    land_use_image(grid: Grid, remap: Mapping[int | float | str, str] | None = None,
                   dataset: str = DEFAULT_LAND_COVER, band: int = 1) -> ee.Image  # "land_use"
    default_land_use_remap() -> dict[float, str]

Both images are on the grid (its CRS and pixel lattice, see
:func:`lsgh_ee.earthengine.geometry.on_grid`); masked pixels download as nodata.

NDVI, per scene of Landsat 8 and 9 Collection 2 Level 2 surface reflectance
(``LANDSAT/LC08/C02/T1_L2`` merged with ``LANDSAT/LC09/C02/T1_L2``) touching the grid:

* pixels are masked where any ``QA_PIXEL`` bit in :data:`QA_MASKED_BITS` is set (bit 0 fill,
  1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow);
* ``SR_B4`` (red) and ``SR_B5`` (NIR) are scaled to reflectance as ``DN * 0.0000275 - 0.2``
  (the collection's documented scale and offset; the offset makes the scaling matter);
* NDVI = (NIR - red) / (NIR + red), as the local recipe computes it from red + NIR rasters,
  with ``normalizedDifference``, which also masks a pixel where either reflectance is
  negative (not physical: dark water or shadow pushed below zero by the offset).

The scenes of each calendar year are reduced to their per-pixel median (robust to the
haze and cloud edges the QA bits miss), and the factor is the per-pixel mean of the annual
medians, so every year weighs the same whatever its number of clear scenes. A pixel with no
clear scene in a year is left out of that year; with none in any year it is nodata.

Land use: a land-cover ImageCollection (default ESA WorldCover v200, 10 m) mosaicked (with
the first tile's projection as the mosaic's default: a mosaic has none of its own), its
class values remapped to codes 1..8 in :data:`~lsgh_ee.factors.catalogue.LAND_USE_CLASSES`
order by a remap table (default: the packaged ``data/worldcover_remap.yaml``), values missing
from the table masked (nodata), then aggregated onto the grid with the per-cell mode of the
source pixels (``reduceResolution(Reducer.mode)``). The local recipe resamples a categorical
raster by nearest neighbour instead; on a grid coarser than the source the mode is the more
representative class of a cell (it equals nearest neighbour when the grid is not coarser).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from lsgh_ee.earthengine.geometry import grid_region, on_grid
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.catalogue import LAND_USE_CLASSES
from lsgh_ee.grid import Grid

LANDSAT_SR_COLLECTIONS = ("LANDSAT/LC08/C02/T1_L2", "LANDSAT/LC09/C02/T1_L2")
DEFAULT_NDVI_YEARS = (2022, 2023)
FIRST_LANDSAT8_YEAR = 2013
#: ``QA_PIXEL`` bits that mask a pixel: bit → meaning (Landsat Collection 2 QA_PIXEL).
QA_MASKED_BITS = {0: "fill", 1: "dilated cloud", 2: "cirrus", 3: "cloud", 4: "cloud shadow"}
QA_MASK = sum(1 << bit for bit in QA_MASKED_BITS)
SR_SCALE = 0.0000275
SR_OFFSET = -0.2
RED_BAND, NIR_BAND = "SR_B4", "SR_B5"

DEFAULT_LAND_COVER = "ESA/WorldCover/v200"
#: Most source pixels one grid cell may aggregate (EE's ceiling for reduceResolution).
MAX_PIXELS_PER_CELL = 65535
_REMAP_FILE = Path(__file__).parent / "data" / "worldcover_remap.yaml"


def _scene_ndvi(scene: Any) -> Any:
    """One Landsat C2 L2 scene → band ``ndvi`` with cloudy / shadowed / fill pixels masked."""
    clear = scene.select(["QA_PIXEL"]).bitwiseAnd(QA_MASK).eq(0)
    reflectance = scene.select([RED_BAND, NIR_BAND]).multiply(SR_SCALE).add(SR_OFFSET)
    return reflectance.normalizedDifference([NIR_BAND, RED_BAND]).rename(["ndvi"]).updateMask(clear)


def check_years(years: Sequence[int]) -> tuple[int, ...]:
    """``years`` sorted and de-duplicated, or :class:`LsghError` when empty or before
    Landsat 8 (2013)."""
    chosen = tuple(sorted(set(int(y) for y in years)))
    if not chosen:
        raise LsghError("NDVI needs at least one year of imagery: set 'factors.ndvi.years'")
    early = [y for y in chosen if y < FIRST_LANDSAT8_YEAR]
    if early:
        raise LsghError(
            f"'factors.ndvi.years' has {early}, before Landsat 8 imagery starts "
            f"({FIRST_LANDSAT8_YEAR}); use {FIRST_LANDSAT8_YEAR} or later"
        )
    return chosen


def ndvi_image(
    grid: Grid,
    years: Sequence[int] = DEFAULT_NDVI_YEARS,
    collections: Sequence[str] = LANDSAT_SR_COLLECTIONS,
) -> Any:
    """Mean over ``years`` of the annual median NDVI of clear Landsat 8/9 pixels.

    Args:
        grid: the analysis grid; the output is on its CRS and lattice.
        years: calendar years (UTC) to composite, each 2013 or later.
        collections: Landsat Collection 2 Level 2 ImageCollection ids merged into one
            (bands ``SR_B4``, ``SR_B5``, ``QA_PIXEL``).

    Returns:
        A one-band float ``ee.Image`` named ``ndvi`` (unitless, -1..1), masked where no
        clear scene exists.
    """
    import ee

    chosen = check_years(years)
    region = grid_region(grid)
    scenes = ee.ImageCollection(collections[0])
    for other in collections[1:]:
        scenes = scenes.merge(ee.ImageCollection(other))
    scenes = scenes.filterBounds(region)
    # A fully masked 'ndvi' image joins each year, so a year without scenes is a masked
    # band, not a band-less median that would break the mean over years.
    empty = ee.Image.constant(0).toFloat().rename(["ndvi"]).updateMask(ee.Image.constant(0))
    annual = [
        ee.ImageCollection.fromImages([empty])
        .merge(scenes.filterDate(f"{year}-01-01", f"{year + 1}-01-01").map(_scene_ndvi))
        .median()
        for year in chosen
    ]
    ndvi = ee.ImageCollection.fromImages(annual).mean().rename(["ndvi"])
    return on_grid(ndvi.toFloat(), grid)


@lru_cache(maxsize=1)
def _packaged_remap() -> dict[float, str]:
    table = yaml.safe_load(_REMAP_FILE.read_text())
    return {float(value): str(name) for value, name in table.items()}


def default_land_use_remap() -> dict[float, str]:
    """The packaged ESA WorldCover value → land-use class table (a copy)."""
    return dict(_packaged_remap())


def land_use_codes(remap: Mapping[int | float | str, str]) -> tuple[list[float], list[int]]:
    """A remap table (source value → class name) as parallel lists (source values, codes
    1..8 in ``LAND_USE_CLASSES`` order), sorted by source value.

    Raises:
        LsghError: a non-numeric source value or a class not in ``LAND_USE_CLASSES``.
    """
    pairs = []
    for value, name in remap.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise LsghError(
                f"'factors.land_use.remap' key {value!r} is not a number; land-cover rasters "
                "hold numeric class values (e.g. {10: woodland, 40: arable})"
            ) from None
        if name not in LAND_USE_CLASSES:
            raise LsghError(
                f"'factors.land_use.remap' maps {value!r} to unknown class {name!r}; "
                f"use {', '.join(LAND_USE_CLASSES)}"
            )
        pairs.append((number, LAND_USE_CLASSES.index(name) + 1))
    if not pairs:
        raise LsghError("'factors.land_use.remap' is empty; list value: class pairs or remove it")
    pairs.sort()
    return [p[0] for p in pairs], [p[1] for p in pairs]


def land_use_image(
    grid: Grid,
    remap: Mapping[int | float | str, str] | None = None,
    dataset: str = DEFAULT_LAND_COVER,
    band: int = 1,
) -> Any:
    """Land-use class codes 1..8 (``LAND_USE_CLASSES`` order) on the grid.

    Args:
        grid: the analysis grid.
        remap: source class value → land-use class name; ``None`` uses the packaged ESA
            WorldCover table (:func:`default_land_use_remap`). Values not in the table are
            masked.
        dataset: a land-cover ImageCollection id (mosaicked), e.g. ``ESA/WorldCover/v100``.
        band: 1-based band of the dataset holding the class values.

    Returns:
        A one-band ``ee.Image`` named ``land_use`` (codes as numbers, masked = nodata), the
        per-cell mode of the remapped source pixels.
    """
    import ee

    if band < 1:
        raise LsghError(f"'factors.land_use.band' must be 1 or more, got {band}")
    values, codes = land_use_codes(remap if remap is not None else _packaged_remap())
    tiles = ee.ImageCollection(dataset).filterBounds(grid_region(grid))
    # A mosaic has no fixed projection (Earth Engine gives composites WGS-84 at 1 degree),
    # so reduceResolution would aggregate 1-degree "pixels": give it the source's own
    # projection (the first tile's; a land-cover product has one) before reducing. See
    # "Projections" and "Scale" in the Earth Engine guides
    # (https://developers.google.com/earth-engine/guides/projections: composites have the
    # default projection) and Image.setDefaultProjection.
    native = ee.Image(tiles.first()).projection()
    source = tiles.mosaic().setDefaultProjection(native).select([band - 1])
    coded = source.remap(values, codes).rename(["land_use"])
    # the mode of the cell's source pixels; EE refuses more than maxPixels per cell
    cell = coded.reduceResolution(ee.Reducer.mode(), False, MAX_PIXELS_PER_CELL)
    return on_grid(cell, grid).toFloat()
