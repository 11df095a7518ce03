"""Inventories as users have them, through the real command line: ``check`` on a NASA
GLC-shaped CSV, a zipped shapefile, a KML and a two-source merge, with their counts;
``init --inventory`` on a table; ``export-factors`` + ``sample`` on merged sources (and one
slow ``run`` on the CSV); and the bad cases, each one ``error:`` line and exit 2."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from test_inventory_formats import accuracy_metres, glc_csv, glc_frame
from test_inventory_merge import two_sources_region

from conftest import aoi_bbox, edit_config, make_region, run_cli

GLC_SPEC = {
    "path": "glc.csv",
    "where": "landslide_category == 'landslide' and landslide_trigger != 'earthquake'",
    "max_location_error": 10000,
    "date_attribute": "event_date",
}


def _glc_region(tmp_path: Path, frame: pd.DataFrame | None = None, **spec) -> Path:
    config = make_region(tmp_path / "region")
    glc_csv(config.parent, frame)
    return edit_config(config, inventory={**GLC_SPEC, **spec})


def _inventory_rows(stdout: str) -> list[str]:
    return [" ".join(line.split()) for line in stdout.splitlines() if line.startswith("inventory")]


def _one_error(proc, *fragments: str) -> str:
    both = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in both, both
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- check, with counts --------------------------------------------------------------------


def test_check_glc_csv(tmp_path: Path) -> None:
    frame = glc_frame()
    config = _glc_region(tmp_path, frame)
    proc = run_cli("check", str(config))
    keep = (frame.landslide_category == "landslide") & (frame.landslide_trigger != "earthquake")
    coarse = keep & (accuracy_metres(frame.location_accuracy) > 10000)
    inside = keep & ~coarse & (np.arange(len(frame)) < 35)
    assert _inventory_rows(proc.stdout) == [
        f"inventory glc.csv ok EPSG:4326 40 point features, where keeps {int(keep.sum())}, "
        f"location coarser than 10000 m drops {int(coarse.sum())}, "
        f"{int(inside.sum())} inside the AOI"
    ]
    assert proc.stdout.rstrip().endswith("usable")


def test_check_zipped_shapefile(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    slides = gpd.read_file(config.parent / "landslides.gpkg")
    folder = tmp_path / "shp"
    folder.mkdir()
    slides.to_crs("EPSG:4326").to_file(folder / "slides.shp")
    with zipfile.ZipFile(config.parent / "slides.zip", "w") as z:
        for part in folder.iterdir():
            z.write(part, part.name)
    edit_config(config, inventory={"path": "slides.zip", "date_attribute": "year"})
    proc = run_cli("check", str(config))
    assert _inventory_rows(proc.stdout) == [
        "inventory slides.zip ok EPSG:4326 25 polygon features, 25 inside the AOI"
    ]


def test_check_kml(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    slides = gpd.read_file(config.parent / "landslides.gpkg").to_crs("EPSG:4326")
    slides["Name"] = [f"slide {i}" for i in range(len(slides))]
    slides[["Name", "geometry"]].to_file(config.parent / "slides.kml", driver="KML")
    edit_config(config, inventory={"path": "slides.kml", "where": "Name != 'slide 0'"})
    proc = run_cli("check", str(config))
    assert _inventory_rows(proc.stdout) == [
        "inventory slides.kml ok EPSG:4326 25 polygon features, where keeps 24, 24 inside the AOI"
    ]


@pytest.fixture
def two_sources(tmp_path: Path) -> Path:
    return two_sources_region(tmp_path / "region")


def test_check_two_sources(two_sources: Path) -> None:
    proc = run_cli("check", str(two_sources))
    assert _inventory_rows(proc.stdout) == [
        "inventory[0] survey.gpkg ok EPSG:32633 6 polygon features, 6 inside the AOI",
        "inventory[1] glc.csv ok EPSG:4326 8 point features, where keeps 7, 7 inside the AOI",
        "inventory 2 sources merged ok EPSG:32633 10 landslides (polygons); 3 duplicates "
        "within 30 m collapsed",
    ]


# --- the bad cases: one line, exit 2 -------------------------------------------------------


def test_table_without_coordinate_columns(tmp_path: Path) -> None:
    frame = glc_frame().drop(columns=["longitude", "latitude"])
    config = _glc_region(tmp_path, frame)
    _one_error(
        run_cli("check", str(config), check=False),
        "glc.csv is a table without coordinate columns (its columns: source_name, event_id, "
        "event_date,",
        "set inventory.x and inventory.y to the longitude/easting and latitude/northing "
        "columns (and inventory.crs unless they are WGS 84 degrees), or inventory.wkt",
    )


def test_unreadable_dates(tmp_path: Path) -> None:
    frame = glc_frame()
    frame.loc[[0, 1, 2], "event_date"] = ["last spring", "14/07/2015", "?"]
    config = _glc_region(tmp_path, frame, where="event_id < 1010")
    _one_error(
        run_cli("check", str(config), check=False),
        "inventory.date_attribute 'event_date' of",
        "glc.csv holds 3 of",
        "values that are not dates (e.g. 'last spring', '14/07/2015', '?')",
        "set inventory.date_format to day-first, month-first or a pattern such as %d/%m/%Y",
    )


def test_filter_naming_an_unknown_column(tmp_path: Path) -> None:
    config = _glc_region(tmp_path, where="category == 'landslide'")
    line = _one_error(run_cli("check", str(config), check=False))
    assert line.startswith("error: inventory.where names column 'category', which inventory ")
    assert line.endswith(
        "glc.csv does not have; its columns are: source_name, event_id, event_date, "
        "event_title, location_description, location_accuracy, landslide_category, "
        "landslide_trigger, landslide_size, fatality_count, country_name, longitude, latitude"
    )


def test_empty_result_after_filtering(tmp_path: Path) -> None:
    config = _glc_region(tmp_path, where="landslide_category == 'Landslide'")
    _one_error(
        run_cli("export-factors", str(config), check=False),
        "inventory.where \"landslide_category == 'Landslide'\" keeps none of the 40 features",
        "check the values it compares with (the column 'landslide_category' holds e.g. "
        "'landslide', 'mudslide', 'rock_fall')",
    )
    assert not (config.parent / "run" / "factors.tif").exists()
    frame = glc_frame()
    frame["location_accuracy"] = ["25km", "50km", "unknown", ""] * 10
    config = _glc_region(tmp_path / "b", frame)
    _one_error(
        run_cli("check", str(config), check=False),
        "error: no feature of inventory ",
        "glc.csv has a location accuracy ('location_accuracy') within 10000 m "
        "(inventory.max_location_error); raise it, or set inventory.location_action: flag",
    )


def test_where_syntax_error(tmp_path: Path) -> None:
    config = _glc_region(tmp_path, where="landslide_category == landslide")
    _one_error(
        run_cli("check", str(config), check=False),
        "inventory.where 'landslide_category == landslide' cannot be read: expected a number "
        "or a 'quoted string' but found 'landslide'",
    )


# --- init, stages --------------------------------------------------------------------------


def test_init_writes_detected_coordinate_columns(tmp_path: Path) -> None:
    glc = glc_csv(tmp_path)
    folder = tmp_path / "new-region"
    bbox = [f"{v:.5f}" for v in aoi_bbox()]
    run_cli("init", str(folder), "--bbox", *bbox, "--inventory", str(glc))
    for name in ("region.yaml", "region-local.yaml"):
        data = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
        assert data["inventory"] == {
            "path": "../glc.csv",
            "x": "longitude",
            "y": "latitude",
            "crs": "EPSG:4326",
            "date_attribute": None,
        }


def test_export_factors_and_sample_with_merged_sources(two_sources: Path) -> None:
    edit_config(two_sources, sampling={"split": "temporal", "temporal_cutoff": 2005})
    run_cli("export-factors", str(two_sources))
    run = two_sources.parent / "run"
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    notes = stages["export-factors"]["notes"]["inventory"]
    assert (notes["read"], notes["kept"], notes["duplicates"], notes["filtered_out"]) == (
        14,
        10,
        3,
        1,
    )
    assert [s["kept"] for s in notes["sources"]] == [6, 7]
    kept = gpd.read_file(run / "inventory.gpkg")
    assert kept["source"].value_counts().to_dict() == {"field survey": 6, "glc.csv": 4}
    assert sorted(kept["date"].str.slice(0, 4).astype(int)) == [2001, 2002, 2003, 2004, 2005,
                                                                2006] + [2019] * 4  # fmt: skip
    proc = run_cli("sample", str(two_sources))
    assert "train:" in proc.stdout
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    assert stages["sample"]["notes"]["split"] == "temporal"
    samples = gpd.read_file(run / "samples.gpkg")
    assert len(samples) > 0


@pytest.mark.slow
def test_run_on_a_glc_csv(tmp_path: Path) -> None:
    """All stages on the CSV catalogue (one fast model): the inventory flows through."""
    frame = glc_frame()
    config = _glc_region(tmp_path, frame)
    edit_config(config, training={"models": ["rf"], "epochs": 2, "patience": 1})
    run_cli("run", str(config))
    run = config.parent / "run"
    notes = json.loads((run / "manifest.json").read_text())["stages"]["export-factors"]["notes"]
    keep = (frame.landslide_category == "landslide") & (frame.landslide_trigger != "earthquake")
    fine = accuracy_metres(frame.location_accuracy) <= 10000
    assert notes["inventory"]["kept"] == int((keep & fine & (np.arange(40) < 35)).sum())
    assert len(gpd.read_file(run / "inventory.gpkg")) == notes["inventory"]["kept"]
    assert (run / "report.html").exists() and (run / "preview.html").exists()
