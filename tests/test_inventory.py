"""Landslide inventories: reading, repairing, clipping, masks; real polygons and points."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import yaml
from shapely.geometry import LineString, Point, Polygon

from conftest import ORIGIN, RES, UTM, polygon_square
from lsgh_ee.config import InventoryConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.inventory import read_inventory
from lsgh_ee.region import Region


@pytest.fixture
def region(region_config: Path) -> Region:
    return Region.from_config(load_config(region_config))


def _write(tmp_path: Path, geoms: list, crs: str | None = UTM, **cols) -> InventoryConfig:
    path = tmp_path / "inv.gpkg"
    gpd.GeoDataFrame(cols or {"id": range(len(geoms))}, geometry=geoms, crs=crs).to_file(path)
    return InventoryConfig(path=path)


def _centre(dx_cells: float = 45, dy_cells: float = 45) -> tuple[float, float]:
    return ORIGIN[0] + dx_cells * RES, ORIGIN[1] - dy_cells * RES


def test_polygons_are_counted_repaired_and_clipped(tmp_path: Path, region: Region) -> None:
    x, y = _centre()
    bowtie = Polygon([(x, y), (x + 90, y + 90), (x + 90, y), (x, y + 90)])  # self-intersecting
    outside = polygon_square(ORIGIN[0] - 5000, ORIGIN[1], 40)
    geoms = [polygon_square(x - 300, y, 40), bowtie, outside, Polygon()]
    inventory = read_inventory(_write(tmp_path, geoms), region)
    report = inventory.report
    assert (report.read, report.kept) == (4, 2)
    assert (report.repaired, report.outside_aoi, report.empty_geometries) == (1, 1, 1)
    assert inventory.kind == "polygon"
    assert inventory.landslides.geometry.is_valid.all()


def test_centroid_and_polygon_masks(tmp_path: Path, region: Region) -> None:
    grid = region.grid
    x, y = (v[0] for v in grid.xy(np.array([35]), np.array([30])))
    square = polygon_square(x, y, 75)  # 150 m = 5 pixels wide, centred on a pixel centre
    inventory = read_inventory(_write(tmp_path, [square]), region)
    centre = inventory.mask(grid, "centroid")
    assert centre.sum() == 1
    row, col = np.argwhere(centre)[0]
    cx, cy = grid.xy(np.array([row]), np.array([col]))
    assert (row, col) == (35, 30) and (cx[0], cy[0]) == (x, y)
    polygon = inventory.mask(grid, "polygon")
    assert polygon.sum() == 25  # 5 x 5 pixel centres inside the 150 m square
    assert polygon[row, col]


def test_points_with_label_attribute(tmp_path: Path, region: Region) -> None:
    x, y = _centre()
    path = tmp_path / "pts.gpkg"
    gpd.GeoDataFrame(
        {"slide": [True, False, True]},
        geometry=[Point(x, y), Point(x + 90, y), Point(x, y - 90)],
        crs=UTM,
    ).to_file(path)
    inventory = read_inventory(InventoryConfig(path=path, label_attribute="slide"), region)
    assert inventory.kind == "point" and len(inventory) == 2
    assert inventory.report.not_landslides == 1


def test_lonlat_inventory_is_reprojected(tmp_path: Path, region: Region) -> None:
    x, y = _centre()
    frame = gpd.GeoDataFrame(geometry=[Point(x, y)], crs=UTM).to_crs("EPSG:4326")
    path = tmp_path / "lonlat.gpkg"
    frame.to_file(path)
    inventory = read_inventory(InventoryConfig(path=path), region)
    got = inventory.centroids()[0]
    assert np.allclose(got, [x, y], atol=0.01)


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("empty", "has no features"),
        ("nocrs", "has no CRS"),
        ("lines", "holds lines"),
        ("outside", "no landslide of inventory .* lies inside the region"),
        ("attribute", "has no attribute 'date' \\(inventory.date_attribute\\)"),
    ],
)
def test_bad_inventories(tmp_path: Path, region: Region, case: str, fragment: str) -> None:
    x, y = _centre()
    spec = {
        "empty": lambda: _write(tmp_path, []),
        "nocrs": lambda: _write(tmp_path, [Point(x, y)], crs=None),
        "lines": lambda: _write(tmp_path, [LineString([(x, y), (x + 100, y)])]),
        "outside": lambda: _write(tmp_path, [Point(x + 1e5, y)]),
        "attribute": lambda: InventoryConfig(
            path=_write(tmp_path, [Point(x, y)]).path, date_attribute="date"
        ),
    }[case]()
    with pytest.raises(LsghError, match=fragment):
        read_inventory(spec, region)


def test_real_polygon_inventory_czech(shared_data: Path, tmp_path: Path) -> None:
    """149 real landslide polygons in S-JTSK / Krovak (EPSG:5514)."""
    czech = shared_data / "czech"
    config_path = tmp_path / "czech.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "name": "czech",
                "aoi": {"bbox": [18.07, 49.485, 18.21, 49.572]},
                "crs": "auto",
                "resolution": 78,
                "inventory": {"path": str(czech / "landslides.gpkg")},
                "dem": {"path": str(czech / "dem_78m.tif")},
                "factors": {"slope": {}},
            }
        )
    )
    region = Region.from_config(load_config(config_path))
    assert region.grid.crs.to_epsg() == 32634  # UTM 34N
    inventory = read_inventory(load_config(config_path).inventory, region)
    raw = gpd.read_file(czech / "landslides.gpkg").to_crs(region.grid.crs)
    inside = raw.geometry.centroid.within(region.aoi)
    assert inventory.report.read == 149
    assert inventory.report.kept == int(inside.sum())
    assert inventory.report.outside_aoi == int((~inside).sum())
    # the union of the polygon pixels covers about the polygons' area
    pixels = inventory.mask(region.grid, "polygon").sum() * 78**2
    area = inventory.landslides.geometry.area.sum()
    assert 0.7 * area < pixels < 1.5 * area
