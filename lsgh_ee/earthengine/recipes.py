"""Earth Engine recipes for causative factors, computed on the analysis grid.

Terrain factors use ``ee.Terrain.slope`` / ``ee.Terrain.aspect``: 4-connected central
differences (Zevenbergen–Thorne style), not Horn's 3×3 stencil that ``gdaldem`` and ArcGIS
use; outputs name the method so local and EE factors can be compared.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lsgh_ee.grid import Grid

DEFAULT_DEM_ASSET = "USGS/SRTMGL1_003"
TERRAIN_BANDS = ("slope", "aspect")
TERRAIN_METHOD = "ee.Terrain 4-neighbour central difference (Zevenbergen-Thorne)"


def _crs_code(grid: Grid) -> str:
    authority = grid.crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else grid.crs.to_wkt()


def on_grid(image: Any, grid: Grid) -> Any:
    """``image`` reprojected onto the grid's CRS and pixel lattice (``crsTransform``), so
    neighbourhood operators upstream are evaluated at the grid's resolution."""
    return image.reproject(crs=_crs_code(grid), crsTransform=list(grid.transform)[:6])


def dem_image(dem_asset: str, grid: Grid) -> Any:
    """The DEM's first band as ``elevation`` (metres) on the grid."""
    import ee

    return on_grid(ee.Image(dem_asset).select([0], ["elevation"]), grid)


def terrain_image(dem_asset: str, grid: Grid) -> Any:
    """An ``ee.Image`` with bands ``slope`` and ``aspect`` (degrees; aspect clockwise from
    north) computed by ``ee.Terrain`` from ``dem_asset`` resampled onto ``grid``."""
    import ee

    dem = dem_image(dem_asset, grid)
    slope = ee.Terrain.slope(dem).rename(["slope"])
    aspect = ee.Terrain.aspect(dem).rename(["aspect"])
    return on_grid(slope.addBands(aspect).toFloat(), grid)


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
