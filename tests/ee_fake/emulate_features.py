"""Vectors in the fake: geometries, features, table assets, distance and paint.

Register tables with :meth:`ee_fake.FakeEarthEngine.add_table` (a GeoDataFrame in any CRS).
Geometries keep the CRS they were built in (``EPSG:4326`` by default) and are transformed
vertex by vertex where a computation needs another CRS; edges are straight in their CRS
whatever ``geodesic`` says (the project sends planar geometries).

Emulated: ``GeometryConstructors.{Point, MultiPoint, LineString, MultiLineString, Polygon,
MultiPolygon, Rectangle}``, ``Feature``, ``Collection`` (inline features),
``Collection.loadTable``, ``Collection.remap``, ``AggregateFeatureCollection.array``,
``List.distinct``, ``Collection.distance`` and ``Image.paint`` (filled, no line width).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from rasterio.features import rasterize
from shapely.geometry import box, shape

from .emulate_collections import Element, FakeCollection, FakeGeometry, _collection
from .expressions import _GDAL_LOCK, Evaluator, ExpressionError, LazyImage, PixelGrid, emulates


def crs_code(crs: Any) -> str:
    if crs is None:
        return "EPSG:4326"
    return str(crs["crs"] if isinstance(crs, dict) else crs)


def _constructor(kind: str):
    def impl(
        ev: Evaluator,
        coordinates: list,
        crs: Any = None,
        geodesic: Any = None,
        maxError: Any = None,  # noqa: N803
        evenOdd: Any = None,  # noqa: N803
    ) -> FakeGeometry:
        try:
            geom = shape({"type": kind, "coordinates": coordinates})
        except (ValueError, TypeError, IndexError) as exc:
            raise ExpressionError(f"GeometryConstructors.{kind}: invalid coordinates.") from exc
        return FakeGeometry(geom, crs_code(crs))

    return impl


for _kind in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"):
    emulates(f"GeometryConstructors.{_kind}")(_constructor(_kind))


@emulates("GeometryConstructors.Rectangle")
def _rectangle(
    ev: Evaluator,
    coordinates: list,
    crs: Any = None,
    geodesic: Any = None,
    evenOdd: Any = None,  # noqa: N803
) -> FakeGeometry:
    flat = np.asarray(coordinates, dtype="float64").ravel()
    if flat.size != 4:
        raise ExpressionError("GeometryConstructors.Rectangle: expected two corners.")
    x0, y0, x1, y1 = flat
    return FakeGeometry(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), crs_code(crs))


@emulates("Feature")
def _feature(
    ev: Evaluator,
    geometry: Any = None,
    metadata: Any = None,
    geometryKey: Any = None,  # noqa: N803
) -> Element:
    if geometry is not None and not isinstance(geometry, FakeGeometry):
        raise ExpressionError("Feature: the geometry must be a Geometry.")
    return Element(None, geometry, dict(metadata or {}))


@emulates("Collection")
def _inline(ev: Evaluator, features: list) -> FakeCollection:
    for item in features:
        if not isinstance(item, Element):
            raise ExpressionError("Collection: every element must be a Feature.")
    return FakeCollection(list(features))


@emulates("Collection.loadTable")
def _load_table(
    ev: Evaluator,
    tableId: str,  # noqa: N803
    geometryColumn: Any = None,  # noqa: N803
    version: Any = None,
) -> FakeCollection:
    elements = ev.tables.get(tableId)
    if elements is None:
        raise ExpressionError(
            f"Collection.loadTable: Table asset '{tableId}' not found (does not exist or caller "
            "does not have access)."
        )
    return FakeCollection([Element(None, e.geometry, dict(e.properties)) for e in elements])


def table_elements(frame: Any) -> list[Element]:
    """A GeoDataFrame's rows as features (geometry in the frame's CRS, other columns as
    properties, JSON-typed)."""
    crs = frame.crs.to_string() if frame.crs is not None else "EPSG:4326"
    doc = json.loads(frame.to_json(drop_id=True))
    return [
        Element(
            None,
            FakeGeometry(shape(f["geometry"]), crs) if f["geometry"] else None,
            dict(f["properties"] or {}),
        )
        for f in doc["features"]
    ]


@emulates("Collection.remap")
def _remap(
    ev: Evaluator,
    collection: Any,
    lookupIn: list,  # noqa: N803
    lookupOut: list,  # noqa: N803
    columnName: str,  # noqa: N803
) -> FakeCollection:
    if len(lookupIn) != len(lookupOut):
        raise ExpressionError("Collection.remap: lookupIn and lookupOut differ in length.")
    for value in lookupIn:
        if not isinstance(value, (str, int)) and not (
            isinstance(value, float) and value.is_integer()
        ):
            raise ExpressionError(
                "Collection.remap: lookupIn values are restricted to strings and integers."
            )
    table = {json.dumps(k): v for k, v in zip(lookupIn, lookupOut, strict=True)}
    out = []
    for element in _collection(collection, "Collection.remap").elements:
        key = json.dumps(element.properties.get(columnName))
        if key in table:
            props = {**element.properties, columnName: table[key]}
            out.append(Element(element.image, element.geometry, props))
    return FakeCollection(out)


@emulates("AggregateFeatureCollection.array")
def _aggregate_array(ev: Evaluator, collection: Any, property: str) -> list:  # noqa: A002
    elements = _collection(collection, "aggregate_array").elements
    return [e.properties[property] for e in elements if e.properties.get(property) is not None]


@emulates("List.distinct")
def _distinct(ev: Evaluator, list: list) -> list:  # noqa: A002
    seen: dict[str, Any] = {}
    for item in list:
        seen.setdefault(json.dumps(item, sort_keys=True), item)
    return [*seen.values()]


def _pixel_centres(grid: PixelGrid) -> np.ndarray:
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width].astype("float64")
    x, y = grid.transform @ (cols + 0.5, rows + 0.5)
    return shapely.points(x.ravel(), y.ravel())


@emulates("Collection.distance")
def _distance(
    ev: Evaluator,
    features: Any,
    searchRadius: Any = 100000.0,  # noqa: N803
    maxError: Any = 100.0,  # noqa: N803
) -> LazyImage:
    """Planar distance in the request's CRS from each pixel centre to the nearest point,
    line or polygon boundary (the real service measures on a sphere)."""
    elements = _collection(features, "Collection.distance").elements
    radius = float(searchRadius)

    def render(grid: PixelGrid) -> np.ndarray:
        shapes = []
        for element in elements:
            if element.geometry is None:
                continue
            geom = element.geometry.to(grid.crs)
            shapes.append(geom.boundary if geom.geom_type.endswith("Polygon") else geom)
        out = np.full(grid.height * grid.width, np.nan)
        if shapes:
            out = shapely.distance(shapely.union_all(shapes), _pixel_centres(grid))
            out = np.where(out <= radius, out, np.nan)
        return out.reshape(1, grid.height, grid.width)

    return LazyImage(["distance"], ["float64"], render)


@emulates("Image.paint")
def _paint(
    ev: Evaluator,
    image: Any,
    featureCollection: Any,
    color: Any = 0.0,
    width: Any = None,  # noqa: N803
) -> LazyImage:
    """Fill each feature with ``color`` (a number or a property name): pixels whose centre
    is inside, later features over earlier ones; other pixels keep the image."""
    if width is not None:
        raise ExpressionError(
            "The fake emulates Image.paint without 'width'.", 501, "UNIMPLEMENTED"
        )
    if not isinstance(image, LazyImage):
        raise ExpressionError("Image.paint: 'image' must be an Image.")
    elements = _collection(featureCollection, "Image.paint").elements

    def value_of(element: Element) -> float | None:
        if isinstance(color, str):
            value = element.properties.get(color)
            return None if value is None else float(value)
        return float(color)

    def render(grid: PixelGrid) -> np.ndarray:
        data = image.render(grid)
        shapes = [
            (e.geometry.to(grid.crs), v)
            for e in elements
            if e.geometry is not None and (v := value_of(e)) is not None
        ]
        if not shapes:
            return data
        with _GDAL_LOCK:
            painted = rasterize(
                shapes,
                out_shape=(grid.height, grid.width),
                transform=grid.transform,
                fill=np.nan,
                dtype="float64",
            )
        return np.where(np.isnan(painted), data, painted[np.newaxis])

    return LazyImage(list(image.band_names), list(image.dtypes), render)
