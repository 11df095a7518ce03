"""The exact Euclidean distance transform strip by strip: bit for bit the distances of
``scipy.ndimage.distance_transform_edt(~features, sampling=(sy, sx))``, with memory of a
strip of rows plus one ``int32`` row per column and strip boundary.

SciPy computes a feature transform (Maurer, Qi & Raghavan 2003, separable in two passes)
and the distance from the nearest feature's offsets:

1. along every column: each cell's nearest feature cell in its column (the upper one on a
   tie). Here: a bottom-up pass over the strips keeps, at each strip's lower edge, the row
   of the nearest feature below it in every column (``int32`` per column and strip); the
   top-down pass carries the row of the nearest feature above and takes the lower one from
   the strip's own features or that kept edge. Only row differences are compared, so the
   choice (``|r - up| <= |down - r|``) is SciPy's exactly.
2. along every row: the lower envelope of the column candidates (:func:`_row_pass`, a
   line-by-line port of SciPy's ``_VoronoiFT`` for the second axis, with the same
   floating-point expressions in the same order, so the same feature is kept on ties and
   rounding);
3. the distance ``sqrt((dy * sy)**2 + (dx * sx)**2)`` in float64, as SciPy adds it.

A row needs only its own column candidates, so each strip is finished on its own. Features
come from ``burn(strip grid)`` per strip (``features(row0, rows)``): the caller's
rasterisation must give a strip the same cells as the whole grid's (GDAL burns each cell on
its own; checked by ``tests/test_windowed_sources.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numba import njit

from lsgh_ee.factors.stripping import strips

#: ``features(row0, rows) -> bool (rows, cols)``: the feature cells of rows ``row0 ..
#: row0 + rows`` of the grid the transform runs on, every column.
FeatureReader = Callable[[int, int], np.ndarray]

_NONE_BELOW = np.iinfo(np.int32).max


def lower_edges(
    features: FeatureReader, shape: tuple[int, int], strip_rows: int
) -> tuple[np.ndarray, bool]:
    """The bottom-up pass: ``int32 (strips, cols)``, for each strip the row of the nearest
    feature at or below its end row in every column (``int32`` max where none); and
    whether the grid has any feature."""
    spans = list(strips(shape[0], strip_rows))
    below = np.full((len(spans), shape[1]), _NONE_BELOW, dtype="int32")
    state = below[0].copy()
    for k in range(len(spans) - 1, -1, -1):
        row0, row1 = spans[k]
        below[k] = state
        strip = features(row0, row1 - row0)
        has = strip.any(axis=0)
        state = np.where(has, row0 + strip.argmax(axis=0), state).astype("int32")
    return below, bool((state != _NONE_BELOW).any())


def distance_strips(
    features: FeatureReader,
    shape: tuple[int, int],
    sampling: tuple[float, float],
    strip_rows: int,
    *,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    below: np.ndarray | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, float64 distances)`` strip by strip: the distance from every cell of
    a grid of ``shape`` (rows, cols) to the nearest feature cell, in the units of
    ``sampling`` (the pixel height and width), equal to SciPy's (see the module's
    docstring). The grid must hold at least one feature.

    Args:
        features: the feature cells of a strip (see :data:`FeatureReader`).
        rows, cols: ``(start, stop)`` of the part of the grid whose distances are wanted
            (default all): strips cover only those rows and are cut to those columns; the
            row given with each strip counts from ``rows[0]``.
        below: :func:`lower_edges` when already computed (same ``strip_rows``).
    """
    height, width = shape
    rows = rows or (0, height)
    cols = cols or (0, width)
    if below is None:
        below, _ = lower_edges(features, shape, strip_rows)
    above = np.full(width, -1, dtype="int32")
    for k, (row0, row1) in enumerate(strips(height, strip_rows)):
        if row0 >= rows[1]:
            break
        strip = features(row0, row1 - row0)
        at = np.arange(row0, row1, dtype="int32")[:, None]
        up = np.maximum.accumulate(np.where(strip, at, -1), axis=0)
        np.maximum(up, above, out=up)
        above = up[-1].copy()
        lo, hi = max(rows[0], row0), min(rows[1], row1)
        if lo >= hi:
            continue
        down = np.minimum.accumulate(np.where(strip, at, _NONE_BELOW)[::-1], axis=0)[::-1]
        np.minimum(down, below[k], out=down)
        part = slice(lo - row0, hi - row0)
        nearest = _column_nearest(up[part], down[part], at[part])
        yield lo - rows[0], _distances(nearest, at[part, 0], sampling, cols)


def _column_nearest(up: np.ndarray, down: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Each cell's nearest feature row in its column (the upper on a tie; -1 where the
    column has none), from the nearest above (-1 none) and below (int32 max none)."""
    take_up = (up >= 0) & ((down == _NONE_BELOW) | (at - up <= down - at))
    nearest = np.where(take_up, up, down)
    nearest[(up < 0) & (down == _NONE_BELOW)] = -1
    return nearest.astype("int32")


def _distances(
    nearest: np.ndarray, at: np.ndarray, sampling: tuple[float, float], cols: tuple[int, int]
) -> np.ndarray:
    """float64 distances of a strip's cells in columns ``cols`` from the column pass's
    ``nearest`` (rows, cols) rows (absolute rows ``at``), as SciPy computes them."""
    sy, sx = (float(s) for s in sampling)
    feature_row = np.empty(nearest.shape, dtype="int32")
    feature_col = np.empty(nearest.shape, dtype="int32")
    _row_pass(nearest, at.astype("int64"), sy, sx, feature_row, feature_col)
    part = slice(*cols)
    dy = (feature_row[:, part] - at[:, None].astype("int32")).astype("float64")
    dx = (feature_col[:, part] - np.arange(*cols, dtype="int32")).astype("float64")
    dy *= sy
    dx *= sx
    np.multiply(dy, dy, dy)
    np.multiply(dx, dx, dx)
    return np.sqrt(dy + dx)


@njit(cache=False, nogil=True)
def _row_pass(nearest, at, sy, sx, feature_row, feature_col):  # pragma: no cover - compiled
    """SciPy's ``_VoronoiFT`` along the rows (second axis) of a 2-D feature transform:
    ``nearest`` int32 (rows, cols) column-pass feature rows (-1 none), ``at`` the cells'
    rows; writes the nearest feature's row and column of every cell."""
    n_rows, width = nearest.shape
    g = np.empty(width, dtype=np.int64)
    for k in range(n_rows):
        r = at[k]
        line = nearest[k]
        last = -1
        for ii in range(width):
            if line[ii] < 0:
                continue
            fd = float(ii)
            tw = float(line[ii] - r) * sy
            w_r = 0.0 + tw * tw
            while last >= 1:
                idx1 = g[last]
                idx2 = g[last - 1]
                f1 = float(idx1)
                a = (f1 - float(idx2)) * sx
                b = (fd - f1) * sx
                c = a + b
                tu = float(line[idx2] - r) * sy
                tv = float(line[idx1] - r) * sy
                u_r = 0.0 + tu * tu
                v_r = 0.0 + tv * tv
                if c * v_r - b * u_r - a * w_r - a * b * c <= 0.0:
                    break
                last -= 1
            last += 1
            g[last] = ii
        top = last
        if top < 0:
            for ii in range(width):
                feature_row[k, ii] = -1
                feature_col[k, ii] = -1
            continue
        last = 0
        for ii in range(width):
            t = float(line[g[last]] - r) * sy
            delta1 = 0.0 + t * t
            t = float(g[last] - ii) * sx
            delta1 += t * t
            while last < top:
                t = float(line[g[last + 1]] - r) * sy
                delta2 = 0.0 + t * t
                t = float(g[last + 1] - ii) * sx
                delta2 += t * t
                if delta1 <= delta2:
                    break
                delta1 = delta2
                last += 1
            feature_row[k, ii] = line[g[last]]
            feature_col[k, ii] = g[last]
