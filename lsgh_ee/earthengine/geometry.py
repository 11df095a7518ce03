"""The analysis grid as Earth Engine takes it: CRS, pixel lattice, region, request grid.

Every Earth Engine module (recipes, imagery, features, exports, tables, hosted, download)
takes its grid helpers from here, so none of them imports another for a helper.

A CRS with an authority code travels as that code (``EPSG:32633``); one without a code
(a custom transverse Mercator, a LAEA with its own centre) travels as WKT. Expression
arguments (``reproject(crs=...)``, ``ee.Projection``, ``Geometry.Rectangle``) take either
in the same string argument, but the REST ``PixelGrid`` of ``computePixels`` has two
separate fields: ``crsCode`` ("the CRS code, e.g. EPSG:4326") and ``crsWkt`` ("a CRS in
WKT format, used if crsCode is empty"); see the PixelGrid message of the Earth Engine REST
reference (https://developers.google.com/earth-engine/reference/rest/v1/PixelGrid) and the
discovery document shipped in earthengine-api (``ee/tests/cloud_api_discovery_document.json``).
"""

from __future__ import annotations

from typing import Any

from lsgh_ee.grid import Grid


def crs_code(grid: Grid) -> str:
    """The grid's CRS as an Earth Engine expression argument (``EPSG:32633``, else WKT)."""
    authority = grid.crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else grid.crs.to_wkt()


def crs_fields(grid: Grid) -> dict[str, str]:
    """The CRS of a REST ``PixelGrid``: ``{"crsCode": "EPSG:…"}`` when the CRS has an
    authority code, else ``{"crsWkt": <WKT>}`` (``crsCode`` takes codes only)."""
    authority = grid.crs.to_authority()
    if authority:
        return {"crsCode": f"{authority[0]}:{authority[1]}"}
    return {"crsWkt": grid.crs.to_wkt()}


def pixel_grid(grid: Grid, row: int = 0, col: int = 0,
               height: int | None = None, width: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The REST ``PixelGrid`` of a window of ``grid`` (top-left pixel ``row``, ``col``;
    default: the whole grid): dimensions, affine transform and the CRS (:func:`crs_fields`)."""
    t = grid.transform
    x0, y0 = t @ (col, row)
    return {
        "dimensions": {
            "width": int(grid.width if width is None else width),
            "height": int(grid.height if height is None else height),
        },
        "affineTransform": {
            "scaleX": t.a,
            "shearX": t.b,
            "translateX": x0,
            "shearY": t.d,
            "scaleY": t.e,
            "translateY": y0,
        },
        **crs_fields(grid),
    }


def crs_transform(grid: Grid) -> list[float]:
    """The grid's affine transform as Earth Engine's ``crsTransform`` (six numbers)."""
    return [float(v) for v in list(grid.transform)[:6]]


def on_grid(image: Any, grid: Grid) -> Any:
    """``image`` reprojected onto the grid's CRS and pixel lattice (``crsTransform``), so
    neighbourhood operators upstream are evaluated at the grid's resolution."""
    return image.reproject(crs=crs_code(grid), crsTransform=crs_transform(grid))


def grid_projection(grid: Grid) -> Any:
    """The grid's projection as an ``ee.Projection`` (CRS and ``crsTransform``)."""
    import ee

    return ee.Projection(crs_code(grid), crs_transform(grid))


def grid_region(grid: Grid, pad_m: float = 0.0) -> Any:
    """The grid's bounds (optionally grown by ``pad_m`` metres) as a planar ``ee.Geometry``
    rectangle in the grid's CRS."""
    import ee

    left, bottom, right, top = grid.bounds
    box = [left - pad_m, bottom - pad_m, right + pad_m, top + pad_m]
    return ee.Geometry.Rectangle(box, crs_code(grid), False)
