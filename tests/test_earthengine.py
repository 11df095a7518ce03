"""The Earth Engine backend against a loopback fake of the EE REST API (no internet).

The real ``ee`` client is built from the discovery document shipped in its wheel and talks
HTTP to :class:`ee_fake.FakeEarthEngine`, which checks every expression against the real
algorithm signatures and serves tokens, pixels, operations and injected faults.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio
from affine import Affine
from ee_client import trusted_key
from ee_fake import (
    FakeEarthEngine,
    PixelGrid,
    ServiceAccountKey,
    make_service_account_key,
    terrain_aspect,
    terrain_slope,
)
from pyproj import CRS

from lsgh_ee.earthengine import download as dl
from lsgh_ee.earthengine.download import Tile, download_image, is_retryable, plan_tiles
from lsgh_ee.earthengine.recipes import export_terrain_factors, terrain_image
from lsgh_ee.earthengine.session import EarthEngineSession, open_session
from lsgh_ee.earthengine.tasks import list_operations, wait_for_operation
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid

PROJECT = "lsgh-test"
CRS_CODE = "EPSG:32633"
RES = 30.0
# the reference rasters: 70 × 80 cells with the upper-left corner at (300000, 5000000)
REF_TRANSFORM = Affine(RES, 0, 300_000.0, 0, -RES, 5_000_000.0)
REF_SHAPE = (70, 80)
# the analysis grid: an inner window (rows 5..65, cols 7..75), so terrain has neighbours
GRID = Grid(CRS.from_string(CRS_CODE), REF_TRANSFORM @ Affine.translation(7, 5), 60, 68)
WINDOW = (slice(5, 65), slice(7, 75))


def _reference() -> np.ndarray:
    rows, cols = np.mgrid[0 : REF_SHAPE[0], 0 : REF_SHAPE[1]].astype("float64")
    dem = 500 + 3.0 * rows + 2.0 * cols + 40 * np.sin(rows / 7.0) * np.cos(cols / 9.0)
    other = (rows * 1000 + cols).astype("float64")
    return np.stack([dem, other]).astype("float32")


REFERENCE = _reference()


@pytest.fixture
def fake() -> Iterator[FakeEarthEngine]:
    with FakeEarthEngine(projects={PROJECT: None, "locked-project": {"someone@else.com"}}) as f:
        f.add_asset("test/reference", REFERENCE, CRS_CODE, REF_TRANSFORM, ["elevation", "ids"])
        f.add_asset("test/dem", REFERENCE[:1], CRS_CODE, REF_TRANSFORM, ["elevation"])
        yield f
    ee.Reset()


@pytest.fixture
def key(fake: FakeEarthEngine, tmp_path: Path) -> ServiceAccountKey:
    made = trusted_key(fake, tmp_path / "sa-key.json")
    return made


@pytest.fixture
def session(
    fake: FakeEarthEngine, key: ServiceAccountKey, no_ambient_credentials: None
) -> EarthEngineSession:
    return open_session(PROJECT, key_file=key.path, api_url=fake.url, client_retries=0)


def _secrets(fake: FakeEarthEngine, key: ServiceAccountKey) -> list[str]:
    pem_body = key.private_key_pem.splitlines()[1]
    return [key.private_key_id, pem_body, *fake.tokens]


def _assert_clean(message: str, secrets: list[str]) -> None:
    assert "\n" not in message
    for secret in secrets:
        assert secret not in message
    assert "ya29." not in message


# -- session -----------------------------------------------------------------------------


def test_real_client_initialises_against_fake(
    session: EarthEngineSession, fake: FakeEarthEngine, key: ServiceAccountKey
) -> None:
    assert session.project == PROJECT and session.principal == key.client_email
    assert session.api_url == fake.url
    kinds = [entry.kind for entry in fake.log]
    assert kinds[0] == "token" and "discovery" in kinds and "algorithms" in kinds
    assert ee.Number(2).add(3).getInfo() == 5
    assert ee.Image("test/reference").bandNames().getInfo() == ["elevation", "ids"]
    assert all(entry.status == 200 for entry in fake.log)


def test_settings_from_environment(
    fake: FakeEarthEngine,
    key: ServiceAccountKey,
    no_ambient_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key.path))
    monkeypatch.setenv("LSGH_EE_API_URL", fake.url)
    monkeypatch.setenv("LSGH_EE_PROJECT", PROJECT)
    session = open_session(None)
    assert (session.project, session.api_url) == (PROJECT, fake.url)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in session.source
    assert ee.Number(1).getInfo() == 1


def test_persistent_credentials(
    fake: FakeEarthEngine, no_ambient_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path.home() / ".config" / "earthengine"
    folder.mkdir(parents=True)
    refresh = "1//fake-refresh-token-abc"
    (folder / "credentials").write_text(json.dumps({"refresh_token": refresh, "project": PROJECT}))
    fake.refresh_tokens[refresh] = "analyst@example.org"
    monkeypatch.setattr(ee.oauth, "TOKEN_URI", fake.token_uri)  # Google's, in real life
    session = open_session(None, api_url=fake.url)
    assert session.project == PROJECT and "earthengine authenticate" in session.source
    assert ee.Number(4).getInfo() == 4


def test_missing_credentials_is_one_line(no_ambient_credentials: None) -> None:
    with pytest.raises(LsghError) as err:
        open_session(PROJECT, api_url="http://127.0.0.1:9")
    message = str(err.value)
    assert "no Earth Engine credentials found" in message
    assert "earthengine authenticate" in message and "GOOGLE_APPLICATION_CREDENTIALS" in message


def test_missing_key_file_names_it(no_ambient_credentials: None, tmp_path: Path) -> None:
    with pytest.raises(LsghError, match="does not exist"):
        open_session(PROJECT, key_file=tmp_path / "nope.json", api_url="http://127.0.0.1:9")


@pytest.mark.parametrize("how", ["refused", "untrusted key"])
def test_refused_token_is_one_line_without_secrets(
    fake: FakeEarthEngine,
    tmp_path: Path,
    no_ambient_credentials: None,
    how: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = make_service_account_key(tmp_path / "k.json", token_uri=fake.token_uri)
    if how == "refused":
        fake.trust_key(key.private_key_id, key.public_key_pem, key.client_email)
        fake.refuse_tokens = True
    with pytest.raises(LsghError) as err:
        open_session(PROJECT, key_file=key.path, api_url=fake.url, client_retries=0)
    message = str(err.value)
    assert "refused the credentials" in message and "invalid_grant" in message
    assert "create a new key" in message
    _assert_clean(message, _secrets(fake, key))
    assert not fake.tokens  # no token was ever issued
    for record in caplog.records:
        _assert_clean(record.getMessage().replace("\n", " "), _secrets(fake, key))


def test_unknown_project_and_no_access(
    fake: FakeEarthEngine,
    key: ServiceAccountKey,
    no_ambient_credentials: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LsghError) as err:
        open_session("nope-project", key_file=key.path, api_url=fake.url, client_retries=0)
    assert "project 'nope-project' was not found" in str(err.value)
    _assert_clean(str(err.value), _secrets(fake, key))
    with pytest.raises(LsghError) as err:
        open_session("locked-project", key_file=key.path, api_url=fake.url, client_retries=0)
    message = str(err.value)
    assert f"{key.client_email} may not use Earth Engine project 'locked-project'" in message
    assert "register the project" in message
    _assert_clean(message, _secrets(fake, key))
    assert fake.tokens  # tokens were issued, and appear nowhere
    for record in caplog.records:
        _assert_clean(record.getMessage().replace("\n", " "), _secrets(fake, key))


def test_key_of_the_wrong_type(no_ambient_credentials: None, tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"type": "gdch_service_account"}))  # external_account: supported
    with pytest.raises(LsghError, match="not a service-account key"):
        open_session(PROJECT, key_file=path, api_url="http://127.0.0.1:9")


def test_unreachable_endpoint(key: ServiceAccountKey, no_ambient_credentials: None) -> None:
    # the token endpoint is the (live) fake; the API URL is a closed port
    with pytest.raises(LsghError, match="cannot reach the Earth Engine API at http://127.0.0.1:9"):
        open_session(PROJECT, key_file=key.path, api_url="http://127.0.0.1:9", client_retries=0)


# -- expressions are checked against the real signatures ------------------------------------


def test_unknown_algorithm_is_rejected(session: EarthEngineSession, fake: FakeEarthEngine) -> None:
    bogus = ee.ApiFunction(
        "Image.noSuchThing", {"args": [{"name": "input", "type": "Image"}], "returns": "Image"}
    )
    with pytest.raises(ee.EEException, match=r"Unknown function: Image\.noSuchThing"):
        ee.data.computeValue(bogus.call(ee.Image(1)))
    assert fake.requests("compute")[-1].status == 400


def test_unknown_argument_is_rejected(session: EarthEngineSession, fake: FakeEarthEngine) -> None:
    signature = {
        "args": [{"name": "input", "type": "Image"}, {"name": "radius", "type": "Float"}],
        "returns": "Image",
    }
    wrong = ee.ApiFunction("Terrain.slope", signature)
    with pytest.raises(ee.EEException, match=r"Unrecognized argument\(s\) 'radius'"):
        ee.data.computeValue(wrong.call(ee.Image(1), 3))
    assert fake.requests("compute")[-1].status == 400


def test_project_expressions_pass_the_signature_check(
    session: EarthEngineSession, fake: FakeEarthEngine
) -> None:
    fake.evaluator.validate(ee.serializer.encode(terrain_image("test/dem", GRID), True))


# -- tiled download ---------------------------------------------------------------------------


def _tile_origin(tile_row: int, tile_col: int, tiles: list[Tile]) -> tuple[float, float]:
    tile = next(t for t in tiles if (t.row, t.col) == (tile_row, tile_col))
    return GRID.transform @ (tile.col, tile.row)


def _read(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile, list]:
    with rasterio.open(path) as src:
        return src.read(), src.profile, list(src.descriptions)


SMALL = 20 * 20 * 2 * 4  # bytes: 20 × 20 pixels of two float32 bands per request


@pytest.mark.parametrize("file_format", ["NPY", "GEO_TIFF"])
def test_download_mosaic_equals_reference(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path, file_format: str
) -> None:
    fake.max_request_bytes = SMALL  # the fake enforces the same limit as the planner
    out = download_image(
        ee.Image("test/reference"),
        GRID,
        tmp_path / "ref.tif",
        band_names=["elevation", "ids"],
        dtype="float32",
        max_bytes=SMALL,
        workers=3,
        file_format=file_format,
    )
    data, profile, descriptions = _read(out)
    tiles = plan_tiles(GRID, bands=2, bytes_per_pixel=4, max_bytes=SMALL)
    assert len(tiles) >= 9
    assert len(fake.requests("computePixels")) == len(tiles)
    np.testing.assert_array_equal(data, REFERENCE[(slice(None), *WINDOW)])
    assert CRS.from_user_input(profile["crs"]) == GRID.crs
    assert profile["transform"] == GRID.transform
    assert (profile["height"], profile["width"]) == GRID.shape
    assert descriptions == ["elevation", "ids"]
    assert not (tmp_path / ".ref.tif.tiles").exists()  # the tile cache is cleaned up


def test_masked_pixels_become_nodata(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    # a grid hanging off the reference's east edge by 10 columns
    grid = Grid(GRID.crs, REF_TRANSFORM @ Affine.translation(70, 0), 30, 20)
    out = download_image(
        ee.Image("test/reference"), grid, tmp_path / "edge.tif", band_names=["ids"]
    )
    data, profile, _ = _read(out)
    assert np.isnan(profile["nodata"])
    np.testing.assert_array_equal(data[0, :, :10], REFERENCE[1, 0:30, 70:80])
    assert np.isnan(data[0, :, 10:]).all()
    ints = download_image(
        ee.Image("test/reference").toInt32(),
        grid,
        tmp_path / "edge_int.tif",
        band_names=["ids"],
        dtype="int32",
        nodata=-1,
    )
    data, profile, _ = _read(ints)
    assert profile["nodata"] == -1 and (data[0, :, 10:] == -1).all()
    np.testing.assert_array_equal(data[0, :, :10], REFERENCE[1, 0:30, 70:80].astype("int32"))


def test_download_onto_a_coarser_grid_resamples(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    coarse = Grid(GRID.crs, REF_TRANSFORM @ Affine.translation(2, 2) @ Affine.scale(2), 30, 35)
    out = download_image(
        ee.Image("test/reference"), coarse, tmp_path / "c.tif", band_names=["ids"], max_bytes=800
    )
    data, profile, _ = _read(out)
    assert profile["transform"] == coarse.transform
    # nearest neighbour: each 60 m pixel takes one of the four 30 m pixels it covers
    block = REFERENCE[1, 2:62, 2:72].reshape(30, 2, 35, 2)
    assert np.isin(data[0], block).all()
    assert ((data[0] >= block.min(axis=(1, 3))) & (data[0] <= block.max(axis=(1, 3)))).all()


def test_retries_recover_from_quota_and_server_errors(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    fake.inject("computePixels", status=429, times=2)
    fake.inject("computePixels", status=500, times=2)
    fake.inject("computePixels", status=503, times=1)
    out = download_image(
        ee.Image("test/reference"),
        GRID,
        tmp_path / "r.tif",
        band_names=["elevation", "ids"],
        max_bytes=SMALL * 4,
        backoff_s=0.01,
        retries=5,
    )
    tiles = plan_tiles(GRID, bands=2, bytes_per_pixel=4, max_bytes=SMALL * 4)
    statuses = [entry.status for entry in fake.requests("computePixels")]
    assert sorted(s for s in statuses if s != 200) == [429, 429, 500, 500, 503]
    assert statuses.count(200) == len(tiles)
    np.testing.assert_array_equal(_read(out)[0], REFERENCE[(slice(None), *WINDOW)])


def test_slow_answer_times_out_and_is_retried(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    ee.data.setDeadline(400)
    ee.data.setMaxRetries(0)
    fake.inject("computePixels", delay_s=1.0, times=1)
    out = download_image(
        ee.Image("test/reference"), GRID, tmp_path / "s.tif", band_names=["ids"], backoff_s=0.01
    )
    np.testing.assert_array_equal(_read(out)[0][0], REFERENCE[(1, *WINDOW)])


def test_interrupted_download_resumes_without_refetching(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    tiles = plan_tiles(GRID, bands=2, bytes_per_pixel=4, max_bytes=SMALL)
    x, y = _tile_origin(tiles[4].row, tiles[4].col, tiles)

    def is_tile_k(body: dict) -> bool:
        t = body.get("grid", {}).get("affineTransform", {})
        return (t.get("translateX"), t.get("translateY")) == (x, y)

    broken = fake.inject("computePixels", status=500, times=None, match=is_tile_k)
    args = (ee.Image("test/reference"), GRID, tmp_path / "resume.tif")
    options = {"band_names": ["elevation", "ids"], "max_bytes": SMALL, "backoff_s": 0.0}
    with pytest.raises(LsghError) as err:
        download_image(*args, retries=2, **options)
    message = str(err.value)
    assert f"failed on 1 of {len(tiles)} tile(s)" in message and "re-run" in message
    assert not (tmp_path / "resume.tif").exists()
    assert broken.hits == 3  # the first try and two retries
    cached = list((tmp_path / ".resume.tif.tiles").rglob("*.npy"))
    assert len(cached) == len(tiles) - 1
    assert not list((tmp_path / ".resume.tif.tiles").rglob("*.partial*"))

    fake.faults.clear()
    before = len(fake.requests("computePixels"))
    download_image(*args, **options)
    again = fake.requests("computePixels")[before:]
    assert len(again) == 1 and is_tile_k(again[0].body)
    np.testing.assert_array_equal(_read(tmp_path / "resume.tif")[0], REFERENCE[:, 5:65, 7:75])


def test_cached_tiles_of_another_image_are_not_reused(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    options = {"band_names": ["b"], "max_bytes": 4000, "tile_dir": tmp_path / "tiles"}
    fake.inject("computePixels", status=400, times=None, match=lambda b: True)
    with pytest.raises(LsghError):
        download_image(ee.Image.constant(1).rename(["b"]), GRID, tmp_path / "a.tif", **options)
    fake.faults.clear()
    out = download_image(ee.Image.constant(2).rename(["b"]), GRID, tmp_path / "a.tif", **options)
    assert (_read(out)[0] == 2).all()


def test_client_error_fails_fast_with_the_server_message(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    with pytest.raises(LsghError) as err:
        download_image(
            ee.Image("test/missing"), GRID, tmp_path / "m.tif", band_names=["x"], backoff_s=0
        )
    assert "Image asset 'test/missing' not found" in str(err.value)
    assert len(fake.requests("computePixels")) == 1  # a 400 is never retried


def test_request_over_the_server_limit_is_rejected(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    fake.max_request_bytes = 1000
    with pytest.raises(LsghError, match=r"Total request size \(\d+ bytes\) must be less"):
        download_image(ee.Image("test/reference"), GRID, tmp_path / "x.tif", band_names=["ids"])


# -- tile planning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "bands", "nbytes", "max_bytes", "max_side"),
    [
        ((60, 68), 2, 4, SMALL, 32768),
        ((1, 100_000), 1, 1, 48 * 2**20, 32768),
        ((70_000, 5), 3, 8, 48 * 2**20, 32768),
        ((5000, 7000), 12, 4, 48 * 2**20, 32768),
        ((40_000, 40_000), 1, 1, 48 * 2**20, 32768),
        ((17, 23), 1, 4, 4 * 7, 5),
    ],
)
def test_plan_tiles_cover_the_grid_under_the_limits(
    shape: tuple[int, int], bands: int, nbytes: int, max_bytes: int, max_side: int
) -> None:
    grid = Grid(GRID.crs, GRID.transform, *shape)
    tiles = plan_tiles(
        grid, bands=bands, bytes_per_pixel=nbytes, max_bytes=max_bytes, max_side=max_side
    )
    assert sum(t.height * t.width for t in tiles) == shape[0] * shape[1]
    for t in tiles:
        assert t.height * t.width * bands * nbytes <= max_bytes
        assert max(t.height, t.width) <= max_side
        assert t.row >= 0 and t.row + t.height <= shape[0]
        assert t.col >= 0 and t.col + t.width <= shape[1]
    if shape[0] * shape[1] <= 100_000:
        covered = np.zeros(shape, dtype=int)
        for t in tiles:
            covered[t.row : t.row + t.height, t.col : t.col + t.width] += 1
        assert (covered == 1).all()


def test_plan_tiles_refuses_an_impossible_limit() -> None:
    with pytest.raises(LsghError, match="download fewer bands"):
        plan_tiles(GRID, bands=300, bytes_per_pixel=8, max_bytes=1000)


def test_retryable_classification() -> None:
    assert is_retryable(TimeoutError()) and is_retryable(ConnectionError())
    assert is_retryable(ee.EEException("Too many concurrent aggregations."))
    assert not is_retryable(ee.EEException("Image.load: Image asset 'x' not found"))
    assert {429, 500, 503} <= dl.RETRYABLE_STATUS


# -- the terrain recipe, end to end ------------------------------------------------------------


def test_export_terrain_factors(
    session: EarthEngineSession, fake: FakeEarthEngine, tmp_path: Path
) -> None:
    out = export_terrain_factors(
        session, GRID, "test/dem", tmp_path / "terrain.tif", max_bytes=SMALL, workers=2
    )
    data, profile, descriptions = _read(out)
    assert descriptions == ["slope", "aspect"] and profile["dtype"] == "float32"
    assert profile["transform"] == GRID.transform
    # the reference: the same 4-neighbour stencil on the whole padded window at once,
    # so tile seams would show up as differences
    padded = PixelGrid(CRS_CODE, REF_TRANSFORM @ Affine.translation(6, 4), 62, 70)
    dem = REFERENCE[0, 4:66, 6:76].astype("float64")
    np.testing.assert_array_equal(data[0], terrain_slope(dem, padded).astype("float32"))
    np.testing.assert_array_equal(data[1], terrain_aspect(dem, padded).astype("float32"))
    assert len(fake.requests("computePixels")) > 4
    assert 0 < np.nanmax(data[0]) < 90 and np.nanmin(data[1]) >= 0


# -- operations ----------------------------------------------------------------------------------


def test_failed_operation_message_is_passed_on(
    session: EarthEngineSession, fake: FakeEarthEngine
) -> None:
    name = fake.add_operation("FAILEDTASK123", error="Image.load: Asset 'x' is not an Image.")
    seen: list[str] = []
    with pytest.raises(LsghError) as err:
        wait_for_operation(name, poll_s=0, on_state=seen.append)
    assert "ended FAILED: Image.load: Asset 'x' is not an Image." in str(err.value)
    assert seen == ["PENDING", "RUNNING", "FAILED"]
    ok = fake.add_operation("GOODTASK456")
    assert wait_for_operation(ok, poll_s=0)["metadata"]["state"] == "SUCCEEDED"
    assert {op["name"] for op in list_operations()} == {name, ok}


def test_operation_timeout(session: EarthEngineSession, fake: FakeEarthEngine) -> None:
    name = fake.add_operation("SLOWTASK", states=["RUNNING"])
    with pytest.raises(LsghError, match="still RUNNING"):
        wait_for_operation(name, poll_s=0, timeout_s=0.0)
