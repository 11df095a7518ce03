"""Earth Engine layers in the map preview: the run's uploaded maps (``ee_assets.json``) as
tile layers from the loopback fake of the Earth Engine API, made by geemap through the real
``ee`` client (``POST projects/{p}/maps``), on top of the embedded local overlays; checked
in the page, in the fake's tiles and in headless Chromium (only loopback reachable)."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio
from affine import Affine
from ee_client import trusted_key
from ee_fake import FakeEarthEngine, ServiceAccountKey
from ee_fake.maps import tile_grid
from PIL import Image
from pyproj import Transformer
from test_preview import (
    AOI,
    ARTIFACTS,
    CHROMIUM,
    COLS,
    CRS,
    HIGH,
    LOW,
    REMOTE_TAG,
    ROWS,
    X0,
    Y0,
    _chromium,
    screen_mapper,
    write_run,
)

from conftest import EARTH_ENGINE_ENV, ORIGIN, RES, SIZE, edit_config, make_region, run_cli
from lsgh_ee.config import load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.report.ee_layers import read_uploads
from lsgh_ee.report.preview import write_preview
from lsgh_ee.report.style import INDEX_OPACITY, index_palette
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.zoning import ZONE_COLOURS

PROJECT = "lsgh-test"
FOLDER = f"projects/{PROJECT}/assets/lsgh-ee"
INDEX_ASSET = f"{FOLDER}/synthetic_lsgh_susceptibility"
ZONES_ASSET = f"{FOLDER}/synthetic_lsgh_zones"
UPLOADED = "2026-12-01T09:30:00Z"
#: The uploaded index: EE_VALUE everywhere but a masked hole (rows, cols of the run grid).
EE_VALUE = 0.7
HOLE = (slice(30, 50), slice(8, 30))
EE_NAMES = ("Susceptibility index (lsgh) (Earth Engine)",
            "Susceptibility zones (lsgh) (Earth Engine)")  # fmt: skip
TILE_URL = re.compile(r"L\.tileLayer\(\s*\"([^\"]+/tiles/\{z\}/\{x\}/\{y\})\"")
MADE = re.compile(r"made (\d{4}-\d\d-\d\d \d\d:\d\d) UTC from the maps uploaded (\S+?)\. "
                  r"Their tile URLs expire after about a day; the local layers stay")  # fmt: skip


def _index_values(rows: int = ROWS, cols: int = COLS) -> np.ndarray:
    values = np.full((rows, cols), EE_VALUE, "float32")
    values[HOLE] = np.nan
    return values


def _add_uploads(fake: FakeEarthEngine, run: Path, x0: float, y0: float, rows: int,
                 cols: int) -> None:  # fmt: skip
    """Register the run's uploaded maps in the fake and write ee_assets.json as
    ``lsgh-ee upload`` does."""
    transform = Affine(RES, 0, x0, 0, -RES, y0)
    fake.add_asset(INDEX_ASSET, _index_values(rows, cols), CRS, transform, ["susceptibility"],
                   nodata=float("nan"))  # fmt: skip
    zones = np.full((rows, cols), 4, "uint8")
    fake.add_asset(ZONES_ASSET, zones, CRS, transform, ["zone"], nodata=0)
    doc = {"project": PROJECT, "made": UPLOADED, "assets": [
        {"model": "lsgh", "layer": "susceptibility", "asset_id": INDEX_ASSET,
         "band": "susceptibility"},
        {"model": "lsgh", "layer": "zones", "asset_id": ZONES_ASSET, "band": "zone"},
    ]}  # fmt: skip
    (run / RunFolder.EE_ASSETS_JSON).write_text(json.dumps(doc), encoding="utf-8")


def _ee_config(folder: Path, fake: FakeEarthEngine, key: Path | None) -> Path:
    settings = {"project": PROJECT, "api_url": fake.url}
    if key is not None:
        settings["key_file"] = str(key)
    return edit_config(make_region(folder), earthengine=settings)


def _calls(expression: dict, function: str) -> list[dict]:
    """The constant arguments of every call of ``function`` in a serialized expression."""
    values = expression["values"]
    found = []

    def constant(node: dict) -> object:
        if "valueReference" in node:
            return constant(values[node["valueReference"]])
        return node.get("constantValue", node)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            call = node.get("functionInvocationValue")
            if isinstance(call, dict) and call.get("functionName") == function:
                found.append({k: constant(v) for k, v in call["arguments"].items()})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(expression)
    return found


@dataclass
class Online:
    fake: FakeEarthEngine
    run: Path
    page: Path
    started: datetime
    ended: datetime


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Online]:
    """A page written in automatic mode with uploaded maps and a service-account key in the
    config; the fake keeps running for the browser."""
    folder = tmp_path_factory.mktemp("ee-preview")
    with pytest.MonkeyPatch.context() as mp, FakeEarthEngine(projects={PROJECT: None}) as fake:
        mp.setenv("HOME", str(folder / "home"))
        for name in EARTH_ENGINE_ENV:
            mp.delenv(name, raising=False)
        key = trusted_key(fake, folder / "key.json")
        config = load_config(_ee_config(folder / "region", fake, key.path))
        run = write_run(folder / "run")
        _add_uploads(fake, run, X0, Y0, ROWS, COLS)
        started = datetime.now(UTC)
        page = write_preview(run, run / "preview.html", model="lsgh", aoi=AOI, basemap="none",
                             config=config)  # fmt: skip
        yield Online(fake, run, page, started, datetime.now(UTC))
    ee.Reset()


@pytest.fixture
def fake() -> Iterator[FakeEarthEngine]:
    with FakeEarthEngine(projects={PROJECT: None}) as running:
        yield running
    ee.Reset()


@pytest.fixture
def key(fake: FakeEarthEngine, tmp_path: Path) -> ServiceAccountKey:
    made = trusted_key(fake, tmp_path / "sa-key.json")
    return made


# --- the page ----------------------------------------------------------------------------------


def test_page_has_earth_engine_layers_over_the_local_ones(online: Online) -> None:
    text = online.page.read_text(encoding="utf-8")
    urls = TILE_URL.findall(text)
    maps = online.fake.requests("maps")
    assert len(urls) == 2 and len(maps) == 2 and all(m.status == 200 for m in maps)
    for url in urls:
        assert re.fullmatch(re.escape(online.fake.url) + rf"/v1/projects/{PROJECT}/maps/"
                            r"[0-9a-f-]+/tiles/\{z\}/\{x\}/\{y\}", url)  # fmt: skip
    for name in EE_NAMES:
        assert text.count(name) == 1
    # the index is shown on opening, the zones only in the layer control (as the local ones)
    index_layer, zones_layer = re.findall(r"var (tile_layer_\w+) = L\.tileLayer", text)
    assert f"{index_layer}.addTo(" in text and f"{zones_layer}.addTo(" not in text
    # geemap made each map from the uploaded asset, with the local overlays' colours
    loads = {}
    for m in maps:
        (load,) = _calls(m.body["expression"], "Image.load")
        loads[load["id"]] = m.body["expression"]
    assert set(loads) == {INDEX_ASSET, ZONES_ASSET}
    (index_vis,) = _calls(loads[INDEX_ASSET], "Image.visualize")
    assert (index_vis["min"], index_vis["max"]) == (0, 1)
    assert index_vis["palette"] == [c.lstrip("#") for c in index_palette()]
    (zones_vis,) = _calls(loads[ZONES_ASSET], "Image.visualize")
    assert (zones_vis["min"], zones_vis["max"]) == (1, 5)
    assert zones_vis["palette"] == ["{:02x}{:02x}{:02x}".format(*ZONE_COLOURS[c][:3])
                                    for c in range(1, 6)]  # fmt: skip
    assert _calls(loads[ZONES_ASSET], "Image.select")[0]["bandSelectors"] == ["zone"]
    # the local overlays stay, in their pane below the Earth Engine one, and the page
    # still loads no script or stylesheet from the internet
    assert text.count("data:image/png;base64,") >= 4
    for name in ("Susceptibility index (lsgh)", "Susceptibility zones (lsgh)",
                 "Factor: slope", "Landslide inventory (2)"):  # fmt: skip
        assert name in text
    panes = dict(re.findall(r'createPane\(\s*"([\w-]+)"\);\s*\S+\.style\.zIndex = (\d+);', text))
    assert int(panes["lsgh-local"]) < int(panes["lsgh-earth-engine"]) < 400  # < vectors
    assert text.count('"pane": "lsgh-earth-engine"') == 2
    assert not REMOTE_TAG.search(text)
    # when the layers were made (UTC) and that their tiles expire, in the legend
    made = MADE.search(text)
    assert made is not None and made.group(2) == UPLOADED
    when = datetime.strptime(made.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert online.started - timedelta(minutes=1) < when <= online.ended
    assert text.index("lsgh-ee-note") > text.index("Susceptibility zones</div>")


def test_fake_tiles_are_the_uploaded_values_in_the_palette(online: Online) -> None:
    """A tile served under the page's URL against a NumPy computation: each pixel's centre
    taken back to the run grid, its value through the layer's palette, masked = clear."""
    from matplotlib import colormaps

    from lsgh_ee.report.style import INDEX_CMAP

    url = next(
        u
        for u in TILE_URL.findall(online.page.read_text(encoding="utf-8"))
        if INDEX_ASSET in json.dumps(online.fake.maps.maps[_map_name(u)].expression)
    )
    tile, row, col = _tile_cells(url, X0 + 20 * RES, Y0 - 40 * RES, Affine(RES, 0, X0, 0, -RES, Y0))
    inside = (col >= 0) & (col < COLS) & (row >= 0) & (row < ROWS)
    values = np.full((256, 256), np.nan)
    values[inside] = _index_values()[row[inside], col[inside]]
    colour = np.array(colormaps[INDEX_CMAP](EE_VALUE, bytes=True)[:3])
    shown = ~np.isnan(values)
    assert 0.2 < shown.mean() < 0.95  # the tile has the layer, the hole and the outside
    agree = np.where(shown, (np.abs(tile[..., :3] - colour).max(-1) <= 2) & (tile[..., 3] == 255),
                     tile[..., 3] == 0)  # fmt: skip
    assert agree.mean() > 0.99  # (nearest-neighbour edges may differ by a pixel)


def _map_name(url: str) -> str:
    return re.search(r"/(projects/[^/]+/maps/[^/]+)/tiles/", url).group(1)


def _tile_cells(
    url: str, easting: float, northing: float, lattice: Affine, z: int = 14
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The zoom-``z`` tile holding (easting, northing) (in CRS) from a tile URL template, as
    ``(256, 256, 4)`` RGBA ints, and the (row, col) of ``lattice`` under each pixel centre."""
    half = 20037508.342789244
    size = 2 * half / 2**z
    mx, my = Transformer.from_crs(CRS, "EPSG:3857", always_xy=True).transform(easting, northing)
    x, y = int((mx + half) // size), int((half - my) // size)
    with urllib.request.urlopen(url.format(z=z, x=x, y=y), timeout=30) as reply:
        assert reply.headers["Content-Type"] == "image/png"
        tile = np.asarray(Image.open(io.BytesIO(reply.read())).convert("RGBA")).astype(int)
    cols, rows = np.meshgrid(np.arange(256) + 0.5, np.arange(256) + 0.5)
    centres = tile_grid(z, x, y).transform @ (cols, rows)
    ux, uy = Transformer.from_crs("EPSG:3857", CRS, always_xy=True).transform(*centres)
    col, row = ~lattice @ (ux, uy)
    return tile, np.floor(row).astype(int), np.floor(col).astype(int)


def test_earth_engine_factors_become_layers_off_by_default(
    fake: FakeEarthEngine, key: ServiceAccountKey, no_ambient_credentials: None, tmp_path: Path
) -> None:
    """Terrain factors from an Earth Engine DEM, automatic mode, no upload: a slope layer
    made by factor_image, hidden, coloured between the local slope's 2nd-98th percentiles;
    its tiles are the local NumPy slope of the same DEM through that palette."""
    from conftest import synthetic_dem
    from lsgh_ee.factors.terrain import slope as local_slope
    from lsgh_ee.report.style import FACTOR_CMAP, palette

    dem_lattice = Affine(RES, 0, 300_000.0, 0, -RES, 4_999_980.0)  # on the grid's lattice
    fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), CRS, dem_lattice, ["elevation"])
    config = _ee_config(tmp_path / "region", fake, key.path)
    config = load_config(edit_config(config, dem={"source": "ee"}, factors={"slope": {}}))
    run = write_run(tmp_path / "run")
    page = write_preview(run, run / "p.html", basemap="none", config=config)
    text = page.read_text(encoding="utf-8")
    (made,) = fake.requests("maps")
    assert _calls(made.body["expression"], "Image.load")[0]["id"] == "USGS/SRTMGL1_003"
    (vis,) = _calls(made.body["expression"], "Image.visualize")
    with rasterio.open(run / "factors.tif") as src:
        np.testing.assert_allclose([vis["min"], vis["max"]],
                                   np.nanpercentile(src.read(1), [2, 98]))  # fmt: skip
    colours = [c.lstrip("#") for c in palette(FACTOR_CMAP)]
    assert vis["palette"] == colours
    (url,) = TILE_URL.findall(text)
    assert "Factor: slope (Earth Engine)" in text
    layer = re.search(r"var (tile_layer_\w+) = L\.tileLayer\(\s*\"[^\"]+\",\s*(\{.*?\})\s*\)",
                      text, re.S)  # fmt: skip
    assert layer is not None and '"pane": "lsgh-earth-engine"' in layer.group(2)
    assert f"{layer.group(1)}.addTo(" not in text  # off by default: only in the layer control
    assert "made" in text and "from the maps uploaded" not in text  # nothing was uploaded

    # a tile over the DEM's middle: the local slope there, stretched through the palette
    dem = synthetic_dem()
    tile, row, col = _tile_cells(url, 300_000.0 + 45 * RES, 4_999_980.0 - 45 * RES, dem_lattice)
    inside = (row >= 1) & (row < dem.shape[0] - 1) & (col >= 1) & (col < dem.shape[1] - 1)
    slope = local_slope(dem.astype("float64"), (RES, RES))[row[inside], col[inside]]
    t = np.clip((slope - vis["min"]) / (vis["max"] - vis["min"]), 0, 1) * (len(colours) - 1)
    rgb = np.array([[int(c[i : i + 2], 16) for i in (0, 2, 4)] for c in colours], dtype=float)
    expected = np.stack([np.interp(t, np.arange(len(colours)), rgb[:, k]) for k in range(3)], -1)
    assert inside.mean() > 0.3 and (tile[..., 3][inside] == 255).all()
    close = np.abs(tile[..., :3][inside] - np.round(expected)).max(-1) <= 1
    assert close.mean() > 0.98  # (nearest-neighbour edges may differ by a pixel)
    assert (tile[..., 3][(row < -1) | (col < -1) | (row > dem.shape[0]) | (col > dem.shape[1])]
            == 0).all()  # fmt: skip


def test_factor_styles_repeat_the_local_overlay_colours(tmp_path: Path) -> None:
    from matplotlib import colormaps

    from lsgh_ee.report.ee_layers import factor_styles

    run = write_run(tmp_path / "run")
    styles = factor_styles(run / "factors.tif")
    with rasterio.open(run / "factors.tif") as src:
        slope = src.read(1)
    np.testing.assert_allclose([styles["slope"]["min"], styles["slope"]["max"]],
                               np.nanpercentile(slope, [2, 98]))  # fmt: skip
    # land use 10 and 40: codes 10..40 each one palette entry, the two classes in tab20's
    # first two colours (as the local overlay ranks them)
    land = styles["land_use"]
    tab20 = ["{:02x}{:02x}{:02x}".format(*colormaps["tab20"](i, bytes=True)[:3]) for i in (0, 1)]
    assert (land["min"], land["max"], len(land["palette"])) == (10, 40, 31)
    assert [land["palette"][0], land["palette"][30]] == tab20
    assert factor_styles(tmp_path / "none.tif") == {}


# --- automatic and explicit modes ---------------------------------------------------------------


def test_automatic_mode_without_uploads_stays_offline(
    fake: FakeEarthEngine, key: ServiceAccountKey, no_ambient_credentials: None, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    config = load_config(_ee_config(tmp_path / "region", fake, key.path))
    run = write_run(tmp_path / "run")
    caplog.set_level(logging.INFO, logger="lsgh_ee")
    page = write_preview(run, run / "p.html", basemap="none", config=config)
    text = page.read_text(encoding="utf-8")
    assert "Earth Engine" not in text and not TILE_URL.search(text)
    assert fake.log == []  # not even a token was asked for
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_automatic_mode_without_credentials_notes_it_and_stays_offline(
    fake: FakeEarthEngine, no_ambient_credentials: None, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    config = load_config(_ee_config(tmp_path / "region", fake, None))
    run = write_run(tmp_path / "run")
    _add_uploads(fake, run, X0, Y0, ROWS, COLS)
    page = write_preview(run, run / "p.html", basemap="none", config=config)
    text = page.read_text(encoding="utf-8")
    assert "(Earth Engine)" not in text and text.count("data:image/png;base64,") >= 4
    notes = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(notes) == 1 and "no Earth Engine credentials" in notes[0]
    assert RunFolder.EE_ASSETS_JSON in notes[0] and fake.log == []


def test_a_missing_asset_is_one_line_when_asked_and_a_notice_otherwise(
    fake: FakeEarthEngine, key: ServiceAccountKey, no_ambient_credentials: None, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    config = load_config(_ee_config(tmp_path / "region", fake, key.path))
    run = write_run(tmp_path / "run")
    _add_uploads(fake, run, X0, Y0, ROWS, COLS)
    del fake.assets[ZONES_ASSET]  # e.g. deleted in the Code Editor since the upload
    with pytest.raises(LsghError) as failed:
        write_preview(run, run / "p.html", basemap="none", config=config, earth_engine=True)
    message = str(failed.value)
    assert "\n" not in message and ZONES_ASSET in message and "not found" in message
    assert "lsgh-ee upload CONFIG" in message and key.private_key_id not in message
    assert not (run / "p.html").exists()
    page = write_preview(run, run / "p.html", basemap="none", config=config)  # automatic
    assert "(Earth Engine)" not in page.read_text(encoding="utf-8")
    notes = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(notes) == 1 and ZONES_ASSET in notes[0]


def test_explicit_mode_needs_uploaded_maps_of_the_model(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    with pytest.raises(
        LsghError,
        match=r"has no ee_assets\.json and the config no 'source: ee' factors; upload the",
    ):
        write_preview(run, run / "p.html", basemap="none", earth_engine=True)
    write_run(run, model="rf")
    (run / RunFolder.EE_ASSETS_JSON).write_text(json.dumps({"project": PROJECT, "assets": [
        {"model": "lsgh", "layer": "susceptibility", "asset_id": INDEX_ASSET,
         "band": "susceptibility"}]}))  # fmt: skip
    with pytest.raises(LsghError, match=r"no uploaded maps of model 'rf' \(it lists lsgh; pick"):
        write_preview(run, run / "p.html", model="rf", basemap="none", earth_engine=True)
    (run / RunFolder.EE_ASSETS_JSON).write_text('{"assets": [{"model": "lsgh"}]}')
    with pytest.raises(LsghError, match=r"assets\[0\] needs string keys .*lsgh-ee upload"):
        read_uploads(run)
    assert not (run / "p.html").exists()


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """Restore the logging set-up the CLI replaces (run in-process)."""
    root, ours = logging.getLogger(), logging.getLogger("lsgh_ee")
    saved = (root.handlers[:], root.level, ours.level)
    yield
    root.handlers[:], ours.level = saved[0], saved[2]
    root.setLevel(saved[1])


def test_cli_earth_engine_flag(
    fake: FakeEarthEngine, key: ServiceAccountKey, no_ambient_credentials: None, tmp_path: Path,
    keep_logging: None,
) -> None:  # fmt: skip
    without_key = _ee_config(tmp_path / "nokey", fake, None)
    run = write_run(without_key.parent / "run", x0=ORIGIN[0], y0=ORIGIN[1], rows=SIZE,
                    cols=SIZE)  # fmt: skip
    _add_uploads(fake, run, ORIGIN[0], ORIGIN[1], SIZE, SIZE)
    refused = run_cli("preview", str(without_key), "--earth-engine", check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith(
        "error: no Earth Engine credentials found"
    )
    assert not (run / "preview.html").exists() and fake.log == []

    config = _ee_config(tmp_path / "region", fake, key.path)
    run = write_run(config.parent / "run", x0=ORIGIN[0], y0=ORIGIN[1], rows=SIZE, cols=SIZE)
    _add_uploads(fake, run, ORIGIN[0], ORIGIN[1], SIZE, SIZE)
    # the flag both ways, in-process (geemap's import is paid once)
    from typer.testing import CliRunner

    from lsgh_ee.cli import app

    done = CliRunner().invoke(app, ["preview", str(config), "--earth-engine", "--basemap",
                                    "none"])  # fmt: skip
    assert done.exit_code == 0, done.output
    text = (run / "preview.html").read_text(encoding="utf-8")
    assert len(TILE_URL.findall(text)) == 2 and all(n in text for n in EE_NAMES)
    assert MADE.search(text) and f"preview: {run / 'preview.html'}" in done.output
    offline = CliRunner().invoke(app, ["preview", str(config), "--no-earth-engine", "--html",
                                       str(tmp_path / "offline.html")])  # fmt: skip
    assert offline.exit_code == 0, offline.output
    assert "(Earth Engine)" not in (tmp_path / "offline.html").read_text(encoding="utf-8")
    assert len(fake.requests("maps")) == 2  # the offline page asked Earth Engine nothing


# --- in a real browser: Earth Engine tiles over the local overlays --------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium; "
                    ".ci/run installs it)")  # fmt: skip
def test_browser_shows_earth_engine_tiles_over_the_local_layers(
    online: Online, tmp_path: Path
) -> None:
    from matplotlib import colormaps

    from lsgh_ee.report.style import INDEX_CMAP

    before = len(online.fake.requests("tiles"))
    shot = tmp_path / "preview_ee.png"
    _chromium(online.page.as_uri(), tmp_path / "profile", f"--screenshot={shot}", loopback=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "preview_earth_engine.png")
    tiles = online.fake.requests("tiles")[before:]
    assert tiles and all(t.status == 200 for t in tiles)  # the browser fetched the tiles

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    height, width = pixels.shape[:2]
    on_screen = screen_mapper(width, height)

    def at(rows: slice, cols: slice) -> np.ndarray:
        """Screen pixels well inside run-grid cells ``rows, cols`` (4 px margin)."""
        (left, right), (top, bottom) = on_screen(
            np.array([X0 + cols.start * RES, X0 + cols.stop * RES]),
            np.array([Y0 - rows.start * RES, Y0 - rows.stop * RES]),
        )
        return pixels[round(top) + 4 : round(bottom) - 4, round(left) + 4 : round(right) - 4]

    def ramp(value: float) -> np.ndarray:
        return np.array(colormaps[INDEX_CMAP](value, bytes=True)[:3], dtype=float)

    background = np.array([221.0, 221.0, 221.0])  # Leaflet's #ddd: no basemap
    a = INDEX_OPACITY

    def local(value: float) -> np.ndarray:
        return a * ramp(value) + (1 - a) * background

    def share(block: np.ndarray, colour: np.ndarray) -> float:
        return float((np.abs(block - colour).max(-1) <= 6).mean())

    # The Earth Engine index (EE_VALUE) drawn over the local one (LOW left, HIGH right) ...
    assert share(at(slice(8, 26), slice(10, 36)), a * ramp(EE_VALUE) + (1 - a) * local(LOW)) > 0.9
    assert share(at(slice(8, 50), slice(44, 70)), a * ramp(EE_VALUE) + (1 - a) * local(HIGH)) > 0.9
    # ... and where its tiles are masked, the local layer shows through, untouched.
    assert share(at(HOLE[0], HOLE[1]), local(LOW)) > 0.9
    # Outside the run's grid, nothing but the background.
    assert share(at(slice(-6, -1), slice(10, 30)), background) > 0.9
    legend = _chromium(online.page.as_uri(), tmp_path / "profile", "--dump-dom",
                       loopback=True).stdout  # fmt: skip
    assert "expire after about a day" in legend and EE_NAMES[0] in legend
