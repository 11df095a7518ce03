"""The landslide Gaussian heatmap (Xiong et al. 2022, §2.2, eqs. 1–2).

Around every landslide centre pixel a 2-D Gaussian ``exp(-d² / (2σ²))`` is drawn, ``d``
being the Euclidean distance in pixels between pixel centres. The kernel has radius
``R = D / 2`` for a diameter of ``D`` pixels and ``σ`` is chosen so that the value on the
circle is exactly 0.1: ``σ² = R² / (2 ln 10)``, hence ``exp(-d² / (2σ²)) = 10^(-d² / R²)``.
Pixels with ``d > R`` get 0 (``d = R`` gets 0.1). Where kernels overlap the maximum wins,
and because the kernel decreases with distance that maximum is the kernel of the nearest
centre.

Two exact methods compute the same array (bit for bit, they share one table of values):

* ``stamp``: for each distinct kernel value, write it at every centre's offsets of that
  distance, the smallest values first, so that the nearest centre's value is the last
  one written. Cost: centres × kernel area scattered writes (vectorised), nothing per
  pixel of the grid.
* ``edt``: the exact Euclidean distance transform of the centre mask (scipy), in row
  strips with a halo of ``R`` rows so that memory stays bounded. Cost: proportional to
  the grid's pixels, whatever the number of centres.

``auto`` (the default) takes whichever does less work, so the cost is bounded by both
``centres × kernel area`` and ``grid pixels``.

:class:`Heatmap` gives the same values rows by rows (a strip needs the centres within
``floor(R)`` rows of it) or at single pixels, and :func:`write_heatmap_strips` writes the
file of :func:`write_heatmap` strip by strip: memory bounded by a strip.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage

from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import StripWriter, write_geotiff

BOUNDARY_VALUE = 0.1
"""The heatmap's value at distance R from a centre (paper, Figure 4)."""

# One scattered write of the stamp method costs about 1/8 of a grid pixel of the strip-wise
# EDT (measured: ~4-5 ns per write against ~20-40 ns per pixel on 4,000² and 10,000² grids).
_STAMP_TO_EDT_COST = 8
_CHUNK = 1 << 22  # index entries per vectorised write
_STRIP_PIXELS = 1 << 22  # pixels per EDT strip


def _check_diameter(diameter: object, shape: tuple[int, int] | None = None) -> int:
    if isinstance(diameter, bool) or not isinstance(diameter, numbers.Integral):
        raise LsghError(
            f"heatmap.diameter is {diameter!r}; use a whole number of pixels "
            "(the paper uses 7, 13 or 19)"
        )
    diameter = int(diameter)
    if diameter < 1:
        raise LsghError(
            f"heatmap.diameter is {diameter}; use a positive number of pixels "
            "(the paper uses 7, 13 or 19)"
        )
    if shape is not None and diameter >= min(shape):
        raise LsghError(
            f"heatmap.diameter is {diameter} pixels but the grid is only {shape[0]} x "
            f"{shape[1]} pixels; use a diameter smaller than the grid (the paper uses 7, 13 "
            "or 19) or a finer resolution"
        )
    return diameter


def sigma_for(diameter: int) -> float:
    """σ (pixels) of the kernel of ``diameter`` pixels: value 0.1 at distance R = D/2,
    i.e. ``σ = R / sqrt(2 ln 10)``."""
    radius = _check_diameter(diameter) / 2.0
    return radius / math.sqrt(2.0 * math.log(1.0 / BOUNDARY_VALUE))


def _value_table(diameter: int) -> np.ndarray:
    """float32 kernel value for every integer squared distance 0..floor(R²) (index = d²)."""
    d2 = np.arange(diameter * diameter // 4 + 1, dtype=np.float64)
    # exp(-d² / (2σ²)) with σ² = R² / (2 ln 10) is exactly 10^(-d² / R²), R² = D² / 4
    return np.power(10.0, -4.0 * d2 / (diameter * diameter)).astype(np.float32)


def kernel_values(diameter: int) -> np.ndarray:
    """The heatmap's float32 value for every integer squared distance (pixels²) from 0 to
    floor(R²), index = d²: the one table every method (and the Earth Engine recipe,
    :mod:`lsgh_ee.earthengine.native_heatmap`) reads its values from."""
    return _value_table(_check_diameter(diameter))


def _kernel_offsets(diameter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(drow, dcol, d²) of the pixels of the disc d ≤ R, all int64."""
    k = diameter // 2  # floor(R)
    dr, dc = np.mgrid[-k : k + 1, -k : k + 1]
    dr, dc = dr.ravel().astype(np.int64), dc.ravel().astype(np.int64)
    d2 = dr * dr + dc * dc
    keep = 4 * d2 <= diameter * diameter  # d ≤ R in exact integer arithmetic
    return dr[keep], dc[keep], d2[keep]


def gaussian_heatmap(
    centres_rc: tuple[np.ndarray, np.ndarray],
    shape: tuple[int, int],
    diameter: int,
    *,
    method: Literal["auto", "stamp", "edt"] = "auto",
) -> np.ndarray:
    """The landslide Gaussian heatmap on a grid of ``shape``.

    Args:
        centres_rc: (rows, cols) integer arrays of the landslide centre pixels (inside
            ``shape``; duplicates are fine).
        shape: (rows, cols) of the grid.
        diameter: kernel diameter D in pixels (the paper uses 7, 13 or 19).
        method: ``auto``, ``stamp`` or ``edt`` (see the module doc); all give the same array.

    Returns:
        float32 ``shape`` array in [0, 1]: 1 at the centres, 0.1 at distance D/2, 0 beyond.

    Raises:
        LsghError: a diameter that is not a whole number ≥ 1 smaller than the grid, or no
            centre.
        ValueError: centres outside the grid or of mismatched lengths.
    """
    height, width = (int(s) for s in shape)
    diameter = _check_diameter(diameter, (height, width))
    flat = _centre_pixels(centres_rc, (height, width))
    return _compute(flat, (height, width), diameter, method)


def _centre_pixels(centres_rc: tuple[np.ndarray, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Sorted distinct flat indices of the centres, checked (see :func:`gaussian_heatmap`)."""
    height, width = shape
    rows = np.asarray(centres_rc[0]).ravel()
    cols = np.asarray(centres_rc[1]).ravel()
    if rows.shape != cols.shape:
        raise ValueError(f"{rows.size} centre rows but {cols.size} centre columns")
    if rows.size == 0:
        raise LsghError(
            "no landslide centre lies on the grid; the heatmap needs at least one landslide "
            "inside the region (check the inventory and the AOI)"
        )
    if not (np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)):
        raise ValueError("centre rows and columns must be integer arrays")
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= height or cols.max() >= width:
        raise ValueError(f"centre pixels outside the {height} x {width} grid")
    return np.unique(rows * width + cols)  # sorted: better locality for the scatter


def _compute(flat: np.ndarray, shape: tuple[int, int], diameter: int, method: str) -> np.ndarray:
    height, width = shape
    if method == "auto":
        area = _kernel_offsets(diameter)[0].size
        method = "stamp" if flat.size * area <= _STAMP_TO_EDT_COST * height * width else "edt"
    if method == "stamp":
        return _stamp(flat, (height, width), diameter)
    if method == "edt":
        return _edt(flat, (height, width), diameter)
    raise ValueError(f"method must be 'auto', 'stamp' or 'edt', got {method!r}")


def _stamp(flat: np.ndarray, shape: tuple[int, int], diameter: int) -> np.ndarray:
    height, width = shape
    out = np.zeros(shape, dtype=np.float32)
    target = out.reshape(-1)
    table = _value_table(diameter)
    dr, dc, d2 = _kernel_offsets(diameter)
    k = diameter // 2
    rows, cols = flat // width, flat % width
    interior = (rows >= k) & (rows < height - k) & (cols >= k) & (cols < width - k)
    inner = flat[interior]
    edge_rows, edge_cols = rows[~interior], cols[~interior]
    # Largest distance (smallest value) first: the last value written at a pixel is the
    # largest one, i.e. the nearest centre's.
    for sq in np.unique(d2)[::-1]:
        group = d2 == sq
        value = table[sq]
        gr, gc = dr[group], dc[group]
        step = max(1, _CHUNK // gr.size)
        offsets = gr * width + gc
        for i in range(0, inner.size, step):
            target[(inner[i : i + step, None] + offsets[None, :]).ravel()] = value
        for i in range(0, edge_rows.size, step):
            r = edge_rows[i : i + step, None] + gr[None, :]
            c = edge_cols[i : i + step, None] + gc[None, :]
            ok = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            target[r[ok] * width + c[ok]] = value
    return out


def _edt(flat: np.ndarray, shape: tuple[int, int], diameter: int) -> np.ndarray:
    height, width = shape
    out = np.zeros(shape, dtype=np.float32)
    table = _value_table(diameter)
    limit = table.size - 1  # floor(R²)
    halo = diameter // 2  # a centre within R of a pixel is within floor(R) rows of it
    rows, cols = flat // width, flat % width  # sorted by row (flat is sorted)
    strip = max(1, _STRIP_PIXELS // width)
    for r0 in range(0, height, strip):
        r1 = min(r0 + strip, height)
        a, b = max(r0 - halo, 0), min(r1 + halo, height)
        lo, hi = np.searchsorted(rows, [a, b])
        if lo == hi:
            continue
        background = np.ones((b - a, width), dtype=bool)
        background[rows[lo:hi] - a, cols[lo:hi]] = False
        dist = ndimage.distance_transform_edt(background)[r0 - a : r1 - a]
        sq = np.rint(dist * dist)  # squared distances are integers: exact after rounding
        near = sq <= limit
        out[r0:r1][near] = table[sq[near].astype(np.int64)]
    return out


class Heatmap:
    """The heatmap of landslide centres on a grid, computed on demand: whole
    (:meth:`array`, :func:`gaussian_heatmap`), rows by rows (:meth:`rows`) or at pixels
    (:meth:`at`), all equal bit for bit. Holds the centres only.

    A strip needs only the centres within ``floor(R)`` rows of it (the kernel is 0
    beyond R), so :meth:`rows` computes the strip's rows plus that halo with the same
    methods and value table and crops: memory is that of the strip.
    """

    def __init__(self, centres_rc: tuple[np.ndarray, np.ndarray], shape: tuple[int, int],
                 diameter: int):  # fmt: skip
        self.shape = (int(shape[0]), int(shape[1]))
        self.diameter = _check_diameter(diameter, self.shape)
        self.flat = _centre_pixels(centres_rc, self.shape)  # sorted, so rows are sorted too
        self.centre_rows = self.flat // self.shape[1]

    def array(self) -> np.ndarray:
        """The whole float32 heatmap (:func:`gaussian_heatmap`)."""
        return _compute(self.flat, self.shape, self.diameter, "auto")

    def rows(self, row0: int, row1: int) -> np.ndarray:
        """float32 ``(row1 - row0, width)``: rows ``row0 .. row1`` of :meth:`array`."""
        height, width = self.shape
        halo = self.diameter // 2  # a centre within R of a pixel is within floor(R) rows
        a, b = max(row0 - halo, 0), min(row1 + halo, height)
        lo, hi = np.searchsorted(self.centre_rows, [a, b])
        if lo == hi:
            return np.zeros((row1 - row0, width), dtype=np.float32)
        part = _compute(self.flat[lo:hi] - a * width, (b - a, width), self.diameter, "auto")
        return part[row0 - a : row1 - a]

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """float32 values at pixels ``(rows, cols)``: the table value of the squared
        distance to the nearest centre (exact: integer squared distances), 0 beyond R."""
        from scipy.spatial import cKDTree

        rows = np.asarray(rows, dtype=np.int64).ravel()
        out = np.zeros(rows.size, dtype=np.float32)
        if rows.size == 0:
            return out
        width = self.shape[1]
        centres = np.column_stack([self.flat // width, self.flat % width]).astype(np.float64)
        points = np.column_stack([rows, np.asarray(cols, dtype=np.int64).ravel()])
        bound = self.diameter / 2.0 + 1.0  # beyond R the value is 0 anyway
        dist, _ = cKDTree(centres).query(points.astype(np.float64), distance_upper_bound=bound)
        table = _value_table(self.diameter)
        near = np.isfinite(dist)
        sq = np.rint(dist[near] * dist[near]).astype(np.int64)
        inside = sq <= table.size - 1
        values = np.zeros(sq.size, dtype=np.float32)
        values[inside] = table[sq[inside]]
        out[near] = values
        return out


def _tags(diameter: int) -> dict[str, str]:
    return {
        "content": "lsgh-ee landslide Gaussian heatmap",
        "diameter_pixels": str(diameter),
        "radius_pixels": repr(diameter / 2.0),
        "sigma_pixels": repr(sigma_for(diameter)),
        "boundary_value": repr(BOUNDARY_VALUE),
    }


def write_heatmap_strips(
    path: str | os.PathLike, heatmap: Heatmap, grid: Grid, *, strip_rows: int
) -> Path:
    """Write ``heatmap`` as :func:`write_heatmap` does (same values, description and
    tags), computed and written ``strip_rows`` rows at a time (0 = whole grid)."""
    if heatmap.shape != grid.shape:
        raise ValueError(f"heatmap shape {heatmap.shape} does not match grid {grid.shape}")
    step = strip_rows if strip_rows > 0 else grid.height
    with StripWriter(path, grid, 1, "float32") as out:
        for row0 in range(0, grid.height, step):
            out.write(1, row0, heatmap.rows(row0, min(row0 + step, grid.height)))
        return out.close(descriptions=[_DESCRIPTION], tags=_tags(heatmap.diameter))


_DESCRIPTION = "gaussian_heatmap"


def write_heatmap(
    path: str | os.PathLike, heatmap: np.ndarray, grid: Grid, *, diameter: int
) -> Path:
    """Write the heatmap as a float32 GeoTIFF (atomic, cloud-optimised layout) with band
    description ``gaussian_heatmap`` and tags naming the diameter, radius and σ."""
    diameter = _check_diameter(diameter)
    return write_geotiff(
        path,
        np.asarray(heatmap, dtype=np.float32),
        grid,
        descriptions=[_DESCRIPTION],
        tags=_tags(diameter),
    )
