"""The landslides and their Gaussian heatmap as Earth Engine images, on the analysis grid.

The landslide centre pixels are found locally (the inventory is small: one point per
landslide) and sent as one ``MultiPoint`` of pixel centres; Earth Engine paints them on the
grid, takes the squared Euclidean distance in pixels to the nearest centre
(``Image.fastDistanceTransform``, exact integers on the grid's lattice) and looks the
heatmap's value up in the same table the local heatmap uses
(:func:`lsgh_ee.heatmap.kernel_values`: ``10^(-d² / R²)`` as float32, 0 beyond R). The
nearest centre gives the value, which is the local rule "the maximum of the overlapping
kernels wins", so the two heatmaps are equal pixel for pixel.

Landslide pixels (positives and the negatives' exclusion zone) are painted likewise: the
centre pixels, plus every pixel whose centre lies in a landslide polygon
(:meth:`lsgh_ee.inventory.Inventory.mask`'s rule, ``Image.paint``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

from lsgh_ee.earthengine.geometry import crs_code, on_grid
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import kernel_values
from lsgh_ee.inventory import Inventory

#: Most landslide centres sent inline in one request (about 40 bytes each as JSON; Earth
#: Engine refuses requests over 10 MB).
MAX_INLINE_CENTRES = 100_000


def pixel_points(rows: np.ndarray, cols: np.ndarray, grid: Grid) -> Any:
    """The centres of the pixels ``(rows, cols)`` as one planar ``ee.Geometry.MultiPoint``
    in the grid's CRS.

    Raises:
        LsghError: no pixel, or more than :data:`MAX_INLINE_CENTRES`.
    """
    import ee

    rows, cols = np.asarray(rows).ravel(), np.asarray(cols).ravel()
    if rows.size == 0:
        raise LsghError(
            "no landslide centre lies on the grid; check the inventory covers the region"
        )
    if rows.size > MAX_INLINE_CENTRES:
        raise LsghError(
            f"{rows.size} landslide centres are too many to send inline (at most "
            f"{MAX_INLINE_CENTRES}); split the region or thin the inventory"
        )
    x, y = grid.xy(rows, cols)
    coords = [[float(a), float(b)] for a, b in zip(x, y, strict=True)]
    return ee.Geometry.MultiPoint(coords, crs_code(grid))


def _painted(geometry: Any, grid: Grid) -> Any:
    """1 on the pixels ``geometry`` covers (pixel centre inside; the pixel holding a
    point), 0 elsewhere, on the grid's lattice."""
    import ee

    blank = ee.Image.constant(0).toUint8()
    painted = blank.paint(ee.FeatureCollection([ee.Feature(geometry, {})]), 1)
    return on_grid(painted, grid)


def area_image(area: Any, grid: Grid) -> Any:
    """uint8 image: 1 on the pixels whose centre lies in ``area`` (a shapely polygon in the
    grid's CRS, e.g. the region's AOI outline: :meth:`lsgh_ee.region.Region.aoi_mask`'s
    rule), 0 elsewhere."""
    import ee

    return _painted(ee.Geometry(mapping(area), crs_code(grid), False), grid).rename("area")


def centres_image(rows: np.ndarray, cols: np.ndarray, grid: Grid) -> Any:
    """uint8 image: 1 at the centre pixels ``(rows, cols)``, 0 elsewhere, on the grid."""
    return _painted(pixel_points(rows, cols, grid), grid)


def landslide_image(inventory: Inventory, grid: Grid, mode: str = "polygon") -> Any:
    """uint8 image of the landslide pixels (1) on the grid, by the rule of
    :meth:`Inventory.mask`: the centre pixels, plus (``mode="polygon"`` and a polygon
    inventory) every pixel whose centre lies in a landslide polygon."""
    import ee

    rows, cols = inventory.centroid_pixels(grid)
    image = centres_image(rows, cols, grid)
    if mode == "polygon" and inventory.kind == "polygon":
        xy = inventory.centroids()  # landslides whose centre is on the grid, as locally
        on = grid.contains(*grid.rowcol(xy[:, 0], xy[:, 1]))
        polygons = [
            g
            for g in inventory.landslides.geometry.values[on]
            if g is not None and not g.is_empty and g.geom_type.endswith("Polygon")
        ]
        if polygons:
            union = mapping(shapely.union_all(polygons))
            shape = ee.Geometry(union, crs_code(grid), False)
            image = image.Or(_painted(shape, grid))
    return image.rename("landslide")


def squared_distance(mask: Any, grid: Grid, reach: int) -> Any:
    """Squared Euclidean distance in pixels (an integer) from each pixel of the grid to the
    nearest pixel where ``mask`` is non-zero, exact up to ``reach`` pixels; pixels
    farther than ``reach`` get ``reach² + 1``."""
    sq = on_grid(mask, grid).fastDistanceTransform(int(reach), "pixels", "squared_euclidean")
    return on_grid(sq, grid).round().unmask(int(reach) ** 2 + 1).rename("distance2")


def heatmap_image(rows: np.ndarray, cols: np.ndarray, grid: Grid, diameter: int) -> Any:
    """The Gaussian heatmap of the centre pixels ``(rows, cols)`` as a float32 image
    (band ``heatmap``) on the grid: equal to :func:`lsgh_ee.heatmap.gaussian_heatmap`
    of the same centres.

    Raises:
        LsghError: a diameter that is not a whole number ≥ 1, or no centre.
    """
    table = kernel_values(diameter)
    limit = table.size - 1  # floor(R²)
    sq = squared_distance(centres_image(rows, cols, grid), grid, diameter // 2 + 1)
    values = sq.remap(list(range(limit + 1)), [float(v) for v in table], 0)
    return values.toFloat().rename("heatmap")
