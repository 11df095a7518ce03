"""Reading landslide inventories: each source read, filtered, dated, repaired and clipped,
then several sources merged (see :mod:`lsgh_ee.inventory.merge`)."""

from __future__ import annotations

import logging
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lsgh_ee.config.inventory import InventoryConfig, InventorySource
from lsgh_ee.errors import LsghError
from lsgh_ee.inventory.accuracy import accuracy_metres, find_accuracy_column
from lsgh_ee.inventory.containers import Inventory, InventoryReport, SourceReport
from lsgh_ee.inventory.coordinates import parse_crs, table_to_points
from lsgh_ee.inventory.dates import naive_utc, parse_dates
from lsgh_ee.inventory.merge import merge_sources
from lsgh_ee.inventory.sources import read_source_frame
from lsgh_ee.inventory.where import apply_where, parse_where, where_columns
from lsgh_ee.region import Region
from lsgh_ee.vectors import to_grid_crs

log = logging.getLogger(__name__)

#: The merged inventory's date attribute (each source's own date, parsed).
MERGED_DATE = "date"


def read_inventory(spec: InventoryConfig, region: Region) -> Inventory:
    """Read, filter, check, repair and clip the landslide inventory of a region.

    Per source: rows where ``label_attribute`` is false, rows ``where`` does not keep and
    points coarser than ``max_location_error`` are dropped (or flagged), tables become
    points, empty and unrepairable geometries are dropped, invalid polygons repaired with
    ``shapely.make_valid``, dates parsed, and features whose centre is outside the AOI
    dropped; each with a count in the report. Several sources are then merged with
    duplicates collapsed (:func:`~lsgh_ee.inventory.merge.merge_sources`).

    Raises:
        LsghError: unreadable file, no CRS, no coordinates, no features, lines, a missing
            attribute, a bad filter, unreadable dates, nothing left after a filter, or
            nothing inside the AOI.
    """
    sources = spec.source_list()
    several = bool(spec.sources)  # the list form, even of one source, gets source and date
    parts = [_read_source(src, region, several) for src in sources]
    if not several:
        frame, kind, rep = parts[0]
        report = _total([rep], len(frame))
        _log_report(str(rep.path), report)
        landslides = _dates_as_text(frame.reset_index(drop=True))
        return Inventory(landslides=landslides, kind=kind, report=report)
    frames = []
    for (frame, _, rep), src in zip(parts, sources, strict=True):
        frame = frame.copy()
        frame["source"] = rep.name
        if spec.date_attribute is not None:
            frame[MERGED_DATE] = _as_datetime(frame, src.date_attribute)
        frames.append(frame)
    distance = spec.duplicate_distance
    distance = region.grid.resolution if distance is None else distance
    merged, duplicates = merge_sources(frames, distance)
    names = ", ".join(str(s.path.name) for s in sources)
    if merged.empty:
        raise LsghError(
            f"no landslide of the inventories {names} lies inside the region; check the "
            "files' CRS and the AOI"
        )
    kind: Literal["polygon", "point"] = (
        "polygon" if any(k == "polygon" for _, k, _ in parts) else "point"
    )
    report = _total([p[2] for p in parts], len(merged), duplicates, distance)
    _log_report(names, report)
    return Inventory(landslides=_dates_as_text(merged), kind=kind, report=report)


def _read_source(
    src: InventorySource, region: Region, several: bool
) -> tuple[gpd.GeoDataFrame, Literal["polygon", "point"], SourceReport]:
    path = src.path
    what = f"inventory {path}"
    frame = read_source_frame(path, src.layer, what)
    read = len(frame)
    if read == 0:
        raise LsghError(f"inventory {path} has no features; it needs landslide polygons or points")
    for key, attr in (("label_attribute", src.label_attribute),
                      ("date_attribute", src.date_attribute)):  # fmt: skip
        if attr is not None and attr not in frame.columns:
            cols = ", ".join(str(c) for c in frame.columns if c != "geometry")
            raise LsghError(
                f"inventory {path} has no attribute '{attr}' (inventory.{key}); "
                f"its attributes are: {cols or 'none'}"
            )
    not_landslides = 0
    if src.label_attribute is not None:
        is_slide = _truthy(frame[src.label_attribute], f"{what} ({src.label_attribute})")
        not_landslides = int((~is_slide).sum())
        frame = frame[is_slide]
    where_kept = None
    if src.where is not None:
        kept_rows = apply_where(frame, src.where, what)
        where_kept = int(kept_rows.sum())
        if where_kept == 0:
            raise LsghError(_none_kept_message(src.where, frame, path))
        frame = frame[kept_rows]
    coarse = 0
    if src.max_location_error is not None:
        frame, coarse = _location_accuracy(frame, src, what)
    frame = _with_geometry(frame, src, what)
    crs_text = _crs_text(frame.crs)
    empty = frame.geometry.isna() | frame.geometry.is_empty
    frame = frame[~empty]
    if src.date_attribute is not None:
        label = f"inventory.date_attribute '{src.date_attribute}' of {path}"
        frame = frame.assign(
            **{src.date_attribute: parse_dates(frame[src.date_attribute], src.date_format, label)}
        )
    frame, kind, repaired, unrepairable = _checked_geometries(frame, path)
    frame = to_grid_crs(frame, region.grid)
    inside = frame.geometry.centroid.within(region.aoi).to_numpy()
    outside = int((~inside).sum())
    if outside == len(frame) and not several:
        raise LsghError(
            f"no landslide of inventory {path} lies inside the region (all {outside} outside "
            f"the AOI); check the file's CRS ({crs_text}) and the AOI"
        )
    if outside == len(frame):
        log.warning("inventory %s: none of its %d landslides lies inside the AOI", path, outside)
    frame = frame[inside].reset_index(drop=True)
    report = SourceReport(
        name=src.name or path.name,
        path=str(path),
        crs=crs_text,
        kind=kind,
        read=read,
        kept=len(frame),
        not_landslides=not_landslides,
        where=src.where,
        where_kept=where_kept,
        max_location_error=src.max_location_error,
        location_action=src.location_action,
        coarse_locations=coarse,
        empty_geometries=int(empty.sum()),
        repaired=repaired,
        unrepairable=unrepairable,
        outside_aoi=outside,
    )
    return frame, kind, report


def _with_geometry(frame: pd.DataFrame, src: InventorySource, what: str) -> gpd.GeoDataFrame:
    """Tables become points; vector files keep their geometry and must have a CRS."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return table_to_points(frame, what, x=src.x, y=src.y, wkt=src.wkt, crs=src.crs)
    if src.x is not None or src.wkt is not None:
        raise LsghError(
            f"{what} has geometries; inventory.x / inventory.y / inventory.wkt apply to "
            "tables only: remove them"
        )
    if frame.crs is None:
        if src.crs is None:
            raise LsghError(
                f"{what} has no CRS; define it (e.g. save it with its projection in QGIS, or "
                "add the .prj of a shapefile) or set inventory.crs"
            )
        return frame.set_crs(parse_crs(src.crs))
    if src.crs is not None and parse_crs(src.crs) != frame.crs:
        raise LsghError(
            f"inventory.crs is {src.crs} but {what} says its CRS is {_crs_text(frame.crs)}; "
            "remove inventory.crs (it is for tables and files without a CRS)"
        )
    return frame


def _location_accuracy(
    frame: pd.DataFrame, src: InventorySource, what: str
) -> tuple[pd.DataFrame, int]:
    """Drop (or flag with ``coarse_location``) rows coarser than ``max_location_error``."""
    column = find_accuracy_column([str(c) for c in frame.columns], src.location_accuracy, what)
    metres = accuracy_metres(frame[column], f"column '{column}' of {what}")
    coarse = metres > float(src.max_location_error or 0)
    if src.location_action == "flag":
        return frame.assign(coarse_location=coarse), int(coarse.sum())
    if coarse.all():
        raise LsghError(
            f"no feature of {what} has a location accuracy ('{column}') within "
            f"{src.max_location_error:g} m (inventory.max_location_error); raise it, or set "
            "inventory.location_action: flag to keep them"
        )
    return frame[~coarse], int(coarse.sum())


def _checked_geometries(
    frame: gpd.GeoDataFrame, path: object
) -> tuple[gpd.GeoDataFrame, Literal["polygon", "point"], int, int]:
    """The frame with invalid polygons repaired (or dropped), its kind, and the counts."""
    types = set(frame.geometry.geom_type)
    if types & {"LineString", "MultiLineString"}:
        raise LsghError(f"inventory {path} holds lines; landslides must be polygons or points")
    kind: Literal["polygon", "point"] = (
        "polygon" if types & {"Polygon", "MultiPolygon", "GeometryCollection"} else "point"
    )
    if types & {"Point", "MultiPoint"} and kind == "polygon":
        raise LsghError(f"inventory {path} mixes points and polygons; split it into one kind")
    if kind != "polygon":
        return frame, kind, 0, 0
    invalid = ~frame.geometry.is_valid.to_numpy()
    repaired_geoms = frame.geometry.to_numpy().copy()
    for i in np.flatnonzero(invalid):
        fixed = shapely.make_valid(repaired_geoms[i])
        polys = shapely.get_parts(fixed)
        polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
        repaired_geoms[i] = shapely.union_all(polys) if polys else None
    keep = np.array([g is not None and not g.is_empty for g in repaired_geoms], dtype=bool)
    repaired = int(invalid.sum() - (~keep).sum())
    frame = frame.set_geometry(gpd.GeoSeries(repaired_geoms, index=frame.index, crs=frame.crs))
    return frame[keep], kind, repaired, int((~keep).sum())


_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", ""}


def _truthy(values: pd.Series, what: str) -> np.ndarray:
    """``label_attribute`` as booleans: booleans and numbers as they are, text from a
    table read as 1/0, true/false, yes/no (any case; empty is false)."""
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        return values.fillna(False).astype(bool).to_numpy()
    text = values.astype("string").str.strip().str.lower().fillna("")
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(values[bad].astype(str)))[:3])
        raise LsghError(
            f"inventory.label_attribute of {what} holds values that are not true/false "
            f"(e.g. {shown}); use 1/0, true/false or yes/no"
        )
    return text.isin(_TRUE).to_numpy()


def _none_kept_message(where: str, frame: pd.DataFrame, path: object) -> str:
    column = where_columns(parse_where(where))[0]
    values = frame[column]
    return (
        f"inventory.where {where!r} keeps none of the {len(frame)} features of {path}; check the "
        f"values it compares with (the column '{column}' holds e.g. {_sample(values)})"
    )


def _sample(values: pd.Series) -> str:
    common = values.dropna().astype(str).value_counts().index[:5]
    return ", ".join(repr(v) for v in common) or "nothing"


def _as_datetime(frame: pd.DataFrame, attribute: str | None) -> pd.Series:
    """A source's parsed dates as datetimes (years as 1 January) for the merged ``date``."""
    if attribute is None:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    values = frame[attribute]
    if pd.api.types.is_numeric_dtype(values):
        years = values.astype("Int64").astype("string")
        return pd.to_datetime(years, format="%Y", errors="coerce").astype("datetime64[ns]")
    return values.astype("datetime64[ns]")


def _dates_as_text(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Date and date-time columns as ISO 8601 text (``2015-07-14``, or
    ``2015-07-14T10:30:00`` where any value has a time of day), missing values empty: the
    form every reader of ``inventory.gpkg`` (QGIS, the preview's GeoJSON) takes as it is."""
    for column in frame.columns:
        values = frame[column]
        if column == "geometry" or not pd.api.types.is_datetime64_any_dtype(values):
            continue
        values = naive_utc(values)
        timed = bool((values.dropna() != values.dropna().dt.normalize()).any())
        text = values.dt.strftime("%Y-%m-%dT%H:%M:%S" if timed else "%Y-%m-%d")
        frame[column] = text.astype(object).where(values.notna(), None)
    return frame


def _crs_text(crs: object) -> str:
    if crs is None:
        return "none"
    auth = crs.to_authority()  # type: ignore[attr-defined]
    return f"{auth[0]}:{auth[1]}" if auth else crs.name  # type: ignore[attr-defined]


def _total(
    reports: list[SourceReport], kept: int, duplicates: int = 0, distance: float | None = None
) -> InventoryReport:
    def total(key: str) -> int:
        return int(sum(getattr(r, key) for r in reports))

    filtered = sum(
        r.read - r.not_landslides - r.where_kept for r in reports if r.where_kept is not None
    )
    return InventoryReport(
        read=total("read"),
        kept=kept,
        not_landslides=total("not_landslides"),
        empty_geometries=total("empty_geometries"),
        repaired=total("repaired"),
        unrepairable=total("unrepairable"),
        outside_aoi=total("outside_aoi"),
        filtered_out=int(filtered),
        coarse_locations=total("coarse_locations"),
        duplicates=duplicates,
        duplicate_distance=distance,
        sources=tuple(reports),
    )


def _log_report(path: object, report: InventoryReport) -> None:
    if report.filtered_out:
        log.info("inventory %s: %d features left out by inventory.where", path, report.filtered_out)
    if report.coarse_locations:
        log.warning(
            "inventory %s: %d points with a location coarser than inventory.max_location_error",
            path,
            report.coarse_locations,
        )
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
    if report.duplicates:
        log.info(
            "inventory %s: %d duplicates within %g m collapsed",
            path,
            report.duplicates,
            report.duplicate_distance,
        )
    log.info("inventory %s: %d of %d features kept", path, report.kept, report.read)
