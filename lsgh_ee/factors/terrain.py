"""Terrain derivatives of a DEM held in memory: slope, aspect, curvature, TPI, relief.

Pure NumPy / SciPy on 2-D arrays. Conventions shared by every function here:

* ``dem`` is a 2-D array of elevations in metres (float32 or float64; integers are
  accepted and read as float32), row 0 is the north edge, column 0 the west edge, and
  NaN marks nodata.
* ``cellsize`` is ``(x size, y size)`` in metres, both positive (``transform.a`` and
  ``-transform.e`` of a north-up raster).
* Results are float32 arrays of the DEM's shape with NaN where the value is undefined.
  The 3×3 derivatives (gradient, slope, aspect, curvature) are NaN on the outer ring of
  cells and wherever the 3×3 window touches a NaN: exactly ``gdaldem`` without
  ``-compute_edges``. Nothing wraps around the edges.

Slope and aspect agree with ``gdaldem slope`` / ``gdaldem aspect`` to well under 0.01°
(tested), with one deliberate difference: flat cells (zero gradient) get aspect -1 here,
where gdaldem writes its nodata value (-9999).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lsgh_ee.factors.neighbourhood import (  # neighbourhood measures are DEM derivatives too
    SLOPE_POSITION_CLASSES,
    as_dem,
    disk,
    local_relief,
    slope_position,
    topographic_position_index,
)

__all__ = [
    "GRADIENT_METHODS",
    "SLOPE_POSITION_CLASSES",
    "disk",
    "local_relief",
    "slope_position",
    "topographic_position_index",
    "aspect",
    "curvature",
    "gradient",
    "plan_profile_curvature",
    "slope",
    "slope_aspect",
    "terrain_ruggedness_index",
]

GRADIENT_METHODS = ("horn", "zevenbergen_thorne")
"""``horn``: Horn (1981) 3×3 weighted stencil (gdaldem's and ArcGIS's default);
``zevenbergen_thorne``: 4-neighbour central differences (Zevenbergen & Thorne 1987), what
Earth Engine's ``ee.Terrain.slope`` / ``aspect`` use."""

_RAD2DEG = 180.0 / math.pi
# Rows per block in slope/aspect: small enough that a block's temporaries stay in cache.
_BLOCK_ROWS = 32
# Below this many cells the work is done in one block on the calling thread.
_MIN_THREADED_CELLS = 1 << 20


# --------------------------------------------------------------------------- helpers


def _check_cellsize(cellsize: tuple[float, float]) -> tuple[float, float]:
    try:
        lx, ly = (float(c) for c in cellsize)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cellsize must be (x size, y size) in metres, got {cellsize!r}") from exc
    if not (math.isfinite(lx) and math.isfinite(ly) and lx > 0 and ly > 0):
        raise ValueError(f"cellsize must be two positive sizes in metres, got {cellsize!r}")
    return lx, ly


def _cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_method(method: str) -> None:
    if method not in GRADIENT_METHODS:
        raise ValueError(f"unknown gradient method {method!r}; use one of {GRADIENT_METHODS}")


def _window_has_nan(z: np.ndarray) -> np.ndarray:
    """Boolean ``(rows-2, cols-2)``: does the 3×3 window around each interior cell hold NaN?"""
    bad = np.isnan(z)
    rows = bad[:, :-2] | bad[:, 1:-1]
    rows |= bad[:, 2:]
    win = rows[:-2] | rows[1:-1]
    win |= rows[2:]
    return win


def _mask_nan_windows(z: np.ndarray, *interiors: np.ndarray) -> None:
    """Set NaN in each interior-shaped array where the 3×3 window of ``z`` touches a NaN."""
    # One cheap reduction decides whether the block has any NaN at all (an overflow to
    # inf merely takes the exact path).
    if math.isfinite(float(np.add.reduce(z, axis=None))):
        return
    win = _window_has_nan(z)
    for a in interiors:
        a[win] = np.nan


def _gradient_interior(
    z: np.ndarray, lx: float, ly: float, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """dz/dx (east) and dz/dy (north) on the interior ``z[1:-1, 1:-1]``, NaN-window aware."""
    if method == "horn":
        # Separable form of Horn's stencil, summed in the order gdaldem uses
        # ((a + b) + b) + c, so that float32 DEMs round exactly as gdaldem does:
        # 1-2-1 down the columns, then east minus west ...
        c = z[:-2] + z[1:-1]
        c += z[1:-1]
        c += z[2:]
        gx = c[:, 2:] - c[:, :-2]
        del c
        gx *= 1.0 / (8.0 * lx)
        # ... and 1-2-1 along the rows, then north minus south.
        c = z[:, :-2] + z[:, 1:-1]
        c += z[:, 1:-1]
        c += z[:, 2:]
        gy = c[:-2] - c[2:]
        del c
        gy *= 1.0 / (8.0 * ly)
    else:  # zevenbergen_thorne
        gx = z[1:-1, 2:] - z[1:-1, :-2]
        gx *= 1.0 / (2.0 * lx)
        gy = z[:-2, 1:-1] - z[2:, 1:-1]
        gy *= 1.0 / (2.0 * ly)
    _mask_nan_windows(z, gx, gy)
    return gx, gy


def _nan_frame(shape: tuple[int, ...]) -> np.ndarray:
    """float32 array whose outer ring is NaN; the interior is left uninitialised."""
    if min(shape) < 3:
        return np.full(shape, np.nan, dtype=np.float32)
    out = np.empty(shape, dtype=np.float32)
    out[0] = np.nan
    out[-1] = np.nan
    out[:, 0] = np.nan
    out[:, -1] = np.nan
    return out


def _slope_aspect_into(
    gx: np.ndarray, gy: np.ndarray, slope_out: np.ndarray | None, aspect_out: np.ndarray | None
) -> None:
    """Slope and/or aspect (degrees) from a gradient, written into the given views."""
    if aspect_out is not None:
        flat = gx == 0
        flat &= gy == 0
    if slope_out is not None:
        # sqrt(gx² + gy²) rather than np.hypot: several times faster, and DEM gradients
        # are far from float over/underflow.
        np.multiply(gx, gx, out=slope_out)
        slope_out += np.square(gy)
        np.sqrt(slope_out, out=slope_out)
        np.arctan(slope_out, out=slope_out)
        slope_out *= _RAD2DEG
    if aspect_out is None:
        return
    # Downslope azimuth = atan2(-gx, -gy) = atan2(gx, gy) + 180°, in [0, 360).
    np.arctan2(gx, gy, out=aspect_out)
    aspect_out *= _RAD2DEG
    aspect_out += 180.0
    aspect_out[aspect_out >= 360.0] = 0.0
    aspect_out[flat] = -1.0


def _slope_aspect(
    dem: np.ndarray,
    cellsize: tuple[float, float],
    method: str,
    want_slope: bool,
    want_aspect: bool,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Row-blocked (and, for big DEMs, threaded) slope and/or aspect."""
    z = as_dem(dem)
    lx, ly = _check_cellsize(cellsize)
    _check_method(method)
    rows, cols = z.shape
    slope_out = _nan_frame(z.shape) if want_slope else None
    aspect_out = _nan_frame(z.shape) if want_aspect else None
    if rows < 3 or cols < 3:
        return slope_out, aspect_out

    def block(r0: int) -> None:
        # Output rows r0 .. r1-1 need input rows r0-1 .. r1.
        r1 = min(r0 + _BLOCK_ROWS, rows - 1)
        gx, gy = _gradient_interior(z[r0 - 1 : r1 + 1], lx, ly, method)
        _slope_aspect_into(
            gx,
            gy,
            None if slope_out is None else slope_out[r0:r1, 1:-1],
            None if aspect_out is None else aspect_out[r0:r1, 1:-1],
        )

    starts = range(1, rows - 1, _BLOCK_ROWS)
    workers = min(_cpu_count(), 8, len(starts))
    if workers > 1 and z.size >= _MIN_THREADED_CELLS:
        # NumPy releases the GIL inside its loops, so blocks run truly in parallel.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(block, starts):
                pass
    else:
        for r0 in starts:
            block(r0)
    return slope_out, aspect_out


# ----------------------------------------------------------------- slope and aspect


def gradient(
    dem: np.ndarray, cellsize: tuple[float, float], method: str = "horn"
) -> tuple[np.ndarray, np.ndarray]:
    """Surface gradient of a DEM.

    Args:
        dem: ``(rows, cols)`` elevations in metres, NaN = nodata, row 0 north.
        cellsize: ``(x size, y size)`` of a cell in metres, both positive.
        method: ``"horn"`` (Horn 1981 3×3 stencil, gdaldem's default) or
            ``"zevenbergen_thorne"`` (4-neighbour central differences, as Earth Engine).

    Returns:
        ``(dz_dx, dz_dy)``: float32 ``(rows, cols)`` arrays of the elevation change per
        metre towards the east and towards the north (dimensionless, m/m). NaN on the
        outer ring and wherever the 3×3 window touches a NaN.

    Raises:
        ValueError: unknown ``method``, a DEM that is not 2-D, or a bad ``cellsize``.
    """
    z = as_dem(dem)
    lx, ly = _check_cellsize(cellsize)
    _check_method(method)
    gx_out = _nan_frame(z.shape)
    gy_out = _nan_frame(z.shape)
    if z.shape[0] >= 3 and z.shape[1] >= 3:
        gx, gy = _gradient_interior(z, lx, ly, method)
        gx_out[1:-1, 1:-1] = gx
        gy_out[1:-1, 1:-1] = gy
    return gx_out, gy_out


def slope(dem: np.ndarray, cellsize: tuple[float, float], method: str = "horn") -> np.ndarray:
    """Slope in degrees (0 = flat, 90 = vertical), float32 of the DEM's shape.

    Same arguments, NaN rules and errors as :func:`gradient`; equals ``gdaldem slope``
    (``-alg ZevenbergenThorne`` for ``method="zevenbergen_thorne"``).
    """
    return _slope_aspect(dem, cellsize, method, want_slope=True, want_aspect=False)[0]


def aspect(dem: np.ndarray, cellsize: tuple[float, float], method: str = "horn") -> np.ndarray:
    """Aspect: the downslope direction in degrees clockwise from north, in ``[0, 360)``.

    0 = the slope faces north, 90 = east, 180 = south, 270 = west (``gdaldem aspect``'s
    convention). Flat cells (zero gradient) get -1 (gdaldem writes nodata there). float32
    of the DEM's shape; same arguments, NaN rules and errors as :func:`gradient`.
    """
    return _slope_aspect(dem, cellsize, method, want_slope=False, want_aspect=True)[1]


def slope_aspect(
    dem: np.ndarray, cellsize: tuple[float, float], method: str = "horn"
) -> tuple[np.ndarray, np.ndarray]:
    """Slope and aspect from one gradient pass: ``(slope_deg, aspect_deg)``.

    Exactly :func:`slope` and :func:`aspect` (same arguments and conventions), computed
    block by block in float32 (float64 for float64 DEMs) on all cores for large DEMs.
    """
    s, a = _slope_aspect(dem, cellsize, method, want_slope=True, want_aspect=True)
    assert s is not None and a is not None
    return s, a


# ------------------------------------------------------------------------ curvature


def curvature(dem: np.ndarray, cellsize: tuple[float, float]) -> np.ndarray:
    """ArcGIS "Curvature" (Zevenbergen & Thorne 1987), float32 of the DEM's shape.

    With the 3×3 window Z1..Z9 row-major (Z5 centre, Z2 north, Z4 west, Z6 east,
    Z8 south), ``D = ((Z4 + Z6)/2 - Z5) / Lx²``, ``E = ((Z2 + Z8)/2 - Z5) / Ly²`` and
    ``curvature = -2 (D + E) · 100``: units of 1/100 z-unit per metre² (ArcGIS's; the
    paper's Table 2 breaks are in them). Positive = upwardly convex (ridges), negative =
    upwardly concave (valleys), 0 = planar. NaN on the outer ring and where the 3×3
    window touches a NaN.

    Raises:
        ValueError: a DEM that is not 2-D, or a bad ``cellsize``.
    """
    z = as_dem(dem)
    lx, ly = _check_cellsize(cellsize)
    out = _nan_frame(z.shape)
    if z.shape[0] < 3 or z.shape[1] < 3:
        return out
    centre = z[1:-1, 1:-1]
    d = z[1:-1, :-2] + z[1:-1, 2:]
    d *= 0.5
    d -= centre
    d *= 1.0 / (lx * lx)
    e = z[:-2, 1:-1] + z[2:, 1:-1]
    e *= 0.5
    e -= centre
    e *= 1.0 / (ly * ly)
    d += e
    d *= -200.0
    _mask_nan_windows(z, d)
    out[1:-1, 1:-1] = d
    return out


def plan_profile_curvature(
    dem: np.ndarray, cellsize: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Plan and profile curvature in 1/m, as SAGA's "Slope, Aspect, Curvature" computes them.

    The partial derivatives come from the 3×3 window by Zevenbergen & Thorne's (1987)
    coefficients (x east, y north; Z1..Z9 row-major, Z5 centre):
    ``p = (Z6 - Z4) / 2Lx``, ``q = (Z2 - Z8) / 2Ly``, ``r = (Z4 - 2 Z5 + Z6) / Lx²``,
    ``t = (Z2 - 2 Z5 + Z8) / Ly²``, ``s = (-Z1 + Z3 + Z7 - Z9) / 4 Lx Ly``; the curvatures
    are the full normal-section forms of Evans (1979) / Young (1978) (Florinsky 2016, as
    SAGA writes them)::

        profile = -(r p² + t q² + 2 s p q) / ((p² + q²) (1 + p² + q²)^1.5)
        plan    = -(t p² + r q² - 2 s p q) / (p² + q²)^1.5

    Profile curvature is the curvature of the surface along the steepest slope (flow
    acceleration), plan curvature the curvature of the contour line through the cell (flow
    convergence). Sign (SAGA's): positive = convex (profile: shoulders, where the slope
    steepens downhill and flow accelerates; plan: spurs and ridges, where flow diverges),
    negative = concave (profile: footslopes, where the slope eases and flow decelerates;
    plan: hollows and valleys, where flow converges). Units 1/m (SAGA's; the ArcGIS-style
    ``curvature`` factor is in 1/100 m). Both are 0 where the gradient is exactly 0
    (undefined there). NaN on the outer ring and where the 3×3 window touches a NaN, as
    for :func:`curvature`.

    Returns:
        ``(plan, profile)``: float32 ``(rows, cols)`` arrays in 1/m.

    Raises:
        ValueError: a DEM that is not 2-D, or a bad ``cellsize``.
    """
    z = as_dem(dem).astype(np.float64)
    lx, ly = _check_cellsize(cellsize)
    plan, profile = _nan_frame(z.shape), _nan_frame(z.shape)
    if z.shape[0] < 3 or z.shape[1] < 3:
        return plan, profile
    c = z[1:-1, 1:-1]
    west, east, north, south = z[1:-1, :-2], z[1:-1, 2:], z[:-2, 1:-1], z[2:, 1:-1]
    p = (east - west) / (2.0 * lx)
    q = (north - south) / (2.0 * ly)
    r = (west - 2.0 * c + east) / (lx * lx)
    t = (north - 2.0 * c + south) / (ly * ly)
    s = (-z[:-2, :-2] + z[:-2, 2:] + z[2:, :-2] - z[2:, 2:]) / (4.0 * lx * ly)
    p2, q2, pq = p * p, q * q, p * q
    g2 = p2 + q2
    with np.errstate(divide="ignore", invalid="ignore"):
        prof = -(r * p2 + t * q2 + 2.0 * s * pq) / (g2 * (1.0 + g2) ** 1.5)
        plan_c = -(t * p2 + r * q2 - 2.0 * s * pq) / g2**1.5
    flat = g2 == 0
    prof[flat] = 0.0
    plan_c[flat] = 0.0
    _mask_nan_windows(z, prof, plan_c)
    plan[1:-1, 1:-1] = plan_c
    profile[1:-1, 1:-1] = prof
    return plan, profile


def terrain_ruggedness_index(dem: np.ndarray) -> np.ndarray:
    """Terrain ruggedness index (Riley, DeGloria & Elliot 1999) in metres.

    ``TRI = sqrt(Σ (z_i - z_0)²)`` over the 8 neighbours ``z_i`` of each cell ``z_0``:
    the square root of the summed squared elevation differences (Riley's definition, not
    gdaldem's mean absolute difference). 0 on a flat, growing with local relief and
    slope (about ``2 · cell size · tan(slope) · sqrt(1.5)`` on a uniform plane). float32
    of the DEM's shape; NaN on the outer ring and where the 3×3 window touches a NaN.

    Raises:
        ValueError: a DEM that is not 2-D.
    """
    z = as_dem(dem).astype(np.float64)
    out = _nan_frame(z.shape)
    rows, cols = z.shape
    if rows < 3 or cols < 3:
        return out
    centre = z[1:-1, 1:-1]
    total = np.zeros(centre.shape)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                diff = z[1 + dy : rows - 1 + dy, 1 + dx : cols - 1 + dx] - centre
                total += diff * diff
    tri = np.sqrt(total)
    _mask_nan_windows(z, tri)
    out[1:-1, 1:-1] = tri
    return out
