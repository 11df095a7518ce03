"""Kernels, neighbourhood and region reductions of the fake (terrain recipes need them).

Neighbourhood operators render their input on the request's grid padded by the kernel's
half-size, so a pixel at a tile edge sees the same neighbours as anywhere else and tiled
downloads equal one big render. Conventions, as Earth Engine documents them:

* A kernel is laid on the image as written: ``weights[0]`` is the northern row, the focus
  at column ``x``, row ``y`` (default: the middle). ``convolve`` sums weight × value over
  the kernel (a correlation; identical to a convolution for the symmetric kernels used
  here) and is masked wherever a cell of non-zero weight is masked.
* ``reduceNeighborhood`` skips masked neighbours, is masked where the focus pixel is
  masked (``skipMasked``) and names each band ``<band>_<reducer output>``; ``mean``
  weighs by the kernel (``inputWeight: kernel``), min / max / stdDev use the cells of
  non-zero weight.
* ``reduceRegion`` reduces the pixels whose centres lie in the geometry, on the lattice
  given by ``crs`` + ``crsTransform`` (the fake needs both), and answers ``{band: value}``;
  ``stdDev`` is the population standard deviation (``sampleStdDev`` is another reducer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from affine import Affine

from .emulate_collections import FakeGeometry
from .emulate_image_math import cached
from .expressions import _FUNCTIONS, Evaluator, ExpressionError, LazyImage, PixelGrid, emulates


@dataclass(frozen=True)
class Kernel:
    """Weights ``(rows, cols)`` with the focus at ``weights[y, x]``."""

    weights: np.ndarray
    x: int
    y: int

    @property
    def pad(self) -> int:
        rows, cols = self.weights.shape
        return max(self.x, self.y, cols - 1 - self.x, rows - 1 - self.y)


@dataclass(frozen=True)
class Reducer:
    """A reducer by name (``mean``, ``min``, ``max``, ``stdDev``)."""

    name: str


def _unimplemented(message: str) -> ExpressionError:
    return ExpressionError(message, 501, "UNIMPLEMENTED")


def _finish(weights: np.ndarray, normalize: bool, magnitude: float = 1.0) -> np.ndarray:
    weights = weights.astype("float64") * float(magnitude)
    if normalize:
        total = weights.sum()
        weights = weights / total if total != 0 else weights
    return weights


@emulates("Kernel.fixed")
def _kernel_fixed(
    ev: Evaluator,
    weights: list,
    width: int = -1,
    height: int = -1,
    x: int = -1,
    y: int = -1,
    normalize: bool = False,
) -> Kernel:
    grid = np.asarray(weights, dtype="float64")
    if grid.ndim != 2:
        raise ExpressionError("Kernel.fixed: weights must be a list of rows.")
    rows, cols = grid.shape
    if (width not in (-1, None) and width != cols) or (height not in (-1, None) and height != rows):
        raise ExpressionError(
            f"Kernel.fixed: weights are {rows}×{cols} but width={width}, height={height}."
        )
    fx = cols // 2 if x in (-1, None) else int(x)
    fy = rows // 2 if y in (-1, None) else int(y)
    return Kernel(_finish(grid, bool(normalize)), fx, fy)


def _shaped(shape: str):
    def impl(
        ev: Evaluator,
        radius: float,
        units: str = "pixels",
        normalize: bool = True,
        magnitude: float = 1.0,
    ) -> Kernel:
        if units != "pixels":
            raise _unimplemented(f"The fake emulates Kernel.{shape} in pixels, not {units}.")
        k = math.floor(float(radius))
        off = np.arange(-k, k + 1)
        if shape == "circle":
            inside = off[:, None] ** 2 + off[None, :] ** 2 <= float(radius) ** 2
        else:
            inside = np.ones((off.size, off.size), dtype=bool)
        return Kernel(_finish(inside, bool(normalize), magnitude), k, k)

    return impl


emulates("Kernel.circle")(_shaped("circle"))
emulates("Kernel.square")(_shaped("square"))


def _reducer(name: str):
    def impl(ev: Evaluator, **kwargs: Any) -> Reducer:
        if kwargs.get("numInputs", 1) not in (1, None):
            raise _unimplemented(f"The fake emulates Reducer.{name} with one input.")
        return Reducer(name)

    return impl


for _name in ("mean", "min", "max", "stdDev"):
    emulates(f"Reducer.{_name}")(_reducer(_name))


def _shifted(data: np.ndarray, kernel: Kernel, pad: int, height: int, width: int):
    """Yield (weight, window) for each non-zero kernel cell: ``window[r, c]`` is the
    neighbour of output pixel (r, c) under that cell, taken from data padded by ``pad``."""
    rows, cols = np.nonzero(kernel.weights)
    for j, i in zip(rows, cols, strict=True):
        dy, dx = j - kernel.y, i - kernel.x
        yield (
            kernel.weights[j, i],
            data[:, pad + dy : pad + dy + height, pad + dx : pad + dx + width],
        )


@emulates("Image.convolve")
def _convolve(ev: Evaluator, image: LazyImage, kernel: Kernel) -> LazyImage:
    def render(grid: PixelGrid) -> np.ndarray:
        pad = kernel.pad
        data = image.render(grid.padded(pad))
        out = np.zeros((data.shape[0], grid.height, grid.width))
        for weight, window in _shifted(data, kernel, pad, grid.height, grid.width):
            out += weight * window  # NaN (masked) anywhere under the kernel masks the pixel
        return out

    return LazyImage(list(image.band_names), ["float32"] * len(image.dtypes), cached(render))


@emulates("Image.reduceNeighborhood")
def _reduce_neighborhood(
    ev: Evaluator,
    image: LazyImage,
    reducer: Reducer,
    kernel: Kernel,
    inputWeight: str = "kernel",  # noqa: N803
    skipMasked: bool = True,  # noqa: N803
    optimization: Any = None,
) -> LazyImage:
    if inputWeight != "kernel":
        raise _unimplemented("The fake emulates reduceNeighborhood with inputWeight 'kernel'.")

    def render(grid: PixelGrid) -> np.ndarray:
        pad = kernel.pad
        data = image.render(grid.padded(pad))
        shape = (data.shape[0], grid.height, grid.width)
        total, weights, squares = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        low, high = np.full(shape, np.inf), np.full(shape, -np.inf)
        for weight, window in _shifted(data, kernel, pad, grid.height, grid.width):
            valid = ~np.isnan(window)
            values = np.where(valid, window, 0.0)
            total += weight * values
            squares += weight * values * values
            weights += weight * valid
            np.minimum(low, np.where(valid, window, np.inf), out=low)
            np.maximum(high, np.where(valid, window, -np.inf), out=high)
        with np.errstate(all="ignore"):
            mean = total / weights
            out = {
                "mean": mean,
                "min": low,
                "max": high,
                "stdDev": np.sqrt(np.maximum(squares / weights - mean * mean, 0.0)),
            }[reducer.name]
        out = np.where(weights > 0, out, np.nan)
        if skipMasked:
            centre = data[:, pad : pad + grid.height, pad : pad + grid.width]
            out[np.isnan(centre)] = np.nan
        return out

    names = [f"{band}_{reducer.name}" for band in image.band_names]
    return LazyImage(names, ["float64"] * len(names), cached(render))


def _bounds(geometry: Any) -> tuple[tuple[float, float, float, float], str]:
    """Bounds and CRS of a geometry of ``emulate_collections`` (which owns geometries)."""
    if not isinstance(geometry, FakeGeometry):
        raise _unimplemented(f"The fake cannot reduce over a {type(geometry).__name__}.")
    if not geometry.shape.equals(shapely.box(*geometry.bounds)):
        raise _unimplemented("The fake reduces over axis-aligned rectangles only.")
    return geometry.bounds, geometry.crs


def region_grid(
    name: str, geometry: Any, crs: Any, crs_transform: Any, max_pixels: Any = 1e7
) -> PixelGrid | None:
    """The pixels (on the lattice ``crs`` + ``crs_transform``) whose centres lie in the
    rectangle ``geometry``, as a request grid; None when there is none. ``name`` is the
    algorithm, for errors."""
    code = crs["crs"] if isinstance(crs, dict) else crs
    if geometry is None or code is None or crs_transform is None:
        raise _unimplemented(f"The fake emulates {name} with geometry, crs and crsTransform.")
    (xmin, ymin, xmax, ymax), geometry_crs = _bounds(geometry)
    if str(geometry_crs).upper() != str(code).upper():
        raise _unimplemented("The fake reduces over geometries in the reduction's CRS only.")
    t = Affine(*crs_transform[:6])
    if t.b or t.d or t.a <= 0 or t.e >= 0:
        raise _unimplemented("The fake reduces on north-up lattices only.")
    # pixels whose centres lie inside the rectangle
    c0 = math.ceil((xmin - t.c) / t.a - 0.5)
    c1 = math.floor((xmax - t.c) / t.a - 0.5)
    r0 = math.ceil((ymax - t.f) / t.e - 0.5)
    r1 = math.floor((ymin - t.f) / t.e - 0.5)
    height, width = r1 - r0 + 1, c1 - c0 + 1
    if height <= 0 or width <= 0:
        return None
    if height * width > float(max_pixels):
        raise ExpressionError(
            f"{name}: Too many pixels in the region. Found {height * width}, "
            f"but maxPixels allows only {int(max_pixels)}."
        )
    return PixelGrid(code, t @ Affine.translation(c0, r0), height, width)


@emulates("Image.reduceRegion")
def _reduce_region(
    ev: Evaluator,
    image: LazyImage,
    reducer: Reducer,
    geometry: Any = None,
    scale: Any = None,
    crs: Any = None,
    crsTransform: Any = None,  # noqa: N803
    bestEffort: Any = False,  # noqa: N803
    maxPixels: Any = 1e7,  # noqa: N803
    tileScale: Any = 1,  # noqa: N803
) -> dict[str, Any]:
    grid = region_grid("Image.reduceRegion", geometry, crs, crsTransform, maxPixels)
    if grid is None:
        return {band: None for band in image.band_names}
    data = image.render(grid)
    out: dict[str, Any] = {}
    for band, values in zip(image.band_names, data, strict=True):
        valid = values[~np.isnan(values)]
        if hasattr(reducer, "reduce"):  # reducers of other modules (emulate_reductions.py)
            out[band] = reducer.reduce(valid)
            continue
        if valid.size == 0:
            out[band] = None
            continue
        stat = {"mean": np.mean, "min": np.min, "max": np.max, "stdDev": np.std}[reducer.name]
        out[band] = float(stat(valid))
    return out


def _dictionary_get(ev: Evaluator, dictionary: dict, key: str, defaultValue: Any = None) -> Any:  # noqa: N803
    if key not in dictionary:
        if defaultValue is not None:
            return defaultValue
        raise ExpressionError(
            f"Dictionary.get: Dictionary does not contain key: '{key}'. "
            f"Available keys: [{', '.join(dictionary)}]"
        )
    return dictionary[key]


for _name in ("Dictionary.get", "Dictionary.getNumber"):
    if _name not in _FUNCTIONS:
        emulates(_name)(_dictionary_get)
