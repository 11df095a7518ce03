"""Landslide dates as they come: ISO dates and date-times, years, day-first / month-first.

Rules for ``inventory.date_attribute`` values:

* numbers are years (``2005``), and must lie between 1000 and 2999;
* date columns of the file (GeoPackage dates, KML time stamps) are used as they are;
* text is read value by value: a four-digit year (``2005``), an ISO 8601 date or date-time
  (``2005-07-14``, ``2005-07-14T10:30:00Z``, ``2005-07-14 10:30``), or, when
  ``inventory.date_format`` is given, that format: ``day-first`` (``14/07/2005``,
  ``14.7.2005 10:30``), ``month-first`` (``07/14/2005``, ``7/14/2005 10:30:00 AM``) or a
  ``strftime`` pattern such as ``%d.%m.%Y``. Empty cells are missing dates.

Date-times with a time zone are converted to UTC and kept without one; the inventory that
:func:`~lsgh_ee.inventory.read_inventory` returns (and ``inventory.gpkg``) holds them as
ISO 8601 text (``2005-07-14``, or ``2005-07-14T10:30:00`` when times are given).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from lsgh_ee.errors import LsghError

_YEAR = re.compile(r"^\d{4}(\.0+)?$")
_ISO = re.compile(
    r"^\d{4}-\d{1,2}(-\d{1,2})?([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
SHORTCUTS = ("day-first", "month-first")


def parse_dates(values: pd.Series, date_format: str | None, what: str) -> pd.Series:
    """The dates of ``values``: numeric years stay numbers, anything else becomes
    ``datetime64[ns]`` (naive UTC), missing values ``NaN``/``NaT``.

    Args:
        values: the date attribute's column.
        date_format: ``None`` (years and ISO 8601 only), ``day-first``, ``month-first`` or
            a ``strftime`` pattern.
        what: how to name the column in messages (e.g. "inventory.date_attribute 'date' of
            glc.csv").

    Raises:
        LsghError: values that are not dates, naming a few of them and the fix.
    """
    if pd.api.types.is_bool_dtype(values):
        raise LsghError(f"{what} holds true/false values, not dates; name a date or year column")
    if pd.api.types.is_numeric_dtype(values):
        bad = values.notna() & ~values.between(1000, 2999)
        bad |= values.notna() & (values % 1 != 0)
        _fail(what, values[bad], len(values), date_format, "years")
        return values
    if pd.api.types.is_datetime64_any_dtype(values):
        return naive_utc(values)
    text = values.astype("string").str.strip()
    missing = text.isna() | text.eq("")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    years = ~missing & text.str.match(_YEAR.pattern).fillna(False)
    out[years] = pd.to_datetime(text[years].str.slice(0, 4), format="%Y")
    iso = ~missing & ~years & text.str.match(_ISO.pattern).fillna(False)
    if iso.any():
        out[iso] = naive_utc(pd.to_datetime(text[iso], format="ISO8601", utc=True, errors="coerce"))
    rest = ~missing & ~years & ~iso
    if rest.any() and date_format is not None:
        out[rest] = _with_format(text[rest], date_format, what)
    bad = ~missing & out.isna()
    _fail(what, text[bad], len(values), date_format, "dates")
    return out


def _with_format(text: pd.Series, date_format: str, what: str) -> pd.Series:
    if date_format in SHORTCUTS:
        day_first = date_format == "day-first"
        parts = text.str.extract(
            r"^(\d{1,2})[./\- ](\d{1,2})[./\- ](\d{4}|\d{2})(?:[ T]+(.*))?$", expand=True
        )
        day, month = (parts[0], parts[1]) if day_first else (parts[1], parts[0])
        year = parts[2].where(parts[2].str.len() != 2, "20" + parts[2])
        iso = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
        clock = parts[3].fillna("")
        stamp = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
        has_clock = clock.str.len() > 0
        if has_clock.any():
            times = pd.to_datetime(
                iso[has_clock] + " " + clock[has_clock], format="mixed", errors="coerce"
            )
            stamp[has_clock] = times
        return stamp
    if "%" not in date_format:
        raise LsghError(
            f"inventory.date_format {date_format!r} is not understood; use day-first, "
            "month-first or a strftime pattern such as %d.%m.%Y"
        )
    try:
        return pd.to_datetime(text, format=date_format, errors="coerce")
    except ValueError as exc:
        raise LsghError(
            f"inventory.date_format {date_format!r} is not a valid pattern ({exc}); "
            "use e.g. %d/%m/%Y"
        ) from exc


def naive_utc(values: pd.Series) -> pd.Series:
    """Date-times without a time zone (converted to UTC first when they have one)."""
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[ns]")


def _fail(what: str, bad: pd.Series, total: int, date_format: str | None, kind: str) -> None:
    if bad.empty:
        return
    shown = ", ".join(repr(str(v)) for v in list(dict.fromkeys(bad.astype(str)))[:3])
    if date_format is None and kind == "dates" and bad.astype(str).str.match(r"^\d").any():
        fix = (
            "set inventory.date_format to day-first, month-first or a pattern such as "
            "%d/%m/%Y (without it only years and ISO dates YYYY-MM-DD are read)"
        )
    else:
        fix = "correct or empty them, or set inventory.date_format to the format they use"
    raise LsghError(
        f"{what} holds {len(bad)} of {total} values that are not {kind} (e.g. {shown}); {fix}"
    )


def years_of(values: pd.Series) -> np.ndarray:
    """Year of each parsed date (float array, NaN where missing)."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float)
    return values.dt.year.to_numpy(dtype=float)
