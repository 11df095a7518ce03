"""Data-driven class breaks (``classify: quantile | natural``) of a factor read strip by
strip: the breaks of :func:`lsgh_ee.factors.classify.data_breaks` on the whole factor,
exactly, with memory of a strip plus two 65 536-bin histograms.

- ``quantile``: NumPy's ``quantile`` (linear method) needs the values of a few ranks of
  the sorted valid values. Each is found exactly by a radix select on the float32 values'
  bits, mapped to unsigned keys that sort as the values do: one pass counts the keys'
  upper 16 bits, a second the lower 16 bits of the keys in the bins holding the ranks.
  The interpolation between neighbouring ranks is NumPy's own formula, step by step
  (:func:`_numpy_linear`).
- ``natural``: the same seeded draw of :data:`~lsgh_ee.factors.classify.NATURAL_SAMPLE`
  values (``Generator.choice`` draws positions from the count alone), gathered strip by
  strip in the valid values' row-major order, plus the minimum and maximum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from lsgh_ee.factors.classify import (
    NATURAL_SAMPLE,
    natural_inner,
    quantile_levels,
    tidy_breaks,
    unknown_method,
)

#: ``read() -> iterator of float32 strips``: a factor's values (NaN nodata), strip by
#: strip in row order; called once per pass.
StripSource = Callable[[], Iterator[np.ndarray]]

_HALF = 1 << 16


def strip_data_breaks(
    read: StripSource, method: str, n_classes: int, *, seed: int = 0, sample: int = NATURAL_SAMPLE
) -> tuple[float, ...]:
    """:func:`~lsgh_ee.factors.classify.data_breaks` of the values ``read`` delivers
    (float32), computed strip by strip (see the module's docstring); the same breaks
    and errors."""
    if method not in ("quantile", "natural"):
        raise ValueError(unknown_method(method))
    high = np.zeros(_HALF, dtype="int64")
    lowest, highest = np.inf, -np.inf
    for values in read():
        keys = _keys(values)
        if keys.size:
            high += np.bincount(keys >> 16, minlength=_HALF)
            finite = values[np.isfinite(values)]
            lowest = min(lowest, float(finite.min()))
            highest = max(highest, float(finite.max()))
    n = int(high.sum())
    if n == 0:
        raise ValueError("no valid value to compute class breaks from")
    if method == "quantile":
        inner = _exact_quantiles(read, high, n, quantile_levels(n_classes))
        return tidy_breaks(inner, lowest, highest)
    if n > sample:
        picked = _gather(read, np.random.default_rng(seed).choice(n, sample, replace=False))
        data = np.concatenate([picked, [lowest, highest]])
    else:
        data = np.concatenate([_finite(v).astype("float64") for v in read()])
    return tidy_breaks(natural_inner(data, n_classes), lowest, highest)


def _finite(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values, dtype="float32").reshape(-1)
    return flat[np.isfinite(flat)]


def _keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys of the finite float32 values (row-major), ordered as the values."""
    bits = _finite(values).view("uint32")
    negative = (bits >> 31).astype(bool)
    return np.where(negative, ~bits, bits | np.uint32(0x80000000)).astype("uint32")


def _value(key: int) -> float:
    """The float value (float32 widened) of a key from :func:`_keys`."""
    bits = (~key & 0xFFFFFFFF) if key < 0x80000000 else key & 0x7FFFFFFF
    return float(np.array([bits], dtype="uint32").view("float32")[0])


def _exact_quantiles(read: StripSource, high: np.ndarray, n: int, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(values, levels)`` of the ``n`` finite values, from their upper-bit
    histogram ``high`` and one more pass."""
    plan = [_numpy_ranks(n, float(q)) for q in levels]
    ranks = sorted({r for prev, nxt, _ in plan for r in (prev, nxt)})
    cumulative = np.cumsum(high)
    bins = {r: int(np.searchsorted(cumulative, r, side="right")) for r in ranks}
    low = {b: np.zeros(_HALF, dtype="int64") for b in set(bins.values())}
    wanted = np.array(sorted(low), dtype="uint32")
    for values in read():
        keys = _keys(values)
        top = keys >> 16
        for b in wanted[np.isin(wanted, top)]:
            low[int(b)] += np.bincount(keys[top == b] & 0xFFFF, minlength=_HALF)
    value_at = {}
    for r, b in bins.items():
        before = int(cumulative[b - 1]) if b else 0
        within = int(np.searchsorted(np.cumsum(low[b]), r - before, side="right"))
        value_at[r] = _value((b << 16) | within)
    return np.array([_numpy_linear(value_at[p], value_at[x], g) for p, x, g in plan])


def _numpy_ranks(n: int, q: float) -> tuple[int, int, float]:
    """NumPy's linear-method ranks (previous, next) and weight for quantile ``q`` of
    ``n`` values (its ``get_virtual_index``, ``_get_indexes`` and ``_get_gamma``)."""
    virtual = (n - 1) * q
    previous = float(np.floor(virtual))
    nxt = previous + 1
    if virtual >= n - 1:
        previous = nxt = -1.0
    elif virtual < 0:
        previous = nxt = 0.0
    gamma = virtual - previous
    return int(previous) % n, int(nxt) % n, gamma


def _numpy_linear(a: float, b: float, t: float) -> float:
    """NumPy's ``_lerp``: ``a + (b - a) t``, from ``b`` backwards when ``t >= 0.5``."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _gather(read: StripSource, positions: np.ndarray) -> np.ndarray:
    """float64 values at ``positions`` (indices into the finite values in row-major
    order), in the order of ``positions``."""
    order = np.argsort(positions, kind="stable")
    wanted = positions[order]
    out = np.empty(positions.size, dtype="float64")
    offset, done = 0, 0
    for values in read():
        finite = _finite(values)
        end = int(np.searchsorted(wanted, offset + finite.size, side="left"))
        out[order[done:end]] = finite[wanted[done:end] - offset]
        offset, done = offset + finite.size, end
    return out
