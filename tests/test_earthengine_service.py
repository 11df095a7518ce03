"""Earth Engine as the real service behaves (issue 15): what the loopback fake used to let
through, now refused or served as the service does, and the library's answer to each.

Every test drives the real ``ee`` client over HTTP against :class:`ee_fake.FakeEarthEngine`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio
from affine import Affine
from ee_fake import CollectionImage, FakeEarthEngine, make_service_account_key
from pyproj import CRS

from lsgh_ee.earthengine.download import download_image
from lsgh_ee.earthengine.exports import ExportSettings, fetch_image, start_image_export
from lsgh_ee.earthengine.recipes import DEM_DATASETS, dem_image
from lsgh_ee.earthengine.session import open_session
from lsgh_ee.earthengine.tasks import wait_for_operation
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid

PROJECT = "lsgh-test"
BUCKET = "lsgh-staging"
CRS_CODE = "EPSG:32633"
REF_TRANSFORM = Affine(30.0, 0, 300_000.0, 0, -30.0, 5_000_000.0)
GRID = Grid(CRS.from_string(CRS_CODE), REF_TRANSFORM @ Affine.translation(7, 5), 30, 40)
WINDOW = (slice(5, 35), slice(7, 47))
ROWS, COLS = np.mgrid[0:50, 0:60].astype("float64")
DEM = (500 + 3.0 * ROWS + 2.0 * COLS + 40 * np.sin(ROWS / 7.0)).astype("float32")


@pytest.fixture
def fake(no_ambient_credentials: None, tmp_path: Path) -> Iterator[FakeEarthEngine]:
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        f.add_asset("test/dem", DEM, CRS_CODE, REF_TRANSFORM, ["elevation"])
        f.storage.add_bucket(BUCKET)
        key = make_service_account_key(tmp_path / "key.json", token_uri=f.token_uri)
        f.trust_key(key.private_key_id, key.public_key_pem, key.client_email)
        f.key_path = key.path  # type: ignore[attr-defined]
        open_session(PROJECT, key_file=key.path, api_url=f.url, client_retries=0)
        yield f
    ee.Reset()


def _settings(fake: FakeEarthEngine, **changes: object) -> ExportSettings:
    base = {"project": PROJECT, "bucket": BUCKET, "prefix": "runs/test",
            "storage_url": fake.url, "poll_s": 0.0}  # fmt: skip
    return ExportSettings(**{**base, **changes})  # type: ignore[arg-type]


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


# -- 2. asset folders -------------------------------------------------------------------


def test_missing_asset_folders_are_created_level_by_level(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    target = f"projects/{PROJECT}/assets/lsgh-ee/maps/dem_copy"
    # the fake refuses a write into a folder that does not exist, as Earth Engine does
    with pytest.raises(ee.ee_exception.EEException, match="does not exist"):
        ee.batch.Export.image.toAsset(ee.Image("test/dem"), assetId=target).start()
    name = start_image_export(ee.Image("test/dem").toFloat(), GRID, mode="asset",
                              description="copy", asset_id=target)  # fmt: skip
    wait_for_operation(name, poll_s=0)
    created = [r.path for r in fake.requests("assetCreate") if r.status == 200]
    assert len(created) == 2 and [r.body["type"] for r in fake.requests("assetCreate")] == [
        "FOLDER", "FOLDER"]  # fmt: skip
    assert {f"projects/{PROJECT}/assets/lsgh-ee", f"projects/{PROJECT}/assets/lsgh-ee/maps"} <= (
        fake.folders
    )
    assert target in fake.assets
    start_image_export(ee.Image("test/dem").toFloat(), GRID, mode="asset", description="again",
                       asset_id=target + "2")  # fmt: skip
    assert len(fake.requests("assetCreate")) == 2  # existing folders are not created again


# -- 5. long tasks survive hiccups ------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_polling_survives_quota_and_unavailable_answers(fake: FakeEarthEngine, status: int) -> None:
    name = fake.add_operation("LONGEXPORT")
    fake.inject("operations", status=status, times=3)
    final = wait_for_operation(name, poll_s=0, backoff_s=0.01)
    assert final["metadata"]["state"] == "SUCCEEDED"
    assert [r.status for r in fake.requests("operations")][:3] == [status] * 3


def test_polling_gives_up_in_one_line_after_its_retries(fake: FakeEarthEngine) -> None:
    name = fake.add_operation("DOOMED")
    fake.inject("operations", status=503, times=None)
    with pytest.raises(LsghError) as caught:
        wait_for_operation(name, poll_s=0, retries=2, backoff_s=0.01)
    message = str(caught.value)
    assert "\n" not in message and name in message and "unavailable" in message.lower()
    assert "keeps running on the server" in message


def test_a_config_session_keeps_the_clients_retries(
    fake: FakeEarthEngine, region_config: Path
) -> None:
    from conftest import edit_config
    from lsgh_ee.config import load_config
    from lsgh_ee.earthengine.connect import session_for

    settings = {"project": PROJECT, "api_url": fake.url, "key_file": str(fake.key_path)}
    config = load_config(edit_config(region_config, earthengine=settings))
    fake.inject("algorithms", status=503, times=1)  # one hiccup while the session opens
    session = session_for(config)
    assert session.project == PROJECT
    assert [r.status for r in fake.requests("algorithms")][-2:] == [503, 200]


# -- 8. grids without an EPSG code -------------------------------------------------------


def test_a_grid_without_an_epsg_code_travels_as_crs_wkt(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    custom = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=15.123 +k=0.9996 +x_0=500000 +y_0=0 "
                            "+ellps=WGS84 +units=m +no_defs")  # fmt: skip
    assert custom.to_authority() is None
    fake.add_asset("test/custom", DEM, custom.to_wkt(), REF_TRANSFORM, ["elevation"])
    grid = Grid(custom, GRID.transform, GRID.height, GRID.width)
    out = download_image(ee.Image("test/custom"), grid, tmp_path / "c.tif",
                         band_names=["elevation"])  # fmt: skip
    body = fake.requests("computePixels")[0].body["grid"]
    assert "crsCode" not in body and body["crsWkt"] == custom.to_wkt()
    np.testing.assert_allclose(_read(out), DEM[WINDOW], rtol=1e-6)


# -- 9. request deadline --------------------------------------------------------------


def test_a_hung_answer_ends_at_the_deadline_and_is_retried(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    open_session(PROJECT, key_file=fake.key_path, api_url=fake.url, client_retries=0,
                 deadline_s=0.5)  # fmt: skip
    fake.inject("computePixels", delay_s=4.0, times=1)  # hung (bounded: 4 s)
    started = time.monotonic()
    out = download_image(ee.Image("test/dem"), GRID, tmp_path / "d.tif",
                         band_names=["elevation"], backoff_s=0.01)  # fmt: skip
    assert time.monotonic() - started < 3.0
    np.testing.assert_allclose(_read(out), DEM[WINDOW], rtol=1e-6)


def test_the_deadline_is_a_setting(fake: FakeEarthEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSGH_EE_DEADLINE", "soon")
    with pytest.raises(LsghError, match="LSGH_EE_DEADLINE='soon' is not a number"):
        open_session(PROJECT, key_file=fake.key_path, api_url=fake.url)
    monkeypatch.setenv("LSGH_EE_DEADLINE", "12.5")
    open_session(PROJECT, key_file=fake.key_path, api_url=fake.url)
    assert ee.data._get_state().deadline_ms == 12500.0  # the client's own setting


# -- 10. resuming an export by its (truncated) name ---------------------------------------


def test_an_interrupted_export_with_a_long_name_is_resumed(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    out = tmp_path / ("a_region_with_a_very_long_name_" * 4 + "dem.tif")
    image = ee.Image("test/dem")

    def interrupt(status: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # Ctrl-C while the export runs
        fetch_image(image, GRID, out, band_names=["elevation"], mode="gcs",
                    settings=_settings(fake), progress=interrupt)  # fmt: skip
    path = fetch_image(image, GRID, out, band_names=["elevation"], mode="gcs",
                       settings=_settings(fake))  # fmt: skip
    assert len(fake.requests("imageExport")) == 1  # waited for, not started again
    assert len(fake.requests("imageExport")[0].body["description"]) <= 80
    np.testing.assert_allclose(_read(path), DEM[WINDOW], rtol=1e-6)


# -- 11. datasets ----------------------------------------------------------------------


def test_copernicus_glo30_2024_release_is_known(fake: FakeEarthEngine, tmp_path: Path) -> None:
    assert DEM_DATASETS["COPERNICUS/DEM/GLO30_2024_1"].collection
    west, east = DEM[:, :30], DEM[:, 30:]
    fake.add_collection("COPERNICUS/DEM/GLO30_2024_1", [
        CollectionImage(west, CRS_CODE, REF_TRANSFORM, ["DEM"]),
        CollectionImage(east, CRS_CODE, REF_TRANSFORM @ Affine.translation(30, 0), ["DEM"]),
    ])  # fmt: skip
    out = download_image(dem_image("COPERNICUS/DEM/GLO30_2024_1", GRID), GRID,
                         tmp_path / "g.tif", band_names=["elevation"])  # fmt: skip
    np.testing.assert_allclose(_read(out), DEM[WINDOW], rtol=1e-6)


# -- 12. unexpected answers --------------------------------------------------------------


def _geotiff_instead(body: bytes) -> bytes:
    from rasterio.io import MemoryFile

    with MemoryFile() as mem:
        with mem.open(driver="GTiff", height=2, width=2, count=1, dtype="float32") as dst:
            dst.write(np.zeros((1, 2, 2), "float32"))
        return mem.read()


def _renamed_band(body: bytes) -> bytes:
    array = np.load(io.BytesIO(body), allow_pickle=False)
    array.dtype.names = ("something_else",)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_a_truncated_npy_answer_is_retried(fake: FakeEarthEngine, tmp_path: Path) -> None:
    fake.inject("computePixels", times=2, mangle=lambda body: body[: len(body) // 2])
    out = download_image(ee.Image("test/dem"), GRID, tmp_path / "t.tif",
                         band_names=["elevation"], backoff_s=0.01)  # fmt: skip
    np.testing.assert_allclose(_read(out), DEM[WINDOW], rtol=1e-6)
    assert len(fake.requests("computePixels")) == 3


@pytest.mark.parametrize(
    ("mangle", "said"),
    [
        (lambda body: body[:40], "broken NPY stream"),
        (_geotiff_instead, "a GeoTIFF where NPY was asked"),
        (_renamed_band, "without band(s) ['elevation']"),
        (lambda body: b'{"unexpected": true}', "text (JSON or HTML) where NPY was asked"),
    ],
)
def test_garbled_pixels_end_in_one_line(
    fake: FakeEarthEngine, tmp_path: Path, mangle, said: str
) -> None:
    fake.inject("computePixels", times=None, mangle=mangle)
    with pytest.raises(LsghError) as caught:
        download_image(ee.Image("test/dem"), GRID, tmp_path / "g.tif", band_names=["elevation"],
                       retries=1, backoff_s=0.01)  # fmt: skip
    message = str(caught.value)
    assert "\n" not in message and said in message and "computePixels of tile" in message
    assert "re-run" in message


def test_a_damaged_cloud_storage_download_is_one_line(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    from lsgh_ee.earthengine.storage import CloudStorage

    fake.storage.put(BUCKET, "runs/x.tif", os.urandom(4096), "image/tiff")
    store = CloudStorage(BUCKET, project=PROJECT, api_url=fake.url)
    fake.storage.corrupt_downloads = 1
    with pytest.raises(LsghError) as caught:
        store.download("runs/x.tif", tmp_path / "x.tif")
    message = str(caught.value)
    assert "\n" not in message and "gs://lsgh-staging/runs/x.tif" in message
    assert "checksum" in message and not (tmp_path / "x.tif").exists()


# -- 3. Application Default Credentials --------------------------------------------------


def test_gcloud_application_default_credentials(
    fake: FakeEarthEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "gcloud"
    config.mkdir()
    refresh = "1//adc-refresh-token-xyz"
    (config / "application_default_credentials.json").write_text(json.dumps({
        "type": "authorized_user", "client_id": "adc.apps.googleusercontent.com",
        "client_secret": "adc-secret", "refresh_token": refresh,
        "quota_project_id": PROJECT, "token_uri": fake.token_uri,
    }))  # fmt: skip
    fake.refresh_tokens[refresh] = "analyst@example.org"
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(config))  # where gcloud keeps it
    import google.oauth2.credentials

    # google-auth always sends these to Google's token endpoint: here, the fake's
    monkeypatch.setattr(google.oauth2.credentials, "_GOOGLE_OAUTH2_TOKEN_ENDPOINT", fake.token_uri)
    session = open_session(None, api_url=fake.url, client_retries=0)
    assert session.project == PROJECT
    assert "Application Default Credentials" in session.source and str(config) in session.source
    assert ee.Number(6).getInfo() == 6


def test_metadata_server_credentials(fake: FakeEarthEngine, tmp_path: Path) -> None:
    """Compute Engine / Cloud Run: no file at all, the metadata server answers (the
    google-auth client reads its host from the environment at import: a fresh process)."""
    fake.metadata_account = "runner@lsgh-test.iam.gserviceaccount.com"
    host = fake.url.removeprefix("http://")
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_APPLICATION_CREDENTIALS",)}
    env.update(HOME=str(tmp_path / "home"), CLOUDSDK_CONFIG=str(tmp_path / "none"),
               GCE_METADATA_HOST=host, GCE_METADATA_IP=host, LSGH_EE_PROJECT=PROJECT)  # fmt: skip
    code = ("from lsgh_ee.earthengine.session import open_session; import ee; "
            f"s = open_session(None, api_url={fake.url!r}); "
            "print(s.source, s.principal, ee.Number(7).getInfo())")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Application Default Credentials (metadata server)" in proc.stdout
    assert proc.stdout.strip().endswith("7")
    assert "ya29." not in proc.stdout + proc.stderr
