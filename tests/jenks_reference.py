"""An exact Jenks natural-breaks reference for the tests (Fisher 1958: dynamic programming
over the sorted distinct values, weighted by their counts), independent of ``jenkspy``.

An optimal partition of sorted values into contiguous classes never needs to split equal
values between two classes (each value belongs with the nearer class mean), so working on
the distinct values with their counts gives the optimum of all the values, exactly, in
O(k·m²) for m distinct values instead of jenkspy's O(k·n²) for n values.
"""

from __future__ import annotations

import numpy as np


def exact_jenks(values: np.ndarray, n_classes: int) -> list[float]:
    """Breaks ``[min, max of class 1, ..., max of class k]`` (jenkspy's convention) that
    minimise the within-class sum of squared deviations of the finite ``values``."""
    data = np.asarray(values, dtype=np.float64)
    x, w = np.unique(data[np.isfinite(data)], return_counts=True)
    m = x.size
    if m < n_classes:
        raise ValueError(f"{m} distinct values cannot make {n_classes} classes")
    w = w.astype(np.float64)
    cw = np.r_[0.0, np.cumsum(w)]
    c1 = np.r_[0.0, np.cumsum(w * x)]
    c2 = np.r_[0.0, np.cumsum(w * x * x)]
    # cost[i, j]: squared deviations of the distinct values i..j (inclusive), inf for j < i
    i, j = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    n = cw[j + 1] - cw[i]
    s = c1[j + 1] - c1[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.where(j >= i, (c2[j + 1] - c2[i]) - s * s / n, np.inf)
    cost = np.maximum(cost, 0.0)
    best = cost[0].copy()  # best[j]: one class holding values 0..j
    starts = []
    for _ in range(1, n_classes):
        # a new last class i..j after the best split of 0..i-1
        total = np.full((m, m), np.inf)
        total[1:] = best[:-1, None] + cost[1:]
        start = np.argmin(total, axis=0)
        best = total[start, np.arange(m)]
        starts.append(start)
    # walk back from the last value
    ends, j = [m - 1], m - 1
    for start in reversed(starts):
        i = int(start[j])
        ends.append(i - 1)
        j = i - 1
    ends.reverse()
    return [float(x[0])] + [float(x[e]) for e in ends]


def within_class_ssd(values: np.ndarray, breaks: list[float]) -> float:
    """Sum of squared deviations from the class means, class i holding
    breaks[i-1] < v <= breaks[i] (the first class includes the minimum)."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    cls = np.searchsorted(np.asarray(breaks[1:-1], dtype=np.float64), data, side="left")
    total = 0.0
    for c in np.unique(cls):
        part = data[cls == c]
        total += float(np.sum((part - part.mean()) ** 2))
    return total
