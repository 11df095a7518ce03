"""Raster helpers the simulators share: NaN filling, distances to features, smooth noise."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from rasterio.features import rasterize
from scipy import ndimage

from lsgh_ee.grid import Grid


def fill_nan_nearest(values: np.ndarray) -> np.ndarray:
    nan = np.isnan(values)
    if not nan.any():
        return values.astype("float64")
    idx = ndimage.distance_transform_edt(nan, return_distances=False, return_indices=True)
    return values[tuple(idx)].astype("float64")


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to zero mean and unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (field - field.mean()) / field.std()


def distance_to(frame: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """Metres from each cell of ``grid`` to the nearest feature (burnt all-touched)."""
    frame = frame.to_crs(grid.crs)
    mask = rasterize(
        [(g, 1) for g in frame.geometry],
        out_shape=grid.shape,
        transform=grid.transform,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)
    if not mask.any():
        return np.full(grid.shape, np.inf)
    return ndimage.distance_transform_edt(~mask, sampling=(grid.resolution, grid.resolution))
