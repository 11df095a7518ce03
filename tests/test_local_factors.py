"""Local factor recipes checked against independent computations on a synthetic region."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import yaml
from pyproj import Transformer
from shapely.geometry import Point

from conftest import ORIGIN, RES, SIZE, UTM, aoi_bbox, write_config, write_raster
from lsgh_ee.config import load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.catalogue import LAND_USE_CLASSES
from lsgh_ee.factors.local import compute_local_factors
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.region import Region


def _stack(config_path: Path) -> FactorStack:
    config = load_config(config_path)
    return compute_local_factors(Region.from_config(config), resolve_factors(config))


def _layer(stack: FactorStack, name: str):
    return stack.layers[stack.names.index(name)]


def _pixel_xy(stack: FactorStack) -> tuple[np.ndarray, np.ndarray]:
    return stack.grid.xy(*np.indices(stack.grid.shape))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> FactorStack:
    from conftest import make_region

    return _stack(make_region(tmp_path_factory.mktemp("factors") / "region"))


def test_every_factor_is_there_with_its_classes(stack: FactorStack) -> None:
    assert stack.names == [
        "slope",
        "aspect",
        "curvature",
        "slope_position",
        "ndvi",
        "land_use",
        "distance_to_roads",
        "distance_to_rivers",
        "lithology",
    ]
    for layer in stack.layers:
        valid = layer.codes > 0
        assert valid.any(), layer.name
        assert layer.codes.max() <= len(layer.classes), layer.name
        assert np.array_equal(valid, ~np.isnan(layer.values)), layer.name


def test_outside_the_aoi_is_nodata(stack: FactorStack) -> None:
    # Independently: project every pixel centre to lon/lat and test it against the bbox.
    x, y = _pixel_xy(stack)
    lon, lat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(x, y)
    west, south, east, north = aoi_bbox()
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    assert 0 < inside.sum() < inside.size
    any_valid = (stack.codes > 0).any(axis=0)
    assert not any_valid[~inside].any()
    # terrain needs a 3x3 window: inside the AOI, only the DEM's own edge could be nodata
    assert (stack.codes[:, inside] > 0).all()


def test_ndvi_from_red_and_nir(stack: FactorStack) -> None:
    x, _ = _pixel_xy(stack)
    ndvi = _layer(stack, "ndvi").values
    west = x < ORIGIN[0] + SIZE * RES / 2 - RES
    east = x > ORIGIN[0] + SIZE * RES / 2 + RES
    valid = ~np.isnan(ndvi)
    np.testing.assert_allclose(ndvi[west & valid], (0.40 - 0.08) / 0.48, rtol=1e-5)
    np.testing.assert_allclose(ndvi[east & valid], (0.20 - 0.08) / 0.28, rtol=1e-5)


def test_land_use_remap(stack: FactorStack) -> None:
    layer = _layer(stack, "land_use")
    assert layer.classes == LAND_USE_CLASSES
    x, y = _pixel_xy(stack)
    north = y > ORIGIN[1] - SIZE * RES / 3 + RES
    west = x < ORIGIN[0] + SIZE * RES / 2 - RES
    east = x > ORIGIN[0] + SIZE * RES / 2 + RES
    south = y < ORIGIN[1] - SIZE * RES / 3 - RES
    valid = layer.codes > 0
    woodland, arable, grassland = (
        LAND_USE_CLASSES.index(c) + 1 for c in ("woodland", "arable", "grassland")
    )
    assert (layer.codes[north & valid] == woodland).all()
    assert (layer.codes[south & west & valid] == arable).all()
    assert (layer.codes[south & east & valid] == grassland).all()


def test_distance_to_rivers_matches_exact_distance(stack: FactorStack) -> None:
    layer = _layer(stack, "distance_to_rivers")
    x, _ = _pixel_xy(stack)
    exact = np.abs(x - (ORIGIN[0] + SIZE * RES / 2))  # the river is the line x = mid
    valid = ~np.isnan(layer.values)
    # distance to the nearest rasterised river pixel centre: within half a pixel
    assert np.max(np.abs(layer.values[valid] - exact[valid])) <= RES / 2 + 1e-3
    assert layer.units == "m"


def test_lithology_polygons(stack: FactorStack) -> None:
    layer = _layer(stack, "lithology")
    assert layer.classes == ("sandstone", "shale")
    x, _ = _pixel_xy(stack)
    boundary = ORIGIN[0] + SIZE * RES / 2 + 300
    valid = layer.codes > 0
    assert (layer.codes[valid & (x < boundary)] == 1).all()
    assert (layer.codes[valid & (x > boundary)] == 2).all()


def test_slope_matches_the_analytic_gradient(stack: FactorStack) -> None:
    # conftest.synthetic_dem: z = 400 + 0.0004 x'^2 + 0.05 y' + bump, x' east, y' south
    x, y = _pixel_xy(stack)
    xp = x - ORIGIN[0] - SIZE * RES / 2 - RES / 2
    yp = ORIGIN[1] - y - SIZE * RES / 2 - RES / 2
    bump = 120 * np.exp(-((xp - 600) ** 2 + yp**2) / 2e5)
    dzdx = 0.0008 * xp - bump * 2 * (xp - 600) / 2e5
    dzdy = 0.05 - bump * 2 * yp / 2e5
    expected = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    slope = _layer(stack, "slope").values
    valid = ~np.isnan(slope)
    assert np.max(np.abs(slope[valid] - expected[valid])) < 0.3


def test_aspect_faces_downhill(tmp_path: Path, region_config: Path) -> None:
    # a plane rising to the east: every slope faces west
    cols = np.indices((SIZE, SIZE))[1]
    write_raster(region_config.parent / "dem.tif", (100 + 3.0 * cols).astype("float32"))
    stack = _stack(region_config)
    aspect = _layer(stack, "aspect")
    valid = aspect.codes > 0
    np.testing.assert_allclose(aspect.values[valid], 270.0, atol=1e-3)
    assert (aspect.codes[valid] == aspect.classes.index("west") + 1).all()


def _config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_factor_without_source_is_left_out_with_a_notice(region_config: Path, caplog) -> None:
    config = _config(region_config)
    config["factors"]["ndvi"] = {}
    config["factors"]["soil"] = None
    write_config(region_config, config)
    with caplog.at_level(logging.WARNING, logger="lsgh_ee"):
        names = [f.name for f in resolve_factors(load_config(region_config))]
    assert "ndvi" not in names and "soil" not in names and "slope" in names
    assert "factor ndvi has no local source" in caplog.text
    assert "factor soil has no source in the config; left out" in caplog.text


def test_custom_factors(region_config: Path) -> None:
    config = _config(region_config)
    folder = region_config.parent
    gpd.GeoDataFrame(
        geometry=[Point(ORIGIN[0] + 1350, ORIGIN[1] - 1350)], crs="EPSG:32633"
    ).to_file(folder / "epicentre.gpkg")
    config["factors"] = {
        "soil": {"kind": "categorical", "path": "landcover.tif"},
        "distance_to_epicentre": {
            "kind": "distance",
            "path": "epicentre.gpkg",
            "breaks": [300, 600],
        },
    }
    write_config(region_config, config)
    stack = _stack(region_config)
    assert _layer(stack, "soil").classes == ("10", "30", "40")
    epi = _layer(stack, "distance_to_epicentre")
    assert epi.classes == ("<300", "300–600", ">=600")
    x, y = _pixel_xy(stack)
    exact = np.hypot(x - ORIGIN[0] - 1350, y - ORIGIN[1] + 1350)
    valid = ~np.isnan(epi.values)
    assert np.max(np.abs(epi.values[valid] - exact[valid])) <= RES / np.sqrt(2) + 1e-3


@pytest.mark.parametrize(
    ("factors", "fragment"),
    [
        ({"soil": {"path": "landcover.tif"}}, "set 'factors.soil.kind'"),
        ({"land_use": {"path": "landcover.tif"}}, "set 'factors.land_use.remap'"),
        (
            {"land_use": {"path": "landcover.tif", "remap": {10: "forest"}}},
            "maps to unknown classes \\['forest'\\]",
        ),
        ({"wetness": {"kind": "continuous", "path": "dem.tif"}}, "needs class breaks"),
        ({"twi": {"kind": "continuous", "path": "dem.tif"}}, "'twi' is computed from the DEM"),
        ({"slope": {"source": "ee"}}, "'factors.slope.source' is 'ee' but the local backend"),
        (
            {"lithology": {"path": "geology.gpkg", "attribute": "age"}},
            "'factors.lithology.attribute' is 'age' but .* has only: unit",
        ),
    ],
)
def test_bad_factor_settings(region_config: Path, factors: dict, fragment: str) -> None:
    config = _config(region_config)
    config["factors"] = factors
    write_config(region_config, config)
    with pytest.raises(LsghError, match=fragment):
        _stack(region_config)


def test_unmapped_land_cover_values_are_reported(region_config: Path, caplog) -> None:
    config = _config(region_config)
    config["factors"] = {"land_use": {"path": "landcover.tif", "remap": {10: "woodland"}}}
    write_config(region_config, config)
    with caplog.at_level(logging.WARNING, logger="lsgh_ee"):
        stack = _stack(region_config)
    assert "raster values 30, 40 are not in the remap table" in caplog.text
    assert set(np.unique(stack.codes)) == {0, 2}


FIELD = ["elevation", "plan_curvature", "profile_curvature", "tri", "flow_accumulation", "twi",
         "spi", "distance_to_drainage"]  # fmt: skip


@pytest.fixture(scope="module")
def field_stack(tmp_path_factory: pytest.TempPathFactory) -> FactorStack:
    from conftest import make_region

    path = make_region(tmp_path_factory.mktemp("field") / "region")
    config = _config(path)
    config["factors"] = {"slope": {}, **{name: {} for name in FIELD}}
    config["terrain"]["drainage_area"] = 0.1
    write_config(path, config)
    return _stack(path)


def test_field_factors_are_classified_by_quantiles(field_stack: FactorStack) -> None:
    from conftest import synthetic_dem

    assert field_stack.names == ["slope", *FIELD]
    elevation = _layer(field_stack, "elevation")
    x, y = _pixel_xy(field_stack)
    cols = np.rint((x - ORIGIN[0]) / RES - 0.5).astype(int)
    rows = np.rint((ORIGIN[1] - y) / RES - 0.5).astype(int)
    valid = ~np.isnan(elevation.values)
    np.testing.assert_allclose(
        elevation.values[valid], synthetic_dem()[rows, cols][valid], atol=1e-3
    )
    for name in FIELD:
        layer = _layer(field_stack, name)
        inside = layer.codes > 0
        assert np.array_equal(inside, ~np.isnan(layer.values)), name
        assert layer.method["classify"] == "quantile" and layer.method["n_classes_asked"] == 10
        assert 5 <= len(layer.classes) <= 10, name  # ties (e.g. one-cell areas) merge classes
        counts = np.bincount(layer.codes[inside])[1:]
        if name not in ("flow_accumulation", "spi", "twi", "distance_to_drainage"):
            assert counts.min() >= 0.5 * counts.mean(), name  # roughly equal-count classes
    assert _layer(field_stack, "distance_to_drainage").method["drainage_area_km2"] == 0.1
    assert _layer(field_stack, "flow_accumulation").units == "m²"


def test_the_dem_drainage_follows_the_valley(field_stack: FactorStack) -> None:
    # the synthetic valley runs north-south; its floor is each row's lowest cell
    area = _layer(field_stack, "flow_accumulation").values
    rows = np.flatnonzero(np.isfinite(area).any(axis=1))[1:-1]
    peak = np.nanargmax(area[rows], axis=1)  # the column draining most, row by row
    floor = np.nanargmin(_layer(field_stack, "elevation").values[rows], axis=1)
    assert np.mean(np.abs(peak - floor) <= 2) > 0.9  # a shallow floor: parallel flow lines
    distance = _layer(field_stack, "distance_to_drainage").values
    assert np.median(distance[rows, peak]) == 0.0  # the drainage network runs there
    twi = _layer(field_stack, "twi").values
    assert np.median(twi[rows, peak]) > np.nanmedian(twi) + 2.0  # wetter on the floor


def test_export_factors_with_the_field_factors(tmp_path: Path) -> None:
    import json

    import pandas as pd
    import rasterio

    from conftest import make_region, run_cli

    path = make_region(tmp_path / "region")
    config = _config(path)
    config["factors"] = {
        "slope": {},
        "curvature": {},
        **{name: {} for name in FIELD},
        "distance_to_rivers": {"path": "rivers.gpkg"},
    }
    write_config(path, config)
    run_cli("export-factors", str(path))
    run = path.parent / "run"
    with rasterio.open(run / "class_codes.tif") as src:
        assert list(src.descriptions) == list(config["factors"])
        codes = src.read()
    schema = json.loads((run / "factor_schema.json").read_text())
    by_name = {f["name"]: f for f in schema["factors"]}
    assert by_name["twi"]["units"] == "ln(m)" and len(by_name["twi"]["breaks"]) >= 4
    assert codes[list(config["factors"]).index("twi")].max() == by_name["twi"]["n_classes"]
    importance = pd.read_csv(run / "factor_importance.csv", index_col="factor")
    assert sorted(importance.index) == sorted(config["factors"])
    assert importance["permutation"].is_monotonic_decreasing  # ranked, best first
    assert list(importance["rank"]) == list(range(1, len(importance) + 1))
    corr = pd.read_csv(run / "factor_correlation.csv", index_col=0)
    for name, row in importance.iterrows():
        others = corr.loc[name].drop(name).abs()
        assert row["most_correlated"] == others.idxmax()
        assert row["max_abs_r"] == pytest.approx(others.max(), abs=1e-4)
    # TWI and SPI share the upstream area: the table shows the pair a selection weighs
    assert importance.loc["twi", "max_abs_r"] > 0.5
