"""Checking training / prediction data and drawing the validation split.

Every check raises :class:`~lsgh_ee.errors.LsghError` with one line naming the problem and
the fix, because bad codes or labels almost always come from a user's files (a stack
classified with other breaks, a sample table with the wrong column).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from lsgh_ee.errors import LsghError

MIN_SAMPLES = 10
MIN_PER_CLASS = 2


def check_class_counts(class_counts: Sequence[int]) -> list[int]:
    try:
        counts = [int(c) for c in class_counts]
    except (TypeError, ValueError) as exc:
        raise LsghError(
            f"class_counts must be a list of integers, got {class_counts!r}; "
            "pass the n_classes of each factor"
        ) from exc
    if not counts or min(counts) < 1 or max(counts) > 255:
        raise LsghError(
            f"class_counts must be 1..255 classes per factor, got {counts}; "
            "pass the n_classes of each factor from factor_schema.json"
        )
    return counts


def _factor(index: int, names: Sequence[str] | None) -> str:
    if names and index < len(names):
        return f"factor {index} ({names[index]})"
    return f"factor {index}"


def check_codes(
    codes, class_counts: Sequence[int], factor_names: Sequence[str] | None = None
) -> np.ndarray:
    """Class codes as int32 ``(N, F)``; 0 (nodata) is allowed, codes above a factor's
    class count are not. Factors are numbered from 0 (the column index)."""
    array = np.asarray(codes)
    n_factors = len(class_counts)
    if array.ndim != 2:
        raise LsghError(
            f"codes must be a 2-D array (samples, factors) but has shape {array.shape}; "
            "pass one row of class codes per sample"
        )
    if array.shape[1] != n_factors:
        raise LsghError(
            f"codes have {array.shape[1]} factor columns but the model knows {n_factors} "
            "factors; pass the class codes of the model's factors in the model's order"
        )
    if array.dtype.kind not in "iub":
        if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
            raise LsghError(
                f"codes must be integer class codes but have dtype {array.dtype}; "
                "pass the class-code stack (uint8, 0 = nodata)"
            )
        if not np.array_equal(array, np.round(array)):
            raise LsghError(
                "codes must be whole class codes but some have fractions; "
                "pass the class-code stack (uint8, 0 = nodata), not factor values"
            )
    if array.size:
        low = array.min(axis=0)
        high = array.max(axis=0)
        for f in range(n_factors):
            if low[f] < 0:
                raise LsghError(
                    f"{_factor(f, factor_names)} has negative codes (down to {low[f]:g}); "
                    "class codes are 1..k with 0 = nodata"
                )
            if high[f] > class_counts[f]:
                raise LsghError(
                    f"{_factor(f, factor_names)} has codes up to {high[f]:g} but the model "
                    f"knows {class_counts[f]} classes; classify the region with the "
                    "model's breaks (re-run export-factors) or retrain"
                )
    return array.astype("int32", copy=False)


def check_labels(labels, n_samples: int) -> np.ndarray:
    """Labels as float32 ``(N,)`` in [0, 1]."""
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.shape[0] != n_samples:
        raise LsghError(
            f"labels have shape {array.shape} but codes have {n_samples} rows; "
            "pass one label per sample"
        )
    if array.dtype.kind not in "iubf":
        raise LsghError(f"labels must be numbers but have dtype {array.dtype}; pass 0..1 values")
    array = array.astype("float32")
    if not np.all(np.isfinite(array)):
        raise LsghError("labels contain NaN or infinite values; drop those samples")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise LsghError(
            f"labels must lie in [0, 1] (1 landslide, 0 non-landslide) but range from "
            f"{array.min():g} to {array.max():g}; rescale or fix the label column"
        )
    return array


def check_training_set(labels: np.ndarray) -> None:
    """Enough samples, and both hard classes (label > 0.5 and <= 0.5) present."""
    n = labels.shape[0]
    positive = int(np.count_nonzero(labels > 0.5))
    negative = n - positive
    if n < MIN_SAMPLES:
        raise LsghError(
            f"only {n} training samples; at least {MIN_SAMPLES} are needed "
            "(sample more points or enlarge the region)"
        )
    if positive < MIN_PER_CLASS or negative < MIN_PER_CLASS:
        raise LsghError(
            f"training samples have {positive} landslide (label > 0.5) and {negative} "
            f"non-landslide samples; at least {MIN_PER_CLASS} of each are needed "
            "(check the inventory and the sampling settings)"
        )


def validation_split(
    codes: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Seeded split, stratified on ``label > 0.5``; ``fraction == 0`` means no validation."""
    if not 0.0 <= fraction < 1.0:
        raise LsghError(
            f"validation_fraction must be in [0, 1), got {fraction}; 0.2 is the default"
        )
    if fraction == 0:
        return codes, labels, None, None
    n = labels.shape[0]
    n_val = math.ceil(fraction * n)
    if n_val < MIN_PER_CLASS or n - n_val < MIN_PER_CLASS:
        raise LsghError(
            f"validation_fraction {fraction} of {n} samples leaves {n_val} validation and "
            f"{n - n_val} training samples; use more samples or a fraction nearer 0.2"
        )
    strata = labels > 0.5
    try:
        x_train, x_val, y_train, y_val = train_test_split(
            codes, labels, test_size=n_val, random_state=seed, stratify=strata
        )
    except ValueError as exc:
        raise LsghError(
            f"cannot draw a stratified validation split ({exc}); "
            "use more samples of each class or a different validation_fraction"
        ) from exc
    return x_train, y_train, x_val, y_val
