"""Zoning: Jenks breaks, equal-interval tables, success-rate curve — against independent
computations (pandas, jenkspy on all values, scikit-learn)."""

from __future__ import annotations

import jenkspy
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from jenks_reference import exact_jenks, within_class_ssd
from sklearn.metrics import roc_auc_score

from lsgh_ee.zoning import (
    ZONES,
    interval_table,
    jenks_breaks,
    success_rate_curve,
    zone,
    zone_table,
)


def _index(seed: int = 0, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    index = rng.beta(0.8, 2.0, size=n).astype("float32")
    index[rng.random(n) < 0.05] = np.nan
    slides = (rng.random(n) < index * 0.3) & np.isfinite(index)
    return index, slides


def test_jenks_exact_below_the_sample_size() -> None:
    index, _ = _index(n=2000)
    breaks, used = jenks_breaks(index)
    valid = index[np.isfinite(index)].astype("float64")
    assert used == valid.size
    np.testing.assert_allclose(breaks, jenkspy.jenks_breaks(valid, n_classes=5))


def test_jenks_on_a_sample_keeps_min_and_max() -> None:
    index, _ = _index(n=50_000)
    breaks, used = jenks_breaks(index, sample=5000, seed=1)
    assert used == 5002
    assert breaks[0] == np.nanmin(index) and breaks[-1] == np.nanmax(index)
    assert np.all(np.diff(breaks) > 0)
    again, _ = jenks_breaks(index, sample=5000, seed=1)
    assert again == breaks


def test_zone_classes() -> None:
    breaks = [0.0, 0.1, 0.3, 0.5, 0.7, 1.0]
    values = np.array([0.0, 0.1, 0.1001, 0.3, 0.69, 0.7, 0.95, np.nan])
    assert zone(values, breaks).tolist() == [1, 1, 2, 2, 4, 4, 5, 0]


def test_interval_table_against_pandas() -> None:
    index, slides = _index(2)
    table = interval_table(index, slides).table
    valid = np.isfinite(index)
    cut = pd.cut(index[valid], [0, 0.2, 0.4, 0.6, 0.8, 1.0], right=False, include_lowest=True)
    frame = pd.DataFrame({"bin": cut, "slide": slides[valid]})
    # values of exactly 1.0 fall outside right-open bins: count them in the last one
    frame.loc[index[valid] == 1.0, "bin"] = frame["bin"].cat.categories[-1]
    grouped = frame.groupby("bin", observed=False)["slide"].agg(["size", "sum"])
    np.testing.assert_array_equal(table["pixels"], grouped["size"])
    np.testing.assert_array_equal(table["landslide_pixels"], grouped["sum"])
    np.testing.assert_allclose(table["density"], grouped["sum"] / grouped["size"])
    assert np.isclose(table["area_share"].sum(), 1.0)
    assert np.isclose(table["landslide_share"].sum(), 1.0)


def test_success_rate_auc_equals_roc_auc_of_landslides_against_all_pixels() -> None:
    index, slides = _index(3)
    area, found, auc = success_rate_curve(index, slides)
    valid = np.isfinite(index)
    # landslide pixels as positives against every pixel (landslides included) as negatives
    y = np.r_[np.ones(slides.sum()), np.zeros(valid.sum())]
    s = np.r_[index[slides], index[valid]]
    assert np.isclose(auc, roc_auc_score(y, s))
    assert area[0] == found[0] == 0 and area[-1] == found[-1] == 1
    assert np.all(np.diff(found) >= 0)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float32, st.integers(1, 300), elements=st.floats(0, 1, width=32)),
    st.integers(0, 2**32 - 1),
)
def test_tables_count_every_pixel_and_landslide_once(values: np.ndarray, seed: int) -> None:
    slides = np.random.default_rng(seed).random(values.size) < 0.3
    table = interval_table(values, slides).table
    assert table["pixels"].sum() == values.size
    assert table["landslide_pixels"].sum() == slides.sum()
    assert np.isclose(table["area_share"].sum(), 1.0)
    breaks, _ = jenks_breaks(values)
    zones = zone(values, breaks)
    assert (zones >= 1).all() and (zones <= 5).all()
    zt = zone_table(zones, slides)
    assert zt["pixels"].sum() == values.size and zt["landslide_pixels"].sum() == slides.sum()


def _quantised_index(seed: int, n: int = 50_000) -> np.ndarray:
    """A region's worth of index values: beta-distributed, on a 1/1024 lattice (so that the
    exact reference works on at most 1,025 distinct values), 5 % NaN."""
    rng = np.random.default_rng(seed)
    index = np.round(rng.beta(0.8, 2.0, size=n) * 1024) / 1024
    index[rng.random(n) < 0.05] = np.nan
    return index


@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_jenks_against_exact_jenks(seed: int) -> None:
    """Breaks from a random sample of 5,000 of ~47,500 values are close to the exact Jenks
    breaks of all of them (mutant: the smallest 5,000 values as the 'sample').

    Tolerances: the share of all values below each sampled break is within 2/sqrt(5000) =
    0.028 of the share below the exact break (the Kolmogorov-Smirnov band for a sample of
    5,000 at 99.9 % is 1.95/sqrt(n): a sample's distribution, and so the breaks fitted to it,
    cannot be farther from the population's than that without a one-in-a-thousand draw); and
    the within-class squared deviations of all values under the sampled breaks exceed the
    optimum by at most 2 %. (Measured over 30 seeds: at most 0.023 and 0.7 %; the mutant:
    0.81 and 1,700 %.)"""
    index = _quantised_index(seed)
    valid = index[np.isfinite(index)]
    breaks, used = jenks_breaks(index, sample=5000, seed=seed)
    assert used == 5002
    exact = exact_jenks(valid, 5)
    assert breaks[0] == exact[0] == valid.min() and breaks[-1] == exact[-1] == valid.max()
    tolerance = 2 / np.sqrt(5000)
    for got, want in zip(breaks[1:-1], exact[1:-1], strict=True):
        share_got, share_want = np.mean(valid <= got), np.mean(valid <= want)
        assert abs(share_got - share_want) <= tolerance, (got, want)
    assert within_class_ssd(valid, breaks) <= 1.02 * within_class_ssd(valid, exact)


def test_jenks_below_the_sample_size_is_the_exact_optimum() -> None:
    index = _quantised_index(3, n=3000)
    breaks, used = jenks_breaks(index)
    assert used == np.isfinite(index).sum()
    np.testing.assert_allclose(breaks, exact_jenks(index, 5))
    # five or fewer distinct values: equal steps from the minimum to the maximum
    few = np.array([0.1, 0.1, 0.3, 0.5, np.nan, 0.5])
    np.testing.assert_allclose(jenks_breaks(few)[0], np.linspace(0.1, 0.5, 6))
    assert jenks_breaks(few)[1] == 5
    with pytest.raises(ValueError, match="no valid"):
        jenks_breaks(np.full(4, np.nan))


def test_interval_table_values_exactly_on_the_edges() -> None:
    """Tables 5/6 bins are [a, b) with the last one closed: 0.2 counts in 0.2-0.4, 1.0 in
    0.8-1 (float64 values: float32 0.2 is already above 0.2)."""
    edges = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    below = [np.nextafter(e, -1.0) for e in edges[1:]]  # just under each inner edge and 1
    values = np.array(edges + below + [np.nan])
    slides = np.array([1, 1, 0, 0, 1, 1] + [0, 1, 0, 0, 0] + [1], dtype=bool)
    table = interval_table(values, slides).table
    # by hand: bin of each value (edges then the values just below them)
    bins = [0, 1, 2, 3, 4, 4] + [0, 1, 2, 3, 4]
    expected_pixels = np.bincount(bins, minlength=5)
    expected_slides = np.bincount(bins, weights=slides[:-1], minlength=5)
    assert list(table.index) == ["0–0.2", "0.2–0.4", "0.4–0.6", "0.6–0.8", "0.8–1"]
    np.testing.assert_array_equal(table["pixels"], expected_pixels)  # [2, 2, 2, 2, 3]
    np.testing.assert_array_equal(table["landslide_pixels"], expected_slides)
    np.testing.assert_allclose(table["area_share"], expected_pixels / 11)
    np.testing.assert_allclose(table["landslide_share"], expected_slides / slides[:-1].sum())
    np.testing.assert_allclose(table["density"], expected_slides / expected_pixels)


def test_jenks_sample_boundaries_and_default_seed() -> None:
    """Exactly ``sample`` values are used as they are; five distinct values (as many as
    classes) are equal steps, six are Jenks; the default seed is 0."""
    index = _quantised_index(4, n=6000)
    valid = index[np.isfinite(index)]
    breaks, used = jenks_breaks(valid, sample=valid.size)
    assert used == valid.size
    np.testing.assert_allclose(breaks, exact_jenks(valid, 5))
    assert jenks_breaks(index, sample=1000) == jenks_breaks(index, sample=1000, seed=0)
    five = np.array([0.1, 0.2, 0.2, 0.4, 0.9, 0.5])
    np.testing.assert_allclose(jenks_breaks(five)[0], np.linspace(0.1, 0.9, 6))
    six = np.r_[five, 0.95]
    np.testing.assert_allclose(jenks_breaks(six)[0], exact_jenks(six, 5))


def test_interval_table_single_pixels_empty_intervals_and_markdown() -> None:
    """By hand: 0.1 (a landslide), 0.5, 0.5, 0.9 → intervals of 1, 0, 2, 0, 1 pixels; the
    only landslide pixel is all of the landslides; an empty interval has no density."""
    values = np.array([0.1, 0.5, 0.5, 0.9])
    table = interval_table(values, np.array([True, False, False, False])).table
    assert table.index.name == "interval"
    assert table["pixels"].tolist() == [1, 0, 2, 0, 1]
    assert table["landslide_share"].tolist() == [1.0, 0, 0, 0, 0]
    np.testing.assert_array_equal(table["density"], [1.0, np.nan, 0.0, np.nan, 0.0])
    lines = interval_table(values, np.array([True, False, False, False])).markdown()
    assert lines.endswith("\n")
    lines = lines.splitlines()
    assert lines[:2] == [
        "| Interval | Pixels | Share of area | Landslide pixels | Share of landslides "
        "| Landslide density |",
        "|---|---|---|---|---|---|",
    ]
    assert lines[2] == "| 0–0.2 | 1 | 25.00% | 1 | 100.00% | 1.0000 |"
    assert lines[4] == "| 0.4–0.6 | 2 | 50.00% | 0 | 0.00% | 0.0000 |"
    assert lines[6] == "| 0.8–1 | 1 | 25.00% | 0 | 0.00% | 0.0000 |"
    # empty intervals: no density (the cell's wording is not pinned here)
    assert lines[3].startswith("| 0.2–0.4 | 0 | 0.00% | 0 | 0.00% | ")
    assert lines[5].startswith("| 0.6–0.8 | 0 | 0.00% | 0 | 0.00% | ")
    assert len(lines) == 7


def test_zone_table_by_hand() -> None:
    zones = np.array([[1, 1, 2, 0], [5, 5, 5, 3]], dtype=np.uint8)
    slides = np.array([[1, 0, 0, 1], [1, 1, 0, 0]], dtype=bool)
    table = zone_table(zones, slides)
    assert table.index.name == "zone" and list(table.index) == list(ZONES)
    assert table["pixels"].tolist() == [2, 1, 1, 0, 3]
    assert table["area_share"].tolist() == pytest.approx([2 / 7, 1 / 7, 1 / 7, 0, 3 / 7])
    assert table["landslide_pixels"].tolist() == [1, 0, 0, 0, 2]  # the one in zone 0 is out
    assert table["landslide_share"].tolist() == pytest.approx([1 / 3, 0, 0, 0, 2 / 3])
    one = zone_table(np.array([1, 2], dtype=np.uint8), np.array([False, True]))
    assert one["landslide_share"].tolist() == [0.0, 1.0, 0, 0, 0]


def test_success_rate_curve_with_one_landslide_pixel() -> None:
    index = np.array([0.9, 0.5, 0.5, 0.1, np.nan])
    area, found, auc = success_rate_curve(index, np.array([False, True, False, False, True]))
    assert area.tolist() == [0, 0.25, 0.75, 1.0] and found.tolist() == [0, 0, 1.0, 1.0]
    assert auc == pytest.approx(0.25 * 0 + 0.5 * 0.5 + 0.25 * 1.0)
