"""Lithology: seven units in bands striking N55°E (parallel to Pine / Cumberland Mountain):
alternating Pennsylvanian sandstone and shale-and-coal north-west of the ridge, then
Mississippian limestone, Devonian shale, Silurian sandstone and shale, Ordovician limestone
and Cambrian-Ordovician dolomite towards the Powell Valley; widths drawn from per-unit
ranges, boundaries made wavy by seeded sinusoids, the western block offset 12 km across the
Jacksboro fault (a tear fault) so the high ground west of it lies in Pennsylvanian rocks.
Polygons in UTM 16N that tile the AOI exactly.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon, box

from lsgh_ee.grid import Grid

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
