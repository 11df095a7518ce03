"""Reading vector files (any format GDAL reads) and putting them on the analysis grid."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
from rasterio.features import rasterize

from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid


def read_vector(
    path: str | os.PathLike, *, layer: str | None = None, what: str = "vector file"
) -> gpd.GeoDataFrame:
    """Read a vector file with geopandas, with one clear error per failure.

    Raises:
        LsghError: unreadable file, unknown layer, or no CRS.
    """
    path = Path(path)
    if not path.exists():
        raise LsghError(f"{what} {path} does not exist; check the path in the config")
    try:
        frame = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises DataSourceError / DataLayerError / ValueError
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LsghError(
            f"{what} {path} cannot be read: {first}; check the file is a vector format "
            "GDAL reads (GeoPackage, Shapefile, GeoJSON, ...)"
        ) from exc
    if frame.crs is None:
        raise LsghError(
            f"{what} {path} has no CRS; define it (e.g. save it with its projection in QGIS, "
            "or add the .prj of a shapefile)"
        )
    return frame


def to_grid_crs(frame: gpd.GeoDataFrame, grid: Grid) -> gpd.GeoDataFrame:
    """The frame reprojected to the grid's CRS (a no-op when it already is)."""
    return frame if frame.crs == grid.crs else frame.to_crs(grid.crs)


def burn(
    frame: gpd.GeoDataFrame,
    grid: Grid,
    values: np.ndarray | None = None,
    *,
    all_touched: bool = False,
    dtype: str = "uint8",
) -> np.ndarray:
    """Rasterise the frame's geometries (already in the grid CRS) onto ``grid``.

    Args:
        values: one value per feature (default 1); later features win where they overlap.
        all_touched: burn every pixel a geometry touches (lines), not only pixels whose
            centre is inside (polygons).

    Returns:
        ``dtype`` array of ``grid.shape``, 0 where nothing was burnt.
    """
    geoms = frame.geometry.values
    vals = np.ones(len(frame), dtype=dtype) if values is None else np.asarray(values)
    shapes = [(g, v) for g, v in zip(geoms, vals, strict=True) if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(grid.shape, dtype=dtype)
    return rasterize(
        shapes,
        out_shape=grid.shape,
        transform=grid.transform,
        fill=0,
        all_touched=all_touched,
        dtype=dtype,
    )
