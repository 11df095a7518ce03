"""Several inventories merged into one, duplicates collapsed.

Rule (sources in config order; a source's own features are never compared with each
other): a landslide of a later source is a duplicate of one kept from an earlier source
when the centre of either lies within ``duplicate_distance`` metres of the other's
geometry (so a point inside a polygon is always a duplicate of it). A duplicate is dropped
and the earlier landslide kept, except that a polygon wins over points: a later polygon
replaces the earlier points it duplicates, since it carries the landslide's extent. Each
landslide keeps the ``source`` attribute of the source it came from.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


def merge_sources(frames: list[gpd.GeoDataFrame], distance: float) -> tuple[gpd.GeoDataFrame, int]:
    """Concatenate sources (all in one CRS, each with its ``source`` column) and collapse
    duplicates across them.

    Args:
        frames: one frame per source, in config order.
        distance: metres (units of the CRS) within which two landslides are one.

    Returns:
        the merged frame and the number of duplicates dropped.
    """
    frames = _harmonise_columns(frames)
    geoms: list = []
    is_polygon: list[bool] = []
    alive: list[bool] = []
    origin: list[tuple[int, int]] = []
    duplicates = 0
    for s, frame in enumerate(frames):
        own = frame.geometry.to_numpy()
        own_centres = shapely.centroid(own)
        own_polygon = np.isin(shapely.get_type_id(own), [3, 6, 7])
        if geoms:
            kept_geoms = np.asarray(geoms, dtype=object)
            tree_geoms = shapely.STRtree(kept_geoms)
            tree_centres = shapely.STRtree(shapely.centroid(kept_geoms))
            a = tree_geoms.query(own_centres, predicate="dwithin", distance=distance)
            b = tree_centres.query(own, predicate="dwithin", distance=distance)
            matches = np.concatenate([a, b], axis=1)
        else:
            matches = np.zeros((2, 0), dtype=int)
        by_feature: dict[int, set[int]] = {}
        for i, k in matches.T:
            by_feature.setdefault(int(i), set()).add(int(k))
        for i in range(len(frame)):
            hits = [k for k in by_feature.get(i, ()) if alive[k]]
            if hits and own_polygon[i] and not any(is_polygon[k] for k in hits):
                for k in hits:  # the polygon replaces the points it duplicates
                    alive[k] = False
                duplicates += len(hits)
            elif hits:
                duplicates += 1
                continue
            geoms.append(own[i])
            is_polygon.append(bool(own_polygon[i]))
            alive.append(True)
            origin.append((s, i))
    rows = [frames[s].iloc[[i]] for (s, i), keep in zip(origin, alive, strict=True) if keep]
    crs = frames[0].crs
    merged = pd.concat(rows, ignore_index=True) if rows else frames[0].iloc[:0]
    merged = gpd.GeoDataFrame(merged, geometry="geometry", crs=crs)
    return _text_for_mixed(merged), duplicates


def _harmonise_columns(frames: list[gpd.GeoDataFrame]) -> list[gpd.GeoDataFrame]:
    """Columns whose names differ only in case become one (GeoPackage column names are
    case-insensitive); the first source's spelling wins."""
    seen: dict[str, str] = {}
    out = []
    for frame in frames:
        renames = {}
        for column in frame.columns:
            key = str(column).lower()
            if key in seen and seen[key] != column:
                renames[column] = seen[key]
            seen.setdefault(key, str(column))
        out.append(frame.rename(columns=renames) if renames else frame)
    return out


def _text_for_mixed(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Attribute columns that mix types across sources (numbers in one, text in another)
    become text, so the merged inventory can be written to a GeoPackage."""
    for column in frame.columns:
        if column == "geometry" or frame[column].dtype != object:
            continue
        values = frame[column].dropna()
        if values.map(type).nunique() > 1:
            frame[column] = frame[column].map(lambda v: v if pd.isna(v) else str(v))
    return frame
