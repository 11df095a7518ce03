"""GeoTIFF reading onto the analysis grid and atomic, cloud-optimised writing.

Everything here goes through rasterio. Arrays are ``(bands, rows, cols)`` or
``(rows, cols)``; float rasters use NaN for nodata in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import reproject

from lsgh_ee.atomic import atomic_path
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid


def open_raster(path: str | os.PathLike) -> rasterio.DatasetReader:
    """Open a raster, turning unreadable / corrupt files into one clear error."""
    path = Path(path)
    if not path.exists():
        raise LsghError(f"raster {path} does not exist; check the path in the config")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise LsghError(
            f"raster {path} cannot be read (corrupt, truncated or not a raster): "
            f"{_reason(exc)}; re-export or re-download it"
        ) from exc


def _reason(exc: Exception) -> str:
    """GDAL's first line about a failed read (rasterio's own message for block read errors
    is only "See previous exception for details")."""
    detail = str(exc.__cause__ or exc).strip() or type(exc).__name__
    return detail.splitlines()[0].rstrip(".")


def read_onto_grid(
    path: str | os.PathLike,
    grid: Grid,
    *,
    categorical: bool = False,
    band: int = 1,
    min_coverage: float = 0.999,
) -> np.ndarray:
    """Read one band of a raster resampled onto ``grid``.

    Continuous rasters are resampled bilinearly, categorical ones by nearest neighbour.
    The raster may be in any CRS (it is reprojected) but must have one.

    Returns:
        float32 array of ``grid.shape``; NaN where the source is nodata or absent.

    Raises:
        LsghError: no CRS, unreadable, or covering less than ``min_coverage`` of the grid.
    """
    with open_raster(path) as src:
        if src.crs is None:
            raise LsghError(
                f"raster {path} has no CRS; assign one (e.g. gdal_edit.py -a_srs EPSG:xxxx) "
                "or export it with its projection"
            )
        if band > src.count:
            raise LsghError(f"raster {path} has {src.count} band(s), band {band} was asked for")
        try:
            data = src.read(band, masked=True)
        except RasterioIOError as exc:
            raise LsghError(
                f"raster {path} cannot be read (corrupt or truncated): "
                f"{_reason(exc)}; re-export or re-download it"
            ) from exc
        source = np.ma.filled(data.astype("float64"), np.nan)
        out = np.full(grid.shape, np.nan, dtype="float64")
        reproject(
            source,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=np.nan,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=np.nan,
            resampling=Resampling.nearest if categorical else Resampling.bilinear,
        )
        footprint = np.zeros(grid.shape, dtype="uint8")
        reproject(
            np.ones((src.height, src.width), dtype="uint8"),
            footprint,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=0,
            resampling=Resampling.nearest,
        )
    covered = float(footprint.mean())
    if covered < min_coverage:
        raise LsghError(
            f"raster {path} covers only {covered:.1%} of the region "
            f"({1 - covered:.1%} uncovered); supply a raster that covers the whole AOI"
        )
    if np.isnan(out).all():
        raise LsghError(
            f"raster {path} is all nodata inside the region; check its nodata value and extent"
        )
    return out.astype("float32")


def write_geotiff(
    path: str | os.PathLike,
    data: np.ndarray,
    grid: Grid,
    *,
    nodata: float | int | None = None,
    descriptions: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    band_tags: Sequence[Mapping[str, str]] | None = None,
    colormap: Mapping[int, tuple[int, int, int, int]] | None = None,
    overviews: bool = True,
) -> Path:
    """Write ``data`` (``(rows, cols)`` or ``(bands, rows, cols)``) as a cloud-optimised
    GeoTIFF (deflate, internal overviews), atomically; ``overviews=False`` writes a plain
    deflate GeoTIFF instead (smallest file, for shipped inputs).

    Float nodata is NaN unless ``nodata`` says otherwise. Band descriptions name the
    factors so QGIS and ``gdalinfo`` show them. Integer rasters (class codes, zones) get
    nearest-neighbour overviews, float rasters averaged ones.
    """
    array = data[np.newaxis] if data.ndim == 2 else data
    if array.shape[1:] != grid.shape:
        raise ValueError(f"array shape {array.shape[1:]} does not match grid {grid.shape}")
    if nodata is None and np.issubdtype(array.dtype, np.floating):
        nodata = float("nan")
    profile = grid.profile(count=array.shape[0], dtype=array.dtype.name, nodata=nodata)
    if not overviews:
        profile.update(compress="deflate", predictor=_predictor(array.dtype))
    with atomic_path(path) as tmp:
        plain = tmp.with_name(f"{tmp.stem}.plain.tif") if overviews else tmp
        try:
            with rasterio.open(plain, "w", **profile) as dst:
                dst.write(array)
                for i, name in enumerate(descriptions or (), start=1):
                    dst.set_band_description(i, name)
                if tags:
                    dst.update_tags(**tags)
                for i, btags in enumerate(band_tags or (), start=1):
                    dst.update_tags(i, **btags)
                if colormap:
                    dst.write_colormap(1, colormap)
            if overviews:
                to_cog(plain, tmp, categorical=not np.issubdtype(array.dtype, np.floating))
        finally:
            if overviews:
                plain.unlink(missing_ok=True)
    return Path(path)


def _predictor(dtype: np.dtype) -> int:
    return 3 if np.issubdtype(dtype, np.floating) else 2


def to_cog(src: str | os.PathLike, dst: str | os.PathLike, *, categorical: bool) -> None:
    """Copy a GeoTIFF into cloud-optimised layout (256-pixel tiles, overviews first,
    deflate), keeping descriptions, tags and colour tables."""
    rasterio.shutil.copy(
        src,
        dst,
        driver="COG",
        compress="DEFLATE",
        predictor="NO" if categorical else "YES",
        overview_resampling="NEAREST" if categorical else "AVERAGE",
        blocksize=256,
        bigtiff="IF_SAFER",
    )


def read_stack(path: str | os.PathLike) -> tuple[np.ndarray, Grid, list[str]]:
    """Read a multi-band stack written by :func:`write_geotiff`.

    Returns:
        (array ``(bands, rows, cols)``, its grid, band descriptions).
    """
    with open_raster(path) as src:
        grid = Grid(src.crs, src.transform, src.height, src.width)
        return src.read(), grid, [d or f"band{i}" for i, d in enumerate(src.descriptions, 1)]
