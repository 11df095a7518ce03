"""The ``inventory:`` part of a region config: one landslide inventory or several.

Kept apart from :mod:`lsgh_ee.config` (which re-exports it) so the schema of inventories
(tables with coordinates, filters, dates, location accuracy, merging) has one home. The
reading itself is :mod:`lsgh_ee.inventory`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from lsgh_ee.config.strict import Strict

__all__ = ["InventoryConfig", "InventorySource", "resolve_inventory"]


class InventorySource(Strict):
    """One landslide inventory file: a vector file (polygons or points, any format GDAL
    reads, archives and KML/KMZ included) or a table with coordinates (CSV and other
    delimited text, Excel .xlsx, OpenDocument .ods). See the README, "Landslide
    inventories"."""

    path: Path
    name: str | None = Field(
        None, min_length=1, description="value of the 'source' attribute (default: file name)"
    )
    layer: str | None = Field(
        None, description="layer (GeoPackage, KML folder) or archive member to read"
    )
    label_attribute: str | None = Field(
        None,
        description="boolean/0-1 attribute marking landslides; features where it is false "
        "are ignored (e.g. inventories that also hold absence points)",
    )
    date_attribute: str | None = Field(None, description="date or year of each landslide")
    date_format: str | None = Field(
        None,
        min_length=1,
        description="how text dates are written beyond years and ISO 8601: day-first, "
        "month-first or a strftime pattern such as %d.%m.%Y",
    )
    where: str | None = Field(
        None,
        min_length=1,
        description="attribute filter, e.g. \"landslide_category == 'landslide'\" "
        "(column op value joined by and / or; ops == != < <= > >= in)",
    )
    x: str | None = Field(None, min_length=1, description="table column of x / longitude")
    y: str | None = Field(None, min_length=1, description="table column of y / latitude")
    wkt: str | None = Field(None, min_length=1, description="table column of WKT geometries")
    crs: str | None = Field(
        None,
        min_length=1,
        description="CRS of a table's coordinates (default EPSG:4326 for longitude/latitude), "
        "or of a vector file that has none",
    )
    location_accuracy: str | None = Field(
        None, min_length=1, description="column of stated location accuracy (e.g. 5km)"
    )
    max_location_error: float | None = Field(
        None, ge=0, description="metres; points whose stated accuracy is coarser are dropped"
    )
    location_action: Literal["drop", "flag"] = Field(
        "drop",
        description="drop points coarser than max_location_error, or keep them with "
        "coarse_location = true",
    )

    @model_validator(mode="after")
    def _coordinates(self) -> InventorySource:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both 'x' and 'y' (the coordinate columns), or neither")
        if self.wkt is not None and self.x is not None:
            raise ValueError("give either 'wkt' or 'x' and 'y', not both")
        return self


_SOURCE_KEYS = tuple(k for k in InventorySource.model_fields if k not in ("path", "name"))


class InventoryConfig(InventorySource):
    """The landslide inventory: one source (``path`` and its keys), or several sources
    (a list, or ``sources:``) merged into one, with duplicates collapsed."""

    path: Path | None = None  # type: ignore[assignment]
    sources: tuple[InventorySource, ...] = Field(
        (), description="several inventories, merged (each with its own keys)"
    )
    duplicate_distance: float | None = Field(
        None,
        ge=0,
        description="metres: landslides of different sources closer than this are one "
        "(default: the grid resolution)",
    )

    @model_validator(mode="before")
    @classmethod
    def _list_of_sources(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            data = {"sources": list(data)}
        if isinstance(data, dict) and data.get("sources"):
            first = data["sources"][0]
            first_path = first.get("path") if isinstance(first, dict) else first.path
            if data.get("path") is None:
                data = {**data, "path": first_path}
            elif Path(data["path"]) != Path(first_path):
                raise ValueError(
                    "give either 'path' (one inventory) or 'sources' (several), not both"
                )
        return data

    @model_validator(mode="after")
    def _one_or_several(self) -> InventoryConfig:
        if not self.sources:
            if self.path is None:
                raise ValueError("give 'path' (the landslide file) or a list of sources")
            if self.duplicate_distance is not None:
                raise ValueError("'duplicate_distance' applies to several sources; remove it")
            return self
        merged_date = "date" if any(s.date_attribute for s in self.sources) else None
        for key in _SOURCE_KEYS:
            value = getattr(self, key)
            default = InventorySource.model_fields[key].default
            if key == "date_attribute" and value == merged_date:
                continue
            if value != default:
                raise ValueError(
                    f"with several sources, put '{key}' inside each source that needs it"
                )
        if merged_date is not None and self.date_attribute is None:
            object.__setattr__(self, "date_attribute", merged_date)
        return self

    def source_list(self) -> list[InventorySource]:
        """The sources to read: this config itself (one inventory) or its ``sources``."""
        if self.sources:
            return list(self.sources)
        return [InventorySource(**{k: getattr(self, k) for k in InventorySource.model_fields})]

    @property
    def paths(self) -> list[Path]:
        """Every inventory file (for fingerprints)."""
        return [s.path for s in self.source_list()]


def resolve_inventory(
    inventory: InventoryConfig, resolve: Callable[[Path | None, str], Path | None]
) -> InventoryConfig:
    """The inventory config with its path (and each source's path) absolute."""
    if not inventory.sources:
        return inventory.model_copy(update={"path": resolve(inventory.path, "inventory.path")})
    sources = tuple(
        s.model_copy(update={"path": resolve(s.path, f"inventory[{i}].path")})
        for i, s in enumerate(inventory.sources)
    )
    return inventory.model_copy(update={"path": sources[0].path, "sources": sources})
