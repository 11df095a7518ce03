"""Inventories as users have them: CSV tables (a NASA Global Landslide Catalog export),
delimited text with x / y or WKT, spreadsheets, zipped shapefiles, tar archives, KML / KMZ,
GeoJSON and multi-layer GeoPackages, all written as real files and read back.

The helpers here (points at known grid cells, the GLC-shaped CSV) are shared with the other
``test_inventory_*`` modules.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from conftest import ORIGIN, RES, UTM, make_region, polygon_square
from lsgh_ee.config import InventoryConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.inventory import detect_coordinate_columns, read_inventory
from lsgh_ee.region import Region

#: GLC columns, in the order of the catalogue's CSV export.
GLC_COLUMNS = ["source_name", "event_id", "event_date", "event_title", "location_description",
               "location_accuracy", "landslide_category", "landslide_trigger", "landslide_size",
               "fatality_count", "country_name", "longitude", "latitude"]  # fmt: skip
ACCURACIES = ["exact", "1km", "5km", "10km", "25km", "50km", "unknown"]
CATEGORIES = ["landslide", "mudslide", "landslide", "rock_fall", "landslide"]


def cell_points(n: int, seed: int, inside: bool = True) -> gpd.GeoSeries:
    """``n`` points in UTM 33N: inside the synthetic AOI (cells 15..75 of 90, the AOI
    spans cells 10..80), or well outside the grid."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(15, 75, size=(n, 2)) if inside else rng.uniform(120, 200, size=(n, 2))
    xs = ORIGIN[0] + cells[:, 0] * RES
    ys = ORIGIN[1] - cells[:, 1] * RES
    return gpd.GeoSeries([Point(x, y) for x, y in zip(xs, ys, strict=True)], crs=UTM)


def glc_frame(n_inside: int = 35, n_outside: int = 5) -> pd.DataFrame:
    """A table shaped like the GLC export: ISO event dates, longitude / latitude,
    location_accuracy from exact to 50km, categories and triggers."""
    points = pd.concat([cell_points(n_inside, 1), cell_points(n_outside, 2, inside=False)])
    lonlat = points.to_crs("EPSG:4326")
    n = len(points)
    i = np.arange(n)
    return pd.DataFrame(
        {
            "source_name": "local news",
            "event_id": 1000 + i,
            "event_date": [
                f"20{10 + k % 10}-0{1 + k % 9}-1{k % 10}T0{k % 10}:30:00.000Z"
                if k % 2
                else f"20{10 + k % 10}-0{1 + k % 9}-1{k % 10}"
                for k in i
            ],  # fmt: skip
            "event_title": [f"Slide {k}" for k in i],
            "location_description": "hillside, near a road",
            "location_accuracy": [ACCURACIES[k % len(ACCURACIES)] for k in i],
            "landslide_category": [CATEGORIES[k % len(CATEGORIES)] for k in i],
            "landslide_trigger": ["downpour", "rain", "earthquake", "unknown"] * (n // 4)
            + ["rain"] * (n % 4),
            "landslide_size": "medium",
            "fatality_count": i % 3,
            "country_name": "Italy",
            "longitude": lonlat.x.round(7).to_numpy(),
            "latitude": lonlat.y.round(7).to_numpy(),
        },
        columns=GLC_COLUMNS,
    )


def glc_csv(folder: Path, frame: pd.DataFrame | None = None) -> Path:
    path = folder / "glc.csv"
    (glc_frame() if frame is None else frame).to_csv(path, index=False)
    return path


def accuracy_metres(values: pd.Series) -> np.ndarray:
    """Independent reading of the GLC accuracy classes (metres; unknown = infinite)."""
    table = {"exact": 0, "1km": 1e3, "5km": 5e3, "10km": 1e4, "25km": 2.5e4, "50km": 5e4}
    return values.map(lambda v: table.get(v, np.inf)).to_numpy(dtype=float)


@pytest.fixture
def region(tmp_path: Path) -> Region:
    return Region.from_config(load_config(make_region(tmp_path / "region")))


# --- tables --------------------------------------------------------------------------------


def test_glc_csv_filter_accuracy_and_dates(tmp_path: Path, region: Region) -> None:
    frame = glc_frame()
    path = glc_csv(tmp_path, frame)
    spec = InventoryConfig(
        path=path,
        where="landslide_category == 'landslide' and landslide_trigger != 'earthquake'",
        max_location_error=10_000,
        date_attribute="event_date",
    )
    inventory = read_inventory(spec, region)
    keep = (frame.landslide_category == "landslide") & (frame.landslide_trigger != "earthquake")
    fine = accuracy_metres(frame.location_accuracy) <= 10_000
    inside = np.arange(len(frame)) < 35
    source = inventory.report.sources[0]
    assert (source.read, source.where_kept) == (40, int(keep.sum()))
    assert source.coarse_locations == int((keep & ~fine).sum())
    assert source.outside_aoi == int((keep & fine & ~inside).sum())
    assert len(inventory) == int((keep & fine & inside).sum()) > 5
    assert inventory.kind == "point" and inventory.landslides.crs == region.grid.crs
    expected = pd.to_datetime(frame.event_date[keep & fine & inside], format="ISO8601", utc=True)
    got = inventory.landslides["event_date"]  # ISO 8601 text, in UTC, with the time of day
    assert got.tolist() == expected.dt.strftime("%Y-%m-%dT%H:%M:%S").tolist()
    assert set(inventory.years("event_date")) <= set(range(2010, 2020))
    # the points are where the table says
    want = gpd.GeoSeries.from_xy(frame.longitude, frame.latitude, crs="EPSG:4326")
    want = want[keep & fine & inside].to_crs(UTM)
    assert np.allclose(inventory.centroids(), np.column_stack([want.x, want.y]), atol=0.05)


def test_location_accuracy_flag_keeps_and_marks(tmp_path: Path, region: Region) -> None:
    frame = glc_frame()
    spec = InventoryConfig(path=glc_csv(tmp_path, frame), max_location_error=5000,
                           location_action="flag")  # fmt: skip
    inventory = read_inventory(spec, region)
    coarse = accuracy_metres(frame.location_accuracy)[:35] > 5000
    assert len(inventory) == 35
    assert inventory.landslides["coarse_location"].to_numpy().tolist() == coarse.tolist()
    assert inventory.report.coarse_locations == int(
        (accuracy_metres(frame.location_accuracy) > 5000).sum()
    )


def test_semicolon_text_with_projected_xy_and_day_first_dates(
    tmp_path: Path, region: Region
) -> None:
    points = cell_points(12, 3)
    lines = ["ID;X;Y;Datum"] + [
        f"{i};{p.x:.2f};{p.y:.2f};{10 + i}.0{1 + i % 9}.2019" for i, p in enumerate(points)
    ]
    lines.append("12;;;")  # a row without a location
    path = tmp_path / "field_sheet.txt"
    path.write_text("\n".join(lines) + "\n", encoding="cp1252")
    spec = InventoryConfig(path=path, crs=UTM, date_attribute="Datum", date_format="day-first")
    inventory = read_inventory(spec, region)
    assert len(inventory) == 12 and inventory.report.empty_geometries == 1
    assert np.allclose(inventory.centroids(), np.column_stack([points.x, points.y]), atol=0.01)
    assert inventory.landslides["Datum"].iloc[3] == "2019-04-13"  # from 13.04.2019
    with pytest.raises(LsghError, match="set inventory.crs to their CRS"):
        read_inventory(InventoryConfig(path=path), region)


def test_decimal_comma_coordinates(tmp_path: Path, region: Region) -> None:
    points = cell_points(5, 4).to_crs("EPSG:4326")
    rows = [f'{i};"{p.y:.6f}";"{p.x:.6f}"'.replace(".", ",") for i, p in enumerate(points)]
    path = tmp_path / "komma.csv"
    path.write_text("nr;lat;lon\n" + "\n".join(rows) + "\n", encoding="utf-8")
    inventory = read_inventory(InventoryConfig(path=path), region)
    back = gpd.GeoSeries(points, crs="EPSG:4326").to_crs(UTM)
    assert np.allclose(inventory.centroids(), np.column_stack([back.x, back.y]), atol=0.2)


def test_wkt_column(tmp_path: Path, region: Region) -> None:
    x, y = ORIGIN[0] + 40 * RES, ORIGIN[1] - 40 * RES
    squares = [polygon_square(x + 200 * i, y, 45) for i in range(3)]
    frame = pd.DataFrame({"id": [1, 2, 3], "WKT": [g.wkt for g in squares]})
    path = tmp_path / "polygons.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(LsghError, match="are not longitude / latitude degrees; set inventory.crs"):
        read_inventory(InventoryConfig(path=path), region)
    inventory = read_inventory(InventoryConfig(path=path, crs=UTM), region)
    assert inventory.kind == "polygon" and len(inventory) == 3
    assert np.allclose(inventory.landslides.area, 90 * 90)


@pytest.mark.parametrize("driver", ["XLSX", "ODS"])
def test_spreadsheet(tmp_path: Path, region: Region, driver: str) -> None:
    if driver not in pyogrio.list_drivers(write=True):
        pytest.skip(f"GDAL without {driver}")
    frame = glc_frame(8, 0)[["event_id", "latitude", "longitude", "landslide_category"]]
    path = tmp_path / f"slides.{driver.lower()}"
    pyogrio.write_dataframe(frame, path, driver=driver, layer="slides")
    inventory = read_inventory(InventoryConfig(path=path, where="event_id >= 1004"), region)
    assert len(inventory) == 4 and inventory.report.sources[0].where_kept == 4


# --- containers ----------------------------------------------------------------------------


def _utm_points(n: int, seed: int, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": range(n), **cols}, geometry=cell_points(n, seed), crs=UTM)


def test_zipped_shapefile(tmp_path: Path, region: Region) -> None:
    shp = tmp_path / "shp"
    shp.mkdir()
    frame = _utm_points(9, 5, year=list(range(2001, 2010)))
    frame.to_file(shp / "slides.shp")
    archive = tmp_path / "slides.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in sorted(shp.iterdir()):
            z.write(part, f"inventory/{part.name}")
        z.writestr("inventory/readme.txt", "landslides, 2001-2009")
    inventory = read_inventory(InventoryConfig(path=archive, date_attribute="year"), region)
    assert len(inventory) == 9 and inventory.report.sources[0].crs == "EPSG:32633"
    assert sorted(inventory.years("year")) == list(range(2001, 2010))


def test_archive_with_several_datasets_needs_a_layer(tmp_path: Path, region: Region) -> None:
    for name, seed in (("a", 6), ("b", 7)):
        _utm_points(4 if name == "a" else 6, seed).to_file(tmp_path / f"{name}.gpkg")
    archive = tmp_path / "two.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("a", "b"):
            tar.add(tmp_path / f"{name}.gpkg", f"{name}.gpkg")
    with pytest.raises(LsghError, match=r"holds several datasets \(a, b\); set inventory.layer"):
        read_inventory(InventoryConfig(path=archive), region)
    assert len(read_inventory(InventoryConfig(path=archive, layer="b"), region)) == 6


@pytest.mark.parametrize("driver", ["KML", "LIBKML"])
def test_kml_from_google_earth(tmp_path: Path, region: Region, driver: str) -> None:
    if driver not in pyogrio.list_drivers(write=True):
        pytest.skip(f"GDAL cannot write {driver}")
    frame = _utm_points(7, 8, Name=[f"slide {i}" for i in range(7)]).to_crs("EPSG:4326")
    path = tmp_path / "slides.kml"
    frame.to_file(path, driver=driver)
    inventory = read_inventory(InventoryConfig(path=path, where="Name != 'slide 3'"), region)
    assert len(inventory) == 6
    want = frame.drop(index=3).to_crs(UTM).geometry
    assert np.allclose(inventory.centroids(), np.column_stack([want.x, want.y]), atol=0.05)
    assert not inventory.landslides.geometry.has_z.any()


def _google_earth_kml(folders: dict[str, gpd.GeoSeries]) -> str:
    """A KML document as Google Earth saves it: placemarks in folders, with heights."""
    parts = []
    for name, points in folders.items():
        marks = "".join(
            f"<Placemark><name>{name} {k}</name><TimeStamp><when>2021-0{1 + k}-15</when>"
            f"</TimeStamp><Point><coordinates>{p.x:.7f},{p.y:.7f},812.5</coordinates>"
            "</Point></Placemark>"
            for k, p in enumerate(points.to_crs("EPSG:4326"))
        )
        parts.append(f"<Folder><name>{name}</name>{marks}</Folder>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>slides</name>'
        + "".join(parts)
        + "</Document></kml>"
    )


def test_kmz_with_folders_reads_every_folder(tmp_path: Path, region: Region) -> None:
    spring, autumn = cell_points(3, 9), cell_points(5, 10)
    path = tmp_path / "slides.kmz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("doc.kml", _google_earth_kml({"spring": spring, "autumn": autumn}))
    inventory = read_inventory(InventoryConfig(path=path), region)
    assert len(inventory) == 8 and not inventory.landslides.geometry.has_z.any()
    want = pd.concat([spring, autumn])
    assert np.allclose(inventory.centroids(), np.column_stack([want.x, want.y]), atol=0.05)
    layers = [str(n) for n, _ in pyogrio.list_layers(path)]
    if len(layers) == 2:  # LIBKML: one layer per folder
        assert len(read_inventory(InventoryConfig(path=path, layer="autumn"), region)) == 5


def test_geojson_and_multilayer_geopackage(tmp_path: Path, region: Region) -> None:
    path = tmp_path / "slides.geojson"
    _utm_points(6, 11).to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    assert len(read_inventory(InventoryConfig(path=path), region)) == 6
    gpkg = tmp_path / "survey.gpkg"
    _utm_points(4, 12).to_file(gpkg, layer="slides_2019")
    _utm_points(7, 13).to_file(gpkg, layer="slides_2020")
    with pytest.raises(LsghError, match=r"holds several layers \(slides_2019, slides_2020\)"):
        read_inventory(InventoryConfig(path=gpkg), region)
    assert len(read_inventory(InventoryConfig(path=gpkg, layer="slides_2020"), region)) == 7
    with pytest.raises(LsghError, match=r"has no layer 'slides' \(inventory.layer\); its layers"):
        read_inventory(InventoryConfig(path=gpkg, layer="slides"), region)


def test_vector_without_crs_takes_inventory_crs(tmp_path: Path, region: Region) -> None:
    path = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning):
        _utm_points(5, 14).set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(LsghError, match="has no CRS; define it .* or set inventory.crs"):
        read_inventory(InventoryConfig(path=path), region)
    assert len(read_inventory(InventoryConfig(path=path, crs=UTM), region)) == 5
    with pytest.raises(LsghError, match="inventory.crs is EPSG:4326 but .* says .* EPSG:32633"):
        read_inventory(InventoryConfig(path=_save(tmp_path), crs="EPSG:4326"), region)


def _save(tmp_path: Path) -> Path:
    path = tmp_path / "withcrs.gpkg"
    _utm_points(2, 15).to_file(path)
    return path


# --- tables without coordinates, bad values; detection for init ----------------------------


def test_table_without_coordinates(tmp_path: Path, region: Region) -> None:
    path = tmp_path / "names.csv"
    pd.DataFrame({"place": ["a", "b"], "date": ["2020-01-01", "2021-01-01"]}).to_csv(path)
    with pytest.raises(LsghError) as info:
        read_inventory(InventoryConfig(path=path), region)
    message = str(info.value)
    assert "is a table without coordinate columns (its columns: Unnamed: 0, place, date)" in (
        message
    )
    assert "set inventory.x and inventory.y" in message and "\n" not in message
    with pytest.raises(LsghError, match=r"has no column 'lon' \(inventory.x\)"):
        read_inventory(InventoryConfig(path=path, x="lon", y="lat"), region)


def test_coordinates_that_are_not_numbers_or_swapped(tmp_path: Path, region: Region) -> None:
    path = tmp_path / "bad.csv"
    pd.DataFrame({"lat": ["45.1", "n/a", "north"], "lon": ["12.4", "12.5", "12.6"]}).to_csv(
        path, index=False
    )
    with pytest.raises(LsghError, match=r"column 'lat' holds 2 values that are not numbers "
                                        r"\(e.g. 'n/a', 'north'\)"):  # fmt: skip
        read_inventory(InventoryConfig(path=path), region)
    pd.DataFrame({"lat": [12.4], "lon": [95.1]}).to_csv(path, index=False)
    with pytest.raises(LsghError, match=r"outside longitude -180..180 / latitude -90..90 "
                                        r"\(are x and y swapped\?\)"):  # fmt: skip
        read_inventory(InventoryConfig(path=path, x="lat", y="lon", crs="EPSG:4326"), region)


def test_detect_coordinate_columns(tmp_path: Path) -> None:
    assert detect_coordinate_columns(glc_csv(tmp_path)) == {
        "x": "longitude",
        "y": "latitude",
        "crs": "EPSG:4326",
    }
    utm = tmp_path / "utm.csv"
    pd.DataFrame({"Easting": [300_900.0], "Northing": [4_998_800.0]}).to_csv(utm, index=False)
    assert detect_coordinate_columns(utm) == {"x": "Easting", "y": "Northing", "crs": "TODO"}
    gpkg = tmp_path / "slides.gpkg"
    _utm_points(2, 16).to_file(gpkg)
    assert detect_coordinate_columns(gpkg) == {}


def test_label_attribute_in_a_table(tmp_path: Path, region: Region) -> None:
    points = cell_points(6, 17).to_crs("EPSG:4326")
    labels = ["1", "0", "yes", "No", "TRUE", ""]
    path = tmp_path / "labelled.csv"
    pd.DataFrame({"lon": points.x, "lat": points.y, "slide": labels}).to_csv(path, index=False)
    inventory = read_inventory(InventoryConfig(path=path, label_attribute="slide"), region)
    assert len(inventory) == 3 and inventory.report.not_landslides == 3
    pd.DataFrame({"lon": points.x, "lat": points.y, "slide": ["maybe"] * 6}).to_csv(path)
    with pytest.raises(LsghError, match=r"holds values that are not true/false \(e.g. 'maybe'\)"):
        read_inventory(InventoryConfig(path=path, label_attribute="slide"), region)
