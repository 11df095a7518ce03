"""Roads: least-cost paths (Dijkstra on the 8-connected grid graph, cost per metre
``1 + (slope / 5°)²``): a ``primary`` road between the lowest cells of the south and north
edges (it follows the fault valley, as I-75 does in reality), ``secondary`` roads to the
lowest cells of two more edge stretches, and ``local`` roads from seeded village sites
(gentle, low ground) to the nearest road.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString

from lsgh_ee.grid import Grid


def simulate_roads(
    dem: np.ndarray, slope_deg: np.ndarray, grid: Grid, rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Least-cost roads and the village sites they serve (both in the grid CRS)."""
    rows, cols = dem.shape
    cost = 1.0 + (slope_deg / 5.0) ** 2
    graph = _grid_graph(cost, grid.resolution)

    def lowest(side: str, lo: float = 0.0, hi: float = 1.0) -> int:
        n = cols if side in ("north", "south") else rows
        a, b = int(lo * n), max(int(hi * n), int(lo * n) + 1)
        line = {
            "north": dem[0, a:b],
            "south": dem[-1, a:b],
            "west": dem[a:b, 0],
            "east": dem[a:b, -1],
        }[side]
        k = a + int(np.nanargmin(line))
        r, c = {"north": (0, k), "south": (rows - 1, k), "west": (k, 0), "east": (k, cols - 1)}[
            side
        ]
        return r * cols + c

    records = []
    network = np.zeros(dem.size, dtype=bool)

    def connect(target: int, kind: str, sources: list[int] | None = None) -> None:
        starts = sources if sources is not None else list(np.flatnonzero(network))
        _, pred, _ = dijkstra(graph, indices=starts, min_only=True, return_predecessors=True)
        path = [target]
        while pred[path[-1]] >= 0:
            path.append(int(pred[path[-1]]))
        network[path] = True
        r, c = np.divmod(np.array(path[::-1]), cols)
        x, y = grid.xy(r, c)
        records.append({"kind": kind, "geometry": LineString(np.column_stack([x, y]))})

    south, north = lowest("south"), lowest("north")
    network[south] = True
    connect(north, "primary", [south])
    connect(lowest("west", 0.2, 0.8), "secondary")
    connect(lowest("east", 0.1, 0.4), "secondary")

    # Villages: gentle, low ground away from each other and from the roads so far.
    weight = np.exp(-slope_deg / 3.0) * np.exp(-(dem - np.nanmin(dem)) / 150.0)
    weight[:5, :] = weight[-5:, :] = weight[:, :5] = weight[:, -5:] = 0.0
    keys = np.log(weight.ravel() + 1e-300) + rng.gumbel(size=dem.size)
    road_rc = np.column_stack(np.divmod(np.flatnonzero(network), cols))
    villages: list[tuple[int, int]] = []
    for idx in np.argsort(-keys, kind="stable"):
        r, c = divmod(int(idx), cols)
        spread = [(r, c), *villages]
        if min(math.hypot(r - vr, c - vc) for vr, vc in spread[1:] or [(-1e9, -1e9)]) < 45:
            continue
        if np.min(np.hypot(road_rc[:, 0] - r, road_rc[:, 1] - c)) < 15:
            continue
        villages.append((r, c))
        if len(villages) == 6:
            break
    for r, c in villages:
        connect(r * cols + c, "local")
    vr, vc = np.array(villages).T
    vx, vy = grid.xy(vr, vc)
    village_frame = gpd.GeoDataFrame(
        {"name": [f"village {i + 1}" for i in range(len(villages))]},
        geometry=gpd.points_from_xy(vx, vy),
        crs=grid.crs,
    )
    roads = gpd.GeoDataFrame(records, geometry="geometry", crs=grid.crs)
    roads["geometry"] = roads.geometry.simplify(0.0)
    roads.insert(0, "id", np.arange(1, len(roads) + 1))
    return roads, village_frame


def _grid_graph(cost: np.ndarray, resolution: float) -> sparse.csr_matrix:
    """8-connected graph; edge weight = step length x mean cost of its two cells."""
    rows, cols = cost.shape
    index = np.arange(cost.size).reshape(cost.shape)
    heads, tails, weights = [], [], []
    for dr, dc in [(0, 1), (1, -1), (1, 0), (1, 1)]:
        r0, r1 = 0, rows - dr
        c0, c1 = max(0, -dc), cols - max(0, dc)
        a = index[r0:r1, c0:c1].ravel()
        b = index[r0 + dr : r1 + dr, c0 + dc : c1 + dc].ravel()
        w = math.hypot(dr, dc) * resolution * 0.5 * (cost.flat[a] + cost.flat[b])
        heads += [a, b]
        tails += [b, a]
        weights += [w, w]
    return sparse.csr_matrix(
        (np.concatenate(weights), (np.concatenate(heads), np.concatenate(tails))),
        shape=(cost.size, cost.size),
    )
