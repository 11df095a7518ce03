"""Zoning: Jenks breaks, equal-interval tables, success-rate curve — against independent
computations (pandas, jenkspy on all values, scikit-learn)."""

from __future__ import annotations

import jenkspy
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import roc_auc_score

from lsgh_ee.zoning import interval_table, jenks_breaks, success_rate_curve, zone, zone_table


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
