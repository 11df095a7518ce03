"""Classification into class codes with the paper's Table 2 breaks."""

from __future__ import annotations

import numpy as np
import pytest

from lsgh_ee.factors.catalogue import CATALOGUE, interval_labels
from lsgh_ee.factors.classify import classify_aspect, classify_breaks, codes_from_float


def test_table2_class_counts() -> None:
    # Table 2 of the paper: number of classes per factor
    expected = {
        "slope": 11,
        "aspect": 9,
        "curvature": 12,
        "ndvi": 12,
        "land_use": 8,
        "slope_position": 10,
        "distance_to_roads": 13,
        "distance_to_rivers": 11,
    }
    for name, count in expected.items():
        factor = CATALOGUE[name]
        n = len(factor.classes) if factor.kind == "categorical" else len(factor.breaks) + 1
        assert n == count, name


def test_slope_breaks_boundaries() -> None:
    values = np.array([0, 9.99, 10, 19.99, 20, 30, 34.9, 35, 64.99, 65, 89, np.nan])
    codes = classify_breaks(values, CATALOGUE["slope"].breaks)
    assert codes.dtype == np.uint8
    assert codes.tolist() == [1, 1, 2, 2, 3, 4, 4, 5, 10, 11, 11, 0]


def test_labels_match_breaks() -> None:
    assert interval_labels([10, 20]) == ("<10", "10–20", ">=20")
    assert len(interval_labels(CATALOGUE["distance_to_rivers"].breaks)) == 11


def test_breaks_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        classify_breaks(np.zeros(3), [1, 1, 2])


def test_aspect_sectors() -> None:
    degrees = np.array([-1, 0, 22.4, 22.5, 90, 135, 180, 225, 270, 315, 337.5, 359.9, np.nan])
    # flat, N, N, NE, E, SE, S, SW, W, NW, N, N, nodata
    assert classify_aspect(degrees).tolist() == [1, 2, 2, 6, 4, 8, 3, 9, 5, 7, 2, 2, 0]


def test_codes_from_float() -> None:
    assert codes_from_float(np.array([1.0, np.nan, 8.0])).tolist() == [1, 0, 8]
