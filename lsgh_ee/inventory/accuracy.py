"""Stated location accuracy of catalogue points (e.g. NASA's Global Landslide Catalog).

A value is read as a distance in metres: ``exact`` is 0; ``250m``, ``1km``, ``5 km``,
``10km`` ... carry their unit; a bare number is metres. ``unknown`` and empty cells are an
unknown accuracy, which counts as coarser than any limit. With
``inventory.max_location_error`` set (metres), a point whose accuracy is coarser than it is
dropped (``location_action: drop``, the default) or kept with ``coarse_location = true``
(``location_action: flag``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from lsgh_ee.errors import LsghError

#: Column names used when ``inventory.location_accuracy`` is not given.
ACCURACY_NAMES = ("location_accuracy", "loc_accuracy", "accuracy")
_VALUE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(km|m)?\s*$", re.IGNORECASE)
_EXACT = {"exact", "0", "0m", "0km"}
_UNKNOWN = {"unknown", "", "nan", "none", "n/a", "na"}


def accuracy_metres(values: pd.Series, what: str) -> np.ndarray:
    """Each value as metres (float), ``inf`` where unknown.

    Raises:
        LsghError: values that are neither a distance, ``exact`` nor ``unknown`` (naming
            a few).
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float).fillna(np.inf).to_numpy()
    out = np.full(len(values), np.inf)
    bad: list[str] = []
    for i, raw in enumerate(values.astype("string").fillna("")):
        text = str(raw).strip().lower()
        if text in _EXACT:
            out[i] = 0.0
        elif text in _UNKNOWN:
            continue
        else:
            m = _VALUE.match(text)
            if m is None:
                bad.append(str(raw))
                continue
            out[i] = float(m.group(1)) * (1000.0 if (m.group(2) or "m").lower() == "km" else 1.0)
    if bad:
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(bad))[:3])
        raise LsghError(
            f"{what} holds {len(bad)} values that are not location accuracies (e.g. {shown}); "
            "use exact, unknown or a distance such as 5km or 250m"
        )
    return out


def find_accuracy_column(columns: list[str], given: str | None, what: str) -> str:
    """The accuracy column: ``given`` (must exist) or the first of :data:`ACCURACY_NAMES`.

    Raises:
        LsghError: ``given`` is not a column, or none of the usual names is.
    """
    known = ", ".join(c for c in columns if c != "geometry") or "none"
    if given is not None:
        if given not in columns:
            raise LsghError(
                f"{what} has no column '{given}' (inventory.location_accuracy); "
                f"its columns are: {known}"
            )
        return given
    lower = {c.lower(): c for c in columns}
    for name in ACCURACY_NAMES:
        if name in lower:
            return lower[name]
    raise LsghError(
        f"inventory.max_location_error is set but {what} has no location accuracy column; "
        f"set inventory.location_accuracy to one of: {known}"
    )
