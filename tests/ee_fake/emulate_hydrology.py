"""Algorithms of the fake for the DEM hydrology recipes: ``Image.log`` and
``Image.fastDistanceTransform``.

Conventions, as Earth Engine documents them:

* ``log`` is the natural logarithm; a masked pixel stays masked, as do the logarithms of
  zero and negative numbers (not finite).
* ``fastDistanceTransform(neighborhood, units="pixels", metric="squared_euclidean")``:
  the squared distance, in pixels², from each pixel centre to the nearest non-zero pixel
  of the input; masked input pixels count as zero ("values for all pixels within the
  neighbourhood, regardless of the input's mask"). The input is rendered on the request's
  grid padded by ``neighborhood`` pixels, so tiles see features beyond their edges;
  pixels with no feature within ``neighborhood`` pixels are masked (the fake's reading of
  "within the given neighbourhood size"). Other units and metrics answer UNIMPLEMENTED.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import distance_transform_edt

from .emulate_image_math import cached
from .expressions import Evaluator, ExpressionError, LazyImage, PixelGrid, _as_image, emulates


@emulates("Image.log")
def _log(ev: Evaluator, value: Any) -> LazyImage:
    image = _as_image(value)

    def render(grid: PixelGrid) -> np.ndarray:
        data = image.render(grid)
        with np.errstate(all="ignore"):
            out = np.log(data.astype("float64"))
        out[~np.isfinite(out)] = np.nan
        return out

    return LazyImage(list(image.band_names), ["float64"] * len(image.band_names), cached(render))


@emulates("Image.fastDistanceTransform")
def _fast_distance_transform(
    ev: Evaluator,
    image: Any,
    neighborhood: int = 256,
    units: str = "pixels",
    metric: str = "squared_euclidean",
) -> LazyImage:
    if units != "pixels" or metric != "squared_euclidean":
        raise ExpressionError(
            f"The fake emulates fastDistanceTransform in pixels, squared_euclidean, not "
            f"{units}, {metric}.",
            501,
            "UNIMPLEMENTED",
        )
    source = _as_image(image)
    pad = int(neighborhood)

    def render(grid: PixelGrid) -> np.ndarray:
        data = source.render(grid.padded(pad))
        out = np.full((data.shape[0], grid.height, grid.width), np.nan)
        for band, values in enumerate(data):
            features = np.nan_to_num(values, nan=0.0) != 0
            if not features.any():
                continue
            # squared distances exactly, in integers, from the nearest feature's indices
            nearest = distance_transform_edt(~features, return_distances=False,
                                             return_indices=True)  # fmt: skip
            rows, cols = np.indices(features.shape)
            squared = ((nearest[0] - rows) ** 2 + (nearest[1] - cols) ** 2).astype("float64")
            inner = squared[pad : pad + grid.height, pad : pad + grid.width]
            out[band] = np.where(inner <= pad * pad, inner, np.nan)
        return out

    names = list(source.band_names)
    return LazyImage(names, ["float64"] * len(names), cached(render))
