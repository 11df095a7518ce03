"""Earth Engine recipes for vector factors: distances to features and polygon classes.

Public API (stable; :func:`lsgh_ee.earthengine.recipes.factor_image` calls these)::

    feature_collection(spec: FactorConfig, grid: Grid, *, name: str, reach_m: float = 0.0,
                       max_inline_bytes: int = MAX_INLINE_BYTES) -> ee.FeatureCollection
    distance_image(fc: ee.FeatureCollection, grid: Grid, max_distance_m: float,
                   band: str = "distance") -> ee.Image
    category_image(fc: ee.FeatureCollection, attribute: str, grid: Grid,
                   classes: Sequence[str] | None = None,
                   remap: Mapping[Any, str] | None = None,
                   band: str = "category") -> tuple[ee.Image, tuple[str, ...]]

Where the features come from (:func:`feature_collection`): ``spec.asset`` (an Earth Engine
table asset, filtered to the region), else ``spec.path`` (a local vector file, clipped to the
region, sent inline as GeoJSON while it is small), else a public default
(:data:`DEFAULT_TABLES`: rivers from WWF HydroSHEDS free-flowing rivers).

Local files travel in the grid's CRS with planar edges (``geodesic=False``), so a segment is
the same straight line the local recipe rasterises, with no extra reprojection.

Distance (``Collection.distance``): metres from each pixel centre to the nearest point of
any feature, exact. The local recipe measures from the pixel centre to the nearest centre
of a pixel the features touch (rasterised, ``all_touched``), so the two differ by at most
half a pixel diagonal (``resolution / √2``); inside a polygon Earth Engine measures to its
boundary where the local recipe gives 0 (use lines, e.g. river centrelines, for distances).
Earth Engine measures on a sphere (a tiny error at regional scale). Pixels farther than
``max_distance_m`` from every feature get ``max_distance_m`` (a lower bound, as locally: pass
at least the last class break).

Categories (``Image.paint``): polygons are painted with codes 1..k in ``classes`` order (the
classes sorted by name when not given, as locally); a pixel takes the code of the polygon
holding its centre, the later feature where polygons overlap (the local rasterisation's
rule); pixels outside every polygon are nodata.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from lsgh_ee.config import FactorConfig
from lsgh_ee.earthengine.geometry import crs_code, grid_region, on_grid
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.vectors import read_vector, to_grid_crs

log = logging.getLogger(__name__)

#: Public tables used when a factor names neither ``asset`` nor ``path``.
DEFAULT_TABLES = {"distance_to_rivers": "WWF/HydroSHEDS/v1/FreeFlowingRivers"}
#: Largest local vector (as GeoJSON text, after clipping to the region) sent inline: every
#: pixel request carries the whole expression, and Earth Engine refuses requests over 10 MB.
MAX_INLINE_BYTES = 2_000_000


def feature_collection(
    spec: FactorConfig,
    grid: Grid,
    *,
    name: str,
    reach_m: float = 0.0,
    max_inline_bytes: int = MAX_INLINE_BYTES,
) -> Any:
    """The features of factor ``name`` as an ``ee.FeatureCollection`` around the grid.

    Args:
        spec: the factor's config (``asset``, ``path`` + ``layer``, ``attribute``).
        grid: the analysis grid.
        name: the factor's name (for messages and :data:`DEFAULT_TABLES`).
        reach_m: metres beyond the grid whose features still matter (a distance factor's
            search radius); features farther out are dropped.
        max_inline_bytes: size limit of a local file sent inline as GeoJSON.

    Raises:
        LsghError: no source, an unreadable or too large local file, a missing attribute.
    """
    import ee

    key = f"factors.{name}"
    if spec.asset is not None:
        return ee.FeatureCollection(spec.asset).filterBounds(grid_region(grid, reach_m))
    if spec.path is not None:
        return _inline_collection(spec, grid, key, reach_m, max_inline_bytes)
    if name in DEFAULT_TABLES:
        return ee.FeatureCollection(DEFAULT_TABLES[name]).filterBounds(grid_region(grid, reach_m))
    raise LsghError(
        f"factor {name} has source: ee but no features: set '{key}.asset' to an Earth Engine "
        f"table id or '{key}.path' to a local vector file"
    )


def _inline_collection(
    spec: FactorConfig, grid: Grid, key: str, reach_m: float, max_inline_bytes: int
) -> Any:
    import ee
    from shapely.geometry import box

    assert spec.path is not None
    frame = read_vector(spec.path, layer=spec.layer, what=f"{key} layer")
    columns = []
    if spec.attribute is not None:
        if spec.attribute not in frame.columns:
            cols = ", ".join(c for c in frame.columns if c != "geometry")
            raise LsghError(
                f"'{key}.attribute' is {spec.attribute!r} but {spec.path} has only: {cols}"
            )
        columns = [spec.attribute]
    frame = to_grid_crs(frame[frame.geometry.notna() & ~frame.geometry.is_empty], grid)
    left, bottom, right, top = grid.bounds
    # one pixel more than the reach keeps every feature that can touch a pixel or its
    # distance; clipping cannot change a distance shorter than the reach
    pad = reach_m + grid.resolution
    frame = frame[columns + ["geometry"]].clip(
        box(left - pad, bottom - pad, right + pad, top + pad)
    )
    frame = frame[~frame.geometry.is_empty].sort_index()  # file order: later polygons win
    if frame.empty:
        log.warning("%s: no feature of %s within %.0f m of the region", key, spec.path, reach_m)
    doc = json.loads(frame.to_json(drop_id=True))
    size = len(json.dumps(doc["features"]))
    if size > max_inline_bytes:
        raise LsghError(
            f"{spec.path} is {size / 1e6:.1f} MB as GeoJSON within the region, over the "
            f"{max_inline_bytes / 1e6:.1f} MB sent inline; upload it as an Earth Engine table "
            f"(e.g. 'earthengine upload table') and set '{key}.asset' to its id"
        )
    crs = crs_code(grid)
    features = [
        ee.Feature(ee.Geometry(f["geometry"], crs, False), f["properties"] or {})
        for f in doc["features"]
    ]
    return ee.FeatureCollection(features)


def distance_image(fc: Any, grid: Grid, max_distance_m: float, band: str = "distance") -> Any:
    """Metres from each pixel centre of ``grid`` to the nearest feature of ``fc``.

    Args:
        fc: an ``ee.FeatureCollection`` of points, lines or polygons (distance to polygon
            boundaries; interiors count as distance too, per ``Collection.distance``).
        grid: the analysis grid.
        max_distance_m: search radius in metres; pixels farther from every feature get this
            value (a lower bound of their distance).
        band: the output band's name.

    Returns:
        A one-band float ``ee.Image`` on the grid.
    """
    if not max_distance_m > 0:
        raise LsghError(
            f"the search radius of a distance factor must be > 0 m, got {max_distance_m}"
        )
    # lon/lat features are reprojected by EE: allow a tenth of a pixel (its default is 100 m)
    max_error = grid.resolution / 10
    distance = fc.distance(float(max_distance_m), max_error).unmask(float(max_distance_m), False)
    return on_grid(distance.rename([band]).toFloat(), grid)


def category_image(
    fc: Any,
    attribute: str,
    grid: Grid,
    classes: Sequence[str] | None = None,
    remap: Mapping[Any, str] | None = None,
    band: str = "category",
) -> tuple[Any, tuple[str, ...]]:
    """Class codes 1..k of the polygons of ``fc`` by ``attribute``, on the grid.

    The attribute's distinct values are read with one ``getInfo`` call. Labels are the values
    as text, renamed by ``remap`` (label → class) where it lists them, as locally.

    Args:
        fc: an ``ee.FeatureCollection`` of polygons.
        attribute: the property holding each polygon's class.
        grid: the analysis grid.
        classes: class names in code order; default: the labels found, sorted.
        remap: label → class name.
        band: the output band's name.

    Returns:
        ``(image, classes)``: a one-band float ``ee.Image`` of codes (nodata outside every
        polygon) and the class names in code order.

    Raises:
        LsghError: the attribute has no values, a label not in ``classes``, or Earth
            Engine could not read the collection.
    """
    import ee

    try:
        values = fc.aggregate_array(attribute).distinct().getInfo()
    except ee.EEException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LsghError(f"Earth Engine could not list the {attribute!r} values: {first}") from exc
    values = [v for v in values or [] if v is not None]
    if not values:
        raise LsghError(
            f"no feature near the region has a value in {attribute!r}; check the attribute "
            "name and that the features cover the region"
        )
    odd = [v for v in values if not isinstance(v, (str, int)) and not float(v).is_integer()]
    if odd:
        raise LsghError(
            f"{attribute!r} holds values such as {odd[0]!r} that Earth Engine cannot map to "
            "classes (text or whole numbers only); use a text or integer attribute"
        )
    renamed = {str(k): v for k, v in (remap or {}).items()}
    label_of = {_key(v): renamed.get(_label(v), _label(v)) for v in values}
    chosen = tuple(classes) if classes is not None else tuple(sorted(set(label_of.values())))
    unknown = sorted(set(label_of.values()) - set(chosen))
    if unknown:
        raise LsghError(
            f"the classes listed do not include {unknown} (values of {attribute!r}); "
            "add them to 'classes' or remove the key"
        )
    code_of = {name: i + 1 for i, name in enumerate(chosen)}
    lookup_out = [code_of[label_of[_key(v)]] for v in values]
    coded = fc.remap(values, lookup_out, attribute)
    painted = ee.Image.constant(0).paint(coded, attribute)
    image = painted.updateMask(painted).rename([band]).toFloat()
    return on_grid(image, grid), chosen


def _label(value: Any) -> str:
    """A property value as the local recipe names it (pandas ``astype(str)``)."""
    return str(value)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
