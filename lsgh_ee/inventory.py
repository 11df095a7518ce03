"""Reading and checking landslide inventories (polygons or points, any GDAL vector format)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

from lsgh_ee.config import InventoryConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.region import Region
from lsgh_ee.vectors import burn, read_vector, to_grid_crs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InventoryReport:
    """What happened to the features of an inventory file (counts of features)."""

    read: int
    kept: int
    not_landslides: int = 0
    empty_geometries: int = 0
    repaired: int = 0
    unrepairable: int = 0
    outside_aoi: int = 0
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, int | list[str]]:
        out: dict[str, int | list[str]] = {k: v for k, v in self.__dict__.items() if k != "notes"}
        out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True)
class Inventory:
    """Landslides in the grid CRS, checked and clipped to the AOI.

    Attributes:
        landslides: one row per landslide, geometry in the grid CRS.
        kind: ``polygon`` or ``point`` inventory.
        report: counts of what was read, repaired and dropped.
    """

    landslides: gpd.GeoDataFrame
    kind: Literal["polygon", "point"]
    report: InventoryReport

    def __len__(self) -> int:
        return len(self.landslides)

    def centroids(self) -> np.ndarray:
        """``(n, 2)`` array of landslide centres (x, y) in the grid CRS: polygon centroids
        (the paper's 'central point'), or the points themselves."""
        pts = self.landslides.geometry.centroid
        return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])

    def centroid_pixels(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the pixels holding each centre (all inside the grid)."""
        xy = self.centroids()
        rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
        inside = grid.contains(rows, cols)
        return rows[inside], cols[inside]

    def mask(self, grid: Grid, mode: Literal["centroid", "polygon"] = "centroid") -> np.ndarray:
        """Boolean landslide mask on ``grid``: the centre pixels, or every pixel whose centre
        lies in a polygon (plus each landslide's centre pixel, so small polygons count)."""
        out = np.zeros(grid.shape, dtype=bool)
        rows, cols = self.centroid_pixels(grid)
        out[rows, cols] = True
        if mode == "polygon" and self.kind == "polygon":
            out |= burn(self.landslides, grid).astype(bool)
        elif mode not in ("centroid", "polygon"):
            raise ValueError(f"mode must be 'centroid' or 'polygon', got {mode!r}")
        return out

    def years(self, attribute: str) -> np.ndarray:
        """The year of each landslide from a date or year attribute (int array)."""
        values = self.landslides[attribute]
        if np.issubdtype(values.dtype, np.number):
            return values.to_numpy().astype(int)
        return gpd.pd.to_datetime(values, errors="raise").dt.year.to_numpy()


def read_inventory(spec: InventoryConfig, region: Region) -> Inventory:
    """Read, check, repair and clip the landslide inventory of a region.

    Empty and unrepairable geometries are dropped, invalid polygons repaired with
    ``shapely.make_valid``, features whose centre is outside the AOI dropped; each with a
    count in the report and a logged notice.

    Raises:
        LsghError: unreadable file, no CRS, no features, lines instead of points/polygons,
            a missing attribute, or nothing left inside the AOI.
    """
    path = spec.path
    frame = read_vector(path, layer=spec.layer, what="inventory")
    read = len(frame)
    if read == 0:
        raise LsghError(f"inventory {path} has no features; it needs landslide polygons or points")
    for key, attr in (
        ("label_attribute", spec.label_attribute),
        ("date_attribute", spec.date_attribute),
    ):
        if attr is not None and attr not in frame.columns:
            cols = ", ".join(c for c in frame.columns if c != "geometry")
            raise LsghError(
                f"inventory {path} has no attribute '{attr}' (inventory.{key}); "
                f"its attributes are: {cols or 'none'}"
            )
    not_landslides = 0
    if spec.label_attribute is not None:
        is_slide = frame[spec.label_attribute].astype(bool).to_numpy()
        not_landslides = int((~is_slide).sum())
        frame = frame[is_slide]
    empty = frame.geometry.isna() | frame.geometry.is_empty
    frame = frame[~empty]
    types = set(frame.geometry.geom_type)
    if types & {"LineString", "MultiLineString"}:
        raise LsghError(f"inventory {path} holds lines; landslides must be polygons or points")
    kind: Literal["polygon", "point"] = (
        "polygon" if types & {"Polygon", "MultiPolygon", "GeometryCollection"} else "point"
    )
    if types & {"Point", "MultiPoint"} and kind == "polygon":
        raise LsghError(f"inventory {path} mixes points and polygons; split it into one kind")
    repaired = unrepairable = 0
    if kind == "polygon":
        invalid = ~frame.geometry.is_valid.to_numpy()
        repaired_geoms = frame.geometry.to_numpy().copy()
        for i in np.flatnonzero(invalid):
            fixed = shapely.make_valid(repaired_geoms[i])
            polys = shapely.get_parts(fixed)
            polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
            repaired_geoms[i] = shapely.union_all(polys) if polys else None
        keep = np.array([g is not None and not g.is_empty for g in repaired_geoms])
        repaired = int(invalid.sum() - (~keep).sum())
        unrepairable = int((~keep).sum())
        frame = frame.set_geometry(gpd.GeoSeries(repaired_geoms, index=frame.index, crs=frame.crs))
        frame = frame[keep]
    frame = to_grid_crs(frame, region.grid)
    centres = frame.geometry.centroid
    inside = centres.within(region.aoi).to_numpy()
    outside = int((~inside).sum())
    if outside == len(frame):
        raise LsghError(
            f"no landslide of inventory {path} lies inside the region (all {outside} outside "
            f"the AOI); check the file's CRS ({_crs_name(frame)}) and the AOI"
        )
    frame = frame[inside].reset_index(drop=True)
    report = InventoryReport(
        read=read,
        kept=len(frame),
        not_landslides=not_landslides,
        empty_geometries=int(empty.sum()),
        repaired=repaired,
        unrepairable=unrepairable,
        outside_aoi=outside,
    )
    _log_report(path, report)
    return Inventory(landslides=frame, kind=kind, report=report)


def _crs_name(frame: gpd.GeoDataFrame) -> str:
    return frame.crs.to_string() if frame.crs is not None else "none"


def _log_report(path: object, report: InventoryReport) -> None:
    if report.empty_geometries:
        log.warning("inventory %s: %d empty geometries dropped", path, report.empty_geometries)
    if report.repaired:
        log.warning("inventory %s: %d invalid polygons repaired", path, report.repaired)
    if report.unrepairable:
        log.warning(
            "inventory %s: %d invalid polygons could not be repaired and were dropped",
            path,
            report.unrepairable,
        )
    if report.outside_aoi:
        log.warning("inventory %s: %d landslides outside the AOI dropped", path, report.outside_aoi)
    log.info("inventory %s: %d of %d features kept", path, report.kept, report.read)
