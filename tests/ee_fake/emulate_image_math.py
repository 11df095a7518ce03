"""Per-pixel Image algorithms of the fake, with Earth Engine's semantics.

* Masks propagate: a pixel masked (NaN) in any operand is masked in the result, comparisons
  and logical operators included (NumPy alone would give 0 there).
* Band-wise operands: a 1-band operand is used against every band of the other; otherwise
  the band counts must match and bands are paired in order. Output bands are named after
  the longer input, or ``image1``'s when equally long (the algorithms' documented rule).
* Output types: comparisons and logical operators are ``uint8`` (0/1); trigonometry,
  ``sqrt`` and ``hypot`` are ``float32`` (EE's "float"); ``divide`` returns 0 for a division
  by zero; other operators take the union of the input types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .expressions import Evaluator, ExpressionError, LazyImage, PixelGrid, _as_image, emulates

Render = Callable[[PixelGrid], np.ndarray]


def cached(render: Render) -> Render:
    """``render`` remembering its last grid: an expression that uses one image several times
    (a DEM in a curvature stencil) renders it once per request."""
    memo: dict[PixelGrid, np.ndarray] = {}

    def wrapper(grid: PixelGrid) -> np.ndarray:
        if grid not in memo:
            memo.clear()
            memo[grid] = render(grid)
        return memo[grid]

    return wrapper


def _union(a: str, b: str) -> str:
    kind = np.result_type(np.dtype(a), np.dtype(b))
    return "float64" if kind.kind == "f" and kind.itemsize > 4 else kind.name


def _pair(name: str, one: LazyImage, two: LazyImage) -> tuple[list[str], list[int], list[int]]:
    """Output names and the band index of each operand per output band."""
    n1, n2 = len(one.band_names), len(two.band_names)
    if n1 == n2:
        return list(one.band_names), list(range(n1)), list(range(n2))
    if n1 == 1:
        return list(two.band_names), [0] * n2, list(range(n2))
    if n2 == 1:
        return list(one.band_names), list(range(n1)), [0] * n1
    raise ExpressionError(
        f"{name}: Images must contain the same number of bands or only 1 band. Got {n1} and {n2}."
    )


def _binary(name: str, op: Callable[[np.ndarray, np.ndarray], np.ndarray], dtype: str | None):
    def impl(ev: Evaluator, image1: Any, image2: Any) -> LazyImage:
        one, two = _as_image(image1), _as_image(image2)
        names, i1, i2 = _pair(name, one, two)
        if dtype is None:
            types = [_union(one.dtypes[a], two.dtypes[b]) for a, b in zip(i1, i2, strict=True)]
        else:
            types = [dtype] * len(names)

        def render(grid: PixelGrid) -> np.ndarray:
            a, b = one.render(grid)[i1], two.render(grid)[i2]
            with np.errstate(all="ignore"):
                out = op(a, b).astype("float64")
            out[np.isnan(a) | np.isnan(b)] = np.nan
            return out

        return LazyImage(names, types, cached(render))

    return impl


def _unary(op: Callable[[np.ndarray], np.ndarray], dtype: str | None):
    def impl(ev: Evaluator, value: Any) -> LazyImage:
        image = _as_image(value)

        def render(grid: PixelGrid) -> np.ndarray:
            data = image.render(grid)
            with np.errstate(all="ignore"):
                out = op(data).astype("float64")
            out[np.isnan(data)] = np.nan
            return out

        types = list(image.dtypes) if dtype is None else [dtype] * len(image.band_names)
        return LazyImage(list(image.band_names), types, cached(render))

    return impl


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def _ints(op: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    def apply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        good = ~(np.isnan(a) | np.isnan(b))
        out = np.zeros(a.shape)
        out[good] = op(a[good].astype("int64"), b[good].astype("int64"))
        return out

    return apply


_BINARY: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], str | None]] = {
    "add": (np.add, None),
    "subtract": (np.subtract, None),
    "multiply": (np.multiply, None),
    "divide": (_divide, None),
    "pow": (np.power, "float64"),
    "atan2": (np.arctan2, "float32"),
    "hypot": (np.hypot, "float32"),
    "min": (np.minimum, None),
    "max": (np.maximum, None),
    "gt": (np.greater, "uint8"),
    "gte": (np.greater_equal, "uint8"),
    "lt": (np.less, "uint8"),
    "lte": (np.less_equal, "uint8"),
    "eq": (np.equal, "uint8"),
    "neq": (np.not_equal, "uint8"),
    "and": (lambda a, b: (a != 0) & (b != 0), "uint8"),
    "or": (lambda a, b: (a != 0) | (b != 0), "uint8"),
    "bitwiseAnd": (_ints(np.bitwise_and), "int32"),
    "rightShift": (_ints(np.right_shift), "int32"),
}

_UNARY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str | None]] = {
    "abs": (np.abs, None),
    "sqrt": (np.sqrt, "float32"),
    "atan": (np.arctan, "float32"),
    "not": (lambda v: v == 0, "uint8"),
}

for _name, (_op, _dtype) in _BINARY.items():
    emulates(f"Image.{_name}")(_binary(f"Image.{_name}", _op, _dtype))
for _name, (_op, _dtype) in _UNARY.items():
    emulates(f"Image.{_name}")(_unary(_op, _dtype))


def _broadcast(name: str, target: LazyImage, other: LazyImage) -> list[int]:
    """Band index of ``other`` for each band of ``target`` (1 band → all of them)."""
    n, m = len(target.band_names), len(other.band_names)
    if m == 1:
        return [0] * n
    if m == n:
        return list(range(n))
    raise ExpressionError(
        f"{name}: Images must contain the same number of bands or only 1 band. Got {n} and {m}."
    )


@emulates("Image.where")
def _where(ev: Evaluator, input: Any, test: Any, value: Any) -> LazyImage:  # noqa: A002
    base, cond, repl = _as_image(input), _as_image(test), _as_image(value)
    ti = _broadcast("Image.where", base, cond)
    vi = _broadcast("Image.where", base, repl)

    def render(grid: PixelGrid) -> np.ndarray:
        data = base.render(grid)
        t, v = cond.render(grid)[ti], repl.render(grid)[vi]
        use = ~np.isnan(t) & (np.nan_to_num(t) != 0) & ~np.isnan(v) & ~np.isnan(data)
        return np.where(use, v, data)

    types = [_union(base.dtypes[i], repl.dtypes[j]) for i, j in enumerate(vi)]
    return LazyImage(list(base.band_names), types, cached(render))


@emulates("Image.updateMask")
def _update_mask(ev: Evaluator, image: Any, mask: Any) -> LazyImage:
    base, m = _as_image(image), _as_image(mask)
    mi = _broadcast("Image.updateMask", base, m)

    def render(grid: PixelGrid) -> np.ndarray:
        data = base.render(grid)
        keep = m.render(grid)[mi]
        return np.where(np.isnan(keep) | (np.nan_to_num(keep) == 0), np.nan, data)

    return LazyImage(list(base.band_names), list(base.dtypes), cached(render))


@emulates("Image.mask")
def _mask(ev: Evaluator, image: Any, mask: Any = None) -> LazyImage:
    """Without ``mask``: the mask (1 valid, 0 masked, itself unmasked). With it: the mask
    replaced; pixels it newly unmasks are filled with zeros, as the algorithm says."""
    base = _as_image(image)
    if mask is None:
        return LazyImage(
            list(base.band_names),
            ["float32"] * len(base.band_names),
            cached(lambda grid: (~np.isnan(base.render(grid))).astype("float64")),
        )
    m = _as_image(mask)
    mi = _broadcast("Image.mask", base, m)

    def render(grid: PixelGrid) -> np.ndarray:
        keep = m.render(grid)[mi]
        data = np.nan_to_num(base.render(grid), nan=0.0)
        return np.where(np.isnan(keep) | (np.nan_to_num(keep) == 0), np.nan, data)

    return LazyImage(list(base.band_names), list(base.dtypes), cached(render))


@emulates("Image.clamp")
def _clamp(ev: Evaluator, input: Any, low: float, high: float) -> LazyImage:  # noqa: A002
    base = _as_image(input)
    return LazyImage(
        list(base.band_names),
        list(base.dtypes),
        cached(lambda grid: np.clip(base.render(grid), float(low), float(high))),
    )


@emulates("Image.remap")
def _remap(
    ev: Evaluator,
    image: Any,
    to: list,
    defaultValue: Any = None,  # noqa: N803
    bandName: str | None = None,  # noqa: N803
    **kwargs: Any,
) -> LazyImage:
    """Values in ``from`` become the matching ``to``; others ``defaultValue`` or masked. One
    band out, named ``remapped`` (the server's name); ``bandName`` picks the input band
    (default: the first)."""
    source = kwargs.pop("from")
    base = _as_image(image)
    if len(source) != len(to):
        raise ExpressionError(
            f"Image.remap: 'from' and 'to' must have the same length ({len(source)} vs {len(to)})."
        )
    if bandName is None:
        band = 0
    elif bandName in base.band_names:
        band = base.band_names.index(bandName)
    else:
        raise ExpressionError(
            f"Image.remap: Band '{bandName}' not found. Available bands: "
            f"[{', '.join(base.band_names)}]"
        )
    outs = [*to, *([] if defaultValue is None else [defaultValue])]
    dtype = "int32" if all(float(v).is_integer() for v in outs) else "float64"

    def render(grid: PixelGrid) -> np.ndarray:
        data = base.render(grid)[band]
        out = np.full(data.shape, np.nan if defaultValue is None else float(defaultValue))
        for old, new in zip(source, to, strict=True):
            out[data == float(old)] = float(new)
        out[np.isnan(data)] = np.nan
        return out[np.newaxis]

    return LazyImage(["remapped"], [dtype], cached(render))
