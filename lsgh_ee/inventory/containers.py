"""What an inventory is once read (:class:`Inventory`) and what reading it did (reports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from lsgh_ee.grid import Grid
from lsgh_ee.vectors import burn


@dataclass(frozen=True)
class SourceReport:
    """Counts of features of one inventory source, step by step.

    Attributes:
        name: the source's ``source`` attribute value (file name unless ``name`` is set).
        path: the file read.
        crs: the CRS of its coordinates (e.g. ``EPSG:4326``).
        kind: ``polygon`` or ``point``.
        read: features (rows) read.
        not_landslides: dropped by ``label_attribute``.
        where: the ``where`` filter (or ``None``); ``where_kept``: features it kept.
        max_location_error: metres (or ``None``); ``coarse_locations``: points whose
            stated accuracy is coarser (dropped, or flagged when ``location_action: flag``).
        empty_geometries: features without geometry or rows without coordinates, dropped.
        repaired / unrepairable: invalid polygons repaired / dropped.
        outside_aoi: features whose centre lies outside the AOI, dropped.
        kept: features left (before duplicates across sources are collapsed).
    """

    name: str
    path: str
    crs: str
    kind: str
    read: int
    kept: int = 0
    not_landslides: int = 0
    where: str | None = None
    where_kept: int | None = None
    max_location_error: float | None = None
    location_action: str = "drop"
    coarse_locations: int = 0
    empty_geometries: int = 0
    repaired: int = 0
    unrepairable: int = 0
    outside_aoi: int = 0

    def summary(self) -> str:
        """One line of counts for ``check``, e.g. ``120 point features, where keeps 80,
        location within 5000 m keeps 60, 55 inside the AOI``."""
        parts = [f"{self.read} {self.kind} features"]
        if self.not_landslides:
            parts.append(f"{self.not_landslides} not landslides")
        if self.where is not None:
            parts.append(f"where keeps {self.where_kept}")
        if self.max_location_error is not None:
            verb = "flags" if self.location_action == "flag" else "drops"
            parts.append(
                f"location coarser than {self.max_location_error:g} m {verb} "
                f"{self.coarse_locations}"
            )
        if self.empty_geometries:
            parts.append(f"{self.empty_geometries} without location")
        parts.append(f"{self.kept} inside the AOI")
        return ", ".join(parts)


@dataclass(frozen=True)
class InventoryReport:
    """What happened to the features of an inventory (counts of features, summed over its
    sources; ``sources`` holds each source's own counts)."""

    read: int
    kept: int
    not_landslides: int = 0
    empty_geometries: int = 0
    repaired: int = 0
    unrepairable: int = 0
    outside_aoi: int = 0
    notes: tuple[str, ...] = field(default=())
    filtered_out: int = 0
    coarse_locations: int = 0
    duplicates: int = 0
    duplicate_distance: float | None = None
    sources: tuple[SourceReport, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """JSON-ready counts (the run manifest's notes)."""
        out: dict[str, object] = {
            k: v for k, v in self.__dict__.items() if k not in ("notes", "sources")
        }
        out["notes"] = list(self.notes)
        out["sources"] = [asdict(s) for s in self.sources]
        return out


@dataclass(frozen=True)
class Inventory:
    """Landslides in the grid CRS, checked and clipped to the AOI.

    Attributes:
        landslides: one row per landslide, geometry in the grid CRS (with a ``source``
            attribute when several sources were merged).
        kind: ``polygon`` (when any landslide is a polygon) or ``point`` inventory.
        report: counts of what was read, filtered, repaired and dropped.
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
        """The year of each landslide from a date or year attribute (int array): numbers
        are years, text is read as ISO 8601 dates (what :func:`read_inventory` writes)."""
        values = self.landslides[attribute]
        if np.issubdtype(values.dtype, np.number):
            return values.to_numpy().astype(int)
        try:
            dates = pd.to_datetime(values, format="ISO8601", errors="raise")
        except (ValueError, TypeError):
            dates = pd.to_datetime(values, errors="raise")
        return dates.dt.year.to_numpy()


def check_rows(
    inventory: Inventory, short: Callable[[Path], str]
) -> list[tuple[str, str, str, str, str]]:
    """Rows of ``lsgh-ee check``'s table for an inventory: (item, source, status, CRS,
    notes), one per source, plus the merged total when there are several.

    Args:
        short: how to show a path (relative to the config).
    """
    report = inventory.report
    several = report.duplicate_distance is not None  # the list form (merged)
    rows = [
        (f"inventory[{i}]" if several else "inventory", short(Path(s.path)), "ok", s.crs,
         s.summary())
        for i, s in enumerate(report.sources)
    ]  # fmt: skip
    if several:
        crs = inventory.landslides.crs
        auth = crs.to_authority() if crs is not None else None
        rows.append(
            (
                "inventory",
                f"{len(report.sources)} source{'s' if len(report.sources) > 1 else ''} merged",
                "ok",
                f"{auth[0]}:{auth[1]}" if auth else "-",
                f"{report.kept} landslides ({inventory.kind}s); {report.duplicates} "
                f"duplicates within {report.duplicate_distance:g} m collapsed",
            )
        )
    return rows
