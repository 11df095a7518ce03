"""The Earth Engine-native run (issue 17, points 2 and 3): heatmap, samples and zoning
statistics computed in Earth Engine, only tables and numbers downloaded; through the real
``ee`` client against the loopback fake, each checked against the local NumPy computation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ee
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from ee_client import fake_session, pixels, trusted_key
from ee_fake import FakeEarthEngine
from pyproj import CRS
from scipy import ndimage
from shapely.geometry import Point

from conftest import edit_config, fast_training, make_region, run_cli, synthetic_dem, write_raster
from lsgh_ee.atomic import write_text
from lsgh_ee.config import SamplingConfig, load_config
from lsgh_ee.earthengine import native_zoning
from lsgh_ee.earthengine.exports import ExportSettings
from lsgh_ee.earthengine.geometry import crs_code, grid_projection, grid_region
from lsgh_ee.earthengine.native_heatmap import heatmap_image, landslide_image
from lsgh_ee.earthengine.native_samples import NativeSources, draw_native_samples
from lsgh_ee.earthengine.native_tables import histogram_counts, read_tfrecord_table, reduce_grid
from lsgh_ee.earthengine.native_zoning import curve_auc_bound, zoning_statistics
from lsgh_ee.earthengine.session import EarthEngineSession
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorLayer, FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import gaussian_heatmap
from lsgh_ee.inventory import Inventory, InventoryReport
from lsgh_ee.rasters import write_geotiff
from lsgh_ee.region import Region
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.sampling import draw_samples
from lsgh_ee.sampling.draw import SOFT_INTERVALS
from lsgh_ee.sampling.pixels import far_from
from lsgh_ee.sampling.samples import Samples
from lsgh_ee.sampling.splits import Blocks
from lsgh_ee.stages import export_factors, sample, zone
from lsgh_ee.stages.native import sample_in_ee, zone_in_ee
from lsgh_ee.zoning import interval_table, jenks_breaks, zone_map

PROJECT = "lsgh-test"
BUCKET = "lsgh-bucket"
CRS_CODE = "EPSG:32633"
RES = 30.0
ORIGIN = Affine(RES, 0, 300_000.0, 0, -RES, 5_000_000.0)


def make_grid(height: int, width: int) -> Grid:
    return Grid(CRS.from_string(CRS_CODE), ORIGIN, height, width)


GRID = make_grid(40, 50)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEarthEngine]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        f.storage.add_bucket(BUCKET)
        yield f
    ee.Reset()


@pytest.fixture
def session(fake: FakeEarthEngine, tmp_path: Path) -> EarthEngineSession:
    return fake_session(fake, tmp_path, PROJECT)


def centre_pixels(seed: int, n: int, grid: Grid = GRID) -> tuple[np.ndarray, np.ndarray]:
    """``n`` centre pixels: random, plus the four corners and a pair one pixel apart
    (kernels cut by the edges, overlapping kernels, a tie between two centres)."""
    rng = np.random.default_rng(seed)
    rows = np.r_[rng.integers(0, grid.height, n), 0, 0, grid.height - 1, grid.height - 1, 20, 20]
    cols = np.r_[rng.integers(0, grid.width, n), 0, grid.width - 1, 0, grid.width - 1, 24, 26]
    return rows, cols


def polygon_inventory(grid: Grid, seed: int = 3, n: int = 12) -> Inventory:
    """Square landslide polygons of 1.5–3 pixels half-width inside the grid."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(4, grid.height - 4, n)
    cols = rng.integers(4, grid.width - 4, n)
    x, y = grid.xy(rows, cols)
    half = rng.uniform(1.5, 3.0, n) * RES
    shapes = [Point(a, b).buffer(h, cap_style="square") for a, b, h in zip(x, y, half, strict=True)]
    frame = gpd.GeoDataFrame({"id": np.arange(n)}, geometry=shapes, crs=CRS_CODE)
    return Inventory(frame, "polygon", InventoryReport(read=n, kept=n))


# -- heatmap ------------------------------------------------------------------------------------


@pytest.mark.parametrize("diameter", [7, 13])
def test_heatmap_in_earth_engine_equals_the_local_heatmap(
    session: EarthEngineSession, tmp_path: Path, diameter: int
) -> None:
    rows, cols = centre_pixels(diameter, 15)
    remote = pixels(heatmap_image(rows, cols, GRID, diameter), tmp_path, GRID)[0]
    local = gaussian_heatmap((rows, cols), GRID.shape, diameter)
    assert remote.shape == local.shape
    np.testing.assert_array_equal(remote.astype(np.float32), local)
    assert (local == 1).sum() == np.unique(rows * GRID.width + cols).size
    assert (local == 0).any() and ((local > 0) & (local < 0.2)).any()


def test_landslide_image_equals_the_inventory_mask(
    session: EarthEngineSession, tmp_path: Path
) -> None:
    inventory = polygon_inventory(GRID)
    for mode in ("polygon", "centroid"):
        remote = pixels(landslide_image(inventory, GRID, mode), tmp_path, GRID)[0]
        np.testing.assert_array_equal(remote.astype(bool), inventory.mask(GRID, mode))


def test_fake_distance_transform_matches_scipy(session: EarthEngineSession, tmp_path: Path) -> None:
    from lsgh_ee.earthengine.native_heatmap import centres_image, squared_distance

    rows, cols = centre_pixels(1, 5)
    mask = np.zeros(GRID.shape, dtype=bool)
    mask[rows, cols] = True
    reach = 6
    centres = centres_image(rows, cols, GRID)
    remote = pixels(squared_distance(centres, GRID, reach), tmp_path, GRID)[0]
    dist = ndimage.distance_transform_edt(~mask)
    expected = np.where(dist <= reach, np.rint(dist**2), reach**2 + 1)
    np.testing.assert_array_equal(remote, expected)


# -- samples ------------------------------------------------------------------------------------

FACTORS = ("slope", "lithology", "ndvi")


def codes_array(grid: Grid, seed: int = 9) -> np.ndarray:
    """uint8 class codes of three factors; a nodata (0) block in the first."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 6, (3, *grid.shape)).astype(np.uint8)
    codes[0, 2:6, 30:40] = 0
    return codes


def local_stack(codes: np.ndarray, grid: Grid) -> FactorStack:
    layers = [
        FactorLayer(
            name,
            "continuous",
            "",
            codes[i].astype(np.float32),
            codes[i],
            tuple(str(c) for c in range(1, 6)),
        )  # fmt: skip
        for i, name in enumerate(FACTORS)
    ]
    return FactorStack(grid, layers)


@pytest.fixture
def region(session: EarthEngineSession, fake: FakeEarthEngine) -> dict:
    codes = codes_array(GRID)
    fake.add_asset("test/codes", codes, CRS_CODE, ORIGIN, list(FACTORS), nodata=0)
    return {"codes": codes, "inventory": polygon_inventory(GRID),
            "src": NativeSources(ee.Image("test/codes"), FACTORS, GRID)}  # fmt: skip


def settings_for(fake: FakeEarthEngine, prefix: str = "runs/test") -> ExportSettings:
    return ExportSettings(project=PROJECT, bucket=BUCKET, prefix=prefix,
                          storage_url=fake.url, poll_s=0.0)  # fmt: skip


def flat_of(samples: Samples, kind: str, split: str | None = None) -> np.ndarray:
    pick = samples.kind == kind
    if split is not None:
        pick &= samples.split == split
    return samples.rows[pick] * GRID.width + samples.cols[pick]


@pytest.mark.parametrize("positives", ["polygon", "centroid"])
def test_native_samples_follow_the_local_rules(
    fake: FakeEarthEngine, region: dict, tmp_path: Path, positives: str
) -> None:
    cfg = SamplingConfig(positives=positives, negatives="outside_heatmap", split="random")
    inventory, codes = region["inventory"], region["codes"]
    samples, heat = draw_native_samples(region["src"], inventory, cfg, 7, settings_for(fake),
                                        seed=4)  # fmt: skip
    local, local_heat = draw_samples(local_stack(codes, GRID), inventory, cfg, 7, seed=4)
    # the same counts per split and kind; the same positive pixels
    assert samples.counts() == local.counts()
    assert set(flat_of(samples, "positive")) == set(flat_of(local, "positive"))
    # negatives: distinct, valid, off the landslides, outside the heatmap
    valid = (codes > 0).all(axis=0)
    neg = flat_of(samples, "negative")
    assert np.unique(neg).size == neg.size
    slides = inventory.mask(GRID, "polygon")
    assert valid.ravel()[neg].all() and not slides.ravel()[neg].any()
    assert (local_heat.ravel()[neg] == 0).all()
    # soft samples: labels are the local heatmap's values, in their intervals
    soft = samples.kind == "soft"
    np.testing.assert_array_equal(samples.label[soft],
                                  local_heat[samples.rows[soft], samples.cols[soft]])  # fmt: skip
    local_soft = local.label[local.kind == "soft"]
    for low, high in SOFT_INTERVALS:  # as many per interval as locally
        lo, hi = np.float32(low), np.float32(high)
        remote_soft = samples.label[soft]
        assert ((remote_soft > lo) & (remote_soft <= hi)).sum() == (
            (local_soft > lo) & (local_soft <= hi)
        ).sum()
    assert soft.sum() > 0
    # class codes are the codes at the sampled pixels; the heatmap image is the local one
    np.testing.assert_array_equal(samples.codes, codes[:, samples.rows, samples.cols].T)
    np.testing.assert_array_equal(pixels(heat, tmp_path, GRID)[0].astype(np.float32), local_heat)
    # the samples file of a run holds them as the local path writes it
    back = Samples.read_gpkg(samples.write_gpkg(tmp_path / "samples.gpkg", GRID.crs))
    assert back.digest() == samples.digest()


def test_native_samples_are_seeded_and_spread(fake: FakeEarthEngine, region: dict) -> None:
    cfg = SamplingConfig(negatives="outside_heatmap", split="random")
    draw = [draw_native_samples(region["src"], region["inventory"], cfg, 7,
                                settings_for(fake, f"runs/{i}"), seed=s)[0]
            for i, s in enumerate((4, 4, 5))]  # fmt: skip
    assert draw[0].digest() == draw[1].digest()
    assert draw[0].digest() != draw[2].digest()
    assert set(flat_of(draw[0], "negative")) != set(flat_of(draw[2], "negative"))


def test_native_samples_outside_buffer(fake: FakeEarthEngine, region: dict) -> None:
    cfg = SamplingConfig(negatives="outside_buffer", negative_buffer=100.0, split="random")
    samples, _ = draw_native_samples(region["src"], region["inventory"], cfg, 7,
                                     settings_for(fake), seed=2)  # fmt: skip
    far = far_from(region["inventory"].mask(GRID, "polygon"), 100.0, GRID)
    neg = flat_of(samples, "negative")
    assert neg.size == round(cfg.negative_ratio * (samples.kind == "positive").sum())
    assert far.ravel()[neg].all()


def test_native_spatial_split_keeps_test_blocks_out_of_training(
    fake: FakeEarthEngine, region: dict
) -> None:
    cfg = SamplingConfig(negatives="outside_heatmap", split="spatial", block_size=300.0)
    samples, _ = draw_native_samples(region["src"], region["inventory"], cfg, 7,
                                     settings_for(fake), seed=1)  # fmt: skip
    blocks = Blocks.on(GRID, cfg.block_size)
    block_of = blocks.of(samples.rows * GRID.width + samples.cols, GRID.width)
    test_blocks = np.unique(block_of[samples.split == "test"])
    assert 0 < test_blocks.size <= samples.meta["test_blocks"]  # (held-out blocks may be empty)
    hard = samples.kind != "soft"
    assert not np.isin(block_of[hard & (samples.split == "train")], test_blocks).any()
    assert not np.isin(block_of[samples.kind == "soft"], test_blocks).any()
    counts = samples.counts()
    assert counts["test"]["positive"] > 0 and counts["train"]["positive"] > 0
    assert counts["train"]["soft"] > 0 and counts["test"]["soft"] == 0


def test_native_samples_refuse_a_temporal_split(fake: FakeEarthEngine, region: dict) -> None:
    cfg = SamplingConfig(split="temporal")
    with pytest.raises(LsghError, match="temporal.*not offered.*random or spatial"):
        draw_native_samples(region["src"], region["inventory"], cfg, 7, settings_for(fake),
                            seed=1)  # fmt: skip


# -- zoning statistics --------------------------------------------------------------------------


def index_array(grid: Grid, seed: int = 11) -> np.ndarray:
    """A float32 susceptibility index with nodata (NaN), ties, and the values 0, 0.2, 1."""
    rng = np.random.default_rng(seed)
    index = rng.beta(0.8, 1.6, grid.shape).astype(np.float32)
    index[rng.random(grid.shape) < 0.05] = np.nan
    index[:3, :4] = np.float32(0.6)
    index[5, 5], index[6, 6], index[7, 7] = 1.0, 0.0, np.float32(0.2)
    return index


def add_index(fake: FakeEarthEngine, asset: str, index: np.ndarray) -> ee.Image:
    fake.add_asset(asset, np.nan_to_num(index, nan=-1.0), CRS_CODE, ORIGIN, ["index"],
                   nodata=-1.0)  # fmt: skip
    return ee.Image(asset)


def test_zoning_statistics_equal_the_local_tables(
    session: EarthEngineSession, fake: FakeEarthEngine
) -> None:
    index = index_array(GRID)
    inventory = polygon_inventory(GRID)
    mask = inventory.mask(GRID, "polygon")
    native = zoning_statistics(add_index(fake, "test/index", index),
                               landslide_image(inventory, GRID), GRID, seed=3)  # fmt: skip
    local = zone_map(index, mask, seed=3)
    assert native.zoning.breaks == local.breaks and native.zoning.used == local.used
    pd.testing.assert_frame_equal(native.zoning.zones_table, local.zones_table)
    pd.testing.assert_frame_equal(native.intervals.table, interval_table(index, mask).table)
    assert native.zoning.high_very_high_area_share == local.high_very_high_area_share
    # the curve: exact at the bucket edges, its area within the documented bound
    bound = curve_auc_bound(native.curve_buckets)
    assert abs(native.zoning.curve[2] - local.curve[2]) <= bound
    assert 0 < bound < 0.01
    print(f"success-rate AUC: Earth Engine {native.zoning.curve[2]:.6f}, local "
          f"{local.curve[2]:.6f}, bound {bound:.6f}")  # fmt: skip
    area, found, _ = native.zoning.curve
    assert area[0] == found[0] == 0 and area[-1] == found[-1] == 1


def test_zoning_statistics_sample_large_maps_for_jenks(
    session: EarthEngineSession, fake: FakeEarthEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native_zoning, "JENKS_SAMPLE", 600)
    index = index_array(GRID, seed=12)
    inventory = polygon_inventory(GRID)
    native = zoning_statistics(add_index(fake, "test/index2", index),
                               landslide_image(inventory, GRID), GRID, seed=3)  # fmt: skip
    local_breaks, _ = jenks_breaks(index, sample=600, seed=3)
    assert native.zoning.used == 602  # the sample plus the minimum and maximum
    breaks = np.asarray(native.zoning.breaks)
    assert breaks[0] == np.nanmin(index) and breaks[-1] == np.nanmax(index)
    assert np.abs(breaks - local_breaks).max() < 0.08  # two samples of the same map
    assert native.zoning.zones_table["pixels"].sum() == np.isfinite(index).sum()


def test_fake_histogram_and_sample_match_numpy(
    session: EarthEngineSession, fake: FakeEarthEngine
) -> None:
    index = index_array(GRID, seed=13)
    image = add_index(fake, "test/index3", index)
    counts = histogram_counts(image, GRID, 0.0, 1.0, 10)["index"]
    valid = index[np.isfinite(index)].astype("float64")
    expected, _ = np.histogram(valid[valid < 1.0], bins=10, range=(0.0, 1.0))
    np.testing.assert_array_equal(counts, expected)
    total = reduce_grid(image.gte(0), ee.Reducer.count(), GRID)["index"]
    assert total == valid.size
    everything = image.sample(region=grid_region(GRID), projection=grid_projection(GRID))
    assert sorted(everything.aggregate_array("index").getInfo()) == sorted(valid.tolist())


# -- what leaves Earth Engine -------------------------------------------------------------------

#: Answers that set the session up (discovery document, algorithm list, tokens): a fixed cost.
SETUP_KINDS = {"discovery", "algorithms", "token", "metadata"}


def native_run_bytes(fake: FakeEarthEngine, grid: Grid, tag: str) -> dict[str, int]:
    """Bytes served per kind for the samples and zoning statistics of the region on
    ``grid`` (same landslides, same class-code pattern at the top left)."""
    codes = np.zeros((3, *grid.shape), dtype=np.uint8)
    codes[:] = np.tile(codes_array(GRID), (1, grid.height // GRID.height, grid.width // GRID.width))
    fake.add_asset(f"test/codes_{tag}", codes, CRS_CODE, ORIGIN, list(FACTORS), nodata=0)
    index = np.tile(index_array(GRID), (grid.height // GRID.height, grid.width // GRID.width))
    image = add_index(fake, f"test/index_{tag}", index)
    inventory = polygon_inventory(GRID)
    src = NativeSources(ee.Image(f"test/codes_{tag}"), FACTORS, grid)
    cfg = SamplingConfig(negatives="outside_heatmap", split="random")
    fake.served.clear()
    samples, _ = draw_native_samples(src, inventory, cfg, 7, settings_for(fake, f"runs/{tag}"),
                                     seed=4)  # fmt: skip
    zoning_statistics(image, landslide_image(inventory, grid), grid, seed=3)
    served = {k: v for k, v in fake.served.items() if k not in SETUP_KINDS}
    served["samples"] = len(samples)
    return served


def test_downloads_do_not_grow_with_the_region(
    session: EarthEngineSession, fake: FakeEarthEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native_zoning, "JENKS_SAMPLE", 500)  # both regions sample for Jenks
    small = native_run_bytes(fake, GRID, "small")
    large = native_run_bytes(fake, make_grid(4 * GRID.height, 4 * GRID.width), "large")
    assert small["samples"] == large["samples"]  # same landslides: same sample counts
    assert "computePixels" not in small and "computePixels" not in large  # no pixels
    total_small = sum(v for k, v in small.items() if k != "samples")
    total_large = sum(v for k, v in large.items() if k != "samples")
    # 16 times the pixels, the same bytes give or take the digits of other numbers
    assert abs(total_large - total_small) <= 0.05 * total_small
    # and small: under 100 bytes per sample plus the Jenks sample and the histograms
    assert total_large < 100 * large["samples"] + 40 * 500 + 60_000
    print(f"bytes served: {GRID.height * GRID.width} px {small}; "
          f"{16 * GRID.height * GRID.width} px {large}")  # fmt: skip


# -- the stages ---------------------------------------------------------------------------------

TERRAIN = ["slope", "aspect", "curvature", "slope_position", "local_relief"]
DEM_TRANSFORM = Affine(RES, 0, 300_000.0, 0, -RES, 4_999_980.0)  # the region's lattice


def terrain_region(folder: Path, **changes) -> Path:
    config = make_region(folder)
    write_raster(folder / "dem.tif", synthetic_dem(), transform=DEM_TRANSFORM)
    return edit_config(config, factors={name: {} for name in TERRAIN}, **changes)


def test_sample_stage_in_earth_engine_matches_the_local_stage(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), "EPSG:32633", DEM_TRANSFORM,
                   ["elevation"])  # fmt: skip
    key = trusted_key(fake, tmp_path / "key.json")
    remote = terrain_region(
        tmp_path / "ee", dem={"source": "ee"},
        earthengine={"project": PROJECT, "api_url": fake.url, "key_file": str(key.path),
                     "bucket": BUCKET, "storage_url": fake.url, "poll_seconds": 0.01},
    )  # fmt: skip
    fake.served.clear()
    result = sample_in_ee(remote)
    local = terrain_region(tmp_path / "local")
    export_factors(local)
    sample(local)

    assert "computePixels" not in fake.served  # no pixel left Earth Engine
    ee_run, local_run = RunFolder(remote.parent / "run"), RunFolder(local.parent / "run")
    ours, theirs = Samples.read_gpkg(ee_run.samples), Samples.read_gpkg(local_run.samples)
    assert result.summary["counts"] == ours.counts() == theirs.counts()
    pos = ours.kind == "positive"
    assert set(ours.rows[pos] * 1000 + ours.cols[pos]) == set(
        theirs.rows[theirs.kind == "positive"] * 1000 + theirs.cols[theirs.kind == "positive"]
    )
    with rasterio.open(local_run.codes) as src:
        codes = src.read()
    np.testing.assert_array_equal(ours.codes, codes[:, ours.rows, ours.cols].T)
    schema = json.loads(ee_run.factor_schema.read_text())
    local_schema = json.loads(local_run.factor_schema.read_text())
    assert schema["grid"] == local_schema["grid"]
    with rasterio.open(local_run.codes) as src:  # the schema's grid is the class codes' grid
        grid = Grid.from_dict(schema["grid"])
        assert (grid.shape, grid.transform, grid.crs) == (src.shape, src.transform, src.crs)
    for a, b in zip(schema["factors"], local_schema["factors"], strict=True):
        assert (a["name"], a["breaks"], a["classes"]) == (b["name"], b["breaks"], b["classes"])


def test_zone_stage_in_earth_engine_writes_the_local_tables(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    key = trusted_key(fake, tmp_path / "key.json")
    config = load_config(terrain_region(
        tmp_path / "r", earthengine={"project": PROJECT, "api_url": fake.url,
                                     "key_file": str(key.path)},
    ))  # fmt: skip
    region = Region.from_config(config)
    grid = region.grid
    rng = np.random.default_rng(2)
    index = rng.beta(0.8, 1.6, grid.shape).astype(np.float32)
    index[:2] = np.nan
    index[~region.aoi_mask] = np.nan  # as the local maps are; the asset keeps values there
    asset = np.nan_to_num(np.where(region.aoi_mask, index, 0.5), nan=-1.0)
    run = RunFolder(config.run_dir)
    (run.path / "maps" / "lsgh").mkdir(parents=True)
    write_geotiff(run.susceptibility("lsgh"), index, grid, descriptions=["susceptibility"])
    export_factors(config)
    zone(config)
    local = {name: (run.map_dir("lsgh") / name).read_text()
             for name in ("intervals.csv", "intervals.md", "zones.csv")}  # fmt: skip
    local_summary = json.loads(run.zoning.read_text())["lsgh"]
    fake.add_asset("projects/lsgh-test/assets/maps/lsgh", asset,
                   crs_code(grid), grid.transform, ["susceptibility"], nodata=-1.0)  # fmt: skip
    entry = {"model": "lsgh", "layer": "susceptibility", "band": "susceptibility",
             "asset_id": "projects/lsgh-test/assets/maps/lsgh"}  # fmt: skip
    write_text(run.ee_assets, json.dumps({"project": PROJECT, "assets": [entry]}))
    fake.served.clear()
    zone_in_ee(config, force=True)
    assert "computePixels" not in fake.served
    for name, text in local.items():
        assert (run.map_dir("lsgh") / name).read_text() == text
    summary = json.loads(run.zoning.read_text())["lsgh"]
    for key_name in ("jenks_breaks", "jenks_values", "high_very_high_area_share", "intervals"):
        assert summary[key_name] == local_summary[key_name]
    assert abs(summary["success_auc"] - local_summary["success_auc"]) < 0.005


# -- the whole run ------------------------------------------------------------------------------

ENDPOINT = f"projects/{PROJECT}/locations/europe-west4/endpoints/1234567890"


@pytest.mark.slow
def test_run_backend_ee_end_to_end_on_the_fake(
    tmp_path: Path, no_ambient_credentials: None
) -> None:
    """``lsgh-ee run --backend ee``: stops for deployment, then maps into an asset and zones
    by reductions; the same Table 4 and zoning files as a local run of the same region,
    and no pixel downloaded."""
    with FakeEarthEngine(projects={PROJECT: None}) as fake:
        fake.storage.add_bucket(BUCKET)
        fake.add_folder(f"projects/{PROJECT}/assets/lsgh-ee")
        fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), "EPSG:32633", DEM_TRANSFORM,
                       ["elevation"])  # fmt: skip
        key = trusted_key(fake, tmp_path / "key.json")
        config = terrain_region(
            tmp_path / "ee", dem={"source": "ee"},
            training=fast_training(models=["lsgh", "rf"], epochs=2),
            earthengine={"project": PROJECT, "api_url": fake.url, "key_file": str(key.path),
                         "bucket": BUCKET, "storage_url": fake.url, "poll_seconds": 0.01},
        )  # fmt: skip
        first = run_cli("run", str(config), "--backend", "ee")
        run = RunFolder(config.parent / "run")
        assert "deploy it on a Vertex AI endpoint" in first.stdout + first.stderr
        assert run.samples.exists() and run.table4_md.exists() and not run.zoning.exists()
        deployed = fake.add_vertex_endpoint(ENDPOINT, run.savedmodel_dir("lsgh"))
        second = run_cli("run", str(config), "--backend", "ee", "--endpoint", ENDPOINT)
        served = dict(fake.served)
    assert deployed.requests >= 1  # the map was made by the hosted model, in Earth Engine
    assert "computePixels" not in served  # and no pixel came back
    assert "success-rate AUC" in second.stdout
    assets = json.loads(run.ee_assets.read_text())["assets"]
    assert [a["model"] for a in assets] == ["lsgh"]
    zoning = json.loads(run.zoning.read_text())
    assert list(zoning) == ["lsgh"] and zoning["lsgh"]["jenks_values"] > 1000
    assert run.report.exists()

    local = terrain_region(tmp_path / "local", training=fast_training(models=["lsgh", "rf"],
                                                                      epochs=2))  # fmt: skip
    run_cli("run", str(local))
    local_run = RunFolder(local.parent / "run")
    # Table 4: the same form (rows, columns) from the same sample counts
    ours, theirs = (
        run.table4_md.read_text().splitlines(),
        local_run.table4_md.read_text().splitlines(),
    )
    assert [line.split("|")[1] for line in ours] == [line.split("|")[1] for line in theirs]
    assert ours[0] == theirs[0]
    for name in ("intervals.csv", "zones.csv"):
        a = pd.read_csv(run.map_dir("lsgh") / name, index_col=0)
        b = pd.read_csv(local_run.map_dir("lsgh") / name, index_col=0)
        assert list(a.index) == list(b.index) and list(a.columns) == list(b.columns)
        assert a["pixels"].sum() == b["pixels"].sum()  # the same valid area


def test_native_run_without_a_bucket_or_with_a_bad_backend_is_one_line(
    tmp_path: Path, no_ambient_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import lsgh_ee.cli.core
    from lsgh_ee.cli import app

    monkeypatch.setattr(lsgh_ee.cli.core, "_setup_logging", lambda *a, **k: None)
    with FakeEarthEngine(projects={PROJECT: None}) as fake:
        fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), "EPSG:32633", DEM_TRANSFORM,
                       ["elevation"])  # fmt: skip
        key = trusted_key(fake, tmp_path / "key.json")
        config = terrain_region(tmp_path / "ee", dem={"source": "ee"}, earthengine={
            "project": PROJECT, "api_url": fake.url, "key_file": str(key.path)})  # fmt: skip
        with pytest.raises(LsghError, match=r"set earthengine\.bucket in the config"):
            sample_in_ee(config)
        result = CliRunner().invoke(app, ["run", str(config), "--backend", "gpu"])
    ee.Reset()
    assert result.exit_code != 0
    assert "--backend must be 'local' or 'ee', got 'gpu'" in result.output
    assert "Traceback" not in result.output


def test_tfrecord_sample_tables_give_the_same_samples(
    fake: FakeEarthEngine, region: dict, tmp_path: Path
) -> None:
    cfg = SamplingConfig(negatives="outside_heatmap", split="random")
    draws = {
        fmt: draw_native_samples(
            region["src"],
            region["inventory"],
            cfg,
            7,
            settings_for(fake, f"runs/{fmt}"),
            seed=4,
            table_format=fmt,
        )[0]  # fmt: skip
        for fmt in ("CSV", "TFRecord")
    }
    assert draws["CSV"].digest() == draws["TFRecord"].digest()
    names = fake.storage.names(BUCKET, "runs/TFRecord/")
    assert sorted(names) == ["runs/TFRecord/hard_samples.tfrecord.gz",
                             "runs/TFRecord/soft_samples.tfrecord.gz"]  # fmt: skip
    # the reader refuses what is not such a table, in one line
    bad = tmp_path / "bad.tfrecord.gz"
    bad.write_bytes(b"not a tfrecord")
    with pytest.raises(LsghError, match="is not a TFRecord table"):
        read_tfrecord_table(bad, ["x"])
