"""Collections in the fake: ImageCollection assets, filters, map, per-pixel reductions.

Register data with :meth:`ee_fake.FakeEarthEngine.add_collection` (images as
:class:`CollectionImage`: pixels on their own grid plus properties such as
``system:time_start`` in milliseconds). A collection evaluates to a :class:`FakeCollection`
of :class:`Element` (an image with its footprint, or a feature); the vector side
(geometries, features, tables) is in ``emulate_features.py``.

Emulated: ``ImageCollection.load`` / ``fromImages`` / ``merge`` / ``mosaic``,
``Collection.merge`` / ``filter`` / ``map``, ``Filter.intersects`` / ``dateRangeContains``,
``DateRange``, ``reduce.median`` / ``reduce.mean``, ``Reducer.mode`` and
``Image.reduceResolution``.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .expressions import (
    Asset,
    Evaluator,
    ExpressionError,
    Function,
    LazyImage,
    PixelGrid,
    _image_load,
    emulates,
)


def _unimplemented(message: str) -> ExpressionError:
    return ExpressionError(message, 501, "UNIMPLEMENTED")


@dataclass(frozen=True)
class FakeGeometry:
    """A geometry in a CRS (``EPSG:4326`` unless a constructor named another)."""

    shape: BaseGeometry
    crs: str = "EPSG:4326"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(self.shape.bounds)  # type: ignore[return-value]

    def to(self, crs: str) -> BaseGeometry:
        """The shape with its coordinates transformed to ``crs`` (vertex by vertex)."""
        if str(crs).upper() == str(self.crs).upper():
            return self.shape
        transformer = Transformer.from_crs(self.crs, crs, always_xy=True)

        def move(xy: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(self.shape, move)


@dataclass
class Element:
    """A collection element: an image (``image`` set, ``geometry`` its footprint) or a
    feature (``image`` None)."""

    image: LazyImage | None
    geometry: FakeGeometry | None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeCollection:
    elements: list[Element]


@dataclass
class CollectionImage:
    """An image of a registered ImageCollection: pixels (bands, rows, cols) on their own grid
    and the image's properties (``system:time_start``: milliseconds since 1970, UTC)."""

    data: np.ndarray
    crs: str
    transform: Affine
    band_names: list[str]
    properties: dict[str, Any] = field(default_factory=dict)
    nodata: float | None = None


def time_start(year: int, month: int = 1, day: int = 1) -> int:
    """``system:time_start`` (milliseconds since 1970-01-01 UTC) of a date at midnight."""
    moment = dt.datetime(year, month, day, tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def _collection(value: Any, what: str) -> FakeCollection:
    if not isinstance(value, FakeCollection):
        raise ExpressionError(f"{what}: expected a collection, got {type(value).__name__}.")
    return value


def _image_element(ev: Evaluator, record: CollectionImage, key: str) -> Element:
    data = record.data[np.newaxis] if record.data.ndim == 2 else record.data
    asset = Asset(data, record.crs, record.transform, list(record.band_names), record.nodata)
    image = _image_load(SimpleNamespace(assets={key: asset}), key)  # type: ignore[arg-type]
    left, top = record.transform.c, record.transform.f
    right = left + record.transform.a * data.shape[2]
    bottom = top + record.transform.e * data.shape[1]
    footprint = FakeGeometry(box(left, min(top, bottom), right, max(top, bottom)), record.crs)
    return Element(image, footprint, dict(record.properties))


@emulates("ImageCollection.load")
def _load(ev: Evaluator, id: str, version: Any = None) -> FakeCollection:  # noqa: A002
    records = ev.collections.get(id)
    if records is None:
        raise ExpressionError(
            f"ImageCollection.load: ImageCollection asset '{id}' not found (does not exist or "
            "caller does not have access)."
        )
    return FakeCollection([_image_element(ev, r, f"{id}#{i}") for i, r in enumerate(records)])


@emulates("ImageCollection.fromImages")
def _from_images(ev: Evaluator, images: list) -> FakeCollection:
    for image in images:
        if not isinstance(image, LazyImage):
            raise ExpressionError("ImageCollection.fromImages: every element must be an Image.")
    return FakeCollection([Element(image, None, {}) for image in images])


@emulates("ImageCollection.merge", "Collection.merge")
def _merge(ev: Evaluator, collection1: Any, collection2: Any) -> FakeCollection:
    one = _collection(collection1, "merge")
    two = _collection(collection2, "merge")
    return FakeCollection(one.elements + two.elements)


@emulates("ImageCollection.mosaic")
def _mosaic(ev: Evaluator, collection: Any) -> LazyImage:
    """The last image on top, earlier ones showing through its masked pixels."""
    images = [e.image for e in _collection(collection, "mosaic").elements if e.image]
    if not images:
        return LazyImage([], [], lambda grid: np.zeros((0, grid.height, grid.width)))
    names = images[0].band_names

    def render(grid: PixelGrid) -> np.ndarray:
        out = images[0].render(grid).copy()
        for image in images[1:]:
            data = image.render(grid)
            out = np.where(np.isnan(data), out, data)
        return out

    # a composite has no fixed projection (Earth Engine: WGS-84, 1 degree by default)
    return LazyImage(list(names), list(images[0].dtypes), render, unfixed=True)


@emulates("Collection.first")
def _first(ev: Evaluator, collection: Any) -> Any:
    elements = _collection(collection, "first").elements
    return elements[0].image if elements and elements[0].image else None


@emulates("Image.projection")
def _image_projection(ev: Evaluator, image: Any) -> dict:
    """The image's projection: its own for an asset's image, the default (WGS-84 at 1
    degree) for a composite; the fake needs only which of the two it is."""
    if not isinstance(image, LazyImage):
        raise ExpressionError("Image.projection: Parameter 'image' is required.")
    if image.unfixed:
        return {"crs": "EPSG:4326", "transform": [1, 0, 0, 0, 1, 0], "unfixed": True}
    return {"crs": "native", "transform": None, "unfixed": False}


@emulates("Image.setDefaultProjection")
def _set_default_projection(ev: Evaluator, image: LazyImage, crs: Any, crsTransform: Any = None,  # noqa: N803
                            scale: Any = None) -> LazyImage:  # fmt: skip
    unfixed = isinstance(crs, dict) and bool(crs.get("unfixed"))
    return LazyImage(image.band_names, image.dtypes, image.render, unfixed)


Predicate = Callable[[Element], bool]


@emulates("Collection.filter")
def _filter(ev: Evaluator, collection: Any, filter: Predicate) -> FakeCollection:  # noqa: A002
    return FakeCollection([e for e in _collection(collection, "filter").elements if filter(e)])


def _as_geometry(value: Any) -> FakeGeometry:
    if isinstance(value, Element) and value.geometry is not None:
        return value.geometry
    if isinstance(value, FakeGeometry):
        return value
    crs = getattr(value, "crs", None)  # another emulation's rectangle
    bounds = getattr(value, "bounds", None)
    if bounds is not None:
        return FakeGeometry(box(*bounds), crs or "EPSG:4326")
    raise ExpressionError(f"Expected a geometry, got {type(value).__name__}.")


@emulates("Filter.intersects")
def _intersects(
    ev: Evaluator,
    leftField: Any = None,  # noqa: N803
    rightValue: Any = None,  # noqa: N803
    rightField: Any = None,  # noqa: N803
    leftValue: Any = None,  # noqa: N803
    maxError: Any = None,  # noqa: N803
) -> Predicate:
    if leftField not in (".all", ".geo") or rightValue is None:
        raise _unimplemented("The fake emulates Filter.intersects(.geo, geometry) only.")
    region = _as_geometry(rightValue)

    def test(element: Element) -> bool:
        if element.geometry is None:
            return False
        return bool(element.geometry.to(region.crs).intersects(region.shape))

    return test


def _millis(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp() * 1000
    raise ExpressionError(f"Invalid date: {value!r}.")


@emulates("DateRange")
def _date_range(ev: Evaluator, start: Any, end: Any = None, timeZone: Any = None) -> tuple:  # noqa: N803
    if timeZone not in (None, "UTC"):
        raise _unimplemented("The fake emulates DateRange in UTC only.")
    begin = _millis(start)
    return (begin, _millis(end) if end is not None else begin + 1)


@emulates("Filter.dateRangeContains")
def _date_range_contains(
    ev: Evaluator,
    leftField: Any = None,  # noqa: N803
    rightValue: Any = None,  # noqa: N803
    rightField: Any = None,  # noqa: N803
    leftValue: Any = None,  # noqa: N803
) -> Predicate:
    if not isinstance(leftValue, tuple) or rightField is None:
        raise _unimplemented("The fake emulates dateRangeContains(DateRange, field) only.")
    begin, end = leftValue

    def test(element: Element) -> bool:
        when = element.properties.get(rightField)
        return when is not None and begin <= float(when) < end

    return test


@emulates("Collection.map")
def _map(ev: Evaluator, collection: Any, baseAlgorithm: Function, dropNulls: Any = False) -> Any:  # noqa: N803
    out = []
    for element in _collection(collection, "map").elements:
        if element.image is not None:
            result = baseAlgorithm(element.image)
            if isinstance(result, LazyImage):
                # the fake keeps the input's properties and footprint on mapped images
                result = Element(result, element.geometry, dict(element.properties))
        else:
            result = baseAlgorithm(element)
        if result is None and dropNulls:
            continue
        if not isinstance(result, Element):
            raise ExpressionError("Collection.map: the function must return an Image or Feature.")
        out.append(result)
    return FakeCollection(out)


def _stack_reduction(name: str, reduce: Callable[[np.ndarray], np.ndarray]):
    """A per-pixel reduction over a collection's images, masked pixels left out (a pixel
    masked in every image stays masked); bands matched by name, as Earth Engine does."""

    def impl(ev: Evaluator, collection: Any) -> LazyImage:
        images = [e.image for e in _collection(collection, name).elements if e.image]
        if not images:
            return LazyImage([], [], lambda grid: np.zeros((0, grid.height, grid.width)))
        names = images[0].band_names
        for image in images[1:]:
            if image.band_names != names:
                raise ExpressionError(
                    f"{name}: images have different bands ({names} vs {image.band_names})."
                )

        def render(grid: PixelGrid) -> np.ndarray:
            stack = np.stack([image.render(grid) for image in images])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
                return reduce(stack)

        dtypes = ["float64" if name != "reduce.mode" else t for t in images[0].dtypes]
        return LazyImage(list(names), dtypes, render, unfixed=True)  # a composite

    return impl


emulates("reduce.median")(_stack_reduction("reduce.median", lambda s: np.nanmedian(s, axis=0)))
emulates("reduce.mean")(_stack_reduction("reduce.mean", lambda s: np.nanmean(s, axis=0)))


@dataclass(frozen=True)
class ModeReducer:
    name: str = "mode"


@emulates("Reducer.mode")
def _reducer_mode(ev: Evaluator, **kwargs: Any) -> ModeReducer:
    return ModeReducer()


def _mode(values: np.ndarray, axis: int) -> np.ndarray:
    """Per-cell mode along ``axis`` ignoring NaN (ties: the smallest value; no value: NaN)."""
    moved = np.moveaxis(values, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out = np.full(flat.shape[0], np.nan)
    for i, row in enumerate(flat):
        row = row[~np.isnan(row)]
        if row.size:
            uniq, counts = np.unique(row, return_counts=True)
            out[i] = uniq[np.argmax(counts)]
    return out.reshape(moved.shape[:-1])


def _finest_resolution(ev: Evaluator, crs: str) -> float | None:
    records = [*ev.assets.values(), *(r for rs in ev.collections.values() for r in rs)]
    sizes = [abs(r.transform.a) for r in records if str(r.crs).upper() == str(crs).upper()]
    return min(sizes) if sizes else None


@emulates("Image.reduceResolution")
def _reduce_resolution(
    ev: Evaluator,
    image: LazyImage,
    reducer: Any,
    bestEffort: Any = False,  # noqa: N803
    maxPixels: Any = 64,  # noqa: N803
) -> LazyImage:
    """The reducer over the source pixels of each output pixel.

    The fake's images carry no native projection past per-pixel operators, so the source
    pixels are taken as the output pixel split into n × n sub-pixels, n = output size /
    the finest pixel size of the fake's image data in the request's CRS (exact for test
    data on a lattice aligned with the grid)."""
    if getattr(reducer, "name", None) != "mode":
        raise _unimplemented("The fake emulates reduceResolution with Reducer.mode only.")
    if image.unfixed:  # its input pixels are the default projection's: 1-degree cells
        return LazyImage(list(image.band_names), list(image.dtypes),
                         lambda grid: _one_degree_cells(image, grid))  # fmt: skip

    def render(grid: PixelGrid) -> np.ndarray:
        finest = _finest_resolution(ev, grid.crs)
        size = abs(grid.transform.a)
        n = max(1, math.ceil(size / finest - 1e-9)) if finest else 1
        if n * n > int(maxPixels) and not bestEffort:
            raise ExpressionError(
                f"Image.reduceResolution: Too many input pixels per output pixel "
                f"({n * n}); need at most {int(maxPixels)}."
            )
        fine = PixelGrid(grid.crs, grid.transform @ Affine.scale(1 / n), grid.height * n,
                         grid.width * n)  # fmt: skip
        data = image.render(fine)
        bands, rows, cols = data.shape
        blocks = data.reshape(bands, grid.height, n, grid.width, n).transpose(0, 1, 3, 2, 4)
        blocks = blocks.reshape(bands, grid.height, grid.width, n * n)
        return _mode(blocks, axis=-1)

    return LazyImage(list(image.band_names), list(image.dtypes), render)


def _one_degree_cells(image: LazyImage, grid: PixelGrid) -> np.ndarray:
    """``image`` as reduceResolution sees a composite: in WGS-84 cells of 1 degree, each
    output pixel taking the value of the cell holding its centre (the cell's value: the
    image at the cell's centre), the mode of one input pixel."""
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
    xs, ys = grid.transform * (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    cells = np.stack([np.floor(lon), np.floor(lat)], axis=-1).reshape(-1, 2)
    out = np.full((len(image.band_names), cells.shape[0]), np.nan)
    for cell in np.unique(cells, axis=0):
        probe = PixelGrid("EPSG:4326", Affine(1e-4, 0, cell[0] + 0.5, 0, -1e-4, cell[1] + 0.5),
                          1, 1)  # fmt: skip
        value = image.render(probe)[:, 0, 0]
        out[:, (cells == cell).all(axis=1)] = value[:, np.newaxis]
    return out.reshape(len(image.band_names), grid.height, grid.width)


@emulates("Image.normalizedDifference")
def _normalized_difference(ev: Evaluator, input: LazyImage, bandNames: Any = None) -> LazyImage:  # noqa: A002, N803
    """(first - second) / (first + second) as band ``nd``; masked where either input is
    negative (the algorithm's documented rule) or both are zero."""
    names = list(bandNames) if bandNames else input.band_names[:2]
    missing = [n for n in names if n not in input.band_names]
    if len(names) != 2 or missing:
        raise ExpressionError(
            f"Image.normalizedDifference: need two bands of [{', '.join(input.band_names)}], "
            f"got {names}."
        )
    first, second = (input.band_names.index(n) for n in names)

    def render(grid: PixelGrid) -> np.ndarray:
        data = input.render(grid)
        a, b = data[first], data[second]
        with np.errstate(all="ignore"):
            nd = (a - b) / (a + b)
        bad = (a < 0) | (b < 0) | (a + b == 0)
        return np.where(bad, np.nan, nd)[np.newaxis]

    return LazyImage(["nd"], ["float32"], render)
