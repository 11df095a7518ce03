"""Classification of factor values into uint8 class codes (1..k, 0 = nodata)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Aspect sectors in the catalogue's class order (flat first), as [start, end) degrees.
ASPECT_SECTORS = {
    2: ((337.5, 360.0), (0.0, 22.5)),  # north
    3: ((157.5, 202.5),),  # south
    4: ((67.5, 112.5),),  # east
    5: ((247.5, 292.5),),  # west
    6: ((22.5, 67.5),),  # northeast
    7: ((292.5, 337.5),),  # northwest
    8: ((112.5, 157.5),),  # southeast
    9: ((202.5, 247.5),),  # southwest
}


def check_breaks(breaks: Sequence[float]) -> np.ndarray:
    """``breaks`` as float64 after checking they are 1..254 strictly increasing numbers.

    Raises:
        ValueError: an empty, unordered or too long list.
    """
    edges = np.asarray(breaks, dtype="float64")
    if edges.ndim != 1 or edges.size == 0 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"breaks must be a non-empty strictly increasing list, got {list(breaks)}")
    if edges.size > 254:
        raise ValueError("at most 254 breaks fit in uint8 class codes")
    return edges


def classify_breaks(values: np.ndarray, breaks: Sequence[float]) -> np.ndarray:
    """Class codes for continuous values: ``< b1`` → 1, ``b1 ≤ v < b2`` → 2, …, ``≥ bk`` → k+1.

    Args:
        values: float array, NaN = nodata.
        breaks: strictly increasing class breaks (at most 254).

    Returns:
        uint8 array of the same shape, 0 where ``values`` is NaN.
    """
    edges = check_breaks(breaks)
    codes = np.searchsorted(edges, values, side="right").astype("uint8") + 1
    codes[np.isnan(values)] = 0
    return codes


def classify_aspect(aspect_deg: np.ndarray) -> np.ndarray:
    """Aspect classes: 1 flat (aspect −1), 2 N, 3 S, 4 E, 5 W, 6 NE, 7 NW, 8 SE, 9 SW.

    Args:
        aspect_deg: degrees clockwise from north in [0, 360), −1 for flat, NaN nodata.
    """
    codes = np.zeros(aspect_deg.shape, dtype="uint8")
    codes[aspect_deg == -1] = 1
    for code, sectors in ASPECT_SECTORS.items():
        for lo, hi in sectors:
            codes[(aspect_deg >= lo) & (aspect_deg < hi)] = code
    return codes


def codes_from_float(values: np.ndarray) -> np.ndarray:
    """uint8 class codes from a float band that already holds codes (NaN → 0)."""
    codes = np.zeros(values.shape, dtype="uint8")
    valid = ~np.isnan(values)
    codes[valid] = values[valid].astype("uint8")
    return codes


#: Values a Jenks (natural) break computation sees at most: a seeded random sample of this
#: size plus the minimum and maximum (Jenks is quadratic in the number of values).
NATURAL_SAMPLE = 5000


def data_breaks(
    values: np.ndarray,
    method: str,
    n_classes: int,
    *,
    seed: int = 0,
    sample: int = NATURAL_SAMPLE,
) -> tuple[float, ...]:
    """Class breaks computed on a region's own values (``classify: quantile | natural``).

    ``quantile``: the ``k/n_classes`` quantiles of the valid values (equal-count classes);
    ``natural``: Jenks natural breaks (``jenkspy``) of at most ``sample`` seeded random
    values plus the minimum and maximum. Repeated breaks (many equal values) are merged,
    so fewer than ``n_classes`` classes may result.

    Returns:
        strictly increasing breaks (``n_classes - 1`` at most), rounded to 6 significant
        digits so they read well in schemas.

    Raises:
        ValueError: no valid value, a constant factor or an unknown method.
    """
    data = np.asarray(values, dtype="float64")
    data = data[np.isfinite(data)]
    if data.size == 0:
        raise ValueError("no valid value to compute class breaks from")
    if method == "quantile":
        inner = np.quantile(data, quantile_levels(n_classes))
    elif method == "natural":
        if data.size > sample:
            rng = np.random.default_rng(seed)
            data = np.concatenate([rng.choice(data, sample, replace=False),
                                   [data.min(), data.max()]])  # fmt: skip
        inner = natural_inner(data, n_classes)
    else:
        raise ValueError(unknown_method(method))
    return tidy_breaks(inner, data.min(), data.max())


def quantile_levels(n_classes: int) -> np.ndarray:
    """The quantiles ``k / n_classes`` (k = 1 .. n_classes - 1) of ``quantile`` breaks."""
    return np.arange(1, n_classes) / n_classes


def unknown_method(method: str) -> str:
    return f"unknown classification {method!r}; use quantile or natural"


def natural_inner(data: np.ndarray, n_classes: int) -> np.ndarray:
    """Jenks breaks between the classes of ``data`` (float64, finite, already sampled)."""
    import jenkspy

    distinct = np.unique(data)
    if distinct.size <= n_classes:
        return (distinct[1:] + distinct[:-1]) / 2
    return np.asarray(jenkspy.jenks_breaks(data, n_classes=n_classes)[1:-1])


def tidy_breaks(inner: np.ndarray, lowest: float, highest: float) -> tuple[float, ...]:
    """Breaks rounded to 6 significant digits, merged, and kept inside ``(lowest,
    highest]`` (the values' range: a break at the minimum would leave class 1 empty).

    Raises:
        ValueError: no break left (constant values).
    """
    breaks = np.unique([float(f"{b:.6g}") for b in inner])
    breaks = breaks[(breaks > lowest) & (breaks <= highest)]
    if breaks.size == 0:
        raise ValueError("the values are constant; they cannot be split into classes")
    return tuple(float(b) for b in breaks)
