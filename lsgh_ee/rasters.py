"""GeoTIFF reading onto the analysis grid and atomic, cloud-optimised writing.

Everything here goes through rasterio. Arrays are ``(bands, rows, cols)`` or
``(rows, cols)``; float rasters use NaN for nodata in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from lsgh_ee.atomic import atomic_path
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid

#: GDAL's block cache (MB) while rasters are read or written strip by strip: GDAL's default
#: (5 % of the RAM) would hold a large part of a big stack's dirty blocks.
GDAL_CACHE_MB = 128


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
    with SourceRaster(path, categorical=categorical, band=band) as source:
        out, footprint = source.onto(grid)
    check_coverage(path, int(footprint.sum(dtype="int64")), out.size, min_coverage)
    check_some_data(path, not np.isnan(out).all())
    return out


def check_coverage(path: str | os.PathLike, covered: int, cells: int, min_coverage: float) -> None:
    """Raise unless ``covered`` of ``cells`` grid cells (at least ``min_coverage``) lie
    under the raster ``path``."""
    if covered < min_coverage * cells:
        share = covered / cells
        raise LsghError(
            f"raster {path} covers only {share:.1%} of the region "
            f"({1 - share:.1%} uncovered); supply a raster that covers the whole AOI"
        )


def check_some_data(path: str | os.PathLike, any_valid: bool) -> None:
    """Raise when the raster ``path`` gave no valid cell on the grid."""
    if not any_valid:
        raise LsghError(
            f"raster {path} is all nodata inside the region; check its nodata value and extent"
        )


class SourceRaster:
    """One band of a raster read once, to be resampled onto grids or strips of a grid
    (:meth:`onto`); see :func:`read_onto_grid` for the checks and resampling.

    The whole band is held (float64), and the resampling kernel's scale is that of the
    whole destination grid (:meth:`scale`): a strip of the destination then gets bit for
    bit the values of the same cells of the whole destination (GDAL transforms each
    destination cell on its own). Reading only the source window under a strip moves the
    source's origin and changes bilinear values by an ulp (3e-5 m measured on the demo
    DEM), so it is not done.
    """

    def __init__(self, path: str | os.PathLike, *, categorical: bool = False, band: int = 1):
        self.path, self.categorical = path, categorical
        with open_raster(path) as src:
            if src.crs is None:
                raise LsghError(
                    f"raster {path} has no CRS; assign one (e.g. gdal_edit.py -a_srs "
                    "EPSG:xxxx) or export it with its projection"
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
            self.crs, self.transform = src.crs, src.transform
        self.source: np.ndarray | None = np.ma.filled(data.astype("float64"), np.nan)

    def __enter__(self) -> SourceRaster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.source = None

    def scale(self, grid: Grid) -> tuple[float, float]:
        """Destination pixels per source pixel (x, y) over the whole of ``grid``: the
        resampling kernel's scale (GDAL's ``XSCALE`` / ``YSCALE``). GDAL would otherwise
        derive it from each destination window, so a strip of few rows would be
        resampled with another kernel than the whole grid."""
        left, bottom, right, top = transform_bounds(grid.crs, self.crs, *grid.bounds,
                                                    densify_pts=21)  # fmt: skip
        width = (right - left) / abs(self.transform.a)
        height = (top - bottom) / abs(self.transform.e)
        return grid.width / width, grid.height / height

    def onto(self, grid: Grid, whole: Grid | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(float32 values on ``grid``, NaN = nodata or absent; uint8 footprint on
        ``grid``, 1 where the raster covers the cell). ``whole``: the grid that ``grid``
        is a strip of (default ``grid``), whose :meth:`scale` the kernel takes."""
        assert self.source is not None, "SourceRaster used after it was closed"
        xscale, yscale = self.scale(whole or grid)
        out = np.full(grid.shape, np.nan, dtype="float64")
        reproject(
            self.source,
            out,
            src_transform=self.transform,
            src_crs=self.crs,
            src_nodata=np.nan,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=np.nan,
            resampling=Resampling.nearest if self.categorical else Resampling.bilinear,
            XSCALE=xscale,
            YSCALE=yscale,
        )
        footprint = np.zeros(grid.shape, dtype="uint8")
        reproject(
            np.ones(self.source.shape, dtype="uint8"),
            footprint,
            src_transform=self.transform,
            src_crs=self.crs,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=0,
            resampling=Resampling.nearest,
        )
        return out.astype("float32"), footprint


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
                _describe(dst, descriptions, tags, band_tags)
                if colormap:
                    dst.write_colormap(1, colormap)
            if overviews:
                to_cog(plain, tmp, categorical=not np.issubdtype(array.dtype, np.floating))
        finally:
            if overviews:
                plain.unlink(missing_ok=True)
    return Path(path)


def _describe(
    dst: rasterio.io.DatasetWriter,
    descriptions: Sequence[str] | None,
    tags: Mapping[str, str] | None,
    band_tags: Sequence[Mapping[str, str]] | None,
) -> None:
    for i, name in enumerate(descriptions or (), start=1):
        dst.set_band_description(i, name)
    if tags:
        dst.update_tags(**tags)
    for i, btags in enumerate(band_tags or (), start=1):
        dst.update_tags(i, **btags)


class StripWriter:
    """A multi-band GeoTIFF written band by band, strip of rows by strip (windowed writes
    to a plain band-interleaved GeoTIFF beside the target), then copied into the
    cloud-optimised layout of :func:`write_geotiff` and moved into place atomically by
    :meth:`close`. Memory: one strip at a time (GDAL's block cache aside).

    Use as a context manager; an exception inside it leaves no file behind (and an
    earlier complete file under ``path`` untouched).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        grid: Grid,
        count: int,
        dtype: str,
        *,
        nodata: float | int | None = None,
    ):
        self.path, self.grid = Path(path), grid
        if nodata is None and np.issubdtype(np.dtype(dtype), np.floating):
            nodata = float("nan")
        self._stack, self._aborted = ExitStack(), False
        self._tmp = self._stack.enter_context(atomic_path(path))
        self._plain = self._tmp.with_name(f"{self._tmp.stem}.plain.tif")
        profile = grid.profile(count=count, dtype=dtype, nodata=nodata)
        with bounded_gdal_cache():
            self._dst = rasterio.open(self._plain, "w+", interleave="band", **profile)
        self.categorical = not np.issubdtype(np.dtype(dtype), np.floating)

    def write(self, band: int, row0: int, data: np.ndarray, col0: int = 0) -> None:
        """Write ``data`` (``(rows, cols)``: all columns, or a window from column ``col0``)
        into band ``band`` (1-based) from row ``row0``."""
        window = Window(col0, row0, data.shape[1], data.shape[0])
        try:
            with bounded_gdal_cache():
                self._dst.write(data.astype(self._dst.dtypes[0], copy=False), band, window=window)
        except OSError as exc:
            self._abort(type(exc), exc, exc.__traceback__)  # names this file
            raise

    def read(self, band: int, row0: int, rows: int) -> np.ndarray:
        """Read back ``rows`` rows of band ``band`` (1-based) from row ``row0``."""
        with bounded_gdal_cache():
            return self._dst.read(band, window=Window(0, row0, self.grid.width, rows))

    def close(
        self,
        *,
        descriptions: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        band_tags: Sequence[Mapping[str, str]] | None = None,
        colormap: Mapping[int, tuple[int, int, int, int]] | None = None,
    ) -> Path:
        """Describe the bands (``colormap``: band 1's colour table, as
        :func:`write_geotiff`'s), make the file cloud-optimised and move it into place."""
        with self._stack, bounded_gdal_cache():
            try:
                _describe(self._dst, descriptions, tags, band_tags)
                if colormap:
                    self._dst.write_colormap(1, colormap)
                self._dst.close()
                to_cog(self._plain, self._tmp, categorical=self.categorical)
            finally:
                self._plain.unlink(missing_ok=True)
        return self.path

    def __enter__(self) -> StripWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:  # fmt: skip
        """On an exception: remove the partial files; ``atomic_path`` turns a full disk
        or a refused write into one :class:`LsghError`."""
        if exc_type is not None:
            self._abort(exc_type, exc, tb)

    def _abort(self, exc_type: type[BaseException], exc: BaseException | None, tb: object) -> None:
        if self._aborted:
            return
        self._aborted = True
        self._dst.close()
        self._plain.unlink(missing_ok=True)
        self._stack.__exit__(exc_type, exc, tb)  # may raise atomic_path's LsghError


def bounded_gdal_cache() -> rasterio.Env:
    """GDAL's block cache capped at :data:`GDAL_CACHE_MB` (GDAL's default is 5 % of the
    machine's memory: reading a large raster once fills it, and a process's peak memory
    then grows with the region although every computation holds only a strip)."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


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


def read_decimated(
    path: str | os.PathLike, *, band: int = 1, categorical: bool, max_size: int
) -> np.ndarray:
    """One band read at most ``max_size`` pixels a side: the whole band when it is no
    larger; else a decimated read, from the file's overviews where it has them (averaged
    values, or the nearest class for ``categorical``). Memory: the decimated array, however
    large the raster. Float bands come back float32 with NaN for nodata."""
    from rasterio.enums import Resampling

    with bounded_gdal_cache(), open_raster(path) as src:
        scale = min(1.0, max_size / max(src.height, src.width))
        shape = (max(1, round(src.height * scale)), max(1, round(src.width * scale)))
        resampling = Resampling.nearest if categorical or scale == 1.0 else Resampling.average
        data = src.read(band, out_shape=shape, resampling=resampling, masked=not categorical)
    return data if categorical else np.ma.filled(data.astype("float32"), np.nan)


def stack_grid(path: str | os.PathLike) -> Grid:
    """The grid of a GeoTIFF, from its header (nothing read)."""
    with open_raster(path) as src:
        return Grid(src.crs, src.transform, src.height, src.width)
