"""Earth Engine recipes for NDVI, land use, distances and lithology, through the real ``ee``
client against the loopback fake: each recipe is downloaded with ``download_image`` and
compared with an independent NumPy computation on the synthetic data registered in the fake
(every expression is also checked against the real algorithm signatures on each request)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import ee
import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from ee_client import trusted_key
from ee_fake import (
    CollectionImage,
    FakeEarthEngine,
    ServiceAccountKey,
    time_start,
)
from pyproj import CRS
from rasterio.features import rasterize
from scipy.ndimage import distance_transform_edt
from shapely.geometry import LineString, Polygon, box

from conftest import ORIGIN, SIZE, UTM, edit_config, make_region, run_cli, write_raster
from conftest import RES as REGION_RES
from lsgh_ee.config import FactorConfig, load_config
from lsgh_ee.earthengine.download import download_image
from lsgh_ee.earthengine.features import category_image, distance_image, feature_collection
from lsgh_ee.earthengine.imagery import (
    LANDSAT_SR_COLLECTIONS,
    default_land_use_remap,
    land_use_codes,
    land_use_image,
    ndvi_image,
)
from lsgh_ee.earthengine.session import open_session
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.catalogue import CATALOGUE, LAND_USE_CLASSES
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.grid import Grid

PROJECT = "lsgh-test"
CRS_CODE = "EPSG:32633"
RES = 30.0
X0, Y0 = 300_000.0, 5_000_010.0  # a corner on the 30 m (and 10 m) lattice
GRID = Grid(CRS.from_string(CRS_CODE), Affine(RES, 0, X0, 0, -RES, Y0), 40, 50)
MARGIN = 3  # scene pixels beyond the grid on each side


@pytest.fixture
def fake() -> Iterator[FakeEarthEngine]:
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        yield f
    ee.Reset()


@pytest.fixture
def session(
    fake: FakeEarthEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ServiceAccountKey:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    key = trusted_key(fake, tmp_path / "sa-key.json")
    open_session(PROJECT, key_file=key.path, api_url=fake.url, client_retries=0)
    return key


def _download(image: ee.Image, band: str, tmp_path: Path, **kwargs) -> np.ndarray:
    out = download_image(image, GRID, tmp_path / f"{band}.tif", band_names=[band], **kwargs)
    with rasterio.open(out) as src:
        assert src.transform == GRID.transform and src.shape == GRID.shape
        return src.read(1)


# -- NDVI --------------------------------------------------------------------------------


def _scene(rng: np.random.Generator, when: int, origin: tuple[float, float] = (X0, Y0)):
    """A Landsat C2 L2 scene on the grid's 30 m lattice, MARGIN pixels larger all round:
    random DNs, QA_PIXEL with masking bits (0-4) in ~30 % of pixels and harmless bits
    (6 clear, 7 water) elsewhere."""
    shape = (GRID.height + 2 * MARGIN, GRID.width + 2 * MARGIN)
    red = rng.integers(6500, 20000, shape)  # below 7273: negative reflectance
    nir = rng.integers(9000, 40000, shape)
    qa = rng.choice([1 << 6, 1 << 7, (1 << 6) | (1 << 7)], shape)
    cloudy = rng.random(shape) < 0.3
    qa[cloudy] |= 1 << rng.integers(0, 5, cloudy.sum())
    data = np.stack([red, nir, qa]).astype("float64")
    transform = Affine(RES, 0, origin[0] - MARGIN * RES, 0, -RES, origin[1] + MARGIN * RES)
    props = {"system:time_start": when}
    return CollectionImage(data, CRS_CODE, transform, ["SR_B4", "SR_B5", "QA_PIXEL"], props)


def _scene_ndvi(scene: CollectionImage) -> np.ndarray:
    inner = (slice(None), slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    red, nir, qa = scene.data[inner]
    red, nir = red * 0.0000275 - 0.2, nir * 0.0000275 - 0.2
    ndvi = (nir - red) / (nir + red)
    # QA bits 0-4 mask; so does a negative reflectance (normalizedDifference's rule)
    return np.where(((qa.astype(int) & 0b11111) == 0) & (red >= 0), ndvi, np.nan)


def test_ndvi_is_the_mean_of_annual_medians_of_clear_scaled_pixels(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    l8 = [_scene(rng, time_start(2022, m)) for m in (3, 6, 9)]
    l9 = [_scene(rng, time_start(2022, 7)), _scene(rng, time_start(2023, 5))]
    outside_years = _scene(rng, time_start(2021, 8))
    far_away = _scene(rng, time_start(2022, 8), origin=(X0 + 100_000, Y0))
    # a pixel cloudy in every scene of 2023 but clear in 2022; one cloudy in every scene
    l9[1].data[2, MARGIN + 4, MARGIN + 6] = 1 << 3
    for scene in (*l8, l9[0], l9[1]):
        scene.data[2, MARGIN + 10, MARGIN + 20] = 1 << 4
    fake.add_collection(LANDSAT_SR_COLLECTIONS[0], [outside_years, *l8, far_away])
    fake.add_collection(LANDSAT_SR_COLLECTIONS[1], l9)

    got = _download(ndvi_image(GRID, years=[2023, 2022]), "ndvi", tmp_path)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        y2022 = np.nanmedian(np.stack([_scene_ndvi(s) for s in (*l8, l9[0])]), axis=0)
        y2023 = _scene_ndvi(l9[1])
        expected = np.nanmean(np.stack([y2022, y2023]), axis=0)
    assert np.isnan(expected[10, 20]) and np.isnan(got[10, 20])  # never clear: nodata
    assert expected[4, 6] == pytest.approx(y2022[4, 6], rel=1e-6)  # 2023 left out there
    np.testing.assert_allclose(got, expected.astype("float32"), rtol=1e-6, equal_nan=True)
    assert np.isnan(got).sum() == np.isnan(expected).sum()
    # the scaling matters: unscaled DNs would give another NDVI
    inner = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    raw = (l9[1].data[1] - l9[1].data[0]) / (l9[1].data[1] + l9[1].data[0])
    assert not np.allclose(y2023[~np.isnan(y2023)], raw[inner][~np.isnan(y2023)])


def test_a_year_without_scenes_leaves_the_other_years(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    rng = np.random.default_rng(6)
    scene = _scene(rng, time_start(2020, 6, 15))
    fake.add_collection(LANDSAT_SR_COLLECTIONS[0], [scene])
    fake.add_collection(LANDSAT_SR_COLLECTIONS[1], [])
    got = _download(ndvi_image(GRID, years=[2020, 2021]), "ndvi", tmp_path)
    np.testing.assert_allclose(got, _scene_ndvi(scene).astype("float32"), rtol=1e-6,
                               equal_nan=True)  # fmt: skip


def test_ndvi_years_before_landsat_8_are_refused() -> None:
    with pytest.raises(LsghError, match=r"before Landsat 8 .* use 2013 or later"):
        ndvi_image(GRID, years=[2010, 2020])


# -- land use ----------------------------------------------------------------------------

WORLDCOVER_VALUES = np.array([10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100, 0])


def _worldcover(rng: np.random.Generator) -> CollectionImage:
    """A 10 m WorldCover tile on the grid's lattice (3 × 3 source pixels per grid cell),
    two pixels larger all round; value 0 (no data) is not in the remap table."""
    shape = (GRID.height * 3 + 6, GRID.width * 3 + 6)
    coarse = rng.choice(WORLDCOVER_VALUES, (shape[0] // 3 + 1, shape[1] // 3 + 1))
    values = np.kron(coarse, np.ones((3, 3)))[: shape[0], : shape[1]]
    noise = rng.random(shape) < 0.35  # mixed cells, so the mode matters
    values[noise] = rng.choice(WORLDCOVER_VALUES, noise.sum())
    transform = Affine(10.0, 0, X0 - 30.0, 0, -10.0, Y0 + 30.0)
    return CollectionImage(values[np.newaxis], CRS_CODE, transform, ["Map"])


def _block_mode(codes: np.ndarray) -> np.ndarray:
    """Mode of each 3 × 3 block of ``codes`` (NaN left out; ties: the smallest code)."""
    h, w = codes.shape[0] // 3, codes.shape[1] // 3
    out = np.full((h, w), np.nan)
    for r in range(h):
        for c in range(w):
            block = codes[3 * r : 3 * r + 3, 3 * c : 3 * c + 3].ravel()
            block = block[~np.isnan(block)]
            if block.size:
                values, counts = np.unique(block, return_counts=True)
                out[r, c] = values[np.argmax(counts)]
    return out


def _expected_land_use(tile: CollectionImage, table: dict[float, str]) -> np.ndarray:
    inner = tile.data[0, 3:-3, 3:-3]
    codes = np.full(inner.shape, np.nan)
    for value, name in table.items():
        codes[inner == value] = LAND_USE_CLASSES.index(name) + 1
    return _block_mode(codes)


def test_worldcover_is_remapped_to_the_eight_classes_and_mode_aggregated(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    tile = _worldcover(np.random.default_rng(7))
    fake.add_collection("ESA/WorldCover/v200", [tile])
    got = _download(land_use_image(GRID), "land_use", tmp_path)

    table = default_land_use_remap()
    assert table[10.0] == "woodland" and table[40.0] == "arable" and table[80.0] == "water"
    expected = _expected_land_use(tile, table)
    np.testing.assert_array_equal(got, expected.astype("float32"))
    assert np.isnan(got).any()  # cells of WorldCover 'no data' (0) only
    assert set(np.unique(got[~np.isnan(got)])) == set(range(1, 9))
    # the mode is not nearest neighbour (the cell's centre pixel) everywhere
    centre_values = tile.data[0, 4:-3:3, 4:-3:3]
    centre_codes = np.full(GRID.shape, np.nan)
    for value, name in table.items():
        centre_codes[centre_values == value] = LAND_USE_CLASSES.index(name) + 1
    assert (np.nan_to_num(centre_codes) != np.nan_to_num(expected)).mean() > 0.05


def test_a_user_remap_and_dataset_replace_the_defaults(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    tile = _worldcover(np.random.default_rng(8))
    fake.add_collection("users/me/landcover", [tile])
    remap = {10: "arable", 20: "woodland", 30: "woodland"}
    got = _download(land_use_image(GRID, remap, dataset="users/me/landcover"), "land_use",
                    tmp_path)  # fmt: skip
    expected = _expected_land_use(tile, {float(k): v for k, v in remap.items()})
    np.testing.assert_array_equal(got, expected.astype("float32"))
    assert set(np.unique(got[~np.isnan(got)])) == {1.0, 2.0}


def test_land_use_remap_to_an_unknown_class_is_one_line() -> None:
    with pytest.raises(LsghError, match=r"unknown class 'forest'; use arable, woodland"):
        land_use_image(GRID, {10: "forest"})
    with pytest.raises(LsghError, match=r"key 'ten' is not a number"):
        land_use_image(GRID, {"ten": "woodland"})


def test_a_missing_land_cover_collection_is_named(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    with pytest.raises(LsghError) as info:
        _download(land_use_image(GRID, dataset="users/me/nothing"), "land_use", tmp_path,
                  retries=0)  # fmt: skip
    assert "users/me/nothing" in str(info.value) and "\n" not in str(info.value)


# -- distances ---------------------------------------------------------------------------


def _pixel_centres() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0 : GRID.height, 0 : GRID.width].astype("float64")
    return GRID.transform @ (cols + 0.5, rows + 0.5)


def _segment_distance(coords: list[tuple[float, float]]) -> np.ndarray:
    """Metres from each pixel centre to a polyline (NumPy point-to-segment distances)."""
    x, y = _pixel_centres()
    best = np.full(x.shape, np.inf)
    for (ax, ay), (bx, by) in zip(coords, coords[1:], strict=False):
        dx, dy = bx - ax, by - ay
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0, 1)
        best = np.minimum(best, np.hypot(x - (ax + t * dx), y - (ay + t * dy)))
    return best


ROAD = [(X0 + 200.0, Y0 - 100.0), (X0 + 700.0, Y0 - 600.0), (X0 + 1400.0, Y0 - 650.0)]


def _write_roads(path: Path, extra: int = 0) -> Path:
    lines = [LineString(ROAD)]
    # features far outside the region: clipped away before sending
    lines += [LineString([(X0 + 50_000 + i, Y0), (X0 + 50_000 + i, Y0 - 9_000)])
              for i in range(extra)]  # fmt: skip
    gpd.GeoDataFrame({"kind": ["road"] * len(lines)}, geometry=lines, crs=CRS_CODE).to_file(path)
    return path


def test_distance_to_a_local_line_matches_numpy_and_the_local_rasterised_recipe(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    spec = FactorConfig(source="ee", path=_write_roads(tmp_path / "roads.gpkg", extra=3))
    radius = 600.0
    fc = feature_collection(spec, GRID, name="distance_to_roads", reach_m=radius)
    got = _download(distance_image(fc, GRID, radius, band="distance_to_roads"),
                    "distance_to_roads", tmp_path)  # fmt: skip

    exact = _segment_distance(ROAD)
    expected = np.minimum(exact, radius)  # beyond the search radius: the radius (lower bound)
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert (got == radius).sum() > 100 and (got < 15).sum() > 10
    # The local recipe measures to centres of the pixels the line touches: never more than
    # half a pixel diagonal from the exact distance.
    touched = rasterize([(LineString(ROAD), 1)], out_shape=GRID.shape,
                        transform=GRID.transform, all_touched=True)  # fmt: skip
    local = distance_transform_edt(touched == 0, sampling=(RES, RES))
    near = exact < radius - RES
    assert np.abs(local - exact)[near].max() <= RES / np.sqrt(2) + 1e-6
    # the far-away features were clipped off locally, not sent
    sent = fake.requests("computePixels")[0].body
    assert str(X0 + 50_000) not in str(sent)


def test_a_lonlat_local_file_travels_in_the_grid_crs(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    path = tmp_path / "roads.geojson"
    gpd.GeoSeries([LineString(ROAD)], crs=CRS_CODE).to_crs("EPSG:4326").to_file(path)
    fc = feature_collection(FactorConfig(source="ee", path=path), GRID, name="distance_to_roads")
    sent = ee.serializer.encode(fc, for_cloud_api=True)
    assert '"EPSG:32633"' in str(sent).replace("'", '"') and "geodesic" in str(sent)
    got = _download(distance_image(fc, GRID, 5000.0), "distance", tmp_path)
    np.testing.assert_allclose(got, _segment_distance(ROAD), atol=1e-3)


def test_distance_to_a_table_asset_in_lonlat(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    lonlat = gpd.GeoSeries([LineString(ROAD)], crs=CRS_CODE).to_crs("EPSG:4326")
    fake.add_table("projects/p/assets/rivers", gpd.GeoDataFrame(geometry=lonlat))
    spec = FactorConfig(source="ee", asset="projects/p/assets/rivers")
    fc = feature_collection(spec, GRID, name="distance_to_rivers", reach_m=5000)
    got = _download(distance_image(fc, GRID, 5000.0), "distance", tmp_path)
    # lon/lat vertices transformed back: the same line to well under a millimetre
    np.testing.assert_allclose(got, _segment_distance(ROAD), atol=1e-3)


def test_rivers_default_to_hydrosheds_and_roads_need_a_source(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    fake.add_table(
        "WWF/HydroSHEDS/v1/FreeFlowingRivers",
        gpd.GeoDataFrame(geometry=[LineString(ROAD)], crs=CRS_CODE),
    )
    fc = feature_collection(FactorConfig(source="ee"), GRID, name="distance_to_rivers")
    got = _download(distance_image(fc, GRID, 3000.0), "distance", tmp_path)
    np.testing.assert_allclose(got, _segment_distance(ROAD), atol=1e-3)
    with pytest.raises(LsghError) as info:
        feature_collection(FactorConfig(source="ee"), GRID, name="distance_to_roads")
    assert str(info.value) == (
        "factor distance_to_roads has source: ee but no features: set "
        "'factors.distance_to_roads.asset' to an Earth Engine table id or "
        "'factors.distance_to_roads.path' to a local vector file"
    )


def test_a_large_local_vector_is_refused_with_the_upload_advice(tmp_path: Path) -> None:
    many = [LineString([(X0 + i, Y0 - 10), (X0 + i + 5, Y0 - 900)]) for i in range(0, 1200, 2)]
    path = tmp_path / "dense.gpkg"
    gpd.GeoDataFrame(geometry=many, crs=CRS_CODE).to_file(path)
    with pytest.raises(LsghError) as info:
        feature_collection(FactorConfig(source="ee", path=path), GRID, name="distance_to_roads",
                           max_inline_bytes=20_000)  # fmt: skip
    message = str(info.value)
    assert "MB as GeoJSON" in message and "'factors.distance_to_roads.asset'" in message
    assert "earthengine upload table" in message and "\n" not in message


# -- lithology ---------------------------------------------------------------------------

UNITS = {
    "sandstone": box(X0 - 100, Y0 - 700, X0 + 800, Y0 + 100),
    "granite": Polygon(
        [(X0 + 600, Y0 - 300), (X0 + 1600, Y0 - 200), (X0 + 1500, Y0 - 1300), (X0 + 500, Y0 - 1000)]
    ),  # fmt: skip  (overlaps sandstone; later wins)
    "limestone": box(X0 + 50, Y0 - 1150, X0 + 450, Y0 - 760),
}


def _geology(path: Path) -> Path:
    frame = gpd.GeoDataFrame({"unit": list(UNITS)}, geometry=list(UNITS.values()), crs=CRS_CODE)
    frame.to_file(path)
    return path


def _expected_units(order: list[str]) -> np.ndarray:
    shapes = [(geom, order.index(name) + 1) for name, geom in UNITS.items()]
    codes = rasterize(shapes, out_shape=GRID.shape, transform=GRID.transform, fill=0)
    return np.where(codes > 0, codes, np.nan).astype("float32")


def test_lithology_codes_follow_sorted_classes_like_the_local_rasterisation(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    spec = FactorConfig(source="ee", path=_geology(tmp_path / "geology.gpkg"), attribute="unit")
    fc = feature_collection(spec, GRID, name="lithology")
    image, classes = category_image(fc, "unit", GRID, band="lithology")
    got = _download(image, "lithology", tmp_path)
    assert classes == ("granite", "limestone", "sandstone")
    expected = _expected_units(list(classes))
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got).any() and set(np.unique(got[~np.isnan(got)])) == {1.0, 2.0, 3.0}


def test_lithology_from_an_asset_with_classes_and_remap(
    fake: FakeEarthEngine, session: ServiceAccountKey, tmp_path: Path
) -> None:
    frame = gpd.read_file(_geology(tmp_path / "geology.gpkg")).to_crs("EPSG:4326")
    fake.add_table("projects/p/assets/geology", frame)
    spec = FactorConfig(source="ee", asset="projects/p/assets/geology", attribute="unit")
    fc = feature_collection(spec, GRID, name="lithology")
    remap = {"granite": "igneous", "sandstone": "clastic", "limestone": "carbonate"}
    image, classes = category_image(fc, "unit", GRID, classes=["igneous", "carbonate", "clastic"],
                                    remap=remap)  # fmt: skip
    assert classes == ("igneous", "carbonate", "clastic")
    got = _download(image, "category", tmp_path)
    order = {"granite": 1, "limestone": 2, "sandstone": 3}
    shapes = [(geom, order[name]) for name, geom in UNITS.items()]
    expected = rasterize(shapes, out_shape=GRID.shape, transform=GRID.transform, fill=0)
    # polygon edges travel through lon/lat: a pixel centre within a millimetre of an edge
    # could flip, none of this test's centres is that close
    np.testing.assert_array_equal(np.nan_to_num(got), expected.astype("float32"))

    with pytest.raises(LsghError, match=r"do not include \['clastic'\]"):
        category_image(fc, "unit", GRID, classes=["igneous", "carbonate"], remap=remap)
    with pytest.raises(LsghError, match="no feature near the region has a value in 'colour'"):
        category_image(fc, "colour", GRID)


# -- config ------------------------------------------------------------------------------


def test_config_keys_for_earth_engine_sources(region_config: Path) -> None:
    edit_config(region_config, factors={"distance_to_roads": {"asset": "projects/p/assets/r"}})
    with pytest.raises(LsghError) as info:
        load_config(region_config)
    assert "factors.distance_to_roads" in str(info.value)
    assert "'asset' applies to source: ee" in str(info.value)

    edit_config(region_config, factors={"lithology": {"source": "ee", "asset": "a/b",
                                                       "path": "geology.gpkg"}})  # fmt: skip
    with pytest.raises(LsghError, match="give either 'asset'"):
        load_config(region_config)

    edit_config(region_config, factors={"ndvi": {"source": "ee", "years": [2001]}})
    with pytest.raises(LsghError, match=r"from 2013 \(Landsat 8\) on"):
        load_config(region_config)

    land_use = {"source": "ee", "dataset": "ESA/WorldCover/v100"}
    edit_config(region_config, factors={"land_use": land_use, "distance_to_rivers": {}})
    config = load_config(region_config)
    assert config.factors["land_use"].dataset == "ESA/WorldCover/v100"


def test_land_use_codes_and_resolved_classes_agree_for_a_user_remap(
    region_config: Path,
) -> None:
    remap = {10: "woodland", 40: "arable"}  # listed out of LAND_USE_CLASSES order
    edit_config(region_config, factors={"land_use": {"source": "ee", "remap": remap}})
    (factor,) = resolve_factors(load_config(region_config), backend="ee")
    assert factor.classes == LAND_USE_CLASSES
    values, codes = land_use_codes(remap)
    assert [factor.classes[c - 1] for c in codes] == [remap[int(v)] for v in values]


# -- export-factors end to end -------------------------------------------------------------

# conftest's region grid is anchored on its DEM's corner: rasters here share that lattice
LATTICE = Affine(REGION_RES, 0, ORIGIN[0], 0, -REGION_RES, ORIGIN[1])


def _ee_region(folder: Path, fake: FakeEarthEngine, key: ServiceAccountKey, source: str) -> Path:
    """conftest's region with the imagery and vector factors; ``source: ee`` takes them from
    the fake (the same data, as Landsat DNs, a land-cover collection and a table asset)."""
    config = make_region(folder)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    red_dn = np.full((SIZE, SIZE), 10_000.0)
    nir_dn = np.where(cols < SIZE // 2, 22_000.0, 16_000.0) + rows  # NDVI 0.2-0.6
    for name, dn in (("red", red_dn), ("nir", nir_dn)):
        write_raster(folder / f"{name}.tif", (dn * 0.0000275 - 0.2).astype("float32"),
                     transform=LATTICE)  # fmt: skip
    landcover = np.where(rows < SIZE // 3, 10, np.where(cols < SIZE // 2, 40, 30)).astype("uint8")
    landcover[20:24, 30:60] = 95  # mangroves: wetland in the packaged table
    write_raster(folder / "landcover.tif", landcover, transform=LATTICE, nodata=0)
    qa = np.full((SIZE, SIZE), float(1 << 6))
    scene = np.stack([red_dn, nir_dn, qa])
    props = {"system:time_start": time_start(2023, 7)}
    fake.add_collection(LANDSAT_SR_COLLECTIONS[0], [CollectionImage(
        scene, UTM, LATTICE, ["SR_B4", "SR_B5", "QA_PIXEL"], props)])  # fmt: skip
    fake.add_collection(LANDSAT_SR_COLLECTIONS[1], [])
    fake.add_collection("ESA/WorldCover/v200", [CollectionImage(
        landcover[np.newaxis].astype("float64"), UTM, LATTICE, ["Map"])])  # fmt: skip
    fake.add_table("projects/p/assets/rivers", gpd.read_file(folder / "rivers.gpkg"))
    table = {10: "woodland", 30: "grassland", 40: "arable", 95: "wetland"}
    local = {
        "ndvi": {"red": "red.tif", "nir": "nir.tif"},
        "land_use": {"path": "landcover.tif", "remap": table},
        "distance_to_roads": {"path": "roads.gpkg"},
        "distance_to_rivers": {"path": "rivers.gpkg"},
        "lithology": {"path": "geology.gpkg", "attribute": "unit"},
    }
    remote = {
        "ndvi": {"source": "ee", "years": [2023]},
        "land_use": {"source": "ee"},
        "distance_to_roads": {"source": "ee", "path": "roads.gpkg"},
        "distance_to_rivers": {"source": "ee", "asset": "projects/p/assets/rivers"},
        "lithology": {"source": "ee", "path": "geology.gpkg", "attribute": "unit"},
    }
    settings = {"project": PROJECT, "api_url": fake.url, "key_file": str(key.path)}
    if source == "local":
        return edit_config(config, factors=local)
    return edit_config(config, factors=remote, earthengine=settings)


@pytest.mark.slow
def test_export_factors_takes_imagery_and_vectors_from_earth_engine(
    fake: FakeEarthEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    key = trusted_key(fake, tmp_path / "sa-key.json")
    remote = _ee_region(tmp_path / "ee", fake, key, "ee")
    local = _ee_region(tmp_path / "local", fake, key, "local")
    run_cli("export-factors", str(remote), "--backend", "ee")
    run_cli("export-factors", str(local))
    assert fake.requests("computePixels")

    with (
        rasterio.open(remote.parent / "run" / "factors.tif") as a,
        rasterio.open(local.parent / "run" / "factors.tif") as b,
        rasterio.open(remote.parent / "run" / "class_codes.tif") as ca,
        rasterio.open(local.parent / "run" / "class_codes.tif") as cb,
    ):
        assert a.descriptions == b.descriptions and a.transform == b.transform
        bands = {name: i for i, name in enumerate(a.descriptions)}
        ee_values, local_values = a.read(), b.read()
        ee_codes, local_codes = ca.read(), cb.read()
    for name in ("ndvi", "land_use", "lithology"):  # the same definitions: the same values
        i = bands[name]
        np.testing.assert_allclose(ee_values[i], local_values[i], atol=1e-5, equal_nan=True)
        np.testing.assert_array_equal(ee_codes[i], local_codes[i])
    assert 5 in ee_codes[bands["land_use"]]  # wetland, from the mangroves (95)
    for name in ("distance_to_roads", "distance_to_rivers"):  # exact vs rasterised
        i = bands[name]
        reach = CATALOGUE[name].breaks[-1]  # farther: Earth Engine gives the reach itself
        near = local_values[i] < reach - REGION_RES
        gap = np.abs(ee_values[i] - local_values[i])[near]
        assert np.nanmax(gap) <= REGION_RES / np.sqrt(2) + 1e-3
        assert np.all(ee_values[i][local_values[i] > reach + REGION_RES] == reach)
        # a pixel within resolution / √2 of a break may fall in the neighbouring class
        assert np.array_equal(ee_codes[i] == 0, local_codes[i] == 0)
        assert np.abs(ee_codes[i].astype(int) - local_codes[i]).max() == 1
    schema = json.loads((remote.parent / "run" / "factor_schema.json").read_text())
    classes = {f["name"]: f.get("classes") for f in schema["factors"]}
    assert tuple(classes["land_use"]) == LAND_USE_CLASSES
    assert classes["lithology"] == ["sandstone", "shale"]
