"""Neighbourhood measures of a DEM over a disk of cells: the topographic position index,
slope position classes after Weiss (2001) and local relief."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage


def as_dem(dem: np.ndarray) -> np.ndarray:
    """Return ``dem`` as a 2-D float array (no copy for float32/float64 input)."""
    z = np.asarray(dem)
    if z.ndim != 2:
        raise ValueError(f"dem must be a 2-D array, got shape {z.shape}")
    if z.dtype not in (np.float32, np.float64):
        z = z.astype(np.float32)
    return z


SLOPE_POSITION_CLASSES = (
    "valley",
    "downslope",
    "flat",
    "mesoslope-1",
    "mesoslope-2",
    "mesoslope-3",
    "mesoslope-4",
    "mesoslope-5",
    "upslope",
    "ridge",
)
"""Names of slope-position classes 1..10 (index ``code - 1``); code 0 is nodata."""


def disk(radius: float) -> np.ndarray:
    """Boolean ``(2k+1, 2k+1)`` footprint, ``k = floor(radius)``: cells whose centre lies
    within ``radius`` cells of the middle one (the middle included). The neighbourhood of
    TPI and local relief; the Earth Engine recipes send it as a fixed kernel.

    Raises:
        ValueError: ``radius`` is not a number >= 1.
    """
    if not (math.isfinite(radius) and radius >= 1):
        raise ValueError(f"radius_cells must be a number >= 1, got {radius!r}")
    k = math.floor(radius)
    off = np.arange(-k, k + 1)
    dist2 = off[:, None] ** 2 + off[None, :] ** 2
    return dist2 <= radius * radius * (1 + 1e-12)


def topographic_position_index(dem: np.ndarray, radius_cells: float) -> np.ndarray:
    """Topographic position index: elevation minus the mean of its circular neighbourhood.

    The neighbourhood is every cell whose centre lies within ``radius_cells`` cells of the
    cell's centre, the cell itself excluded. The mean is over valid (non-NaN) neighbours
    only; near the array edge the neighbourhood is truncated (nothing is padded in).

    The disk sum is a sum of horizontal runs, one per row offset, each a difference of two
    float64 prefix sums along its row, added in row-offset order: a row's result depends
    only on the rows within the radius, never on how many rows the array has, so a strip
    of rows read with a halo of ``radius_cells`` gives bit for bit the values of the whole
    array (:mod:`lsgh_ee.factors.windows`). Round-off: prefix sums of elevations, about
    ``1e-16 × width × max|z|`` metres (``1e-8`` m for 30 000 columns at 3 000 m).

    Args:
        dem: ``(rows, cols)`` elevations in metres, NaN = nodata.
        radius_cells: neighbourhood radius in cells (>= 1), e.g. ``radius_m / cell size``.

    Returns:
        float32 ``(rows, cols)`` TPI in metres (positive = above its surroundings). NaN
        where the centre is NaN or has no valid neighbour.

    Raises:
        ValueError: a DEM that is not 2-D, or ``radius_cells < 1``.
    """
    z = as_dem(dem)
    footprint = disk(radius_cells)
    valid = ~np.isnan(z)
    out = np.full(z.shape, np.nan, dtype=np.float32)
    if not valid.any():
        return out
    z64 = np.where(valid, z, 0.0).astype(np.float64)
    sums = _disk_sum(z64, footprint)
    counts = _disk_sum(valid.astype(np.float64), footprint)
    sums -= z64  # the centre is not its own neighbour
    counts -= valid
    ok = valid & (counts > 0)
    out[ok] = z64[ok] - sums[ok] / counts[ok]
    return out


def _disk_sum(z: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Sum of float64 ``z`` over a disk footprint (outside the array counts as 0), as
    row-offset runs of prefix-sum differences added in a fixed order (by run width, then
    row offset: the same for every row, whatever the number of rows; see
    :func:`topographic_position_index`). Each run width's sums are computed once and
    added at its two row offsets."""
    k = footprint.shape[0] // 2
    rows, cols = z.shape
    prefix = np.zeros((rows, cols + 1), dtype=np.float64)
    np.cumsum(z, axis=1, out=prefix[:, 1:])
    col = np.arange(cols)
    out = np.zeros(z.shape, dtype=np.float64)
    offsets: dict[int, list[int]] = {}  # run half-width → the row offsets with that run
    for dy in range(-k, k + 1):
        offsets.setdefault(int(footprint[dy + k].sum()) // 2, []).append(dy)
    for half, dys in offsets.items():
        right = np.minimum(col + half + 1, cols)
        left = np.maximum(col - half, 0)
        runs = prefix[:, right] - prefix[:, left]
        for dy in dys:
            lo, hi = max(0, -dy), min(rows, rows - dy)
            if lo < hi:
                out[lo:hi] += runs[lo + dy : hi + dy]
    return out


def tpi_moments(tpi: np.ndarray) -> tuple[float, float, float]:
    """``(n, sum, sum of squares)`` of the valid (non-NaN) values of ``tpi``, summed row by
    row in float64 and the row totals with :func:`math.fsum` (exactly rounded): the same
    numbers whether the rows come at once or in strips (see :func:`merge_moments`)."""
    return merge_moments([_row_moments(tpi)])


def _row_moments(tpi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(tpi, dtype=np.float64)
    ok = ~np.isnan(t)
    t = np.where(ok, t, 0.0)
    return ok.sum(axis=1).astype(np.float64), t.sum(axis=1), (t * t).sum(axis=1)


def strip_moments(tpi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row ``(n, sum, sum of squares)`` of a strip's TPI, for :func:`merge_moments`."""
    return _row_moments(tpi)


def merge_moments(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[float, float, float]:
    """Total ``(n, sum, sum of squares)`` of per-row moments (exactly rounded sums)."""
    n, total, squares = (math.fsum(v for part in parts for v in part[i].tolist()) for i in range(3))
    return n, total, squares


def slope_position(
    tpi: np.ndarray,
    slope_deg: np.ndarray,
    moments: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """Ten slope-position classes from TPI and slope (after Weiss 2001).

    The rule: ``z = (tpi - mean(tpi)) / std(tpi)``, mean and (population) standard
    deviation over the cells where ``tpi`` is not NaN (``z = 0`` if that std is 0), from
    :func:`tpi_moments` (``var = E[t²] - mean²``; TPI has a mean near 0, so nothing
    cancels), then

    ====  ============  ===================================================
    code  name          rule
    ====  ============  ===================================================
    1     valley        z < -1
    2     downslope     -1 <= z < -0.5   (Weiss's lower slope)
    3     flat          -0.5 <= z <= 0.5 and slope <= 5°
    4     mesoslope-1   -0.5 <= z < -0.3 and slope > 5°
    5     mesoslope-2   -0.3 <= z < -0.1 and slope > 5°
    6     mesoslope-3   -0.1 <= z < 0.1  and slope > 5°
    7     mesoslope-4   0.1 <= z < 0.3   and slope > 5°
    8     mesoslope-5   0.3 <= z <= 0.5  and slope > 5°
    9     upslope       0.5 < z <= 1     (Weiss's upper slope)
    10    ridge         z > 1
    ====  ============  ===================================================

    Codes 4..8 split Weiss's middle slope into five equal bands of z (width 0.2), the
    paper's finer classes. Names are :data:`SLOPE_POSITION_CLASSES` (``code - 1``).

    Args:
        tpi: ``(rows, cols)`` TPI, NaN = nodata (e.g. from
            :func:`topographic_position_index`).
        slope_deg: slope in degrees, same shape, NaN = nodata.
        moments: ``(n, sum, sum of squares)`` of the whole region's TPI when ``tpi`` is a
            strip of it (:func:`merge_moments`); default: those of ``tpi``.

    Returns:
        uint8 ``(rows, cols)`` codes 1..10, 0 where either input is NaN.

    Raises:
        ValueError: the shapes differ.
    """
    t = np.asarray(tpi, dtype=np.float64)
    s = np.asarray(slope_deg, dtype=np.float64)
    if t.shape != s.shape:
        raise ValueError(f"tpi and slope_deg shapes differ: {t.shape} vs {s.shape}")
    out = np.zeros(t.shape, dtype=np.uint8)
    t_ok = ~np.isnan(t)
    n, total, squares = moments if moments is not None else tpi_moments(t)
    if not t_ok.any() or n == 0:
        return out
    mean = total / n
    std = math.sqrt(max(squares / n - mean * mean, 0.0))
    z = (t - mean) / std if std > 0 else np.where(t_ok, 0.0, np.nan)
    ok = t_ok & ~np.isnan(s)
    steep = s > 5.0
    middle = (z >= -0.5) & (z <= 0.5)
    codes = np.select(
        [
            z < -1.0,
            z < -0.5,
            middle & ~steep,
            middle & (z < -0.3),
            middle & (z < -0.1),
            middle & (z < 0.1),
            middle & (z < 0.3),
            middle,
            z <= 1.0,
        ],
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
        default=10,
    )
    out[ok] = codes[ok]
    return out


def _disk_extreme(z: np.ndarray, footprint: np.ndarray, op: Callable, fill: float) -> np.ndarray:
    """Max or min (``op`` = np.maximum / np.minimum) of ``z`` over a disk footprint.

    The disk is a stack of horizontal runs, one per row offset; a 1-D running extreme of
    each run length (O(n), independent of the length) shifted by the row offset and
    folded with ``op`` gives the 2-D extreme in O(rows · cols · radius). Outside the array
    counts as ``fill`` (so the neighbourhood is truncated there).
    """
    filt1d = ndimage.maximum_filter1d if op is np.maximum else ndimage.minimum_filter1d
    k = footprint.shape[0] // 2
    rows = z.shape[0]
    out = np.full(z.shape, fill, dtype=z.dtype)
    runs: dict[int, np.ndarray] = {}
    for dy in range(-k, k + 1):
        half = int(footprint[dy + k].sum()) // 2
        if half not in runs:
            runs[half] = filt1d(z, 2 * half + 1, axis=1, mode="constant", cval=fill)
        run = runs[half]
        # out[r] folds in run[r + dy] where that row exists.
        lo, hi = max(0, -dy), min(rows, rows - dy)
        if lo < hi:
            op(out[lo:hi], run[lo + dy : hi + dy], out=out[lo:hi])
    return out


def local_relief(dem: np.ndarray, radius_cells: float) -> np.ndarray:
    """Local relief: highest minus lowest elevation within a circular neighbourhood.

    The neighbourhood is every cell whose centre lies within ``radius_cells`` cells of the
    cell's centre, the cell itself included; NaN cells are ignored and near the array edge
    the neighbourhood is truncated.

    Args:
        dem: ``(rows, cols)`` elevations in metres, NaN = nodata.
        radius_cells: neighbourhood radius in cells (>= 1).

    Returns:
        float32 ``(rows, cols)`` relief in metres (>= 0), NaN where the centre is NaN.

    Raises:
        ValueError: a DEM that is not 2-D, or ``radius_cells < 1``.
    """
    z = as_dem(dem)
    footprint = disk(radius_cells)
    bad = np.isnan(z)
    hi = _disk_extreme(np.where(bad, -np.inf, z), footprint, np.maximum, -np.inf)
    lo = _disk_extreme(np.where(bad, np.inf, z), footprint, np.minimum, np.inf)
    hi -= lo
    out = hi.astype(np.float32)
    out[bad] = np.nan
    return out
