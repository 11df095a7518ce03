"""Rivers from the real DEM's own drainage on the 90 m analysis grid: priority-flood pit
filling (Barnes et al. 2014, with a small epsilon gradient across flats), D8
steepest-descent flow directions, flow accumulation, channels where the catchment is at
least :data:`RIVER_THRESHOLD_KM2`, traced from channel heads downstream as links between
confluences; attributes Strahler ``order`` and catchment ``area_km2``. Deterministic: the
seed plays no part.
"""

from __future__ import annotations

import heapq
import math

import geopandas as gpd
import numpy as np
from shapely.geometry import LineString

from lsgh_ee.grid import Grid

#: Channel initiation threshold (km² of catchment on the analysis grid).
RIVER_THRESHOLD_KM2 = 2.0

# D8 neighbour offsets (row, col) and step lengths in cells.
_OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
_STEPS = np.array([math.hypot(dr, dc) for dr, dc in _OFFSETS])


def d8_drainage(dem: np.ndarray, epsilon: float = 1e-3) -> dict[str, np.ndarray]:
    """Pit-filled DEM, D8 receivers and flow accumulation.

    Priority-flood (Barnes et al. 2014) from every edge cell raises each pit to its spill
    level plus ``epsilon`` per cell, so every inland cell has a strictly lower neighbour;
    each cell then drains to its steepest-descent neighbour (drop / distance), edge cells
    with no lower neighbour drain off the grid.

    Args:
        dem: float elevations (NaN = nodata, treated as an outlet).

    Returns:
        ``filled`` (float64), ``receiver`` (int64 flat index, -1 = off-grid) and
        ``accumulation`` (cells draining through each cell, itself included).
    """
    rows, cols = dem.shape
    z = np.where(np.isnan(dem), -np.inf, dem).astype("float64")
    filled = z.copy()
    closed = np.zeros(dem.shape, dtype=bool)
    heap: list[tuple[float, int]] = []
    edge = np.zeros(dem.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    edge |= np.isnan(dem)
    for idx in np.flatnonzero(edge):
        heap.append((filled.flat[idx], int(idx)))
        closed.flat[idx] = True
    heapq.heapify(heap)
    flat_closed = closed.ravel()
    flat_filled = filled.ravel()
    while heap:
        level, idx = heapq.heappop(heap)
        r, c = divmod(idx, cols)
        for dr, dc in _OFFSETS:
            rr, cc = r + dr, c + dc
            if 0 <= rr < rows and 0 <= cc < cols:
                n = rr * cols + cc
                if not flat_closed[n]:
                    flat_closed[n] = True
                    if flat_filled[n] <= level:
                        flat_filled[n] = level + epsilon
                    heapq.heappush(heap, (flat_filled[n], n))

    padded = np.pad(filled, 1, constant_values=np.inf)
    drops = np.stack(
        [
            (filled - padded[1 + dr : 1 + dr + rows, 1 + dc : 1 + dc + cols]) / step
            for (dr, dc), step in zip(_OFFSETS, _STEPS, strict=True)
        ]
    )
    best = drops.argmax(axis=0)
    best_drop = np.take_along_axis(drops, best[np.newaxis], axis=0)[0]
    rr, cc = np.indices(dem.shape)
    off = np.array(_OFFSETS)
    receiver = (rr + off[best, 0]) * cols + (cc + off[best, 1])
    receiver = np.where(best_drop > 0, receiver, -1).astype("int64")
    receiver[np.isnan(dem)] = -1

    accumulation = np.ones(dem.size, dtype="float64")
    flat_receiver = receiver.ravel()
    for idx in np.argsort(-filled, axis=None, kind="stable"):
        target = flat_receiver[idx]
        if target >= 0:
            accumulation[target] += accumulation[idx]
    return {
        "filled": filled,
        "receiver": receiver,
        "accumulation": accumulation.reshape(dem.shape),
    }


def trace_rivers(drainage: dict[str, np.ndarray], grid: Grid) -> gpd.GeoDataFrame:
    """River links (LineStrings, grid CRS) from channel heads and confluences downstream.

    Channels are the cells whose catchment reaches :data:`RIVER_THRESHOLD_KM2`. Each link
    runs from a head or a confluence to the next confluence (included, so links connect)
    or the grid edge. Attributes: Strahler ``order`` and ``area_km2`` at the link's end.
    """
    acc = drainage["accumulation"].ravel()
    receiver = drainage["receiver"].ravel()
    cell_km2 = grid.resolution**2 / 1e6
    channel = acc * cell_km2 >= RIVER_THRESHOLD_KM2
    ids = np.flatnonzero(channel)
    inflow = np.zeros(acc.size, dtype="int64")
    targets = receiver[ids]
    np.add.at(inflow, targets[targets >= 0], 1)

    # Strahler order, upstream cells first.
    order = np.zeros(acc.size, dtype="int64")
    max_in = np.zeros(acc.size, dtype="int64")
    n_max = np.zeros(acc.size, dtype="int64")
    for idx in ids[np.argsort(acc[ids], kind="stable")]:
        if max_in[idx] == 0:
            order[idx] = 1
        else:
            order[idx] = max_in[idx] + (1 if n_max[idx] >= 2 else 0)
        target = receiver[idx]
        if target >= 0:
            if order[idx] > max_in[target]:
                max_in[target], n_max[target] = order[idx], 1
            elif order[idx] == max_in[target]:
                n_max[target] += 1

    records = []
    for start in ids[inflow[ids] != 1]:
        path = [int(start)]
        last = cur = int(start)  # the link's own last cell (a closing confluence is not)
        while True:
            nxt = int(receiver[cur])
            if nxt < 0:
                break
            path.append(nxt)
            if inflow[nxt] != 1:
                break
            last = cur = nxt
        if len(path) < 2:
            continue
        rows, cols = np.divmod(np.array(path), grid.width)
        x, y = grid.xy(rows, cols)
        records.append(
            {
                "order": int(order[start]),
                "area_km2": round(float(acc[last] * cell_km2), 2),
                "geometry": LineString(np.column_stack([x, y])).simplify(0.0),
            }
        )
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=grid.crs)
    return frame.sort_values(["order", "area_km2"], ascending=False, kind="stable").reset_index(
        drop=True
    )
