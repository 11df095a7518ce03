"""Earth Engine recipes and the fake's emulations, through the real ``ee`` client.

Every image is fetched with :func:`~lsgh_ee.earthengine.download.download_image`
(``computePixels`` over HTTP) and compared with an independent NumPy computation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine
from ee_client import fake_session, pixels, trusted_key
from ee_fake import CollectionImage, FakeEarthEngine
from pyproj import CRS

from conftest import (
    edit_config,
    make_region,
    run_cli,
    synthetic_dem,
    write_config,
    write_raster,
)
from lsgh_ee.config import DemConfig, FactorConfig, RegionConfig, load_config
from lsgh_ee.earthengine.classify import aspect_codes, class_code_image, class_codes
from lsgh_ee.earthengine.download import download_image
from lsgh_ee.earthengine.recipes import (
    DEM_DATASETS,
    DemDataset,
    dem_image,
    factor_image,
    terrain_factor_image,
)
from lsgh_ee.earthengine.session import EarthEngineSession
from lsgh_ee.errors import LsghError
from lsgh_ee.factors import terrain
from lsgh_ee.factors.catalogue import CATALOGUE
from lsgh_ee.factors.classify import classify_aspect, classify_breaks
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.grid import Grid
from lsgh_ee.region import Region
from lsgh_ee.stages import export_factors

PROJECT = "lsgh-test"
CRS_CODE = "EPSG:32633"
RES = 30.0
ORIGIN = Affine(RES, 0, 300_000.0, 0, -RES, 5_000_000.0)
SHAPE = (40, 50)
GRID = Grid(CRS.from_string(CRS_CODE), ORIGIN, *SHAPE)
# the synthetic region's DEM on the grid lattice (as in test_earthengine_pipeline.py)
REGION_DEM_TRANSFORM = Affine(RES, 0, 300_000.0, 0, -RES, 4_999_980.0)
TERRAIN = ["slope", "aspect", "curvature", "slope_position", "local_relief"]


def _bands() -> np.ndarray:
    """Two float bands (``a`` with a masked block, ``b`` with zeros) and an integer band."""
    rng = np.random.default_rng(5)
    a = rng.uniform(-50, 50, SHAPE)
    a[5:9, 10:20] = -9999.0  # nodata
    b = np.round(rng.uniform(-3, 3, SHAPE))  # holds zeros: division by zero
    ints = rng.integers(0, 256, SHAPE).astype("float64")
    return np.stack([a, b, ints])


BANDS = _bands()
A = np.where(BANDS[0] == -9999.0, np.nan, BANDS[0])
B = BANDS[1]
INTS = BANDS[2]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEarthEngine]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        f.add_asset("test/ab", BANDS, CRS_CODE, ORIGIN, ["a", "b", "ints"], nodata=-9999.0)
        yield f
    ee.Reset()


@pytest.fixture
def session(fake: FakeEarthEngine, tmp_path: Path) -> EarthEngineSession:
    return fake_session(fake, tmp_path, PROJECT)


def _image() -> tuple[ee.Image, ee.Image, ee.Image]:
    img = ee.Image("test/ab")
    return img.select("a"), img.select("b"), img.select("ints")


# -- per-pixel math ---------------------------------------------------------------------------


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where(b == 0, 0.0, a / b)


def _masked(result: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    out = result.astype("float64")
    for x in inputs:
        out[np.isnan(x)] = np.nan
    return out


BINARY = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": _div,
    "pow": lambda a, b: np.power(a, b),
    "atan2": np.arctan2,
    "hypot": np.hypot,
    "min": np.minimum,
    "max": np.maximum,
    "gt": np.greater,
    "gte": np.greater_equal,
    "lt": np.less,
    "lte": np.less_equal,
    "eq": np.equal,
    "neq": np.not_equal,
    "And": lambda a, b: (a != 0) & (b != 0),
    "Or": lambda a, b: (a != 0) | (b != 0),
}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_operators_match_numpy_and_propagate_masks(
    session: EarthEngineSession, tmp_path: Path, op: str
) -> None:
    a, b, _ = _image()
    got = pixels(getattr(a, op)(b), tmp_path, GRID)[0]
    with np.errstate(all="ignore"):
        want = _masked(BINARY[op](A, B), A, B)
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[5:9, 10:20]).all()  # the nodata block stays masked, even for gt/and


def test_unary_operators(session: EarthEngineSession, tmp_path: Path) -> None:
    a, b, _ = _image()
    image = a.abs().addBands(a.abs().sqrt()).addBands(a.atan()).addBands(b.Not())
    got = pixels(image.rename(["abs", "sqrt", "atan", "not"]), tmp_path, GRID)
    # sqrt and atan are float32 in Earth Engine ("float"): compare at float32 precision
    np.testing.assert_allclose(got[0], np.abs(A), equal_nan=True)
    np.testing.assert_allclose(got[1], np.sqrt(np.abs(A)), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(got[2], np.arctan(A), rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(got[3], (B == 0).astype("float64"))


def test_one_band_operand_is_used_against_every_band(session: EarthEngineSession) -> None:
    img = ee.Image("test/ab").select(["a", "b"])
    assert img.add(1).bandNames().getInfo() == ["a", "b"]
    assert ee.Image(1).multiply(img).bandNames().getInfo() == ["a", "b"]
    assert img.select("b").gt(img.select("a")).bandNames().getInfo() == ["b"]
    with pytest.raises(ee.EEException, match="same number of bands or only 1 band"):
        img.add(ee.Image("test/ab")).bandNames().getInfo()


def test_broadcast_values(session: EarthEngineSession, tmp_path: Path) -> None:
    img = ee.Image("test/ab").select(["a", "b"])
    got = pixels(img.subtract(ee.Image("test/ab").select("b")).multiply(2), tmp_path, GRID)
    np.testing.assert_allclose(got[0], _masked((A - B) * 2, A), equal_nan=True)
    np.testing.assert_allclose(got[1], np.zeros(SHAPE), equal_nan=True)


def test_where_update_mask_mask_and_clamp(session: EarthEngineSession, tmp_path: Path) -> None:
    a, b, _ = _image()
    where = a.where(b.gt(0), -1)
    updated = a.updateMask(b.neq(0))
    mask_of = a.mask()
    clamped = a.clamp(-10, 10)
    remasked = a.mask(b.gte(0))  # unmasks the nodata block where b >= 0: filled with 0
    got = pixels(
        ee.Image.cat([where, updated, mask_of, clamped, remasked]).rename(
            ["where", "updated", "mask", "clamp", "remask"]
        ),
        tmp_path,
        GRID,
    )
    np.testing.assert_allclose(got[0], np.where(B > 0, np.where(np.isnan(A), np.nan, -1.0), A),
                               equal_nan=True)  # fmt: skip
    np.testing.assert_allclose(got[1], np.where(B != 0, A, np.nan), equal_nan=True)
    np.testing.assert_array_equal(got[2], (~np.isnan(A)).astype("float64"))
    np.testing.assert_allclose(got[3], np.clip(A, -10, 10), equal_nan=True)
    np.testing.assert_allclose(got[4], np.where(B >= 0, np.nan_to_num(A), np.nan), equal_nan=True)


def test_remap_names_its_band_remapped(session: EarthEngineSession, tmp_path: Path) -> None:
    _, b, _ = _image()
    remapped = ee.Image("test/ab").remap([-1, 0, 1], [10, 20, 30], None, "b")
    with_default = b.remap([0], [5], 7)
    assert remapped.bandNames().getInfo() == ["remapped"]
    got = pixels(remapped.addBands(with_default.rename("d")), tmp_path, GRID)
    lookup = {-1.0: 10.0, 0.0: 20.0, 1.0: 30.0}
    want = np.vectorize(lambda v: lookup.get(v, np.nan))(B)
    np.testing.assert_array_equal(got[0], want)
    np.testing.assert_array_equal(got[1], np.where(B == 0, 5.0, 7.0))
    with pytest.raises(ee.EEException, match="Band 'nope' not found"):
        ee.Image("test/ab").remap([1], [2], None, "nope").bandNames().getInfo()


def test_bit_operators_and_casts(session: EarthEngineSession, tmp_path: Path) -> None:
    _, _, ints = _image()
    a, _, _ = _image()
    image = ee.Image.cat(
        [ints.bitwiseAnd(0b1010), ints.rightShift(2), a.toInt16(), a.multiply(7).toUint8()]
    ).rename(["and", "shift", "int16", "uint8"])
    got = pixels(image, tmp_path, GRID)
    i = INTS.astype("int64")
    np.testing.assert_array_equal(got[0], i & 0b1010)
    np.testing.assert_array_equal(got[1], i >> 2)
    np.testing.assert_array_equal(got[2], np.trunc(A), strict=False)
    np.testing.assert_array_equal(got[3], np.clip(np.trunc(A * 7), 0, 255))


def test_neighbourhood_and_region_reductions(session: EarthEngineSession, tmp_path: Path) -> None:
    b = ee.Image("test/ab").select("b")
    a = ee.Image("test/ab").select("a")
    square = ee.Kernel.square(1, "pixels", False)
    highest = b.reduceNeighborhood(ee.Reducer.max(), square)
    smoothed = b.convolve(ee.Kernel.square(1))  # normalised: the 3 × 3 mean
    spread = a.reduceNeighborhood(ee.Reducer.stdDev(), ee.Kernel.circle(2, "pixels", False))
    assert highest.bandNames().getInfo() == ["b_max"]
    assert spread.bandNames().getInfo() == ["a_stdDev"]
    got = pixels(ee.Image.cat([highest, smoothed, spread]), tmp_path, GRID)
    inner = (slice(1, -1), slice(1, -1))  # the asset ends at the grid's edge
    windows = np.lib.stride_tricks.sliding_window_view(B, (3, 3))
    np.testing.assert_array_equal(got[0][inner], windows.max(axis=(-2, -1)))
    np.testing.assert_allclose(got[1][inner], windows.mean(axis=(-2, -1)), atol=1e-5)
    r, c = 20, 30  # a pixel away from the nodata block: 13 cells within 2 pixels
    disk_values = [
        A[r + i, c + j] for i in range(-2, 3) for j in range(-2, 3) if i * i + j * j <= 4
    ]
    np.testing.assert_allclose(got[2][r, c], np.std(disk_values), rtol=1e-6)
    assert np.isnan(got[2][5:9, 10:20]).all()  # masked centres stay masked
    region = ee.Geometry.Rectangle(list(GRID.bounds), CRS_CODE, False)
    stats = {
        name: a.reduceRegion(reducer, region, None, CRS_CODE, list(GRID.transform)[:6]).getInfo()[
            "a"
        ]
        for name, reducer in (("mean", ee.Reducer.mean()), ("std", ee.Reducer.stdDev()))
    }
    assert stats["mean"] == pytest.approx(np.nanmean(A)) and stats["std"] == pytest.approx(
        np.nanstd(A)
    )


# -- terrain recipes ------------------------------------------------------------------------

# a DEM asset 20 cells larger than the grid on every side, on the grid's lattice
DEM_PAD = 20
DEM_ORIGIN = ORIGIN @ Affine.translation(-DEM_PAD, -DEM_PAD)


def _dem() -> np.ndarray:
    rows, cols = np.mgrid[0 : SHAPE[0] + 2 * DEM_PAD, 0 : SHAPE[1] + 2 * DEM_PAD]
    x, y = (cols - 45) * RES, (rows - 40) * RES
    hill = 150 * np.exp(-((x - 300) ** 2 + (y + 200) ** 2) / 4e5)
    return (600 + 0.0003 * x**2 - 0.04 * y + hill + 8 * np.sin(rows / 3.0)).astype("float32")


DEM = _dem()


def _config(tmp_path: Path, method: str = "zevenbergen_thorne", **dem: str) -> RegionConfig:
    """A region config whose terrain settings the recipes read (the AOI is not used here)."""
    return RegionConfig.model_validate(
        {
            "name": "t",
            "aoi": {"bbox": [14.0, 45.0, 14.1, 45.1]},
            "inventory": {"path": str(tmp_path / "none.gpkg")},
            "dem": {"source": "ee", **dem},
            "terrain": {"method": method, "tpi_radius": 150, "relief_radius": 100,
                        "flat_slope": 2.0},
            "factors": {"slope": {}},
        }
    )  # fmt: skip


def _local_terrain(config: RegionConfig) -> dict[str, np.ndarray]:
    """The local recipes on the same DEM cells (the reference), in float64: the
    float32 stencils would differ from the float64 server by their rounding."""
    t = config.terrain
    dem = DEM.astype("float64")
    cell = (RES, RES)
    tpi_cells, relief_cells = t.tpi_radius / RES, t.relief_radius / RES
    inner = (slice(DEM_PAD, -DEM_PAD), slice(DEM_PAD, -DEM_PAD))
    slope, aspect = terrain.slope_aspect(dem, cell, method=t.method)
    aspect = np.where(slope < t.flat_slope, np.float32(-1), aspect)
    aspect[np.isnan(slope)] = np.nan
    tpi = terrain.topographic_position_index(dem, tpi_cells)
    position = terrain.slope_position(tpi[inner], slope[inner]).astype("float64")
    position[position == 0] = np.nan
    return {
        "slope": slope[inner],
        "aspect": aspect[inner],
        "curvature": terrain.curvature(dem, cell)[inner],
        "slope_position": position,
        "local_relief": terrain.local_relief(dem, relief_cells)[inner],
    }


@pytest.fixture
def dem_fake(fake: FakeEarthEngine) -> FakeEarthEngine:
    fake.add_asset("USGS/SRTMGL1_003", DEM, CRS_CODE, DEM_ORIGIN, ["elevation"])
    fake.add_asset("test/two_band_dem", np.stack([DEM * 0, DEM]), CRS_CODE, DEM_ORIGIN,
                   ["zero", "height"])  # fmt: skip
    return fake


@pytest.mark.parametrize("method", ["zevenbergen_thorne", "horn"])
def test_terrain_recipes_equal_the_local_definitions(
    session: EarthEngineSession, dem_fake: FakeEarthEngine, tmp_path: Path, method: str
) -> None:
    config = _config(tmp_path, method)
    image = ee.Image.cat([terrain_factor_image(n, GRID, config) for n in TERRAIN])
    dem_fake.max_request_bytes = 20 * 25 * 5 * 4  # tiles: neighbourhoods must cross seams
    got = download_image(image, GRID, tmp_path / "terrain.tif", band_names=list(TERRAIN),
                         max_bytes=dem_fake.max_request_bytes, workers=2)  # fmt: skip
    assert len(dem_fake.requests("computePixels")) >= 4
    with rasterio.open(got) as src:
        data = src.read().astype("float64")
    want = _local_terrain(config)
    np.testing.assert_allclose(data[0], want["slope"], atol=1e-4)
    # aspect: equal up to float rounding, except where rounding flips the flat rule
    near_flat = np.abs(want["slope"] - 2.0) < 1e-4
    np.testing.assert_allclose(data[1][~near_flat], want["aspect"][~near_flat], atol=1e-3)
    np.testing.assert_allclose(data[2], want["curvature"], atol=1e-4)
    np.testing.assert_array_equal(data[3], want["slope_position"])
    np.testing.assert_allclose(data[4], want["local_relief"], atol=1e-3)
    assert (want["local_relief"] > 0).all() and len(np.unique(data[3])) >= 5


def test_dem_band_and_dataset_choice(
    session: EarthEngineSession, dem_fake: FakeEarthEngine, tmp_path: Path
) -> None:
    chosen = _config(tmp_path, ee_asset="test/two_band_dem", ee_band="height")
    first = dem_image("test/two_band_dem", GRID)  # no band named: the first
    got = pixels(terrain_factor_image("local_relief", GRID, chosen).addBands(first), tmp_path, GRID)
    np.testing.assert_allclose(got[0], _local_terrain(chosen)["local_relief"], atol=1e-3)
    np.testing.assert_array_equal(got[1], 0.0)
    serialized = json.dumps(ee.serializer.encode(dem_image("NASA/NASADEM_HGT/001", GRID)))
    assert "NASA/NASADEM_HGT/001" in serialized and '"elevation"' in serialized


def test_copernicus_tiles_are_mosaicked(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    assert DEM_DATASETS["COPERNICUS/DEM/GLO30"] == DemDataset(collection=True, band="DEM")
    half = DEM.shape[1] // 2  # two tiles meeting mid-grid, each with a dummy band first
    tiles = [
        CollectionImage(np.stack([DEM[:, cols] * 0 - 5, DEM[:, cols]]), CRS_CODE,
                        DEM_ORIGIN @ Affine.translation(cols.start, 0), ["EDM", "DEM"])
        for cols in (slice(0, half), slice(half, None))
    ]  # fmt: skip
    fake.add_collection("COPERNICUS/DEM/GLO30", tiles)
    config = _config(tmp_path, ee_asset="COPERNICUS/DEM/GLO30")
    got = pixels(terrain_factor_image("local_relief", GRID, config), tmp_path, GRID)
    np.testing.assert_allclose(got[0], _local_terrain(config)["local_relief"], atol=1e-3)
    assert "ImageCollection.mosaic" in json.dumps(ee.serializer.encode(dem_image(
        "COPERNICUS/DEM/GLO30", GRID)))  # fmt: skip


# -- class codes in Earth Engine --------------------------------------------------------------


def test_class_codes_follow_the_local_edge_convention(
    session: EarthEngineSession, tmp_path: Path
) -> None:
    a = ee.Image("test/ab").select("a")
    breaks = [-20.0, 0.0, 12.5]
    edges = ee.Image.cat([a, a.multiply(0).add(0.0), a.multiply(0).add(12.5)])
    got = pixels(
        ee.Image.cat(
            [class_codes(a, breaks), class_codes(edges.select([1]), breaks),
             class_codes(edges.select([2]), breaks), aspect_codes(a.add(50).multiply(4.5))]
        ).rename(["a", "zero", "edge", "aspect"]),
        tmp_path, GRID,
    )  # fmt: skip
    np.testing.assert_array_equal(got[0], classify_breaks(A.astype("float32"), breaks))
    assert got[0][5:9, 10:20].max() == 0  # masked → 0
    np.testing.assert_array_equal(got[1][~np.isnan(A)], 3)  # a value on a break: upper class
    np.testing.assert_array_equal(got[2][~np.isnan(A)], 4)
    aspect = ((A + 50) * 4.5).astype("float32")
    aspect[0, :5] = -1  # flat cells are not in the asset; check the rule on the sectors
    np.testing.assert_array_equal(got[3][:, 5:], classify_aspect(aspect)[:, 5:])
    with pytest.raises(ValueError, match="strictly increasing"):
        class_codes(a, [1.0, 1.0])


def test_aspect_codes_of_flat_and_sector_edges(session: EarthEngineSession, tmp_path: Path) -> None:
    values = [-1.0, 0.0, 22.4999, 22.5, 67.5, 112.5, 157.5, 202.5, 247.5, 292.5, 337.5, 359.9]
    bands = [aspect_codes(ee.Image.constant(v)).rename(f"v{i}") for i, v in enumerate(values)]
    got = pixels(ee.Image.cat(bands), tmp_path, GRID)[:, 0, 0]
    want = classify_aspect(np.asarray(values, dtype="float32"))
    np.testing.assert_array_equal(got, want)
    assert list(want) == [1, 2, 2, 6, 4, 8, 3, 9, 5, 7, 2, 2]


def test_class_code_image_equals_the_local_class_codes(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    """A locally exported region's schema, computed in Earth Engine: the same codes."""
    folder = tmp_path / "region"
    config_path = make_region(folder)
    write_raster(folder / "dem.tif", synthetic_dem(), transform=REGION_DEM_TRANSFORM)
    factors = {name: {} for name in TERRAIN}
    # classes the small region fills
    factors["local_relief"] = {"breaks": [10, 20, 40, 80]}
    factors["curvature"] = {"breaks": [-0.1, -0.07, 0.0, 0.1]}
    local = load_config(edit_config(config_path, factors=factors,
                                    sampling={"importance_samples": 200},
                                    terrain={"method": "zevenbergen_thorne", "tpi_radius": 150,
                                             "relief_radius": 150}))  # fmt: skip
    export_factors(local)
    run = local.run_dir
    schema = json.loads((run / "factor_schema.json").read_text())
    with rasterio.open(run / "class_codes.tif") as src:
        want = src.read()
        grid = Grid(src.crs, src.transform, src.height, src.width)

    fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), CRS_CODE, REGION_DEM_TRANSFORM,
                   ["elevation"])  # fmt: skip
    remote = local.model_copy(update={"dem": DemConfig(source="ee")})
    image = class_code_image(schema, grid, remote)
    assert image.bandNames().getInfo() == TERRAIN
    out = download_image(image, grid, tmp_path / "codes_ee.tif", band_names=TERRAIN,
                         dtype="uint8")  # fmt: skip
    with rasterio.open(out) as src:
        got = src.read()
    inside = Region.from_config(local).aoi_mask
    assert inside.mean() > 0.5
    np.testing.assert_array_equal(np.where(inside, got, 0), want)
    assert (got[:, inside] > 0).all()
    assert all(len(np.unique(band[inside])) >= 3 for band in got)  # not a trivial match


def test_class_code_image_needs_every_factor_of_the_schema(tmp_path: Path) -> None:
    schema = {"factors": [{"name": "ndvi", "kind": "continuous", "breaks": [0.2],
                           "classes": ["<0.2", ">=0.2"]}]}  # fmt: skip
    with pytest.raises(LsghError, match=r"no source for it; add 'factors\.ndvi'"):
        class_code_image(schema, GRID, _config(tmp_path))
    local_ndvi = _config(tmp_path).model_copy(
        update={"factors": {"ndvi": FactorConfig(red=tmp_path / "r.tif", nir=tmp_path / "n.tif")}}
    )
    with pytest.raises(LsghError, match=r"local rasters; set 'factors\.ndvi\.source: ee'"):
        class_code_image(schema, GRID, local_ndvi)


# -- export-factors --backend ee with Earth Engine sources ------------------------------------


def test_every_recipe_expression_passes_the_signature_check(
    session: EarthEngineSession, dem_fake: FakeEarthEngine, tmp_path: Path
) -> None:
    fake = dem_fake
    config = RegionConfig.model_validate(
        {
            **_config(tmp_path, "horn").model_dump(exclude={"factors", "source_file"}),
            "factors": {
                **{name: {} for name in TERRAIN},
                "ndvi": {"source": "ee", "years": [2020]},
                "land_use": {"source": "ee"},
                "distance_to_roads": {"source": "ee", "asset": "projects/p/assets/roads"},
            },
        }
    )
    for factor in resolve_factors(config, backend="ee"):
        for method in ("horn", "zevenbergen_thorne"):
            settings = config.terrain.model_copy(update={"method": method})
            image = factor_image(factor, GRID, config.model_copy(update={"terrain": settings}))
            fake.evaluator.validate(ee.serializer.encode(image, True))
            if factor.recipe == "terrain":  # the others need collections the fake lacks here
                assert image.bandNames().getInfo() == [factor.name]


def _export_region(folder: Path, ee_sources: bool, **changes: object) -> Path:
    """The synthetic region with rasters on the grid lattice; factors from Earth Engine
    (``ee_sources``) or from the same data as local files."""
    config = make_region(folder)
    write_raster(folder / "dem.tif", synthetic_dem(), transform=REGION_DEM_TRANSFORM)
    with rasterio.open(folder / "landcover.tif") as src:
        landcover = src.read(1)
    write_raster(folder / "landcover.tif", landcover, transform=REGION_DEM_TRANSFORM, nodata=0)
    source = {"source": "ee"} if ee_sources else {}
    factors = {
        "slope": {},
        "aspect": {},
        "land_use": {**source, "remap": {10: "woodland", 30: "grassland", 40: "arable"}},
        "distance_to_roads": {**source, "path": "roads.gpkg"},
        "lithology": {**source, "path": "geology.gpkg", "attribute": "unit"},
    }
    if not ee_sources:
        factors["land_use"]["path"] = "landcover.tif"
    terrain_settings = {"method": "zevenbergen_thorne", "tpi_radius": 150, "relief_radius": 150}
    sampling = {"importance_samples": 200}  # the factor report is not under test: keep it quick
    return edit_config(
        config, factors=factors, terrain=terrain_settings, sampling=sampling, **changes
    )


def _ee_settings(fake: FakeEarthEngine, tmp_path: Path) -> dict:
    key = trusted_key(fake, tmp_path / "sa.json")
    return {"project": PROJECT, "api_url": fake.url, "key_file": str(key.path)}


def test_export_factors_backend_ee_takes_ee_sources_from_earth_engine(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    local = _export_region(tmp_path / "local", ee_sources=False)
    with rasterio.open(tmp_path / "local" / "landcover.tif") as src:
        tile = CollectionImage(src.read(), CRS_CODE, REGION_DEM_TRANSFORM, ["Map"], nodata=0)
    fake.add_collection("ESA/WorldCover/v200", [tile])
    fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), CRS_CODE, REGION_DEM_TRANSFORM,
                   ["elevation"])  # fmt: skip
    remote = _export_region(tmp_path / "ee", ee_sources=True, dem={"source": "ee"},
                            earthengine=_ee_settings(fake, tmp_path))  # fmt: skip
    proc = run_cli("export-factors", str(remote), "--backend", "ee")
    run_cli("export-factors", str(local))

    assert "factors_ee.tif" in proc.stdout and "dem_ee.tif" in proc.stdout
    run_ee, run_local = remote.parent / "run", local.parent / "run"
    with rasterio.open(run_ee / "factors_ee.tif") as src:  # one download, every EE factor
        assert src.descriptions == ("land_use", "distance_to_roads", "lithology")
    with rasterio.open(run_ee / "factors.tif") as a, rasterio.open(run_local / "factors.tif") as b:
        assert a.transform == b.transform and a.descriptions == b.descriptions
        got, want, names = a.read(), b.read(), list(a.descriptions)
    with (
        rasterio.open(run_ee / "class_codes.tif") as a,
        rasterio.open(run_local / "class_codes.tif") as b,
    ):
        got_codes, want_codes = a.read(), b.read()
    exact = [names.index(n) for n in ("slope", "aspect", "land_use", "lithology")]
    np.testing.assert_allclose(got[exact], want[exact], atol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(got_codes[exact], want_codes[exact])
    # distance: exact to the line in EE, to rasterised cell centres locally (<= RES/sqrt 2)
    d = names.index("distance_to_roads")
    inside = ~np.isnan(want[d])
    assert np.abs(got[d][inside] - want[d][inside]).max() <= RES / np.sqrt(2) + 1e-3
    breaks = np.asarray(CATALOGUE["distance_to_roads"].breaks)
    clear = inside & (np.abs(want[d][..., None] - breaks).min(axis=-1) > RES)
    np.testing.assert_array_equal(got_codes[d][clear], want_codes[d][clear])
    assert len(np.unique(want_codes[names.index("land_use")][inside])) == 3
    schema = json.loads((run_ee / "factor_schema.json").read_text())
    methods = {f["name"]: f["method"] for f in schema["factors"]}
    assert methods["land_use"]["recipe"] == "earthengine raster"
    assert methods["lithology"]["source"].endswith("geology.gpkg")
    assert [f["classes"] for f in schema["factors"] if f["name"] == "lithology"] == [
        ["sandstone", "shale"]
    ]
    assert not list(run_ee.glob(".ee_tiles*/**/*.npy"))


def test_an_ee_factor_missing_its_source_is_one_line(fake: FakeEarthEngine, tmp_path: Path) -> None:
    config = _export_region(tmp_path / "ee", ee_sources=True,
                            earthengine=_ee_settings(fake, tmp_path))  # fmt: skip
    settings = yaml.safe_load(config.read_text())
    settings["factors"]["distance_to_roads"] = {"source": "ee"}  # no asset, no path
    write_config(config, settings)
    proc = run_cli("export-factors", str(config), "--backend", "ee", check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(errors) == 1 and "'factors.distance_to_roads.asset'" in errors[0]
    assert not (config.parent / "run" / "factors.tif").exists()
    # (a raster factor with source: ee, which has no recipe, is refused in test_cli.py)


# -- the field's DEM factors (elevation, curvatures, TRI, hydrology from MERIT Hydro) ----------

FIELD_DEM = ["elevation", "plan_curvature", "profile_curvature", "tri"]
HYDROLOGY = ["flow_accumulation", "twi", "spi", "distance_to_drainage"]


def _merit_upa() -> np.ndarray:
    """A stand-in for MERIT Hydro's ``upa`` (km²) on the DEM's cells: the local D8 upstream
    area of the same DEM, so the recipes can be checked against the local formulas."""
    from lsgh_ee.factors.hydrology import upstream_area

    return upstream_area(DEM, (RES, RES)).astype("float64") / 1e6


@pytest.fixture
def merit_fake(dem_fake: FakeEarthEngine) -> FakeEarthEngine:
    upa = _merit_upa()
    dem_fake.add_asset("MERIT/Hydro/v1_0_1", np.stack([DEM, upa]), CRS_CODE, DEM_ORIGIN,
                       ["elv", "upa"])  # fmt: skip
    return dem_fake


def test_log_and_fast_distance_transform_of_the_fake_equal_numpy(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    fake.add_asset("test/ab", BANDS, CRS_CODE, ORIGIN, ["a", "b", "ints"], nodata=-9999.0)
    a, b, _ = _image()
    got = pixels(a.log().addBands(b.abs().add(1).log()), tmp_path, GRID)
    with np.errstate(invalid="ignore"):
        want_a = np.where(A > 0, np.log(A), np.nan)  # log of <= 0 and masked: masked
    np.testing.assert_allclose(got[0], want_a, rtol=1e-12)
    np.testing.assert_allclose(got[1], np.log(np.abs(B) + 1), rtol=1e-12)
    # squared pixel distance to the nearest non-zero pixel, masked beyond the neighbourhood
    features = np.zeros(SHAPE)
    features[[3, 30, 31], [4, 40, 2]] = 1.0
    fake.add_asset("test/features", features[None], CRS_CODE, ORIGIN, ["f"])
    image = ee.Image("test/features")
    near = pixels(image.fastDistanceTransform(6, "pixels", "squared_euclidean"), tmp_path, GRID)[0]
    rows, cols = np.indices(SHAPE)
    fr, fc = np.nonzero(features)
    brute = np.min((rows[..., None] - fr) ** 2 + (cols[..., None] - fc) ** 2, axis=-1)
    np.testing.assert_array_equal(near, np.where(brute <= 36, brute, np.nan))
    assert np.isnan(near).any() and (near == 0).sum() == 3
    with pytest.raises(ee.EEException, match="UNIMPLEMENTED|emulates fastDistanceTransform"):
        pixels(image.fastDistanceTransform(6, "meters", "squared_euclidean"), tmp_path, GRID)


@pytest.mark.parametrize("method", ["zevenbergen_thorne", "horn"])
def test_field_dem_recipes_equal_the_local_definitions(
    session: EarthEngineSession, merit_fake: FakeEarthEngine, tmp_path: Path, method: str
) -> None:
    from lsgh_ee.factors import hydrology

    config = _config(tmp_path, method)
    names = FIELD_DEM + HYDROLOGY
    image = ee.Image.cat([terrain_factor_image(n, GRID, config) for n in names])
    merit_fake.max_request_bytes = 20 * 25 * 8 * 4  # tiles: neighbourhoods must cross seams
    got = download_image(image, GRID, tmp_path / "field.tif", band_names=names,
                         max_bytes=merit_fake.max_request_bytes, workers=2)  # fmt: skip
    assert len(merit_fake.requests("computePixels")) >= 4
    with rasterio.open(got) as src:
        data = dict(zip(names, src.read().astype("float64"), strict=True))
    dem, cell = DEM.astype("float64"), (RES, RES)
    inner = (slice(DEM_PAD, -DEM_PAD), slice(DEM_PAD, -DEM_PAD))
    plan, profile = terrain.plan_profile_curvature(dem, cell)
    np.testing.assert_allclose(data["elevation"], DEM[inner], rtol=1e-7)
    np.testing.assert_allclose(data["plan_curvature"], plan[inner], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(data["profile_curvature"], profile[inner], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(data["tri"], terrain.terrain_ruggedness_index(dem)[inner], rtol=1e-5)
    area = (_merit_upa() * 1e6).astype("float32")  # the MERIT stand-in, in m²
    slope = terrain.slope(dem, cell, method=method)
    t = config.terrain
    np.testing.assert_allclose(data["flow_accumulation"], area[inner], rtol=1e-6)
    twi = hydrology.topographic_wetness_index(area, slope, cell, t.min_slope)
    spi = hydrology.stream_power_index(area, slope, cell, t.min_slope)
    np.testing.assert_allclose(data["twi"], twi[inner], rtol=1e-5)
    np.testing.assert_allclose(data["spi"], spi[inner], rtol=1e-5)
    channels = hydrology.drainage_network(area, t.drainage_area)
    distance = hydrology.distance_to_drainage(channels, cell)
    assert channels[inner].any() and (distance[inner] > 0).any()
    np.testing.assert_allclose(data["distance_to_drainage"], distance[inner], rtol=1e-6)


def test_every_field_recipe_passes_the_signature_check(
    session: EarthEngineSession, merit_fake: FakeEarthEngine, tmp_path: Path
) -> None:
    config = RegionConfig.model_validate(
        {
            **_config(tmp_path, "horn").model_dump(exclude={"factors", "source_file"}),
            "factors": {name: {"source": "ee"} for name in FIELD_DEM + HYDROLOGY},
        }
    )
    factors = resolve_factors(config, backend="ee")
    assert [f.name for f in factors] == FIELD_DEM + HYDROLOGY
    for factor in factors:
        assert factor.classify == "quantile" and factor.n_classes == 10
        image = factor_image(factor, GRID, config)
        merit_fake.evaluator.validate(ee.serializer.encode(image, True))
        assert image.bandNames().getInfo() == [factor.name]
    serialized = json.dumps(ee.serializer.encode(factor_image(factors[-1], GRID, config)))
    assert "MERIT/Hydro/v1_0_1" in serialized and '"upa"' in serialized
