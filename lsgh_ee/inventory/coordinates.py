"""Tables with coordinates: which columns hold them, and the points they make.

Detection (names compared without case; the first pair found wins):

* longitude / latitude: ``longitude``/``latitude``, ``lon``/``lat``, ``lng``/``lat``,
  ``long``/``lat``, ``decimallongitude``/``decimallatitude``: WGS 84 degrees
  (EPSG:4326) unless ``inventory.crs`` says otherwise;
* x / y: ``x``/``y``, ``easting``/``northing``, ``point_x``/``point_y``,
  ``xcoord``/``ycoord``, ``x_coord``/``y_coord``;
* WKT geometries: ``wkt``, ``wkt_geom``, ``geometry``, ``geom``, ``the_geom``.

``inventory.x`` + ``inventory.y`` or ``inventory.wkt`` name the columns explicitly. x / y
and WKT coordinates need ``inventory.crs``, except when every value lies within
longitude / latitude bounds, which are then taken as WGS 84 degrees. Rows without
coordinates become empty geometries (dropped and counted); text that is not a number is an
error. Decimal commas (``45,12``) are read when every value of the column uses them.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from lsgh_ee.errors import LsghError
from lsgh_ee.inventory.sources import read_source_frame

LONLAT_PAIRS = (("longitude", "latitude"), ("lon", "lat"), ("lng", "lat"), ("long", "lat"),
                ("decimallongitude", "decimallatitude"))  # fmt: skip
XY_PAIRS = (("x", "y"), ("easting", "northing"), ("point_x", "point_y"), ("xcoord", "ycoord"),
            ("x_coord", "y_coord"))  # fmt: skip
WKT_NAMES = ("wkt", "wkt_geom", "geometry", "geom", "the_geom")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


def find_coordinate_columns(
    columns: list[str], x: str | None = None, y: str | None = None, wkt: str | None = None
) -> dict[str, str] | None:
    """``{"x": .., "y": .., "lonlat": "yes"|"no"}``, ``{"wkt": ..}`` or ``None``.

    Explicit names win (they are checked to exist by the caller); otherwise the usual
    names are looked for (see the module docstring).
    """
    if x is not None and y is not None:
        return {"x": x, "y": y, "lonlat": "no"}
    if wkt is not None:
        return {"wkt": wkt}
    lower = {str(c).strip().lower(): str(c) for c in columns}
    for pairs, lonlat in ((LONLAT_PAIRS, "yes"), (XY_PAIRS, "no")):
        for cx, cy in pairs:
            if cx in lower and cy in lower:
                return {"x": lower[cx], "y": lower[cy], "lonlat": lonlat}
    for name in WKT_NAMES:
        if name in lower:
            return {"wkt": lower[name]}
    return None


def no_coordinates_message(what: str, columns: list[str]) -> str:
    """The one line for a table without usable coordinate columns."""
    shown = ", ".join(str(c) for c in columns[:15]) + (", ..." if len(columns) > 15 else "")
    return (
        f"{what} is a table without coordinate columns (its columns: {shown or 'none'}); "
        "set inventory.x and inventory.y to the longitude/easting and latitude/northing "
        "columns (and inventory.crs unless they are WGS 84 degrees), or inventory.wkt to a "
        "column of WKT geometries"
    )


def table_to_points(
    frame: pd.DataFrame,
    what: str,
    *,
    x: str | None = None,
    y: str | None = None,
    wkt: str | None = None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """The table as a GeoDataFrame with geometries from its coordinate columns.

    Raises:
        LsghError: no coordinate columns, a named column that does not exist, values that
            are not numbers (or WKT), coordinates out of range for degrees, or x / y
            beyond degree bounds without ``inventory.crs``.
    """
    columns = [str(c) for c in frame.columns]
    for key, name in (("x", x), ("y", y), ("wkt", wkt)):
        if name is not None and name not in columns:
            raise LsghError(
                f"{what} has no column '{name}' (inventory.{key}); its columns are: "
                f"{', '.join(columns) or 'none'}"
            )
    found = find_coordinate_columns(columns, x, y, wkt)
    if found is None:
        raise LsghError(no_coordinates_message(what, columns))
    target = parse_crs(crs) if crs is not None else None
    if "wkt" in found:
        geoms = _wkt(frame[found["wkt"]], what, found["wkt"])
        bounds = shapely.bounds(geoms)
        xs, ys = bounds[:, [0, 2]].ravel(), bounds[:, [1, 3]].ravel()
        names = (found["wkt"], found["wkt"])
    else:
        xs = _numbers(frame[found["x"]], what, found["x"])
        ys = _numbers(frame[found["y"]], what, found["y"])
        ok = np.isfinite(xs) & np.isfinite(ys)
        geoms = np.where(ok, shapely.points(np.where(ok, xs, 0), np.where(ok, ys, 0)), None)
        names = (found["x"], found["y"])
    in_degrees = _within_degrees(xs, ys)
    if target is None:
        if found.get("lonlat") == "yes" or in_degrees:
            target = CRS.from_epsg(4326)
        else:
            raise LsghError(
                f"{what}: the coordinates in '{names[0]}' / '{names[1]}' are not longitude / "
                "latitude degrees; set inventory.crs to their CRS (e.g. EPSG:32648)"
            )
    if target.is_geographic and not in_degrees:
        raise LsghError(
            f"{what}: '{names[0]}' / '{names[1]}' hold values outside longitude -180..180 / "
            "latitude -90..90 (are x and y swapped?); fix the columns (inventory.x, "
            "inventory.y) or set inventory.crs to their projected CRS"
        )
    data = frame.drop(columns=[c for c in ("geometry",) if c in frame.columns])
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=target)


def parse_crs(text: str) -> CRS:
    """``inventory.crs`` as a pyproj CRS.

    Raises:
        LsghError: text that is not a CRS.
    """
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise LsghError(
            f"inventory.crs {text!r} is not a CRS; write e.g. EPSG:4326 or EPSG:32648"
        ) from exc


def _numbers(values: pd.Series, what: str, column: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float)
    text = values.astype("string").str.strip()
    missing = text.isna() | text.eq("")
    number = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = ~missing & number.isna()
    if bad.any() and text[bad].str.match(_DECIMAL_COMMA.pattern).all():
        commas = text.where(~missing).str.replace(",", ".", regex=False)
        number = pd.to_numeric(commas, errors="coerce")
        bad = ~missing & number.isna()
    if bad.any():
        shown = ", ".join(repr(str(v)) for v in list(dict.fromkeys(text[bad]))[:3])
        raise LsghError(
            f"{what}: column '{column}' holds {int(bad.sum())} values that are not numbers "
            f"(e.g. {shown}); write coordinates as decimal numbers such as 45.123 (empty "
            "cells are skipped)"
        )
    return number.to_numpy(dtype=float, na_value=np.nan)


def _wkt(values: pd.Series, what: str, column: str) -> np.ndarray:
    text = values.astype("string").str.strip()
    missing = (text.isna() | text.eq("")).to_numpy()
    geoms = np.full(len(values), None, dtype=object)
    bad: list[str] = []
    for i in np.flatnonzero(~missing):
        try:
            geoms[i] = shapely.from_wkt(str(text.iloc[i]))
        except shapely.errors.GEOSException:
            bad.append(str(text.iloc[i])[:30])
    if bad:
        shown = ", ".join(repr(v) for v in bad[:3])
        raise LsghError(
            f"{what}: column '{column}' holds {len(bad)} values that are not WKT geometries "
            f"(e.g. {shown}); write e.g. POINT (103.8 33.2), or name the right column in "
            "inventory.wkt"
        )
    return geoms


def _within_degrees(xs: np.ndarray, ys: np.ndarray) -> bool:
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    return bool(np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90))


def detect_coordinate_columns(path: str | Path, layer: str | None = None) -> dict[str, str]:
    """The config keys a new region needs for an inventory file's coordinates.

    Returns:
        ``{}`` for a vector file with geometries; ``{"x": .., "y": .., "crs": ..}`` or
        ``{"wkt": .., "crs": ..}`` for a table (``crs`` is ``EPSG:4326`` for longitude /
        latitude names and for values within degree bounds, else ``TODO``).

    Raises:
        LsghError: an unreadable file, or a table without coordinate columns.
    """
    path = Path(path)
    what = f"inventory {path}"
    frame = read_source_frame(path, layer, what)
    if isinstance(frame, gpd.GeoDataFrame):
        return {}
    columns = [str(c) for c in frame.columns]
    found = find_coordinate_columns(columns)
    if found is None:
        raise LsghError(no_coordinates_message(what, columns))
    try:
        points = table_to_points(frame, what, x=found.get("x"), y=found.get("y"),
                                 wkt=found.get("wkt"))  # fmt: skip
        crs = points.crs.to_string()
    except LsghError:
        crs = "TODO"  # projected x / y: the user must name their CRS
    keys = {k: v for k, v in found.items() if k != "lonlat"}
    return {**keys, "crs": crs}
