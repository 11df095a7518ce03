"""Sampling, histograms and distance transforms of the fake, for the Earth Engine-native run
(samples, heatmap and zoning statistics computed where the pixels are).

Emulated, with Earth Engine's documented semantics:

* ``Reducer.fixedHistogram(min, max, steps)``: an ``steps × 2`` array of bucket lower edges
  and counts; values outside ``[min, max)`` are ignored. ``Reducer.sum`` / ``Reducer.count``
  (of the unmasked pixels). Used through ``Image.reduceRegion`` (``emulate_terrain.py``).
* ``Image.stratifiedSample``: per class value of ``classBand``, ``classPoints`` (else
  ``numPoints``) distinct pixels drawn uniformly, all of them when fewer are available;
  each class is drawn with its own generator seeded from ``seed`` and the class value
  (the real service's generator is its own: the same seed gives other pixels there).
  Pixels with any band masked are skipped (``dropNulls``). One feature per pixel with a
  property per band (integer bands as integers).
* ``Image.sample``: every unmasked pixel of the region, or ``numPixels`` of them drawn
  uniformly (the real service takes about ``numPixels``).
* (``Image.fastDistanceTransform`` is emulated in :mod:`.emulate_hydrology`.)
* ``Image.pixelCoordinates``: the x and y of each pixel centre in the projection's CRS
  (the request grid's lattice when it is the same CRS).
* ``Image.round``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from .emulate_collections import Element, FakeCollection, FakeGeometry
from .emulate_image_math import _unary, cached
from .emulate_terrain import region_grid
from .expressions import Evaluator, ExpressionError, LazyImage, PixelGrid, emulates

emulates("Image.round")(_unary(np.round, None))


@dataclass(frozen=True)
class FixedHistogram:
    """``Reducer.fixedHistogram``: ``reduce`` answers ``[[lower edge, count], ...]``."""

    min: float
    max: float
    steps: int

    def reduce(self, values: np.ndarray) -> list[list[float]]:
        width = (self.max - self.min) / self.steps
        inside = values[(values >= self.min) & (values < self.max)]
        bucket = np.clip(np.floor((inside - self.min) / width).astype(np.int64), 0,
                         self.steps - 1)  # fmt: skip
        counts = np.bincount(bucket, minlength=self.steps)
        return [[self.min + i * width, float(c)] for i, c in enumerate(counts)]


@dataclass(frozen=True)
class Tally:
    """``Reducer.sum`` / ``Reducer.count`` of the unmasked values."""

    name: str

    def reduce(self, values: np.ndarray) -> float:
        return float(values.sum()) if self.name == "sum" else float(values.size)


@emulates("Reducer.fixedHistogram")
def _fixed_histogram(
    ev: Evaluator,
    min: float,
    max: float,
    steps: int,
    cumulative: Any = False,  # noqa: A002
) -> FixedHistogram:
    if cumulative:
        raise ExpressionError(
            "The fake emulates non-cumulative histograms only.", 501, "UNIMPLEMENTED"
        )
    if int(steps) < 1 or float(max) <= float(min):
        raise ExpressionError("Reducer.fixedHistogram: need steps >= 1 and max > min.")
    return FixedHistogram(float(min), float(max), int(steps))


emulates("Reducer.sum")(lambda ev: Tally("sum"))
emulates("Reducer.count")(lambda ev: Tally("count"))


def _region_pixels(
    name: str, image: LazyImage, region: Any, projection: Any
) -> tuple[PixelGrid, np.ndarray]:
    """The region's pixel grid on the projection's lattice and the image rendered there."""
    if not isinstance(projection, dict) or not projection.get("transform"):
        raise ExpressionError(
            f"The fake emulates {name} with a projection that has a crsTransform only.",
            501,
            "UNIMPLEMENTED",
        )
    if not isinstance(region, FakeGeometry):
        raise ExpressionError(f"The fake emulates {name} with a region.", 501, "UNIMPLEMENTED")
    grid = region_grid(name, region, projection["crs"], projection["transform"], 1e12)
    if grid is None:
        return PixelGrid(str(projection["crs"]), Affine.identity(), 0, 0), np.zeros((0, 0, 0))
    return grid, image.render(grid)


def _features(
    image: LazyImage, grid: PixelGrid, data: np.ndarray, flat: np.ndarray, geometries: bool
) -> list[Element]:
    """One feature per flat pixel index of ``grid``: a property per band."""
    rows, cols = np.divmod(flat, grid.width)
    out = []
    for r, c in zip(rows, cols, strict=True):
        props: dict[str, Any] = {}
        for i, (band, dtype) in enumerate(zip(image.band_names, image.dtypes, strict=True)):
            value = data[i, r, c]
            props[band] = int(value) if np.dtype(dtype).kind in "iu" else float(value)
        geometry = None
        if geometries:
            from shapely.geometry import Point

            x, y = grid.transform @ (c + 0.5, r + 0.5)
            geometry = FakeGeometry(Point(x, y), grid.crs)
        out.append(Element(None, geometry, props))
    return out


def _valid(data: np.ndarray, drop_nulls: Any) -> np.ndarray:
    if data.size == 0:
        return np.zeros(0, dtype=bool)
    flat = data.reshape(data.shape[0], -1)
    return (
        ~np.isnan(flat).any(axis=0)
        if drop_nulls in (None, True)
        else np.ones(flat.shape[1], dtype=bool)
    )


@emulates("Image.stratifiedSample")
def _stratified_sample(
    ev: Evaluator,
    image: LazyImage,
    numPoints: int,  # noqa: N803
    classBand: Any = None,  # noqa: N803
    region: Any = None,
    scale: Any = None,
    projection: Any = None,
    seed: Any = 0,
    classValues: Any = None,  # noqa: N803
    classPoints: Any = None,  # noqa: N803
    dropNulls: Any = True,  # noqa: N803
    tileScale: Any = 1,  # noqa: N803
    geometries: Any = False,
) -> FakeCollection:
    band = image.band_names[0] if classBand is None else classBand
    if band not in image.band_names:
        raise ExpressionError(f"Image.stratifiedSample: no band '{band}' in the image.")
    if len(classValues or []) != len(classPoints or []):
        raise ExpressionError(
            "Image.stratifiedSample: classValues and classPoints must have the same size."
        )
    wanted = {int(v): int(n) for v, n in zip(classValues or [], classPoints or [], strict=True)}
    grid, data = _region_pixels("Image.stratifiedSample", image, region, projection)
    valid = _valid(data, dropNulls)
    classes = data[image.band_names.index(band)].reshape(-1) if data.size else np.zeros(0)
    picked = []
    for value in np.unique(classes[valid & ~np.isnan(classes)]).astype(np.int64):
        n = wanted.get(int(value), int(numPoints))
        candidates = np.flatnonzero(valid & (classes == value))
        if n < candidates.size:
            rng = np.random.default_rng([int(seed or 0), zlib.crc32(str(value).encode())])
            candidates = np.sort(rng.choice(candidates, n, replace=False))
        picked.append(candidates)
    flat = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
    return FakeCollection(_features(image, grid, data, flat, bool(geometries)))


@emulates("Image.sample")
def _sample(
    ev: Evaluator,
    image: LazyImage,
    region: Any = None,
    scale: Any = None,
    projection: Any = None,
    factor: Any = None,
    numPixels: Any = None,  # noqa: N803
    seed: Any = 0,
    dropNulls: Any = True,  # noqa: N803
    tileScale: Any = 1,  # noqa: N803
    geometries: Any = False,
) -> FakeCollection:
    if factor is not None:
        raise ExpressionError("The fake emulates Image.sample without 'factor'.", 501,
                              "UNIMPLEMENTED")  # fmt: skip
    grid, data = _region_pixels("Image.sample", image, region, projection)
    flat = np.flatnonzero(_valid(data, dropNulls))
    if numPixels is not None and int(numPixels) < flat.size:
        rng = np.random.default_rng(int(seed or 0))
        flat = np.sort(rng.choice(flat, int(numPixels), replace=False))
    return FakeCollection(_features(image, grid, data, flat, bool(geometries)))


@emulates("Image.pixelCoordinates")
def _pixel_coordinates(ev: Evaluator, projection: Any) -> LazyImage:
    crs = projection["crs"] if isinstance(projection, dict) else projection

    def render(grid: PixelGrid) -> np.ndarray:
        if str(crs).upper() != str(grid.crs).upper():
            raise ExpressionError(
                "The fake emulates pixelCoordinates in the request's CRS only.", 501,
                "UNIMPLEMENTED",
            )  # fmt: skip
        rows, cols = np.mgrid[0 : grid.height, 0 : grid.width].astype("float64")
        x, y = grid.transform @ (cols + 0.5, rows + 0.5)
        return np.stack([x, y])

    return LazyImage(["x", "y"], ["float64", "float64"], cached(render))
