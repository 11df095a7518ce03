"""Sampling images at features in the fake: ``Image.sampleRegions`` for point collections.

Each point is moved into the sampling projection (``projection`` argument; its CRS and
``crsTransform``), the pixel holding it is rendered and the bands become properties of the
output feature next to the requested input properties; points on masked pixels are
dropped, as on the real service. Polygons are not emulated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from affine import Affine

from .emulate_collections import Element, FakeCollection
from .expressions import Evaluator, ExpressionError, LazyImage, PixelGrid, emulates


@emulates("Image.sampleRegions")
def _sample_regions(
    ev: Evaluator,
    image: LazyImage,
    collection: FakeCollection,
    properties: Any = None,
    scale: Any = None,
    projection: Any = None,
    tileScale: Any = None,  # noqa: N803
    geometries: Any = False,
) -> FakeCollection:
    if not isinstance(projection, dict) or not projection.get("transform"):
        raise ExpressionError(
            "The fake emulates sampleRegions with a projection that has a crsTransform only.",
            501,
            "UNIMPLEMENTED",
        )
    crs = str(projection["crs"])
    transform = Affine(*[float(v) for v in projection["transform"]][:6])
    out = []
    for element in collection.elements:
        if element.geometry is None or element.geometry.shape.geom_type != "Point":
            raise ExpressionError(
                "The fake emulates sampleRegions at points only.", 501, "UNIMPLEMENTED"
            )
        point = element.geometry.to(crs)
        col, row = ~transform @ (point.x, point.y)
        pixel = PixelGrid(crs, transform @ Affine.translation(math.floor(col), math.floor(row)),
                          1, 1)  # fmt: skip
        values = image.render(pixel)[:, 0, 0]
        if np.isnan(values).any():
            continue  # a masked pixel yields no sample
        props = {k: v for k, v in element.properties.items()
                 if properties is None or k in properties}  # fmt: skip
        for name, dtype, value in zip(image.band_names, image.dtypes, values, strict=True):
            props[name] = int(value) if np.dtype(dtype).kind in "iu" else float(value)
        geometry = element.geometry if geometries else None
        out.append(Element(None, geometry, props))
    return FakeCollection(out)
