"""Classification into class codes with the paper's Table 2 breaks."""

from __future__ import annotations

import numpy as np
import pytest
from jenks_reference import exact_jenks, within_class_ssd

from lsgh_ee.factors.catalogue import CATALOGUE, interval_labels
from lsgh_ee.factors.classify import (
    classify_aspect,
    classify_breaks,
    codes_from_float,
    data_breaks,
)


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


def _six_digits(values: list[float] | np.ndarray) -> tuple[float, ...]:
    return tuple(float(f"{v:.6g}") for v in values)


def test_natural_breaks_of_few_values_are_the_exact_jenks_breaks() -> None:
    rng = np.random.default_rng(4)
    values = np.r_[np.round(rng.gamma(2.0, 300.0, 4000), -1), np.nan, np.inf]  # < 5,000
    assert data_breaks(values, "natural", 6) == _six_digits(exact_jenks(values, 6)[1:-1])


@pytest.mark.parametrize("seed", [0, 1])
def test_natural_breaks_of_many_values_are_close_to_the_exact_ones(seed: int) -> None:
    """50,000 values, breaks from a seeded sample of 5,000: within 2/sqrt(5000) in share
    of values and 2 % in within-class squared deviations of the exact Jenks breaks of all
    values (the reasoning is in test_zoning.test_sampled_jenks_against_exact_jenks)."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.gamma(2.0, 300.0, 50_000))  # distances in metres: 1 m steps
    exact = exact_jenks(values, 5)
    got = data_breaks(values, "natural", 5, seed=seed)
    assert len(got) == 4
    for g, want in zip(got, exact[1:-1], strict=True):
        assert abs(np.mean(values <= g) - np.mean(values <= want)) <= 2 / np.sqrt(5000)
    assert within_class_ssd(values, [values.min(), *got, values.max()]) <= 1.02 * (
        within_class_ssd(values, exact)
    )
    assert data_breaks(values, "natural", 5, seed=seed) == got  # seeded


def test_quantile_breaks_and_merged_breaks() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(10.0, 3.0, 10_001)
    assert data_breaks(values, "quantile", 4) == _six_digits(np.quantile(values, [0.25, 0.5, 0.75]))
    # 60 % of the values at the minimum: the first quantiles equal it and are dropped (a
    # break at the minimum would leave class 1 empty); equal breaks are merged
    lumpy = np.r_[np.zeros(600), np.arange(1.0, 401.0)]  # sorted: 0 x 600, 1, ..., 400
    # quantiles (linear): 0.2, 0.4 -> 0; 0.6 -> 0.4 between 0 and 1; 0.8 -> 200.2
    assert data_breaks(lumpy, "quantile", 5) == (0.4, 200.2)
    # both tertiles of 0, 0, 0, 1 x 7 are 1.0, the maximum: one break, kept
    assert data_breaks(np.r_[np.zeros(3), np.ones(7)], "quantile", 3) == (1.0,)
    # no more distinct values than classes: breaks halfway between them
    assert data_breaks(np.array([1.0, 2.0, 2.0, 4.0]), "natural", 5) == (1.5, 3.0)
    for bad, message in ((np.full(3, np.nan), "no valid value"), (np.ones(5), "constant")):
        with pytest.raises(ValueError, match=message):
            data_breaks(bad, "quantile", 3)
    with pytest.raises(ValueError, match="unknown classification 'equal'"):
        data_breaks(values, "equal", 3)


def test_classify_breaks_edges_belong_to_the_upper_class() -> None:
    codes = classify_breaks(np.array([-np.inf, 0.0, 0.5, 1.0, 1.5, 2.0, np.inf]), [0.0, 1.0, 2.0])
    assert codes.tolist() == [1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(ValueError, match="254"):
        classify_breaks(np.zeros(2), np.arange(255.0))
    assert classify_breaks(np.zeros(2), np.arange(254.0)).tolist() == [2, 2]


def test_break_lists_and_code_dtypes() -> None:
    """One break is a valid list; a nested list is not; codes are uint8."""
    assert classify_breaks(np.array([1.0, 5.0, 9.0]), [5]).tolist() == [1, 2, 2]
    with pytest.raises(ValueError, match="strictly increasing"):
        classify_breaks(np.zeros(2), [[1.0, 2.0]])
    assert classify_aspect(np.array([-1.0, 90.0, np.nan])).dtype == np.uint8
    codes = codes_from_float(np.array([3.0, np.nan, 200.0]))
    assert codes.dtype == np.uint8 and codes.tolist() == [3, 0, 200]


def test_default_natural_seed_is_zero() -> None:
    values = np.random.default_rng(9).gamma(2.0, 300.0, 6000)
    assert data_breaks(values, "natural", 4) == data_breaks(values, "natural", 4, seed=0)


def test_natural_breaks_at_the_sample_size_and_at_n_classes_distinct_values() -> None:
    values = np.round(np.random.default_rng(5).gamma(2.0, 300.0, 1500), -1)
    # exactly `sample` values: all of them, no extra min and max
    assert data_breaks(values, "natural", 4, sample=values.size) == _six_digits(
        exact_jenks(values, 4)[1:-1]
    )
    # as many distinct values as classes: breaks halfway between them
    assert data_breaks(np.array([1.0, 2.0, 2.0, 4.0, 8.0]), "natural", 4) == (1.5, 3.0, 6.0)
