"""The embedded demo region: real terrain, simulated everything else, from one seed.

``build_demo_region(out_dir)`` writes a complete, small region (about 28 x 28 km of the
Cumberland Mountains around the Jacksboro fault, Tennessee) that the whole pipeline runs
on offline and whose *true* susceptibility is known, so every model can be scored
against the truth rather than only against a sampled inventory.

What is real and what is simulated
----------------------------------
Real: the DEM. matplotlib ships it as ``jacksboro_fault_dem.npz`` (int16 elevations,
344 x 403 cells of 3 arc-seconds). Row 0 is the north edge; ``xmin``/``xmax`` and the
file's (swapped) ``ymin``/``ymax`` are the outer *edges* of the edge pixels: 403 x dx
equals ``xmax - xmin`` and 344 x dy equals ``36.7329 - 36.4463`` exactly, which a
pixel-centre reading would not give. The file's key ``ymin`` holds the north edge
(36.7329) and ``ymax`` the south edge (36.4463). ``dem.tif`` is that grid, EPSG:4326,
pixel-is-area, upper-left corner (-84.41375, 36.73291667).

Simulated (seeded with ``seed``; the same seed gives the same data):

* rivers: the DEM's own drainage on the 90 m analysis grid: priority-flood pit filling
  (Barnes et al. 2014, with a small epsilon gradient across flats), D8 steepest-descent
  flow directions, flow accumulation, channels where the catchment is at least
  :data:`RIVER_THRESHOLD_KM2`, traced from channel heads downstream as links between
  confluences; attributes Strahler ``order`` and catchment ``area_km2``. Stored in
  EPSG:4326. (Deterministic: the seed plays no part.)
* roads: least-cost paths (Dijkstra on the 8-connected grid graph, cost per metre
  ``1 + (slope / 5°)²``): a ``primary`` road between the lowest cells of the south and
  north edges (it follows the fault valley, as I-75 does in reality), ``secondary`` roads
  to the lowest cells of two more edge stretches, and ``local`` roads from seeded
  village sites (gentle, low ground) to the nearest road. Stored in UTM 16N.
* lithology: seven units in bands striking N55°E (parallel to Pine / Cumberland
  Mountain): alternating Pennsylvanian sandstone and shale-and-coal north-west of the
  ridge, then Mississippian limestone, Devonian shale, Silurian sandstone and shale,
  Ordovician limestone and Cambrian-Ordovician dolomite towards the Powell Valley; widths
  drawn from per-unit ranges, boundaries made wavy by seeded sinusoids, the western block
  offset 12 km across the Jacksboro fault (a tear fault) so the high ground west of it
  lies in Pennsylvanian rocks. Polygons in UTM 16N that tile the AOI exactly.
* land cover (ESA WorldCover codes, 30 m, EPSG:5070): rules on elevation, slope,
  distances to rivers, roads and villages and seeded smooth noise (see
  :func:`_land_cover_rules`).
* red and NIR surface reflectance (30 m, EPSG:5070): per-class NDVI and red levels plus
  smooth seeded noise, quantised to 1/1024 (see :func:`simulate_reflectance`).
* the true susceptibility ``truth.tif`` on the analysis grid and the landslide inventory
  drawn from it (below).

True susceptibility
-------------------
On the analysis grid (UTM 16N, 90 m), from the factors *as the pipeline computes them
from the written files* (slope S in degrees, Horn; ArcGIS curvature C; distances d_r,
d_t in metres to the nearest river / road; NDVI N from ``red.tif`` and ``nir.tif``;
lithology weight W_lith of the unit)::

    z = -5.4
        + 3.0 * exp(-((S - 24) / 10)^2)            steep, not cliff-like, slopes
        + 1.2 * tanh(-C / 0.6)                      concave (C < 0) hollows
        + 1.6 * exp(-d_r / 300)                     river undercutting
        + 1.0 * exp(-d_t / 200)                     road cuts
        + W_lith                                    weak rocks
        + 2.5 * (0.55 - N)                          sparse vegetation
    p = 1 / (1 + exp(-z))

with W_lith: Pennsylvanian shale and coal +1.2, Devonian shale +1.4, Silurian sandstone
and shale +0.4, Mississippian limestone -0.2, Ordovician limestone -0.4,
Pennsylvanian sandstone -0.6, Cambrian-Ordovician dolomite -0.8 (see :data:`UNITS`).
``truth.tif`` holds p rounded to a multiple of 1/65536 (float32, NaN outside the AOI).

Inventory: :data:`N_LANDSLIDES` source pixels drawn by weighted sampling without
replacement with weights p (inside the AOI shrunk by 300 m, at least 4 pixels apart),
each drawn as an ellipse centred on its pixel, long axis along the local downslope
aspect: ``slide`` (70 %) 90-225 m long, width 0.4-0.7 of the length; ``flow`` (30 %)
180-360 m long, width 0.2-0.35. ``year`` is uniform in 1995-2022.

Regenerate: ``python -m lsgh_ee.demo_region assets/demo``.
"""

from __future__ import annotations

import heapq
import math
import sys
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from matplotlib import cbook
from pyproj import CRS, Transformer
from rasterio.features import geometry_mask, rasterize
from rasterio.warp import transform_bounds
from scipy import ndimage, sparse
from scipy.sparse.csgraph import dijkstra
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from lsgh_ee.atomic import atomic_path, write_text
from lsgh_ee.config import load_config
from lsgh_ee.factors import terrain
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_onto_grid, write_geotiff

__all__ = ["BBOX", "N_LANDSLIDES", "SEED", "TRUTH", "UNITS", "build_demo_region", "d8_drainage"]

#: Default seed (the paper's year and issue).
SEED = 20221
#: AOI (west, south, east, north), a little inside the DEM (-84.41375 .. -84.07792 E,
#: 36.44625 .. 36.73292 N) so the UTM grid that encloses it is still fully covered.
BBOX = (-84.395, 36.465, -84.095, 36.715)
RESOLUTION = 90.0
#: Channel initiation threshold (km² of catchment on the analysis grid).
RIVER_THRESHOLD_KM2 = 2.0
N_LANDSLIDES = 320
LANDCOVER_CRS = "EPSG:5070"  # NAD83 / Conus Albers
LANDCOVER_RESOLUTION = 30.0
#: Reflectances are multiples of this (about 0.001; coarse so the files stay small).
REFLECTANCE_STEP = 1.0 / 1024.0
#: truth.tif values are multiples of this (keeps the file small; far below any model error).
TRUTH_STEP = 1.0 / 65536.0

#: Truth coefficients (see the module docstring).
TRUTH = {
    "b0": -5.4,
    "slope": 3.0,
    "slope_peak_deg": 24.0,
    "slope_width_deg": 10.0,
    "curvature": 1.2,
    "curvature_scale": 0.6,
    "river": 1.6,
    "river_scale_m": 300.0,
    "road": 1.0,
    "road_scale_m": 200.0,
    "ndvi": 2.5,
    "ndvi_ref": 0.55,
}

#: Lithological units: name → truth weight W_lith.
UNITS = {
    "Pennsylvanian shale and coal": 1.2,
    "Pennsylvanian sandstone": -0.6,
    "Mississippian limestone": -0.2,
    "Devonian shale": 1.4,
    "Silurian sandstone and shale": 0.4,
    "Ordovician limestone": -0.4,
    "Cambrian-Ordovician dolomite": -0.8,
}

#: Units below the Pennsylvanian, north-west to south-east, from the contact on the
#: ridge's south-east foot: (unit, min width km, max width km); the last one reaches to
#: the far south-east.
_LOWER_SEQUENCE = [
    ("Mississippian limestone", 0.8, 1.5),
    ("Devonian shale", 0.4, 0.8),
    ("Silurian sandstone and shale", 0.8, 1.5),
    ("Ordovician limestone", 2.0, 4.0),
    ("Cambrian-Ordovician dolomite", 3.0, 5.0),
    ("Ordovician limestone", 2.0, 3.0),
    ("Cambrian-Ordovician dolomite", 0.0, 0.0),
]
#: Pennsylvanian beds north-west of the contact, alternating outwards from the
#: ridge-capping sandstone until they cover the frame: (unit, min width km, max width km).
_PENNSYLVANIAN = [
    ("Pennsylvanian sandstone", 0.8, 2.0),
    ("Pennsylvanian shale and coal", 1.5, 3.5),
]
#: Crest line of the SW-NE ridge (Pine / Cumberland Mountain front), lon/lat: sets the
#: strike and anchors the Pennsylvanian sandstone / Mississippian contact 0.5 km SE of it.
_RIDGE = ((-84.238, 36.613), (-84.089, 36.691))
#: Trace of the Jacksboro fault (the straight NNW-SSE valley), lon/lat.
_FAULT = ((-84.300, 36.720), (-84.162, 36.474))
_FAULT_OFFSET_KM = 12.0

#: WorldCover code → (name, NDVI mean, red reflectance mean), and the display colours.
LAND_COVER = {
    10: ("tree cover", 0.72, 0.030),
    20: ("shrubland", 0.60, 0.045),
    30: ("grassland", 0.50, 0.060),
    40: ("cropland", 0.40, 0.080),
    50: ("built-up", 0.15, 0.120),
    60: ("bare", 0.08, 0.180),
    80: ("water", -0.30, 0.040),
    90: ("wetland", 0.45, 0.050),
}
_LAND_COVER_COLOURS = {
    10: (0, 100, 0, 255),
    20: (255, 187, 34, 255),
    30: (255, 255, 76, 255),
    40: (240, 150, 255, 255),
    50: (250, 0, 0, 255),
    60: (180, 180, 180, 255),
    80: (0, 100, 200, 255),
    90: (0, 150, 160, 255),
}

_REGION_YAML = """\
# The embedded demo region (Jacksboro fault, Cumberland Mountains, Tennessee).
# Generated by `python -m lsgh_ee.demo_region assets/demo` (seed {seed}); see README.md.
name: jacksboro-demo
aoi:
  bbox: [{w}, {s}, {e}, {n}]
crs: auto
resolution: {res:g}
inventory:
  path: landslides.gpkg
  date_attribute: year
dem:
  path: dem.tif
terrain:
  method: horn
  tpi_radius: 450
  relief_radius: 450
factors:
  slope: {{}}
  aspect: {{}}
  curvature: {{}}
  slope_position: {{}}
  ndvi: {{red: red.tif, nir: nir.tif}}
  land_use:
    path: landcover.tif
    remap: {{10: woodland, 20: shrubland, 30: grassland, 40: arable, 50: impervious, \
60: barren, 80: water, 90: wetland}}
  distance_to_roads: {{path: roads.gpkg}}
  distance_to_rivers: {{path: rivers.gpkg}}
  lithology: {{path: geology.gpkg, attribute: unit}}
heatmap:
  diameter: 13
output:
  dir: runs/jacksboro-demo
evaluation:
  truth: truth.tif  # the simulated true susceptibility: models are also scored against it
"""

# D8 neighbour offsets (row, col) and step lengths in cells.
_OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
_STEPS = np.array([math.hypot(dr, dc) for dr, dc in _OFFSETS])


# --- entry point ---------------------------------------------------------------------------


def build_demo_region(out_dir: Path, seed: int = SEED) -> Path:
    """Write the demo region into ``out_dir`` and return the path of its ``region.yaml``.

    Files: ``dem.tif`` (real), ``rivers.gpkg``, ``roads.gpkg``, ``geology.gpkg``,
    ``landcover.tif``, ``red.tif``, ``nir.tif``, ``truth.tif``, ``landslides.gpkg`` and
    ``region.yaml``. The same ``seed`` always gives the same data.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dem_path = write_dem(out / "dem.tif")
    grid = Grid.from_lonlat_bbox(BBOX, "auto", RESOLUTION)
    dem = read_onto_grid(dem_path, grid).astype("float64")
    aoi = aoi_outline(grid)

    # Rivers from the DEM's drainage.
    drainage = d8_drainage(dem)
    rivers = trace_rivers(drainage, grid)
    _write_vector(rivers.to_crs("EPSG:4326"), out / "rivers.gpkg", "rivers")

    # Roads and villages.
    slope90 = _fill_nan_nearest(terrain.slope(dem, (grid.resolution,) * 2))
    roads, villages = simulate_roads(dem, slope90, grid, _rng(seed, "roads"))
    _write_vector(roads, out / "roads.gpkg", "roads")

    # Lithology.
    geology = simulate_lithology(grid, _rng(seed, "lithology"))
    _write_vector(geology, out / "geology.gpkg", "geology")

    # Land cover and reflectances on a 30 m Albers grid.
    lc_grid = _landcover_grid(grid)
    landcover = simulate_land_cover(
        dem_path, lc_grid, rivers, roads, villages, _rng(seed, "landcover")
    )
    write_geotiff(
        out / "landcover.tif",
        landcover,
        lc_grid,
        nodata=0,
        descriptions=["landcover"],
        tags={"source": "simulated (lsgh_ee.demo_region)", "codes": "ESA WorldCover"},
        colormap=_LAND_COVER_COLOURS,
        overviews=False,
    )
    red, nir = simulate_reflectance(landcover, _rng(seed, "reflectance"))
    for name, band in (("red", red), ("nir", nir)):
        write_geotiff(
            out / f"{name}.tif",
            band,
            lc_grid,
            descriptions=[f"{name} surface reflectance"],
            tags={"source": "simulated (lsgh_ee.demo_region)"},
            overviews=False,
        )

    # Truth from the factors as the pipeline will see them, then the inventory.
    factors = truth_factors(out, grid)
    truth = true_susceptibility(factors)
    inside = geometry_mask([aoi], out_shape=grid.shape, transform=grid.transform, invert=True)
    truth = np.round(truth / TRUTH_STEP) * TRUTH_STEP
    truth = np.where(inside, truth, np.nan).astype("float32")
    write_geotiff(
        out / "truth.tif",
        truth,
        grid,
        descriptions=["true susceptibility"],
        tags={"source": "simulated (lsgh_ee.demo_region)", "function": "see README.md"},
        overviews=False,
    )
    aspect90 = terrain.aspect(_padded_dem(dem_path, grid, 1), (grid.resolution,) * 2)[1:-1, 1:-1]
    inventory = simulate_inventory(truth, aspect90, grid, aoi, _rng(seed, "inventory"))
    _write_vector(inventory, out / "landslides.gpkg", "landslides")

    config_path = out / "region.yaml"
    w, s, e, n = BBOX
    write_text(
        config_path,
        _REGION_YAML.format(seed=seed, w=w, s=s, e=e, n=n, res=RESOLUTION),
    )
    load_config(config_path)  # the file must validate
    return config_path


# --- DEM -----------------------------------------------------------------------------------


def dem_source() -> tuple[np.ndarray, Affine]:
    """The real DEM shipped with matplotlib and its (pixel-is-area) transform, row 0 north."""
    npz = cbook.get_sample_data("jacksboro_fault_dem.npz")
    elevation = np.asarray(npz["elevation"], dtype="int16")
    dx, dy = float(npz["dx"]), float(npz["dy"])
    west = float(npz["xmin"])
    north = max(float(npz["ymin"]), float(npz["ymax"]))  # the file swaps ymin / ymax
    return elevation, Affine(dx, 0.0, west, 0.0, -dy, north)


def write_dem(path: Path) -> Path:
    """Write the matplotlib DEM as an int16 EPSG:4326 GeoTIFF (nodata -32768)."""
    elevation, transform = dem_source()
    # A geographic "grid" only to reuse write_geotiff (atomic, tiled, compressed).
    grid = Grid(CRS.from_epsg(4326), transform, *elevation.shape)
    return write_geotiff(
        path,
        elevation,
        grid,
        nodata=-32768,
        descriptions=["elevation"],
        tags={
            "source": "matplotlib sample data jacksboro_fault_dem.npz (3 arc-second DEM)",
            "units": "m",
        },
        overviews=False,
    )


def aoi_outline(grid: Grid) -> shapely.Polygon:
    """The lon/lat AOI box as a (densified) polygon in the grid CRS."""
    lonlat = gpd.GeoSeries([box(*BBOX)], crs="EPSG:4326").segmentize(0.01)
    return lonlat.to_crs(grid.crs).iloc[0]


def _padded_dem(dem_path: Path, grid: Grid, pad: int) -> np.ndarray:
    padded = grid.padded(pad)
    needed = 0.999 * grid.height * grid.width / (padded.height * padded.width)
    return read_onto_grid(dem_path, padded, min_coverage=needed).astype("float64")


# --- drainage and rivers -------------------------------------------------------------------


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


# --- roads ---------------------------------------------------------------------------------


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


def _fill_nan_nearest(values: np.ndarray) -> np.ndarray:
    nan = np.isnan(values)
    if not nan.any():
        return values.astype("float64")
    idx = ndimage.distance_transform_edt(nan, return_distances=False, return_indices=True)
    return values[tuple(idx)].astype("float64")


# --- lithology -----------------------------------------------------------------------------


def simulate_lithology(grid: Grid, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Wavy SW-NE bands of :data:`UNITS`, offset across the Jacksboro fault (grid CRS)."""
    to_utm = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    ridge = np.array([to_utm.transform(*p) for p in _RIDGE])
    fault = np.array([to_utm.transform(*p) for p in _FAULT])
    strike = (ridge[1] - ridge[0]) / np.linalg.norm(ridge[1] - ridge[0])
    dip = np.array([strike[1], -strike[0]])  # strike turned 90° clockwise: towards SE
    anchor = ridge.mean(axis=0)

    frame_box = box(*grid.bounds).buffer(2000.0, join_style="mitre")

    # Units and boundary positions (metres along the dip direction from the ridge crest),
    # north-west to south-east.
    contact = 0.5e3  # Pennsylvanian sandstone / Mississippian limestone, SE of the crest
    corners = np.array(frame_box.exterior.coords) - anchor
    reach = contact + _FAULT_OFFSET_KM * 1e3 - float((corners @ dip).min()) + 1e3
    penn_units: list[str] = []
    penn_widths: list[float] = []
    while sum(penn_widths) < reach:
        unit, lo, hi = _PENNSYLVANIAN[len(penn_units) % 2]
        penn_units.append(unit)
        penn_widths.append(rng.uniform(lo, hi) * 1000.0)
    lower_widths = [rng.uniform(lo, hi) * 1000.0 for _, lo, hi in _LOWER_SEQUENCE[:-1]]
    units = penn_units[::-1] + [unit for unit, _, _ in _LOWER_SEQUENCE]
    bounds = np.concatenate(
        [
            (contact - np.cumsum(penn_widths[:-1]))[::-1],
            [contact],
            contact + np.cumsum(lower_widths),
        ]
    )
    # Shared waviness plus a small per-boundary wobble (< 1/3 of the thinnest band).
    s = np.arange(-60e3, 60e3 + 1, 200.0)
    common = sum(
        amp * np.sin(2 * np.pi * s / wl + ph)
        for amp, wl, ph in zip(
            rng.uniform(150, 350, 3),
            rng.uniform(4e3, 15e3, 3),
            rng.uniform(0, 2 * np.pi, 3),
            strict=True,
        )
    )
    curves = [
        common + rng.uniform(30, 100) * np.sin(2 * np.pi * s / rng.uniform(2e3, 6e3) + ph)
        for ph in rng.uniform(0, 2 * np.pi, len(bounds))
    ]

    # Noded linework (frame, fault, each block's contacts) polygonised into faces: the
    # faces tile the frame exactly, with shared edges, so there are no gaps or overlaps.
    direction = (fault[1] - fault[0]) / np.linalg.norm(fault[1] - fault[0])
    west_normal = np.array([direction[1], -direction[0]])
    if np.dot(west_normal, [-1.0, 0.0]) < 0:
        west_normal = -west_normal
    a, b = fault[0] - 1e5 * direction, fault[1] + 1e5 * direction
    west_half = Polygon([a, b, b + 2e5 * west_normal, a + 2e5 * west_normal])
    west_block = frame_box.intersection(west_half)
    east_block = frame_box.difference(west_half)
    offsets = {"west": _FAULT_OFFSET_KM * 1e3, "east": 0.0}
    lines = [frame_box.boundary, LineString([a, b]).intersection(frame_box)]
    for block, offset in ((west_block, offsets["west"]), (east_block, offsets["east"])):
        for position, curve in zip(bounds, curves, strict=True):
            u = position + offset + curve
            contact = LineString(anchor + np.outer(s, strike) + np.outer(u, dip))
            lines.append(contact.intersection(block))
    faces = shapely.polygonize(shapely.get_parts(shapely.union_all(lines))).geoms

    records = []
    for face in faces:
        if face.area <= 1.0 or not frame_box.contains(face.point_on_surface()):
            continue
        p = np.array(face.point_on_surface().coords[0]) - anchor
        offset = offsets["west" if west_half.contains(face.point_on_surface()) else "east"]
        u_here = [
            position + offset + np.interp(p @ strike, s, curve)
            for position, curve in zip(bounds, curves, strict=True)
        ]
        band = int(np.searchsorted(u_here, p @ dip))
        records.append({"unit": units[band], "geometry": face})
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=grid.crs)
    frame = frame.reset_index(drop=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    return frame


# --- land cover and reflectance ------------------------------------------------------------


def _landcover_grid(grid: Grid) -> Grid:
    """30 m CONUS Albers grid covering the analysis grid with a 300 m margin."""
    left, bottom, right, top = transform_bounds(
        grid.crs, LANDCOVER_CRS, *grid.bounds, densify_pts=21
    )
    margin = 300.0
    return Grid.from_bounds(
        (left - margin, bottom - margin, right + margin, top + margin),
        CRS.from_user_input(LANDCOVER_CRS),
        LANDCOVER_RESOLUTION,
    )


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to zero mean and unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (field - field.mean()) / field.std()


def _distance_to(frame: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """Metres from each cell of ``grid`` to the nearest feature (burnt all-touched)."""
    frame = frame.to_crs(grid.crs)
    mask = rasterize(
        [(g, 1) for g in frame.geometry],
        out_shape=grid.shape,
        transform=grid.transform,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)
    if not mask.any():
        return np.full(grid.shape, np.inf)
    return ndimage.distance_transform_edt(~mask, sampling=(grid.resolution, grid.resolution))


def simulate_land_cover(
    dem_path: Path,
    lc_grid: Grid,
    rivers: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> np.ndarray:
    """WorldCover codes (uint8, 0 = nodata) on ``lc_grid``: see :func:`_land_cover_rules`."""
    elevation = read_onto_grid(dem_path, lc_grid, min_coverage=0.5).astype("float64")
    valid = ~np.isnan(elevation)
    slope = terrain.slope(elevation, (lc_grid.resolution,) * 2)
    slope = np.where(valid, _fill_nan_nearest(slope), np.nan)
    top_order = int(rivers["order"].max())
    layers = {
        "elevation": elevation,
        "slope": slope,
        "d_river": _distance_to(rivers, lc_grid),
        "d_big_river": _distance_to(rivers[rivers["order"] >= top_order], lc_grid),
        "d_road": _distance_to(roads, lc_grid),
        "d_village": _distance_to(villages, lc_grid),
        "n1": _smooth_noise(rng, lc_grid.shape, 600.0 / lc_grid.resolution),
        "n2": _smooth_noise(rng, lc_grid.shape, 250.0 / lc_grid.resolution),
        "n3": _smooth_noise(rng, lc_grid.shape, 120.0 / lc_grid.resolution),
    }
    with np.errstate(invalid="ignore"):
        codes = _land_cover_rules(**layers)
    codes[~valid] = 0
    return codes


def _land_cover_rules(
    elevation: np.ndarray,
    slope: np.ndarray,
    d_river: np.ndarray,
    d_big_river: np.ndarray,
    d_road: np.ndarray,
    d_village: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    n3: np.ndarray,
) -> np.ndarray:
    """The land-cover rules; later rules overwrite earlier ones.

    Tree cover everywhere, then: grassland (pasture) on slopes < 14° where the broad noise
    n1 > 0.4; cropland on slopes < 7° below 420 m, or < 5° within 300 m of a river, where
    n1 > -0.3; shrubland (regrowth) on slopes < 25° where n2 > 1.2; bare ground on
    surface-mine patches (above 550 m, slope < 20°, n2 > 2.0) and on slopes > 38°; wetland
    on flat (< 3°) river margins (< 60 m) where n3 > 0; built-up within 45 m of a road on
    slopes < 12° where n3 > 0.3, and within 500 + 250·n3 m of a village on slopes < 15°;
    water within 25 m of the rivers of the highest Strahler order.
    """
    codes = np.full(elevation.shape, 10, dtype="uint8")
    codes[(slope < 14) & (n1 > 0.4)] = 30
    valley_floor = (slope < 7) & (elevation < 420) | (slope < 5) & (d_river < 300)
    codes[valley_floor & (n1 > -0.3)] = 40
    codes[(slope < 25) & (n2 > 1.2)] = 20
    codes[(elevation > 550) & (slope < 20) & (n2 > 2.0)] = 60
    codes[slope > 38] = 60
    codes[(d_river < 60) & (slope < 3) & (n3 > 0.0)] = 90
    codes[(d_road < 45) & (slope < 12) & (n3 > 0.3)] = 50
    codes[(d_village < 500 + 250 * n3) & (slope < 15)] = 50
    codes[d_big_river < 25] = 80
    return codes


def simulate_reflectance(
    landcover: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Red and NIR reflectance (float32, NaN where land cover is nodata).

    NDVI = class mean + 0.04 · n_a; red = class red mean · (1 + 0.15 · n_b), with n_a, n_b
    independent smooth noises (σ 240 m, unit standard deviation); NIR = red (1 + NDVI) /
    (1 - NDVI); both clipped to [1/1024, 0.8] and rounded to multiples of
    :data:`REFLECTANCE_STEP` (no per-pixel noise: it would triple the file sizes).
    """
    valid = landcover > 0
    ndvi_mean = np.zeros(landcover.shape)
    red_mean = np.zeros(landcover.shape)
    for code, (_, ndvi, red) in LAND_COVER.items():
        ndvi_mean[landcover == code] = ndvi
        red_mean[landcover == code] = red
    ndvi = np.clip(ndvi_mean + 0.04 * _smooth_noise(rng, landcover.shape, 8.0), -0.9, 0.95)
    red = red_mean * (1.0 + 0.15 * _smooth_noise(rng, landcover.shape, 8.0))
    red = np.clip(red, REFLECTANCE_STEP, 0.8)
    nir = np.clip(red * (1.0 + ndvi) / (1.0 - ndvi), REFLECTANCE_STEP, 0.8)
    out = []
    for band in (red, nir):
        q = np.round(band / REFLECTANCE_STEP) * REFLECTANCE_STEP
        out.append(np.where(valid, q, np.nan).astype("float32"))
    return out[0], out[1]


# --- truth and inventory -------------------------------------------------------------------


def truth_factors(folder: Path, grid: Grid) -> dict[str, np.ndarray]:
    """The truth's inputs on ``grid``, computed from the files written in ``folder`` the way
    the pipeline computes them (Horn slope and ArcGIS curvature of the DEM read onto the
    grid, all-touched rasterised distances, polygon centres for lithology, NDVI of the
    bilinearly resampled bands)."""
    cellsize = (grid.resolution, grid.resolution)
    dem = _padded_dem(folder / "dem.tif", grid, 1)
    inner = (slice(1, -1), slice(1, -1))
    geology = gpd.read_file(folder / "geology.gpkg").to_crs(grid.crs)
    names = list(UNITS)
    codes = rasterize(
        [(g, names.index(u) + 1) for g, u in zip(geology.geometry, geology["unit"], strict=True)],
        out_shape=grid.shape,
        transform=grid.transform,
        dtype="uint8",
    )
    weights = np.array([np.nan, *UNITS.values()])
    red = read_onto_grid(folder / "red.tif", grid).astype("float64")
    nir = read_onto_grid(folder / "nir.tif", grid).astype("float64")
    return {
        "slope": terrain.slope(dem, cellsize, method="horn")[inner].astype("float64"),
        "curvature": terrain.curvature(dem, cellsize)[inner].astype("float64"),
        "d_river": _distance_to(gpd.read_file(folder / "rivers.gpkg"), grid),
        "d_road": _distance_to(gpd.read_file(folder / "roads.gpkg"), grid),
        "lithology": weights[codes],
        "ndvi": (nir - red) / (nir + red),
    }


def true_susceptibility(factors: dict[str, np.ndarray]) -> np.ndarray:
    """p = sigmoid(z) of the module docstring (float64, NaN where a factor is NaN)."""
    t = TRUTH
    z = (
        t["b0"]
        + t["slope"]
        * np.exp(-(((factors["slope"] - t["slope_peak_deg"]) / t["slope_width_deg"]) ** 2))
        + t["curvature"] * np.tanh(-factors["curvature"] / t["curvature_scale"])
        + t["river"] * np.exp(-factors["d_river"] / t["river_scale_m"])
        + t["road"] * np.exp(-factors["d_road"] / t["road_scale_m"])
        + factors["lithology"]
        + t["ndvi"] * (t["ndvi_ref"] - factors["ndvi"])
    )
    return 1.0 / (1.0 + np.exp(-z))


def simulate_inventory(
    truth: np.ndarray,
    aspect: np.ndarray,
    grid: Grid,
    aoi: shapely.Polygon,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """:data:`N_LANDSLIDES` elliptical landslides whose source pixels are drawn with
    probability proportional to ``truth`` (see the module docstring)."""
    inner = geometry_mask(
        [aoi.buffer(-300.0)], out_shape=grid.shape, transform=grid.transform, invert=True
    )
    candidates = inner & np.isfinite(truth) & (truth > 0)
    weights = np.where(candidates, truth, 0.0).ravel()
    # Weighted sampling without replacement (Efraimidis-Spirakis / Gumbel top-k), skipping
    # pixels closer than 4 pixels to one already taken.
    keys = np.full(weights.size, -np.inf)
    ok = weights > 0
    keys[ok] = np.log(weights[ok]) + rng.gumbel(size=int(ok.sum()))
    spacing = 4
    yy, xx = np.mgrid[-spacing : spacing + 1, -spacing : spacing + 1]
    disk = yy**2 + xx**2 < spacing**2
    taken = np.zeros((grid.height + 2 * spacing, grid.width + 2 * spacing), dtype=bool)
    chosen: list[tuple[int, int]] = []
    for idx in np.argsort(-keys, kind="stable")[: int(ok.sum())]:
        r, c = divmod(int(idx), grid.width)
        if taken[r + spacing, c + spacing]:
            continue
        chosen.append((r, c))
        taken[r : r + 2 * spacing + 1, c : c + 2 * spacing + 1] |= disk
        if len(chosen) == N_LANDSLIDES:
            break
    rows, cols = np.array(chosen).T
    x, y = grid.xy(rows, cols)
    n = len(chosen)
    kind = np.where(rng.random(n) < 0.3, "flow", "slide")
    length = (
        np.where(kind == "flow", rng.uniform(2.0, 4.0, n), rng.uniform(1.0, 2.5, n))
        * grid.resolution
    )
    ratio = np.where(kind == "flow", rng.uniform(0.2, 0.35, n), rng.uniform(0.4, 0.7, n))
    jitter = rng.uniform(-20.0, 20.0, (n, 2))
    random_azimuth = rng.uniform(0.0, 360.0, n)
    azimuth = aspect[rows, cols].astype("float64")
    azimuth = np.where(np.isfinite(azimuth) & (azimuth >= 0), azimuth, random_azimuth)
    years = rng.integers(1995, 2023, n)
    geoms = []
    for i in range(n):
        ellipse = affinity.scale(
            Point(0.0, 0.0).buffer(1.0, quad_segs=4),
            length[i] / 2.0,
            max(length[i] * ratio[i], 30.0) / 2.0,
        )
        # The ellipse's long axis is x (east); turn it to the downslope azimuth.
        ellipse = affinity.rotate(ellipse, 90.0 - azimuth[i], origin=(0.0, 0.0))
        ellipse = affinity.translate(ellipse, x[i] + jitter[i, 0], y[i] + jitter[i, 1])
        geoms.append(shapely.set_precision(ellipse, 0.01))
    return gpd.GeoDataFrame(
        {"id": np.arange(1, n + 1), "year": years.astype("int32"), "type": kind},
        geometry=geoms,
        crs=grid.crs,
    )


# --- helpers -------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per component, so changing one leaves the others alone."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def _write_vector(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    with atomic_path(path) as tmp:
        frame.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", SPATIAL_INDEX="NO")


def main(argv: list[str] | None = None) -> int:
    """``python -m lsgh_ee.demo_region OUT_DIR [--seed N]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    seed = SEED
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 1:
        print("usage: python -m lsgh_ee.demo_region OUT_DIR [--seed N]", file=sys.stderr)
        return 2
    path = build_demo_region(Path(args[0]), seed=seed)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
