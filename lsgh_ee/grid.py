"""The analysis grid every raster and vector of a region is aligned to.

A :class:`Grid` is a projected CRS (metres), an affine transform with square pixels of
``resolution`` metres and a shape (rows, cols). Distances, kernel radii and the heatmap
diameter are expressed in this grid's metric units, never in degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.warp import transform_bounds

from lsgh_ee.errors import LsghError


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM CRS of the zone holding (lon, lat) degrees (EPSG 326xx / 327xx)."""
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise LsghError(
            f"point ({lon}, {lat}) is outside UTM coverage; set 'crs' to an explicit EPSG code"
        )
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def as_metric_crs(crs: CRS | str | int) -> CRS:
    """Parse ``crs`` and require a projected CRS in metres (grids are never in degrees)."""
    try:
        parsed = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError with a long message
        raise LsghError(
            f"crs {crs!r} is not a CRS pyproj understands; use e.g. 'EPSG:32633'"
        ) from exc
    if not parsed.is_projected:
        raise LsghError(
            f"crs {crs!r} is geographic (degrees); use a projected CRS in metres or 'auto' (UTM)"
        )
    unit = parsed.axis_info[0].unit_name if parsed.axis_info else "metre"
    if unit not in ("metre", "meter"):
        raise LsghError(f"crs {crs!r} has axis unit {unit!r}; use a projected CRS in metres")
    return parsed


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    Attributes:
        crs: projected CRS with metre units.
        transform: affine pixel → CRS transform (upper-left origin, square pixels).
        height: rows.
        width: columns.
    """

    crs: CRS
    transform: Affine
    height: int
    width: int

    @classmethod
    def from_bounds(
        cls,
        bounds: tuple[float, float, float, float],
        crs: CRS,
        resolution: float,
        anchor: tuple[float, float] = (0.0, 0.0),
    ) -> Grid:
        """Grid covering ``bounds`` (left, bottom, right, top in ``crs``) with pixels of
        ``resolution`` metres, snapped outward to the pixel lattice through ``anchor``
        (default: whole multiples of the resolution, so grids of neighbouring regions line
        up; a DEM's corner keeps its pixels unresampled)."""
        if resolution <= 0:
            raise LsghError(f"resolution must be positive metres, got {resolution}")
        ax, ay = anchor
        left, bottom, right, top = bounds
        left = ax + math.floor((left - ax) / resolution) * resolution
        bottom = ay + math.floor((bottom - ay) / resolution) * resolution
        right = ax + math.ceil((right - ax) / resolution) * resolution
        top = ay + math.ceil((top - ay) / resolution) * resolution
        width = max(int(round((right - left) / resolution)), 1)
        height = max(int(round((top - bottom) / resolution)), 1)
        transform = Affine(resolution, 0.0, left, 0.0, -resolution, top)
        return cls(crs=crs, transform=transform, height=height, width=width)

    @classmethod
    def from_lonlat_bbox(
        cls, bbox: tuple[float, float, float, float], crs: CRS | str | int, resolution: float
    ) -> Grid:
        """Grid covering a (west, south, east, north) lon/lat box; ``crs='auto'`` picks the
        UTM zone of the box centre."""
        west, south, east, north = bbox
        target = (
            utm_crs_for((west + east) / 2, (south + north) / 2)
            if str(crs).lower() == "auto"
            else as_metric_crs(crs)
        )
        bounds = transform_bounds("EPSG:4326", target, west, south, east, north, densify_pts=21)
        return cls.from_bounds(bounds, target, resolution)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (self.height, self.width)

    @property
    def resolution(self) -> float:
        """Pixel size in metres."""
        return float(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid CRS."""
        left, top = self.transform.c, self.transform.f
        return (left, top - self.height * self.resolution, left + self.width * self.resolution, top)

    def padded(self, cells: int) -> Grid:
        """The same grid grown by ``cells`` pixels on every side (for neighbourhood operators
        that need context beyond the region's edge)."""
        res = self.resolution
        transform = Affine(
            res, 0.0, self.transform.c - cells * res, 0.0, -res, self.transform.f + cells * res
        )
        return Grid(self.crs, transform, self.height + 2 * cells, self.width + 2 * cells)

    def strip(self, row0: int, rows: int) -> Grid:
        """Rows ``row0 .. row0 + rows`` of this grid, every column."""
        return Grid(self.crs, self.transform @ Affine.translation(0, row0), rows, self.width)

    def cells_for(self, metres: float) -> float:
        """A length in metres expressed in pixels of this grid."""
        return metres / self.resolution

    def xy(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CRS coordinates of pixel centres for integer ``rows``, ``cols`` arrays."""
        x = self.transform.c + (np.asarray(cols) + 0.5) * self.resolution
        y = self.transform.f - (np.asarray(rows) + 0.5) * self.resolution
        return x, y

    def rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer (row, col) of the pixels containing CRS points; may fall outside the grid."""
        cols = np.floor((np.asarray(x, dtype=float) - self.transform.c) / self.resolution)
        rows = np.floor((self.transform.f - np.asarray(y, dtype=float)) / self.resolution)
        return rows.astype(np.int64), cols.astype(np.int64)

    def contains(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Boolean mask of (row, col) pairs inside the grid."""
        return (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)

    def profile(self, count: int = 1, dtype: str = "float32", nodata: float | None = None) -> dict:
        """A rasterio GeoTIFF profile for this grid."""
        return {
            "driver": "GTiff",
            "crs": self.crs,
            "transform": self.transform,
            "height": self.height,
            "width": self.width,
            "count": count,
            "dtype": dtype,
            "nodata": nodata,
        }

    def to_dict(self) -> dict:
        """JSON-ready description (for manifests and model schemas)."""
        return {
            "crs": self.crs.to_string(),
            "transform": list(self.transform)[:6],
            "height": self.height,
            "width": self.width,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Grid:
        """The grid :meth:`to_dict` described."""
        return cls(CRS.from_user_input(data["crs"]), Affine(*data["transform"][:6]),
                   int(data["height"]), int(data["width"]))  # fmt: skip
