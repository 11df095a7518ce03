"""The analysis grid: CRS choice, snapping, pixel ↔ coordinate conversions."""

from __future__ import annotations

import numpy as np
import pytest

from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid, as_metric_crs, utm_crs_for


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(-84.25, 36.6, 32616), (-79.07, -3.99, 32717), (103.8, 33.2, 32648), (18.1, 49.5, 32634)],
)
def test_utm_zone(lon: float, lat: float, epsg: int) -> None:
    assert utm_crs_for(lon, lat).to_epsg() == epsg


def test_lonlat_bbox_grid_is_metric_and_snapped() -> None:
    grid = Grid.from_lonlat_bbox((-84.41, 36.45, -84.08, 36.73), "auto", 90)
    assert grid.crs.to_epsg() == 32616
    left, bottom, right, top = grid.bounds
    for edge in (left, bottom, right, top):
        assert edge % 90 == 0
    # ~29.5 km wide at 36.6° N and 31 km tall: a 90 m grid of ~330 x ~345 cells
    assert 320 < grid.width < 345 and 340 < grid.height < 360
    assert grid.resolution == 90


def test_xy_rowcol_roundtrip() -> None:
    grid = Grid.from_bounds((990, 1980, 1890, 2580), as_metric_crs("EPSG:32633"), 30)
    assert grid.shape == (20, 30)
    rows = np.array([0, 5, 19])
    cols = np.array([0, 7, 29])
    x, y = grid.xy(rows, cols)
    assert x[0] == 1005 and y[0] == 2565  # pixel centre of the upper-left cell
    back = grid.rowcol(x, y)
    assert np.array_equal(back[0], rows) and np.array_equal(back[1], cols)
    assert not grid.contains(np.array([-1, 20]), np.array([0, 0])).any()


def test_bounds_snap_outward_to_the_resolution() -> None:
    grid = Grid.from_bounds((1000, 2000, 1900, 2600), as_metric_crs("EPSG:32633"), 30)
    assert grid.bounds == (990, 1980, 1920, 2610)


def test_padded_grid_keeps_alignment() -> None:
    grid = Grid.from_bounds((990, 1980, 1890, 2580), as_metric_crs("EPSG:32633"), 30)
    padded = grid.padded(3)
    assert padded.shape == (26, 36)
    assert padded.bounds == (900, 1890, 1980, 2670)


@pytest.mark.parametrize(
    ("crs", "fragment"),
    [("EPSG:4326", "geographic"), ("not-a-crs", "not a CRS"), ("EPSG:2264", "unit")],
)
def test_non_metric_crs_is_refused(crs: str, fragment: str) -> None:
    with pytest.raises(LsghError, match=fragment):
        as_metric_crs(crs)
