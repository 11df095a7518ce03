"""DEM hydrology: D8 flow routing, upstream area, TWI, SPI and a drainage network.

The flow routing is pyflwdir's (Deltares, Eilander et al. 2021; MIT licence):
depressions are filled by priority flood (Wang & Liu 2006, ``pyflwdir.dem.fill_depressions``)
and the upstream areas accumulate along pyflwdir's D8 network. The D8 direction of a cell
is the steepest descent on the filled surface (drop / distance, diagonals at √2 cell
sizes: the classic D8 of O'Callaghan & Mark 1984); only where a cell has no lower
neighbour (the flats left by filling) does it follow pyflwdir's priority-flood direction,
which leads across the flat to its outlet. (pyflwdir's own ``from_dem`` uses the
priority-flood direction everywhere: it ignores the √2 of diagonals and breaks ties by
visiting order, so a uniform plane drains in diagonal streaks; hence the steepest descent
here.) Conventions as in
:mod:`lsgh_ee.factors.terrain`: ``dem`` is ``(rows, cols)`` metres, row 0 north, NaN =
nodata; ``cellsize`` is ``(x size, y size)`` in metres; results are float32 with NaN where
the DEM is NaN.

Water leaves the array at its edge and at the edge of nodata holes (pyflwdir's
``outlets="edge"``): an upstream area is only as complete as the DEM around it. A
catchment that crosses the DEM's edge is truncated there, so the local recipe reads the
DEM with a halo (``terrain.hydrology_halo``) around the region; catchments reaching
beyond the halo are still truncated (the error is largest on big rivers entering the
region, where the area is far above any drainage threshold anyway).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import distance_transform_edt

from lsgh_ee.factors.neighbourhood import as_dem

#: Slope (degrees) below which TWI and SPI use this slope instead: ``tan β`` would be 0 on
#: flats (TWI infinite, SPI 0). 0.1° ≈ tan β 0.0017, below any slope a 30 m DEM resolves
#: reliably; a common floor in SAGA / WhiteboxTools workflows.
MIN_SLOPE_DEG = 0.1
#: Default upstream area (km²) from which a cell is part of the drainage network. 0.5 km²
#: is the order of channel-head catchments in steep terrain and close to the density of
#: streams mapped at 1:25,000-1:50,000; set ``terrain.drainage_area`` to follow a map.
DRAINAGE_AREA_KM2 = 0.5

_NODATA = -1.0e30


def _check_cellsize(cellsize: tuple[float, float]) -> tuple[float, float]:
    lx, ly = (float(c) for c in cellsize)
    if not (math.isfinite(lx) and math.isfinite(ly) and lx > 0 and ly > 0):
        raise ValueError(f"cellsize must be two positive sizes in metres, got {cellsize!r}")
    return lx, ly


def upstream_area(dem: np.ndarray, cellsize: tuple[float, float]) -> np.ndarray:
    """Upstream (contributing) area of each cell in m², the cell itself included.

    D8 flow directions on the depression-filled DEM (pyflwdir), then the area of all cells
    draining through each cell: ``n_cells · lx · ly``. A cell with no inflow has the area
    of one cell.

    Args:
        dem: ``(rows, cols)`` elevations in metres, NaN = nodata.
        cellsize: ``(x size, y size)`` in metres.

    Returns:
        float32 ``(rows, cols)`` upstream area in m², NaN where the DEM is NaN.

    Raises:
        ValueError: a DEM that is not 2-D, or a bad ``cellsize``.
    """
    import pyflwdir
    from affine import Affine

    z = as_dem(dem)
    lx, ly = _check_cellsize(cellsize)
    valid = ~np.isnan(z)
    out = np.full(z.shape, np.nan, dtype=np.float32)
    if not valid.any():
        return out
    data = np.where(valid, z, _NODATA).astype(np.float64)
    filled, flood_d8 = pyflwdir.dem.fill_depressions(data, nodata=_NODATA)
    d8 = steepest_descent_d8(np.where(valid, filled, np.nan), (lx, ly), flood_d8)
    flw = pyflwdir.from_array(d8, ftype="d8", check_ftype=False,
                              transform=Affine(lx, 0, 0, 0, -ly, 0))  # fmt: skip
    cells = flw.upstream_area(unit="cell")
    out[valid] = cells[valid] * (lx * ly)
    return out


#: pyflwdir's D8 code for flow towards (row offset + 1, column offset + 1); 0 = pit.
_D8_CODES = np.array([[32, 64, 128], [16, 0, 1], [8, 4, 2]], dtype=np.uint8)
_D8_NODATA = np.uint8(247)


def steepest_descent_d8(
    filled: np.ndarray, cellsize: tuple[float, float], flat_d8: np.ndarray
) -> np.ndarray:
    """D8 directions (pyflwdir's codes) by steepest descent on a depression-filled DEM.

    Each cell drains to the neighbour with the largest ``(z - z_n) / distance`` among
    those strictly lower (ties: the first in row-major neighbour order). Cells with no
    lower neighbour take ``flat_d8`` (the priority-flood direction across a flat) if they
    are inside the valid area, and are pits (outlets, code 0) on the edge of the array or
    of the nodata; NaN cells get pyflwdir's nodata code 247.

    Args:
        filled: ``(rows, cols)`` filled elevations, NaN = nodata.
        cellsize: ``(x size, y size)`` in metres.
        flat_d8: uint8 directions from ``pyflwdir.dem.fill_depressions`` for the flats.
    """
    z = np.asarray(filled, dtype=np.float64)
    lx, ly = _check_cellsize(cellsize)
    rows, cols = z.shape
    padded = np.pad(z, 1, constant_values=np.nan)
    best = np.zeros(z.shape)
    code = np.zeros(z.shape, dtype=np.uint8)
    edge = np.zeros(z.shape, dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if not (dr or dc):
                continue
            neighbour = padded[1 + dr : 1 + dr + rows, 1 + dc : 1 + dc + cols]
            edge |= np.isnan(neighbour)
            with np.errstate(invalid="ignore"):
                drop = (z - neighbour) / math.hypot(dr * ly, dc * lx)
                steeper = drop > best
            best[steeper] = drop[steeper]
            code[steeper] = _D8_CODES[dr + 1, dc + 1]
    flat = code == 0
    interior_flat = flat & ~edge
    code[interior_flat] = np.asarray(flat_d8)[interior_flat]
    code[np.isnan(z)] = _D8_NODATA
    return code


def specific_catchment_area(area_m2: np.ndarray, cellsize: tuple[float, float]) -> np.ndarray:
    """``a = A / w`` in m²/m: upstream area per unit contour width, ``w`` = the cell's
    width (the geometric mean of ``lx`` and ``ly``; D8 sends all flow across one cell)."""
    lx, ly = _check_cellsize(cellsize)
    return (np.asarray(area_m2, dtype=np.float64) / math.sqrt(lx * ly)).astype(np.float32)


def _tan_slope(slope_deg: np.ndarray, min_slope_deg: float) -> np.ndarray:
    if not (0 < min_slope_deg < 90):
        raise ValueError(f"min_slope_deg must be in (0, 90), got {min_slope_deg!r}")
    slope = np.maximum(np.asarray(slope_deg, dtype=np.float64), min_slope_deg)
    return np.tan(np.radians(slope))


def topographic_wetness_index(
    area_m2: np.ndarray,
    slope_deg: np.ndarray,
    cellsize: tuple[float, float],
    min_slope_deg: float = MIN_SLOPE_DEG,
) -> np.ndarray:
    """Topographic wetness index ``ln(a / tan β)`` (Beven & Kirkby 1979), dimensionless
    (``a`` in m²/m, so strictly ln of metres).

    Args:
        area_m2: upstream area (m², from :func:`upstream_area`).
        slope_deg: slope in degrees, same shape; slopes below ``min_slope_deg`` count as
            ``min_slope_deg`` (flats would give an infinite index).
        cellsize: ``(x size, y size)`` in metres (the contour width of ``a``).
        min_slope_deg: the slope floor in degrees.

    Returns:
        float32, NaN where either input is NaN.
    """
    a = specific_catchment_area(area_m2, cellsize).astype(np.float64)
    return np.log(a / _tan_slope(slope_deg, min_slope_deg)).astype(np.float32)


def stream_power_index(
    area_m2: np.ndarray,
    slope_deg: np.ndarray,
    cellsize: tuple[float, float],
    min_slope_deg: float = MIN_SLOPE_DEG,
) -> np.ndarray:
    """Stream power index ``a · tan β`` (Moore et al. 1991) in m²/m (= m), with ``a``,
    the slope floor and NaN rules as :func:`topographic_wetness_index`. Heavy-tailed
    (it grows with the upstream area): classify it by quantiles, not equal intervals."""
    a = specific_catchment_area(area_m2, cellsize).astype(np.float64)
    return (a * _tan_slope(slope_deg, min_slope_deg)).astype(np.float32)


def drainage_network(area_m2: np.ndarray, threshold_km2: float = DRAINAGE_AREA_KM2) -> np.ndarray:
    """Boolean channel mask: cells whose upstream area is at least ``threshold_km2`` km².

    Raises:
        ValueError: a threshold that is not a positive number.
    """
    if not (math.isfinite(threshold_km2) and threshold_km2 > 0):
        raise ValueError(
            f"the drainage threshold must be a positive area in km², got {threshold_km2!r}"
        )
    with np.errstate(invalid="ignore"):
        return np.asarray(area_m2) >= threshold_km2 * 1.0e6


def distance_to_drainage(
    channels: np.ndarray, cellsize: tuple[float, float], valid: np.ndarray | None = None
) -> np.ndarray:
    """Euclidean distance in metres from each cell centre to the nearest channel cell
    centre (0 on the channels), as ``distance_to_rivers`` measures a river layer.

    Args:
        channels: boolean ``(rows, cols)`` channel mask (:func:`drainage_network`).
        cellsize: ``(x size, y size)`` in metres.
        valid: optional boolean mask; NaN where False (the DEM's nodata).

    Returns:
        float32 distances; all NaN (with ``valid``) or +inf where there is no channel at all.
    """
    lx, ly = _check_cellsize(cellsize)
    mask = np.asarray(channels, dtype=bool)
    if not mask.any():
        out = np.full(mask.shape, np.inf, dtype=np.float32)
    else:
        out = distance_transform_edt(~mask, sampling=(ly, lx)).astype(np.float32)
    if valid is not None:
        out[~valid] = np.nan
    return out
