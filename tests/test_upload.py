"""``lsgh-ee upload`` end to end: the CLI stages the maps in the fake Cloud Storage bucket,
ingests them through the fake Earth Engine API, and the uploaded assets' pixels are read
back over HTTP and compared with the local files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio
from affine import Affine
from ee_client import trusted_key
from ee_fake import FakeEarthEngine

from conftest import edit_config, make_region, run_cli
from lsgh_ee.earthengine.download import download_image
from lsgh_ee.earthengine.session import open_session
from lsgh_ee.grid import Grid

PROJECT = "lsgh-test"
BUCKET = "lsgh-staging"
ROOT = f"projects/{PROJECT}/assets/lsgh-ee"
INDEX_ID = f"{ROOT}/synthetic_lsgh_susceptibility"
ZONES_ID = f"{ROOT}/synthetic_lsgh_zones"
TRANSFORM = Affine(30.0, 0, 300_000.0, 0, -30.0, 5_000_000.0)
SHAPE = (40, 50)


def _write_maps(run: Path) -> None:
    """maps/lsgh/susceptibility.tif (float32 0-1, NaN nodata), zones.tif (uint8 1-5, 0
    nodata) and factor_schema.json, as predict, zone and export-factors write them."""
    folder = run / "maps" / "lsgh"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    index = rng.random(SHAPE).astype("float32")
    index[:3, :4] = np.nan
    zones = (np.digitize(index, [0.2, 0.4, 0.6, 0.8]) + 1).astype("uint8")
    zones[np.isnan(index)] = 0
    profile = {"driver": "GTiff", "height": SHAPE[0], "width": SHAPE[1], "count": 1,
               "crs": "EPSG:32633", "transform": TRANSFORM}  # fmt: skip
    with rasterio.open(folder / "susceptibility.tif", "w", **profile, dtype="float32",
                       nodata=float("nan")) as dst:  # fmt: skip
        dst.write(index, 1)
    with rasterio.open(folder / "zones.tif", "w", **profile, dtype="uint8", nodata=0) as dst:
        dst.write(zones, 1)
    (run / "factor_schema.json").write_text(json.dumps({"factors": [{"name": "slope"}]}))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeEarthEngine]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT",
                 "LSGH_EE_STORAGE_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        f.storage.add_bucket(BUCKET)
        yield f
    ee.Reset()


@pytest.fixture
def config(fake: FakeEarthEngine, tmp_path: Path) -> Path:
    key = trusted_key(fake, tmp_path / "key.json")
    path = make_region(tmp_path / "region")
    _write_maps(tmp_path / "region" / "run")
    settings = {"project": PROJECT, "api_url": fake.url, "key_file": str(key.path),
                "bucket": BUCKET, "storage_url": fake.url, "poll_seconds": 0.01}  # fmt: skip
    return edit_config(path, earthengine=settings)


def _read_asset(fake: FakeEarthEngine, config: Path, asset_id: str, band: str, dtype: str,
                out: Path) -> np.ndarray:  # fmt: skip
    settings = json.loads(json.dumps(__import__("yaml").safe_load(config.read_text())))
    key_file = settings["earthengine"]["key_file"]
    open_session(PROJECT, key_file=Path(key_file), api_url=fake.url, client_retries=0)
    with rasterio.open(config.parent / "run" / "maps" / "lsgh" / "susceptibility.tif") as src:
        grid = Grid(src.crs, src.transform, src.height, src.width)
    download_image(ee.Image(asset_id), grid, out, band_names=[band], dtype=dtype)
    with rasterio.open(out) as src:
        return src.read(1)


def test_upload_ingests_both_maps(fake: FakeEarthEngine, config: Path, tmp_path: Path) -> None:
    run = config.parent / "run"
    proc = run_cli("upload", str(config))

    assert f"asset {INDEX_ID}" in proc.stdout and f"asset {ZONES_ID}" in proc.stdout
    assert "SUCCEEDED" in proc.stderr  # the task progress, as plain lines on a pipe
    imports = fake.requests("imageImport")
    assert len(imports) == 2
    manifest = imports[0].body["imageManifest"]
    assert manifest["name"] == INDEX_ID
    band = manifest["bands"][0]
    assert band["id"] == "susceptibility" and band["pyramidingPolicy"] == "MEAN"
    assert band["missingData"] == {"values": [-9999.0]}
    assert imports[1].body["imageManifest"]["bands"][0]["pyramidingPolicy"] == "MODE"
    assert fake.storage.names(BUCKET, "lsgh-ee/synthetic/upload/") == [
        "lsgh-ee/synthetic/upload/synthetic_lsgh_susceptibility.tif",
        "lsgh-ee/synthetic/upload/synthetic_lsgh_zones.tif",
    ]
    schema_hash = hashlib.sha256((run / "factor_schema.json").read_bytes()).hexdigest()[:16]
    props = fake.asset_info[INDEX_ID].properties
    assert props["model"] == "lsgh" and props["schema_hash"] == schema_hash
    assert len(props["run_id"]) == 16 and props["lsgh_ee_version"]
    assert fake.asset_info[ZONES_ID].properties == props

    # the uploaded pixels, read back through the API, equal the local maps
    index = _read_asset(fake, config, INDEX_ID, "susceptibility", "float32", tmp_path / "i.tif")
    zones = _read_asset(fake, config, ZONES_ID, "zone", "uint8", tmp_path / "z.tif")
    with rasterio.open(run / "maps" / "lsgh" / "susceptibility.tif") as src:
        np.testing.assert_array_equal(index, src.read(1))  # NaN where the map has no data
    with rasterio.open(run / "maps" / "lsgh" / "zones.tif") as src:
        np.testing.assert_array_equal(zones, src.read(1))

    doc = json.loads((run / "ee_assets.json").read_text())
    assert set(doc) == {"project", "made", "assets"} and doc["project"] == PROJECT
    assert doc["assets"] == [
        {"model": "lsgh", "layer": "susceptibility", "asset_id": INDEX_ID,
         "band": "susceptibility"},
        {"model": "lsgh", "layer": "zones", "asset_id": ZONES_ID, "band": "zone"},
    ]  # fmt: skip
    assert not (run / ".ee_upload").exists()

    again = run_cli("upload", str(config))  # unchanged maps: nothing to do
    assert "up to date" in again.stdout and len(fake.requests("imageImport")) == 2


def test_an_existing_asset_needs_overwrite(fake: FakeEarthEngine, config: Path) -> None:
    fake.add_asset(ZONES_ID, np.ones(SHAPE, "uint8"), "EPSG:32633", TRANSFORM, ["zone"])
    proc = run_cli("upload", str(config), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: Earth Engine asset {ZONES_ID} exists; pass --overwrite to "
                      "replace it"]  # fmt: skip
    assert not fake.requests("imageImport") and not fake.storage.names(BUCKET)
    assert not (config.parent / "run" / "ee_assets.json").exists()

    run_cli("upload", str(config), "--overwrite")
    assert [r.body["overwrite"] for r in fake.requests("imageImport")] == [True, True]
    with rasterio.open(config.parent / "run" / "maps" / "lsgh" / "zones.tif") as src:
        replaced = np.nan_to_num(fake.assets[ZONES_ID].data[0], nan=0)  # 0: missing data
        np.testing.assert_array_equal(replaced, src.read(1))


def test_a_failed_ingestion_is_one_line_with_the_server_message(
    fake: FakeEarthEngine, config: Path
) -> None:
    fake.inject("task", message="Unable to read gs://lsgh-staging: access denied.")
    proc = run_cli("upload", str(config), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "ended FAILED: Unable to read gs://lsgh-staging: access denied." in errors[0]
    assert not (config.parent / "run" / "ee_assets.json").exists()


def test_upload_without_a_bucket_names_the_key(fake: FakeEarthEngine, config: Path) -> None:
    import yaml

    settings = yaml.safe_load(config.read_text())["earthengine"]
    del settings["bucket"]
    edit_config(config, earthengine=settings)
    proc = run_cli("upload", str(config), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: upload stages files in Cloud Storage: set earthengine.bucket in the config to "
        "a bucket you can write to"
    ]
    assert not fake.log or all(entry.kind != "imageImport" for entry in fake.log)


def test_cog_mode_registers_cloud_geotiffs(fake: FakeEarthEngine, config: Path) -> None:
    from lsgh_ee.stages import upload

    result = upload(config, "lsgh", mode="cog")  # in process: the CLI is tested above
    assert result.summary["assets"] == [INDEX_ID, ZONES_ID]
    # image:importExternal with an image manifest (the REST route for COG-backed images),
    # not the legacy assets.create with a Cloud Storage location
    external = fake.requests("imageImportExternal")
    assert len(external) == 2 and not fake.requests("imageImport")
    assert [r.body["type"] for r in fake.requests("assetCreate")] == ["FOLDER"]
    band = external[0].body["imageManifest"]["bands"][0]
    assert band["id"] == "susceptibility" and band["missingData"] == {"values": [-9999.0]}
    assert fake.asset_info[INDEX_ID].properties["model"] == "lsgh"
    assert fake.assets[ZONES_ID].band_names == ["zone"]
    data = fake.assets[INDEX_ID].data[0]
    with rasterio.open(config.parent / "run" / "maps" / "lsgh" / "susceptibility.tif") as src:
        np.testing.assert_array_equal(data.astype("float32"), src.read(1))

    upload(config, "lsgh", mode="cog", overwrite=True)  # replaces (overwrite in the manifest)
    assert [r.body["overwrite"] for r in fake.requests("imageImportExternal")][2:] == [True, True]


@pytest.mark.parametrize(
    ("location", "kind", "regions", "ok"),
    [
        ("US", "multi-region", None, True),
        ("US-CENTRAL1", "region", None, True),
        ("NAM4", "dual-region", None, True),
        ("US", "dual-region", ["US-CENTRAL1", "US-EAST4"], True),
        ("US", "dual-region", ["US-EAST1", "US-EAST4"], False),
        ("EUROPE-WEST1", "region", None, False),
        ("EU", "multi-region", None, False),
    ],
)  # fmt: skip
def test_cog_mode_checks_the_bucket_location(
    fake: FakeEarthEngine, config: Path, location: str, kind: str, regions, ok: bool
) -> None:
    from lsgh_ee.errors import LsghError
    from lsgh_ee.stages import upload

    fake.storage.add_bucket(BUCKET, location=location, location_type=kind, data_locations=regions)
    if ok:
        upload(config, "lsgh", mode="cog")
        assert INDEX_ID in fake.assets
        return
    with pytest.raises(LsghError) as caught:
        upload(config, "lsgh", mode="cog")
    message = str(caught.value)
    assert "\n" not in message and f"bucket {BUCKET} is in {location}" in message
    assert "US multi-region, a US dual-region including US-CENTRAL1, or US-CENTRAL1" in message
    assert not fake.requests("imageImportExternal") and INDEX_ID not in fake.assets


def test_a_lost_answer_to_an_ingestion_start_ingests_once(
    fake: FakeEarthEngine, config: Path
) -> None:
    from lsgh_ee.stages import upload

    # the first start is carried out, but its answer is lost (503)
    fake.inject("imageImport", status=503, times=1, lose_response=True)
    upload(config, "lsgh")
    ingestions = [op for op in fake.operations.values() if op.type == "INGEST_IMAGE"]
    into_index = [op for op in ingestions if INDEX_ID in op.description]
    assert len(into_index) == 1 and len(ingestions) == 2  # one per asset, none twice
    assert [r.status for r in fake.requests("imageImport")] == [503, 200]
    assert INDEX_ID in fake.assets and ZONES_ID in fake.assets


def test_the_missing_asset_folder_is_created(fake: FakeEarthEngine, config: Path) -> None:
    from lsgh_ee.stages import upload

    assert ROOT not in fake.folders  # the fake refuses writes into a missing folder
    upload(config, "lsgh")
    assert ROOT in fake.folders
    assert [r.body for r in fake.requests("assetCreate")] == [{"type": "FOLDER"}]
