"""``inventory.where`` (its grammar, its safety, its messages), dates as they come and stated
location accuracy, each checked against an independent computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsgh_ee.errors import LsghError
from lsgh_ee.inventory.accuracy import accuracy_metres
from lsgh_ee.inventory.dates import parse_dates
from lsgh_ee.inventory.where import apply_where, parse_where

FRAME = pd.DataFrame(
    {
        "landslide_category": ["landslide", "mudslide", "landslide", None, "rock_fall"],
        "location_accuracy": ["exact", "5km", "25km", "1km", ""],
        "fatality_count": ["0", "3", "12", "", "1"],
        "size": [1.5, 20.0, np.nan, 3.0, 7.0],
        "event date": pd.to_datetime(
            ["2010-05-01", "2014-01-01", "2018-07-30", None, "2020-02-02"]
        ),
    }
)


def _keep(text: str) -> list[int]:
    return np.flatnonzero(apply_where(FRAME, text, "inventory t.csv")).tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("landslide_category == 'landslide'", [0, 2]),
        ("landslide_category = 'landslide'", [0, 2]),
        ("landslide_category != 'landslide'", [1, 4]),  # missing matches nothing
        ("landslide_category IS NULL", [3]),
        ("landslide_category is not null and size > 5", [1, 4]),
        ("location_accuracy in ('exact', '1km', '5km')", [0, 1, 3]),
        ("location_accuracy not in ('exact', '1km')", [1, 2]),
        ("fatality_count >= 3", [1, 2]),  # numbers compare as numbers: '12' >= 3
        ("fatality_count >= '3'", [1]),  # text compares as text: '12' < '3'
        ("size <= 3 or size > 19.5", [0, 1, 3]),
        ("not (size < 5) and landslide_category == 'landslide'", []),
        ("(landslide_category == 'landslide' or size > 10) and not size > 15", [0]),
        ("`event date` >= '2014-01-01'", [1, 2, 4]),
        ("\"event date\" < '2015-01-01' AND fatality_count > 0", [1]),
        ("size > 1e1", [1]),
    ],
)
def test_where_grammar(text: str, expected: list[int]) -> None:
    assert _keep(text) == expected


@given(
    st.lists(st.sampled_from(["landslide", "mudslide", "debris_flow"]), min_size=1, max_size=30),
    st.lists(st.integers(-5, 50), min_size=30, max_size=30),
    st.integers(-5, 50),
)
@settings(max_examples=60, deadline=None)
def test_where_matches_plain_python(categories: list[str], counts: list[int], limit: int) -> None:
    frame = pd.DataFrame({"cat": categories, "n": [str(c) for c in counts[: len(categories)]]})
    got = apply_where(frame, f"cat == 'landslide' or n < {limit}", "t")
    want = [c == "landslide" or int(n) < limit for c, n in zip(frame.cat, frame.n, strict=True)]
    assert got.tolist() == want


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("__import__('os').system('true')", "cannot read \".system('true')\""),
        ("__import__('os')", "expected an operator (== != < <= > >= in) but found '('"),
        ("size > 1; import os", "cannot read ';"),
        ("landslide_category == landslide", "expected a number or a 'quoted string'"),
        ("size >", "expected a number or a 'quoted string' but found the end"),
        ("size > 1 and", "expected a column name but found the end"),
        ("(size > 1", "expected ) but found the end"),
        ("size not > 3", "expected 'in' after 'not'"),
        ("", "it is empty"),
    ],
)
def test_where_rejects_what_is_not_the_grammar(text: str, fragment: str) -> None:
    with pytest.raises(LsghError) as info:
        parse_where(text)
    message = str(info.value)
    assert fragment in message and message.startswith(f"inventory.where {text!r} cannot be read")
    assert "quote text values" in message and "\n" not in message


def test_where_unknown_column_lists_the_columns() -> None:
    with pytest.raises(LsghError) as info:
        apply_where(FRAME, "category == 'landslide'", "inventory glc.csv")
    assert str(info.value) == (
        "inventory.where names column 'category', which inventory glc.csv does not have; its "
        "columns are: landslide_category, location_accuracy, fatality_count, size, event date"
    )


# --- dates ---------------------------------------------------------------------------------


def _dates(values: list, fmt: str | None = None) -> list:
    out = parse_dates(pd.Series(values, dtype=object), fmt, "inventory.date_attribute 'd'")
    return [None if pd.isna(v) else pd.Timestamp(v) for v in out]


def test_iso_dates_datetimes_and_years() -> None:
    got = _dates(["2015-03-01", "2015-03-01T22:30:00Z", "2015-03-01 10:00", "2016",
                  "2015-03-02T01:30:00+02:00", "", None, " 2017-12-31 "])  # fmt: skip
    assert got == [
        pd.Timestamp(2015, 3, 1),
        pd.Timestamp(2015, 3, 1, 22, 30),
        pd.Timestamp(2015, 3, 1, 10),
        pd.Timestamp(2016, 1, 1),
        pd.Timestamp(2015, 3, 1, 23, 30),  # UTC
        None,
        None,
        pd.Timestamp(2017, 12, 31),
    ]


@pytest.mark.parametrize(
    ("fmt", "values", "expected"),
    [
        ("day-first", ["03/04/2010", "3.4.2010", "13-04-2010 14:05"],
         [(2010, 4, 3), (2010, 4, 3), (2010, 4, 13, 14, 5)]),
        ("month-first", ["03/04/2010", "12/31/2010 10:30:00 PM", "2010-05-06"],
         [(2010, 3, 4), (2010, 12, 31, 22, 30), (2010, 5, 6)]),
        ("%d.%m.%Y", ["01.02.2003", "2004"], [(2003, 2, 1), (2004, 1, 1)]),
    ],
)  # fmt: skip
def test_dates_with_a_format(fmt: str, values: list[str], expected: list[tuple]) -> None:
    assert _dates(values, fmt) == [pd.Timestamp(*e) for e in expected]


def test_numeric_years_stay_years() -> None:
    out = parse_dates(pd.Series([2001, 2005, np.nan]), None, "x")
    assert out.tolist()[:2] == [2001, 2005] and np.isnan(out.iloc[2])
    with pytest.raises(LsghError, match=r"holds 1 of 2 values that are not years \(e.g. '15.0'"):
        parse_dates(pd.Series([2001, 15.0]), None, "x")


def test_unreadable_dates_name_a_few() -> None:
    with pytest.raises(LsghError) as info:
        _dates(["2015-03-01", "yesterday", "n/a", "yesterday", "spring 2010", "??"])
    assert str(info.value) == (
        "inventory.date_attribute 'd' holds 5 of 6 values that are not dates (e.g. "
        "'yesterday', 'n/a', 'spring 2010'); correct or empty them, or set "
        "inventory.date_format to the format they use"
    )
    with pytest.raises(LsghError, match="'03/04/2010'.*set inventory.date_format to day-first"):
        _dates(["03/04/2010"])  # ambiguous without a format
    with pytest.raises(LsghError, match="'31/12/2010'"):
        _dates(["31/12/2010"], "month-first")
    with pytest.raises(LsghError, match="inventory.date_format 'dd/mm' is not understood"):
        _dates(["31/12/2010"], "dd/mm")


# --- location accuracy ---------------------------------------------------------------------


def test_location_accuracy_values() -> None:
    values = pd.Series(["exact", "1km", "5 km", "250m", "25KM", "unknown", "", None, "300"])
    got = accuracy_metres(values, "x")
    assert got.tolist() == [0, 1000, 5000, 250, 25000, np.inf, np.inf, np.inf, 300]
    with pytest.raises(LsghError, match=r"holds 2 values that are not location accuracies "
                                        r"\(e.g. 'good', 'about 5'\)"):  # fmt: skip
        accuracy_metres(pd.Series(["good", "about 5", "exact"]), "x")


def test_accuracy_column_missing(tmp_path: Path) -> None:
    from conftest import make_region
    from lsgh_ee.config import InventoryConfig, load_config
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region

    region = Region.from_config(load_config(make_region(tmp_path / "region")))
    path = tmp_path / "t.csv"
    pd.DataFrame({"lat": [45.1], "lon": [12.4]}).to_csv(path, index=False)
    fragment = "max_location_error is set but .* has no location accuracy column; set inv"
    with pytest.raises(LsghError, match=fragment):
        read_inventory(InventoryConfig(path=path, max_location_error=1000), region)
