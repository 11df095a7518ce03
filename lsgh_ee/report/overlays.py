"""Raster overlays for web maps: one band of a GeoTIFF reprojected to Web Mercator and
coloured as an RGBA image that Leaflet pins by its corners (embedded as a PNG data URL,
so a saved page needs no tile server)."""

from __future__ import annotations

import base64
import functools
import io
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsgh_ee.errors import LsghError
from lsgh_ee.rasters import bounded_gdal_cache
from lsgh_ee.report.style import CLASS_CMAP, FACTOR_CMAP, INDEX_CMAP, factor_range

#: Longest side of an embedded raster overlay, pixels (larger rasters are averaged down).
MAX_OVERLAY_SIZE = 1024


@dataclass(frozen=True)
class Overlay:
    """A raster rendered for a web map.

    Attributes:
        rgba: ``(rows, cols, 4)`` uint8 image in Web Mercator (EPSG:3857), north up.
        bounds: ``((south, west), (north, east))`` in degrees (EPSG:4326): where Leaflet
            pins the image's corners.
        values: the reprojected values (NaN or 0 = nodata), for ranges and legends.
    """

    rgba: np.ndarray
    bounds: tuple[tuple[float, float], tuple[float, float]]
    values: np.ndarray

    def data_url(self) -> str:
        """The image as a ``data:image/png;base64,...`` URL."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.rgba, "RGBA").save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_overlay(
    path: str | os.PathLike,
    *,
    band: int = 1,
    colourise: Callable[[np.ndarray], np.ndarray],
    max_size: int = MAX_OVERLAY_SIZE,
    categorical: bool = False,
) -> Overlay:
    """Reproject one band of a GeoTIFF to Web Mercator (at most ``max_size`` pixels a side)
    and colour it with ``colourise`` (values -> RGBA uint8; nodata must come out clear).

    Leaflet stretches an image overlay linearly in Web Mercator between its corners, so the
    image is warped to EPSG:3857 first and its corners are given in lon/lat.
    """
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject, transform_bounds

    with bounded_gdal_cache(), rasterio.open(path) as src:
        if src.crs is None:
            raise LsghError(f"{path} has no CRS; cannot place it on a map")
        mercator = "EPSG:3857"
        west, south, east, north = transform_bounds(src.crs, mercator, *src.bounds,
                                                    densify_pts=21)  # fmt: skip
        with warnings.catch_warnings():  # rasterio's own use of Affine's `*`
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            _, width, height = calculate_default_transform(
                src.crs, mercator, src.width, src.height, *src.bounds
            )
        scale = min(1.0, max_size / max(width, height))
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        floating = np.issubdtype(np.dtype(src.dtypes[band - 1]), np.floating)
        nodata = src.nodata if src.nodata is not None else (np.nan if floating else 0)
        values = np.full((height, width), nodata, dtype=src.dtypes[band - 1])
        # Downsampled continuous values are averaged; classes keep their codes.
        resampling = Resampling.nearest if categorical or scale == 1.0 else Resampling.average
        reproject(
            rasterio.band(src, band),
            values,
            src_nodata=nodata,
            dst_transform=Affine(
                (east - west) / width, 0, west, 0, (south - north) / height, north
            ),
            dst_crs=mercator,
            dst_nodata=nodata,
            resampling=resampling,
        )
    if floating:
        values = values.astype("float32")
        if not np.isnan(nodata):
            values[values == nodata] = np.nan
    lon0, lat0, lon1, lat1 = transform_bounds(mercator, "EPSG:4326", west, south, east, north)
    return Overlay(colourise(values), ((lat0, lon0), (lat1, lon1)), values)


def colour_index(values: np.ndarray) -> np.ndarray:
    """The susceptibility index (0-1) on :data:`~lsgh_ee.report.style.INDEX_CMAP`."""
    return colour_continuous(values, INDEX_CMAP, 0.0, 1.0)


def colour_continuous(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """Values on a matplotlib colour map between ``vmin`` and ``vmax``; NaN clear."""
    from matplotlib import colormaps

    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((values - vmin) / span, 0.0, 1.0)
    rgba = colormaps[cmap](np.nan_to_num(scaled), bytes=True)
    rgba[..., 3] = np.where(np.isfinite(values), 255, 0)
    return rgba


def colour_classes(values: np.ndarray, colours: Mapping[int, tuple[int, ...]]) -> np.ndarray:
    """RGBA from a class -> colour table; classes missing from it (and nodata) are clear."""
    lut = np.zeros((256, 4), dtype="uint8")
    for code, colour in colours.items():
        if 0 < int(code) < 256:
            lut[int(code)] = (*colour[:3], 255)
    codes = np.nan_to_num(values, nan=0).astype("int64")
    return lut[np.clip(codes, 0, 255)]


def zone_colouriser(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """A colouriser of zone codes 1-5: the file's colour table, else the zone colours."""
    import rasterio

    from lsgh_ee.zoning import ZONE_COLOURS

    with rasterio.open(path) as src:
        try:
            table = {k: v for k, v in src.colormap(1).items() if 1 <= k <= 5}
        except ValueError:  # no colour table in the file
            table = {}
    return functools.partial(colour_classes, colours=table or ZONE_COLOURS)


def colour_factor_values(values: np.ndarray) -> np.ndarray:
    """A continuous factor on :data:`~lsgh_ee.report.style.FACTOR_CMAP` between its 2nd
    and 98th percentiles; nodata clear."""
    span = factor_range(values)
    if span is None:
        return np.zeros((*values.shape, 4), dtype="uint8")
    return colour_continuous(values, FACTOR_CMAP, *span)


def colour_factor_classes(values: np.ndarray) -> np.ndarray:
    """A categorical factor: each distinct value one colour of
    :data:`~lsgh_ee.report.style.CLASS_CMAP` (by rank); nodata clear."""
    from matplotlib import colormaps

    rgba = np.zeros((*values.shape, 4), dtype="uint8")
    finite = np.isfinite(values)
    classes, rank = np.unique(values[finite], return_inverse=True)
    palette = colormaps[CLASS_CMAP](np.arange(20), bytes=True)
    rgba[finite] = palette[rank.ravel() % 20]
    return rgba
