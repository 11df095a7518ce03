"""Several inventories: the config forms (a list, ``sources:``, the single mapping as before),
the merge and its duplicate rule, the ``source`` and ``date`` attributes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import Point

from conftest import ORIGIN, RES, UTM, edit_config, make_region, polygon_square
from lsgh_ee.config import InventoryConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.inventory import read_inventory
from lsgh_ee.inventory.merge import merge_sources
from lsgh_ee.region import Region


def _xy(cx: float, cy: float) -> tuple[float, float]:
    return ORIGIN[0] + cx * RES, ORIGIN[1] - cy * RES


def _frame(geoms: list, source: str, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"source": [source] * len(geoms), **cols}, geometry=geoms, crs=UTM)


# --- the rule ------------------------------------------------------------------------------


def test_merge_rule() -> None:
    x, y = _xy(40, 40)
    survey = _frame(
        [polygon_square(x, y, 60), Point(x + 600, y), Point(x + 605, y)], "survey"
    )  # two points of one source 5 m apart: a source's own features are never merged
    catalogue = _frame(
        [
            Point(x + 10, y + 10),  # inside the polygon: duplicate of it
            Point(x + 600 + 20, y),  # 20 m from a survey point: duplicate
            Point(x + 600 + 80, y),  # 80 m away: its own landslide
            Point(x + 2000, y),  # far away
        ],
        "catalogue",
    )
    merged, duplicates = merge_sources([survey, catalogue], distance=30)
    assert duplicates == 2
    assert merged["source"].tolist() == ["survey"] * 3 + ["catalogue"] * 2
    assert [round(p.x - x) for p in merged.geometry.centroid] == [0, 600, 605, 680, 2000]


def test_polygon_wins_over_earlier_points() -> None:
    x, y = _xy(40, 40)
    catalogue = _frame([Point(x, y), Point(x + 30, y), Point(x + 900, y)], "glc", n=[1, 2, 3])
    survey = _frame([polygon_square(x, y, 60)], "survey", n=[9])
    merged, duplicates = merge_sources([catalogue, survey], distance=0)
    assert duplicates == 2
    assert merged["source"].tolist() == ["glc", "survey"]
    assert merged.geom_type.tolist() == ["Point", "Polygon"]
    assert merged["n"].tolist() == [3, 9]


def test_merge_counts_match_brute_force() -> None:
    """Points only: a later point is dropped exactly when some earlier-source point that
    was kept lies within the distance (a brute-force reading of the rule)."""
    rng = np.random.default_rng(3)
    frames = [
        _frame([Point(p) for p in rng.uniform(0, 2000, size=(n, 2))], f"s{k}")
        for k, n in enumerate((40, 60, 50))
    ]
    merged, duplicates = merge_sources(frames, distance=60)
    kept: list[tuple[float, float, int]] = []
    for k, frame in enumerate(frames):
        earlier = [(a, b) for a, b, s in kept if s < k]
        for p in frame.geometry:
            if not any(np.hypot(p.x - a, p.y - b) <= 60 for a, b in earlier):
                kept.append((p.x, p.y, k))
    assert len(merged) == len(kept) and duplicates == 150 - len(kept)
    assert np.allclose(np.column_stack([merged.geometry.x, merged.geometry.y]),
                       [(a, b) for a, b, _ in kept])  # fmt: skip


# --- configs -------------------------------------------------------------------------------


def write_two_sources(folder: Path) -> tuple[Path, Path]:
    """A polygon survey (GeoPackage, years) and a point catalogue (CSV, ISO dates) that
    share 3 landslides: 2 catalogue points inside survey polygons, 1 within 25 m."""
    xs = [_xy(20 + 8 * k, 30) for k in range(6)]
    gpd.GeoDataFrame(
        {"year": [2001, 2002, 2003, 2004, 2005, 2006], "Name": list("abcdef")},
        geometry=[polygon_square(x, y, 45) for x, y in xs],
        crs=UTM,
    ).to_file(folder / "survey.gpkg")
    points = [Point(xs[0]), Point(xs[1][0] + 20, xs[1][1]),  # inside polygons
              Point(xs[2][0] + 45 + 25, xs[2][1]),  # 25 m from a polygon's edge
              *[Point(_xy(20 + 8 * k, 60)) for k in range(5)]]  # fmt: skip
    lonlat = gpd.GeoSeries(points, crs=UTM).to_crs("EPSG:4326")
    pd.DataFrame(
        {
            "event_date": [f"2019-0{k + 1}-01" for k in range(8)],
            "latitude": lonlat.y,
            "longitude": lonlat.x,
            "landslide_category": ["landslide"] * 7 + ["snow_avalanche"],
            "name": [f"glc{k}" for k in range(8)],
        }
    ).to_csv(folder / "glc.csv", index=False)
    return folder / "survey.gpkg", folder / "glc.csv"


def two_sources_region(folder: Path) -> Path:
    """A synthetic region in ``folder`` whose inventory is the survey + GLC-table merge."""
    config = make_region(folder)
    write_two_sources(config.parent)
    return edit_config(
        config,
        inventory=[
            {"path": "survey.gpkg", "date_attribute": "year", "name": "field survey"},
            {
                "path": "glc.csv",
                "where": "landslide_category == 'landslide'",
                "date_attribute": "event_date",
            },
        ],  # fmt: skip
    )


@pytest.fixture
def two_sources(tmp_path: Path) -> Path:
    return two_sources_region(tmp_path / "region")


def test_list_of_sources_is_merged(two_sources: Path) -> None:
    config = load_config(two_sources)
    assert config.inventory.path == two_sources.parent / "survey.gpkg"  # the first source
    assert config.inventory.paths == [two_sources.parent / n for n in ("survey.gpkg", "glc.csv")]
    assert config.inventory.date_attribute == "date"
    region = Region.from_config(config)
    inventory = read_inventory(config.inventory, region)  # duplicate_distance: 30 m (grid)
    report = inventory.report
    assert [s.kept for s in report.sources] == [6, 7]
    assert report.sources[1].where_kept == 7 and report.filtered_out == 1
    assert report.duplicates == 3 and len(inventory) == 10 and report.kept == 10
    assert inventory.kind == "polygon"
    assert inventory.landslides["source"].tolist() == ["field survey"] * 6 + ["glc.csv"] * 4
    assert sorted(inventory.years("date")) == [2001, 2002, 2003, 2004, 2005, 2006] + [2019] * 4
    assert inventory.landslides["Name"].tolist()[:6] == list("abcdef")  # name/Name: one column
    assert inventory.landslides["Name"].tolist()[6:] == ["glc3", "glc4", "glc5", "glc6"]
    # a smaller distance keeps the point 25 m from the polygon
    data = yaml.safe_load(two_sources.read_text())
    edit_config(two_sources, inventory={"sources": data["inventory"], "duplicate_distance": 10})
    config = load_config(two_sources)
    inventory = read_inventory(config.inventory, region)
    assert inventory.report.duplicates == 2 and len(inventory) == 11
    # the dumped config validates again (run manifests)
    again = InventoryConfig.model_validate(config.inventory.model_dump())
    assert again == config.inventory


def test_single_mapping_works_as_before(tmp_path: Path) -> None:
    config = load_config(make_region(tmp_path / "region"))
    spec = config.inventory
    assert spec.sources == () and spec.path.name == "landslides.gpkg"
    assert spec.paths == [spec.path] and spec.date_attribute == "year"
    inventory = read_inventory(spec, Region.from_config(config))
    assert len(inventory) == 25 and "source" not in inventory.landslides.columns
    assert inventory.landslides["year"].dtype.kind == "i"


@pytest.mark.parametrize(
    ("inventory", "fragment"),
    [
        ([{"path": "survey.gpkg"}, {"path": "glc.csv", "colour": "red"}],
         "unknown key 'colour' in 'inventory[1]' (known keys: path, name, layer"),
        ([{"path": "survey.gpkg"}, {"path": "missing.csv"}],
         "key 'inventory[1].path' names missing.csv, which does not exist"),
        ({"sources": [{"path": "survey.gpkg"}], "layer": "a"},
         "with several sources, put 'layer' inside each source that needs it"),
        ({"path": "survey.gpkg", "duplicate_distance": 5},
         "'duplicate_distance' applies to several sources; remove it"),
        ({"path": "glc.csv", "x": "longitude"}, "give both 'x' and 'y'"),
        ({"path": "glc.csv", "max_location_error": -1}, "key 'inventory.max_location_error'"),
        ({"path": "glc.csv", "location_action": "hide"}, "'drop' or 'flag'"),
        ([], "give 'path' (the landslide file) or a list of sources"),
    ],
)  # fmt: skip
def test_config_mistakes(tmp_path: Path, inventory: object, fragment: str) -> None:
    config = make_region(tmp_path / "region")
    write_two_sources(config.parent)
    edit_config(config, inventory=inventory)
    with pytest.raises(LsghError) as info:
        load_config(config)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_list_of_one_source(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    write_two_sources(config.parent)
    edit_config(config, inventory=[{"path": "glc.csv", "date_attribute": "event_date"}])
    loaded = load_config(config)
    inventory = read_inventory(loaded.inventory, Region.from_config(loaded))
    assert loaded.inventory.date_attribute == "date" and len(inventory) == 8
    assert set(inventory.landslides["source"]) == {"glc.csv"}
    assert sorted(set(inventory.years("date"))) == [2019]
