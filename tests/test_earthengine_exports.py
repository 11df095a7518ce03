"""Batch exports (Cloud Storage, asset, Drive) and task progress, with the real ``ee`` and
``google-cloud-storage`` clients over HTTP against the loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio
from affine import Affine
from ee_client import trusted_key
from ee_fake import FakeEarthEngine, make_service_account_key
from pyproj import CRS

from lsgh_ee.earthengine.download import download_image
from lsgh_ee.earthengine.exports import (
    ExportSettings,
    export_to_drive,
    fetch_image,
    start_image_export,
)
from lsgh_ee.earthengine.session import open_session
from lsgh_ee.earthengine.storage import CloudStorage
from lsgh_ee.earthengine.tasks import TaskDisplay, TaskStatus, wait_for_operation
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import write_geotiff

PROJECT = "lsgh-test"
BUCKET = "lsgh-bucket"
RES = 30.0
REF_TRANSFORM = Affine(RES, 0, 300_000.0, 0, -RES, 5_000_000.0)
# the analysis grid: 40 × 50 cells, an inner window of the 60 × 70 reference
GRID = Grid(CRS.from_string("EPSG:32633"), REF_TRANSFORM @ Affine.translation(7, 5), 40, 50)
WINDOW = (slice(5, 45), slice(7, 57))


def _reference() -> np.ndarray:
    rows, cols = np.mgrid[0:60, 0:70].astype("float64")
    value = 500 + 3.0 * rows + 2.0 * cols + 40 * np.sin(rows / 7.0) * np.cos(cols / 9.0)
    value[20:23, 30:34] = np.nan  # a masked patch inside the grid window
    ids = rows * 1000 + cols
    return np.stack([value, ids]).astype("float32")


REFERENCE = _reference()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeEarthEngine]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT",
                 "LSGH_EE_STORAGE_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        f.add_asset("test/reference", REFERENCE, "EPSG:32633", REF_TRANSFORM, ["value", "ids"])
        f.storage.add_bucket(BUCKET)
        key = make_service_account_key(tmp_path / "key.json", token_uri=f.token_uri)
        f.trust_key(key.private_key_id, key.public_key_pem, key.client_email)
        open_session(PROJECT, key_file=key.path, api_url=f.url, client_retries=0)
        yield f
    ee.Reset()


def _settings(fake: FakeEarthEngine, **changes) -> ExportSettings:
    base = {"project": PROJECT, "bucket": BUCKET, "prefix": "runs/test",
            "storage_url": fake.url, "poll_s": 0.0}  # fmt: skip
    return ExportSettings(**{**base, **changes})


def _expected(band: int) -> np.ndarray:
    return REFERENCE[band][WINDOW]


def test_gcs_export_fetches_the_exact_grid_in_pieces(fake: FakeEarthEngine, tmp_path: Path) -> None:
    seen: list[TaskStatus] = []
    out = fetch_image(ee.Image("test/reference"), GRID, tmp_path / "ref.tif",
                      band_names=["value", "ids"], mode="gcs", settings=_settings(fake),
                      progress=seen.append, file_dimensions=16)  # fmt: skip

    with rasterio.open(out) as src:
        assert src.transform == GRID.transform and src.crs == GRID.crs
        assert (src.height, src.width) == (40, 50) and src.descriptions == ("value", "ids")
        data = src.read()
        assert np.isnan(src.nodata)
    np.testing.assert_array_equal(data[0], _expected(0))  # NaN where masked, exact elsewhere
    np.testing.assert_array_equal(data[1], _expected(1))
    objects = fake.storage.names(BUCKET, "runs/test/")
    assert len(objects) == 3 * 4  # 40 × 50 pixels in 16-pixel pieces
    assert not list(tmp_path.glob(".ref.tif.pieces*"))  # downloaded pieces cleaned up
    assert all(o.endswith(".tif") for o in objects)
    states = [s.state for s in seen]
    assert states[0] == "PENDING" and "RUNNING" in states and states[-1] == "SUCCEEDED"
    progress = [s.progress for s in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0 and 0 < progress[1] < 1
    export = fake.requests("imageExport")
    assert len(export) == 1
    options = export[0].body["fileExportOptions"]
    assert options["cloudStorageDestination"]["bucket"] == BUCKET
    assert options["fileFormat"] == "GEO_TIFF"

    # a second fetch finds the finished export (same fingerprint) and starts nothing
    out.unlink()
    again = fetch_image(ee.Image("test/reference"), GRID, tmp_path / "ref.tif",
                        band_names=["value", "ids"], mode="gcs", settings=_settings(fake),
                        file_dimensions=16)  # fmt: skip
    assert len(fake.requests("imageExport")) == 1
    with rasterio.open(again) as src:
        np.testing.assert_array_equal(src.read(2), _expected(1))


def test_pieces_and_tiles_make_the_file_of_the_whole_mosaic(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    """gcs pieces and download tiles are written block by block: the same file, byte for
    byte, as the whole mosaic written at once."""
    expected = np.stack([_expected(0), _expected(1)])
    write_geotiff(tmp_path / "whole.tif", expected, GRID, descriptions=["value", "ids"])
    image = ee.Image("test/reference")
    pieces = fetch_image(image, GRID, tmp_path / "pieces.tif", band_names=["value", "ids"],
                         mode="gcs", settings=_settings(fake), file_dimensions=16)  # fmt: skip
    tiles = download_image(image, GRID, tmp_path / "tiles.tif", band_names=["value", "ids"],
                           max_bytes=2 * 4 * 13 * 17)  # fmt: skip
    assert len(fake.storage.names(BUCKET, "runs/test/")) == 12
    assert len(fake.requests("computePixels")) > 4  # several tiles
    whole = (tmp_path / "whole.tif").read_bytes()
    assert pieces.read_bytes() == whole and tiles.read_bytes() == whole


def test_asset_export_then_download_equals_reference(fake: FakeEarthEngine, tmp_path: Path) -> None:
    out = fetch_image(ee.Image("test/reference").select(["value"]), GRID, tmp_path / "v.tif",
                      band_names=["value"], mode="asset", settings=_settings(fake))  # fmt: skip
    with rasterio.open(out) as src:
        assert src.transform == GRID.transform and src.crs == GRID.crs
        np.testing.assert_array_equal(src.read(1), _expected(0))
    exported = [k for k in fake.assets if k.startswith(f"projects/{PROJECT}/assets/lsgh-ee/v_")]
    assert len(exported) == 1
    stored = fake.assets[exported[0]].data[0]
    assert np.isnan(stored[20 - 5, 30 - 7])  # the asset keeps the mask, not a fill value
    np.testing.assert_array_equal(stored, _expected(0))
    assert fake.requests("computePixels")  # the asset's pixels came by download
    fetch_image(ee.Image("test/reference").select(["value"]), GRID, tmp_path / "v.tif",
                band_names=["value"], mode="asset", settings=_settings(fake))  # fmt: skip
    assert len(fake.requests("imageExport")) == 1  # the asset exists: not exported again


def test_a_failed_task_raises_the_server_message(fake: FakeEarthEngine, tmp_path: Path) -> None:
    fake.inject("task", message="User memory limit exceeded.")
    with pytest.raises(LsghError, match="ended FAILED: User memory limit exceeded") as info:
        fetch_image(ee.Image("test/reference"), GRID, tmp_path / "ref.tif",
                    band_names=["value"], mode="gcs", settings=_settings(fake))  # fmt: skip
    assert "\n" not in str(info.value)
    assert not (tmp_path / "ref.tif").exists()


def test_too_many_pixels_fails_the_task(fake: FakeEarthEngine) -> None:
    name = start_image_export(ee.Image("test/reference"), GRID, mode="gcs", description="big",
                              bucket=BUCKET, prefix="big", max_pixels=100)  # fmt: skip
    with pytest.raises(LsghError, match="Export too large: specified 2000 pixels"):
        wait_for_operation(name, poll_s=0)


@pytest.mark.parametrize("status", [429, 500])
def test_export_start_is_retried(fake: FakeEarthEngine, tmp_path: Path, status: int) -> None:
    fault = fake.inject("imageExport", status=status, times=2)
    name = start_image_export(ee.Image("test/reference"), GRID, mode="gcs", description="retry",
                              bucket=BUCKET, prefix="retry", backoff_s=0.0)  # fmt: skip
    assert fault.hits == 2
    starts = fake.requests("imageExport")
    assert [s.status for s in starts] == [status, status, 200]
    assert len({s.body["requestId"] for s in starts}) == 1  # one request id: one task
    wait_for_operation(name, poll_s=0)
    assert fake.storage.names(BUCKET, "retry") == ["retry.tif"]


def test_a_refused_start_is_one_line(fake: FakeEarthEngine) -> None:
    fake.inject("imageExport", status=403, message="Permission denied on bucket lsgh-bucket.")
    with pytest.raises(LsghError, match="refused to start export x: Permission denied"):
        start_image_export(ee.Image("test/reference"), GRID, mode="gcs", description="x",
                           bucket=BUCKET, prefix="x", backoff_s=0.0)  # fmt: skip


def test_drive_export_says_where_the_file_is(fake: FakeEarthEngine, tmp_path: Path) -> None:
    line = export_to_drive(ee.Image("test/reference"), GRID, band_names=["value"],
                           dtype="float32", name="susceptibility",
                           settings=_settings(fake, drive_folder="maps"))  # fmt: skip
    assert line.startswith("exported susceptibility.tif to Google Drive folder 'maps'")
    assert "\n" not in line
    assert list(fake.drive) == ["maps/susceptibility.tif"]
    with pytest.raises(LsghError, match="drive cannot be fetched back.*use gcs or asset"):
        fetch_image(ee.Image("test/reference"), GRID, tmp_path / "x.tif", band_names=["value"],
                    mode="drive", settings=_settings(fake))  # fmt: skip


def test_missing_bucket_is_named(fake: FakeEarthEngine, tmp_path: Path) -> None:
    with pytest.raises(LsghError, match="set earthengine.bucket"):
        fetch_image(ee.Image("test/reference"), GRID, tmp_path / "x.tif", band_names=["value"],
                    mode="gcs", settings=_settings(fake, bucket=None))  # fmt: skip


def test_cloud_storage_round_trip(fake: FakeEarthEngine, tmp_path: Path) -> None:
    store = CloudStorage(BUCKET, project=PROJECT, api_url=fake.url)
    src = tmp_path / "a.bin"
    payload = np.random.default_rng(1).bytes(50_000)
    src.write_bytes(payload)
    assert store.upload(src, "dir/a.bin") == f"gs://{BUCKET}/dir/a.bin"
    assert store.list("dir/") == ["dir/a.bin"] and store.exists("dir/a.bin")
    back = store.download("dir/a.bin", tmp_path / "out" / "b.bin")
    assert back.read_bytes() == payload
    store.delete("dir/a.bin")
    assert store.list("dir/") == [] and not store.exists("dir/a.bin")
    with pytest.raises(LsghError, match=r"cannot download gs://lsgh-bucket/dir/a.bin: the object"):
        store.download("dir/a.bin", tmp_path / "c.bin")
    assert not (tmp_path / "c.bin").exists()
    other = CloudStorage("no-such-bucket", project=PROJECT, api_url=fake.url)
    with pytest.raises(LsghError, match="no-such-bucket") as info:
        other.upload(src, "a.bin")
    assert "ya29." not in str(info.value)


def test_task_display_plain_lines_on_a_pipe() -> None:
    import io

    stream = io.StringIO()
    display = TaskDisplay("export dem", stream)
    for state, progress in [("PENDING", 0.0), ("RUNNING", 0.25), ("RUNNING", 0.25),
                            ("RUNNING", 0.75), ("SUCCEEDED", 1.0)]:  # fmt: skip
        display(TaskStatus("op", state, progress, "d", 1.0))
    display.close()
    assert stream.getvalue().splitlines() == [
        "export dem: PENDING   0%",
        "export dem: RUNNING  25%",
        "export dem: RUNNING  75%",
        "export dem: SUCCEEDED 100%",
    ]


def test_export_factors_through_cloud_storage_equals_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_earthengine_pipeline import DEM_TRANSFORM, _region

    from conftest import run_cli, synthetic_dem

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with FakeEarthEngine(projects={PROJECT: None}) as fake:
        fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), "EPSG:32633", DEM_TRANSFORM,
                       ["elevation"])  # fmt: skip
        fake.storage.add_bucket(BUCKET)
        key = trusted_key(fake, tmp_path / "key.json")
        settings = {"project": PROJECT, "api_url": fake.url, "key_file": str(key.path),
                    "bucket": BUCKET, "storage_url": fake.url, "poll_seconds": 0.01}  # fmt: skip
        configs = {mode: _region(tmp_path / mode, dem={"source": "ee"}, earthengine=settings)
                   for mode in ("download", "gcs", "drive")}  # fmt: skip
        run_cli("export-factors", str(configs["download"]), "--backend", "ee")
        downloads = len(fake.requests("computePixels"))
        proc = run_cli("export-factors", str(configs["gcs"]), "--backend", "ee",
                       "--export-mode", "gcs")  # fmt: skip
        drive = run_cli("export-factors", str(configs["drive"]), "--backend", "ee",
                        "--export-mode", "drive", check=False)  # fmt: skip

    assert len(fake.requests("computePixels")) == downloads  # gcs: no direct download
    assert len(fake.requests("imageExport")) == 1
    assert "SUCCEEDED" in proc.stderr  # the task's progress, as plain lines on a pipe
    assert fake.storage.names(BUCKET, "lsgh-ee/synthetic/dem_ee_")
    with (
        rasterio.open(configs["gcs"].parent / "run" / "factors.tif") as a,
        rasterio.open(configs["download"].parent / "run" / "factors.tif") as b,
    ):
        assert a.transform == b.transform and a.descriptions == b.descriptions
        np.testing.assert_array_equal(a.read(), b.read())
    assert drive.returncode == 2 and "Traceback" not in drive.stderr
    assert drive.stderr.strip().splitlines()[-1] == (
        "error: export-factors cannot use export mode drive: Drive files cannot be read back "
        "into the run folder; use gcs or asset (or download)"
    )


def test_sample_table_equals_the_values_at_the_points(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    from lsgh_ee.earthengine.tables import export_sample_table, fetch_table

    rng = np.random.default_rng(7)
    rows = rng.integers(0, GRID.height, 30)
    cols = rng.integers(0, GRID.width, 30)
    rows[0], cols[0] = 20 - 5, 31 - 7  # on the masked patch: no sample
    xs, ys = GRID.xy(rows, cols)
    points = gpd.GeoDataFrame(
        {"id": np.arange(30), "label": np.arange(30) % 2},
        geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)],
        crs="EPSG:32633",
    ).to_crs("EPSG:4326")  # sent in the grid's CRS whatever the input CRS
    name = export_sample_table(ee.Image("test/reference"), points, properties=["id", "label"],
                               band_names=["value", "ids"], bucket=BUCKET,
                               prefix="tables/samples", grid=GRID)  # fmt: skip
    wait_for_operation(name, poll_s=0)
    table = fetch_table(_settings(fake), "tables/samples", tmp_path / "samples.csv")

    assert list(table.columns) == ["id", "label", "value", "ids"]
    assert (tmp_path / "samples.csv").is_file()
    expected_value = REFERENCE[0][WINDOW][rows, cols]
    expected_ids = REFERENCE[1][WINDOW][rows, cols]
    keep = ~np.isnan(expected_value)
    assert not keep[0] and len(table) == keep.sum() == 29
    assert table["id"].tolist() == np.arange(30)[keep].tolist()
    np.testing.assert_array_equal(table["ids"].to_numpy(), expected_ids[keep])
    np.testing.assert_allclose(table["value"].to_numpy(), expected_value[keep], rtol=1e-6)
    body = fake.requests("tableExport")[0].body
    assert body["fileExportOptions"]["fileFormat"] == "CSV"
    assert body["selectors"] == ["id", "label", "value", "ids"]


def test_task_display_updates_one_line_on_a_terminal() -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with TaskDisplay("upload", stream) as display:
        display(TaskStatus("op", "RUNNING", 0.5, "d", 3.0))
        display(TaskStatus("op", "SUCCEEDED", 1.0, "d", 4.0))
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, rewritten in place
    assert "\rupload: RUNNING  50% (3 s)" in text and "\rupload: SUCCEEDED 100% (4 s)" in text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"export": "gcs"}, "earthengine.bucket is needed for export: gcs"),
        ({"export": "ftp"}, "earthengine.export"),
        ({"bucket": "gs://x"}, "earthengine.bucket"),
        ({"asset_folder": "users/me/x"}, "earthengine.asset_folder"),
        ({"poll_seconds": 0}, "earthengine.poll_seconds"),
    ],
)
def test_bad_export_settings_are_one_line(tmp_path: Path, settings: dict, message: str) -> None:
    from conftest import edit_config, make_region
    from lsgh_ee.config import load_config

    config = edit_config(make_region(tmp_path / "r"), earthengine=settings)
    with pytest.raises(LsghError, match=message) as info:
        load_config(config)
    assert "\n" not in str(info.value)


def test_export_settings_from_config(tmp_path: Path) -> None:
    from conftest import edit_config, make_region
    from lsgh_ee.config import load_config

    config = edit_config(make_region(tmp_path / "r"),
                         earthengine={"export": "gcs", "bucket": "my-bucket"})  # fmt: skip
    ee_config = load_config(config).earthengine
    settings = ExportSettings.from_config(ee_config, "my-project", "lsgh-ee/synthetic")
    assert settings.bucket == "my-bucket" and settings.poll_s == 10.0
    assert settings.asset_root == "projects/my-project/assets/lsgh-ee"
    assert settings.drive_folder == "lsgh-ee" and settings.prefix == "lsgh-ee/synthetic"


def test_an_interrupted_fetch_waits_for_its_running_task(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    def interrupt(status: TaskStatus) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the task runs on the server

    args = {"band_names": ["value"], "mode": "gcs", "settings": _settings(fake)}
    with pytest.raises(KeyboardInterrupt):
        fetch_image(ee.Image("test/reference"), GRID, tmp_path / "v.tif", progress=interrupt,
                    **args)  # fmt: skip
    assert not (tmp_path / "v.tif").exists()
    out = fetch_image(ee.Image("test/reference"), GRID, tmp_path / "v.tif", **args)
    assert len(fake.requests("imageExport")) == 1  # the running task was found, not restarted
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), _expected(0))
