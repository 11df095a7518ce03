"""The HTML map preview: overlays placed and coloured right, a page that needs no internet
(checked in headless Chromium with networking off, from the screenshot's pixels), the CLI."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from shapely.geometry import Point, box

from conftest import ORIGIN, RES, SIZE, make_region, run_cli
from lsgh_ee.errors import LsghError
from lsgh_ee.report.offline import LEAFLET_ENV, inline_assets
from lsgh_ee.report.overlays import render_overlay
from lsgh_ee.report.preview import preview_map, write_preview
from lsgh_ee.zoning import ZONE_COLOURS

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CRS = "EPSG:32633"
X0, Y0 = 480_000.0, 5_200_000.0  # near the zone's central meridian: the grid is ~north-up
ROWS, COLS = 60, 80
LOW, HIGH = 0.05, 0.95
#: The AOI: the raster's extent less 5 cells on every side.
AOI = box(X0 + 5 * RES, Y0 - (ROWS - 5) * RES, X0 + (COLS - 5) * RES, Y0 - 5 * RES)
WINDOW = (1200, 900)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REMOTE_TAG = re.compile(r"<(script|link)\b[^>]*\b(src|href)=[\"'](https?:)?//", re.I)


def write_run(run: Path, x0: float = X0, y0: float = Y0, rows: int = ROWS, cols: int = COLS,
              model: str = "lsgh") -> Path:  # fmt: skip
    """A run folder per the contracts: factors.tif, inventory.gpkg and the maps of
    ``model``, with a susceptibility index of LOW in the left half and HIGH in the right."""
    folder = run / "maps" / model
    folder.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "crs": CRS,
               "transform": Affine(RES, 0, x0, 0, -RES, y0)}  # fmt: skip
    index = np.full((rows, cols), LOW, "float32")
    index[:, cols // 2 :] = HIGH
    index[:2, :2] = np.nan
    with rasterio.open(folder / "susceptibility.tif", "w", **profile, dtype="float32",
                       nodata=float("nan")) as dst:  # fmt: skip
        dst.write(index, 1)
        dst.set_band_description(1, "susceptibility")
    zones = np.where(index > 0.5, 5, 1).astype("uint8")
    zones[np.isnan(index)] = 0
    with rasterio.open(folder / "zones.tif", "w", **profile, dtype="uint8", nodata=0) as dst:
        dst.write(zones, 1)
        dst.write_colormap(1, ZONE_COLOURS)
    slope = np.linspace(0, 40, rows * cols, dtype="float32").reshape(rows, cols)
    land_use = np.where(np.arange(cols) < cols // 3, 10, 40)[None, :].repeat(rows, 0)
    profile["count"] = 2
    with rasterio.open(run / "factors.tif", "w", **profile, dtype="float32",
                       nodata=float("nan")) as dst:  # fmt: skip
        dst.write(np.stack([slope, land_use.astype("float32")]))
        dst.set_band_description(1, "slope")
        dst.set_band_description(2, "land_use")
        dst.update_tags(1, units="degrees", kind="continuous")
        dst.update_tags(2, kind="categorical")
    slides = [
        Point(x0 + 20 * RES, y0 - 20 * RES).buffer(2 * RES),
        Point(x0 + 60 * RES, y0 - 40 * RES),
    ]
    gpd.GeoDataFrame({"id": [1, 2]}, geometry=slides, crs=CRS).to_file(
        run / "inventory.gpkg", layer="landslides"
    )
    return run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("preview") / "run")


@pytest.fixture(scope="module")
def page(run_folder: Path) -> Path:
    """The self-contained page (OpenStreetMap basemap: its tiles will not load offline)."""
    return write_preview(run_folder, run_folder / "preview.html", model="lsgh", aoi=AOI,
                         self_contained=True, basemap="OpenStreetMap")  # fmt: skip


def _overlays(gmap) -> dict:
    from folium.raster_layers import ImageOverlay

    return {c.layer_name: c for c in gmap._children.values() if isinstance(c, ImageOverlay)}


def _lonlat_bounds(path: Path) -> tuple[float, float, float, float]:
    with rasterio.open(path) as src:
        to_lonlat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
        return to_lonlat.transform_bounds(*src.bounds, densify_pts=21)


# --- unit tests ------------------------------------------------------------------------------


def test_self_contained_page_loads_nothing_remote(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not REMOTE_TAG.search(text)
    assert 'version="1.9' in text and "window.L=" in text  # Leaflet inlined
    assert ".leaflet-pane" in text and "<style>" in text  # and its CSS
    assert text.count("data:image/png;base64,") >= 4  # index, zones, two factors
    for name in ("Susceptibility index (lsgh)", "Susceptibility zones (lsgh)",
                 "Factor: slope", "Factor: land_use", "Landslide inventory (2)",
                 "Area of interest", "very high"):  # fmt: skip
        assert name in text
    assert "tile.openstreetmap.org" in text  # the basemap is still there, online


def test_cdn_page_loads_leaflet_from_its_cdn(run_folder: Path, tmp_path: Path) -> None:
    out = write_preview(run_folder, tmp_path / "cdn.html", model="lsgh", aoi=None,
                        self_contained=False, basemap="none")  # fmt: skip
    text = out.read_text(encoding="utf-8")
    assert re.search(r"<script[^>]+src=\"https://[^\"]+/leaflet\.js\"", text)
    assert "tile.openstreetmap.org" not in text


def test_overlay_bounds_are_the_raster_bounds_in_lonlat(run_folder: Path) -> None:
    gmap = preview_map(run_folder, model="lsgh", basemap="none", controls=False)
    overlays = _overlays(gmap)
    assert [name for name, o in overlays.items() if o.control] == [
        "Factor: slope (0 to 40 degrees)",
        "Factor: land_use (2 classes)",
        "Susceptibility index (lsgh)",
        "Susceptibility zones (lsgh)",
    ]
    for name, path in [("Susceptibility index (lsgh)", "maps/lsgh/susceptibility.tif"),
                       ("Susceptibility zones (lsgh)", "maps/lsgh/zones.tif"),
                       ("Factor: slope (0 to 40 degrees)", "factors.tif")]:  # fmt: skip
        west, south, east, north = _lonlat_bounds(run_folder / path)
        (s, w), (n, e) = overlays[name].bounds
        np.testing.assert_allclose([s, w, n, e], [south, west, north, east], atol=1e-7)
    shown = {name: o.show for name, o in overlays.items()}
    assert shown["Susceptibility index (lsgh)"] and not shown["Factor: slope (0 to 40 degrees)"]


def test_categorical_factors_show_their_number_of_classes(tmp_path: Path) -> None:
    """A categorical factor whose values are not class codes (aspect in degrees, -1 =
    flat: thousands of distinct values) is labelled with its classes from
    factor_schema.json, never with its number of distinct pixel values."""
    from lsgh_ee.factors.catalogue import ASPECT_CLASSES
    from lsgh_ee.runfolder import RunFolder

    run = RunFolder(write_run(tmp_path / "run"))
    with rasterio.open(run.factors) as src:
        profile, values = src.profile, src.read()
    aspect = np.linspace(0, 359.9, ROWS * COLS, dtype="float32").reshape(ROWS, COLS)
    aspect[:, :5] = -1  # flat
    profile["count"] = 3
    with rasterio.open(run.factors, "w", **profile) as dst:
        dst.write(np.concatenate([values, aspect[None]]))
        for band, name in enumerate(("slope", "land_use", "aspect"), start=1):
            dst.set_band_description(band, name)
        dst.update_tags(1, units="degrees", kind="continuous")
        dst.update_tags(2, kind="categorical")
        dst.update_tags(3, units="degrees (-1 = flat)", kind="categorical")

    def labels() -> list[str]:
        gmap = preview_map(run, model="lsgh", basemap="none", controls=False)
        return [name for name in _overlays(gmap) if name.startswith("Factor: ")]

    # without a schema: whole-number codes are counted, degrees are not
    assert labels() == ["Factor: slope (0 to 40 degrees)", "Factor: land_use (2 classes)",
                        "Factor: aspect"]  # fmt: skip
    land_use = ["arable", "woodland", "grassland", "shrubland", "wetland", "water",
                "impervious", "barren"]  # fmt: skip
    schema = {"factors": [
        {"name": "slope", "kind": "continuous", "classes": ["<10", ">=10"], "n_classes": 2},
        {"name": "land_use", "kind": "categorical", "classes": land_use, "n_classes": 8},
        {"name": "aspect", "kind": "categorical", "classes": list(ASPECT_CLASSES),
         "n_classes": 9},
    ]}  # fmt: skip
    run.factor_schema.write_text(json.dumps(schema), encoding="utf-8")
    assert labels() == ["Factor: slope (0 to 40 degrees)", "Factor: land_use (8 classes)",
                        "Factor: aspect (9 classes)"]  # fmt: skip


def test_overlay_colours_and_clear_nodata(run_folder: Path) -> None:
    from matplotlib import colormaps

    from lsgh_ee.report.overlays import colour_index
    from lsgh_ee.report.style import INDEX_CMAP

    overlay = render_overlay(run_folder / "maps/lsgh/susceptibility.tif", colourise=colour_index)
    rgba = overlay.rgba
    rows, cols = rgba.shape[:2]
    assert rgba.dtype == np.uint8 and max(rows, cols) <= 1024
    low = np.array(colormaps[INDEX_CMAP](LOW, bytes=True))
    high = np.array(colormaps[INDEX_CMAP](HIGH, bytes=True))
    assert (rgba[rows // 2, : cols // 3] == low).all()
    assert (rgba[rows // 2, -cols // 3 :] == high).all()
    assert rgba[0, 0, 3] == 0  # the NaN corner is transparent
    small = render_overlay(run_folder / "maps/lsgh/susceptibility.tif", colourise=colour_index,
                           max_size=32)  # fmt: skip
    assert max(small.rgba.shape[:2]) == 32
    np.testing.assert_allclose(small.bounds, overlay.bounds, atol=1e-9)


def test_unknown_basemap_and_missing_map_are_user_errors(run_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(LsghError, match="unknown basemap 'NoSuchTiles'"):
        preview_map(run_folder, basemap="NoSuchTiles")
    with pytest.raises(LsghError, match=r"maps found: lsgh.*lsgh-ee predict CONFIG --model rf"):
        preview_map(run_folder, model="rf")
    with pytest.raises(LsghError, match="no susceptibility map"):
        write_preview(tmp_path, tmp_path / "p.html", model="lsgh", aoi=None,
                      self_contained=True, basemap="none")  # fmt: skip
    assert not (tmp_path / "p.html").exists()


def test_writing_a_self_contained_page_is_quiet(
    run_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd
) -> None:
    caplog.set_level(logging.INFO, logger="lsgh_ee")
    write_preview(run_folder, tmp_path / "quiet.html", model="lsgh", aoi=AOI,
                  self_contained=True, basemap="OpenStreetMap")  # fmt: skip
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_inline_assets_keeps_leaflet_and_drops_what_it_cannot_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dist = tmp_path / "dist"
    (dist / "images").mkdir(parents=True)
    (dist / "leaflet.js").write_text("window.L = {version: 'test'};")
    (dist / "leaflet.css").write_text(".leaflet-control-layers-toggle {"
                                      " background-image: url(images/layers.png); }")  # fmt: skip
    (dist / "images" / "layers.png").write_bytes(b"\x89PNG-ish")
    page = (
        '<head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">'
        '</script><script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        '<script src="//plugins.example.org/leaflet.thing.js"></script>'
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"/>'
        '<link rel="stylesheet" href="https://cdn.example.org/all.min.css"/></head>'
    )
    monkeypatch.setenv(LEAFLET_ENV, str(dist))
    with caplog.at_level(logging.DEBUG, logger="lsgh_ee"):
        out = inline_assets(page)
    assert not REMOTE_TAG.search(out)
    assert "window.L = {version: 'test'};" in out
    assert "url(data:image/png;base64," in out and "images/layers.png" not in out
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and "leaflet.thing.js" in warned[0] and "all.min.css" in warned[1]
    monkeypatch.setenv(LEAFLET_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(LsghError, match="holds no leaflet.js"):
        inline_assets(page)


def test_cli_preview(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    missing = run_cli("preview", str(config), check=False)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ") and "lsgh-ee predict" in missing.stderr
    assert "Traceback" not in missing.stderr
    write_run(config.parent / "run", x0=ORIGIN[0], y0=ORIGIN[1], rows=SIZE, cols=SIZE)
    done = run_cli("preview", str(config), "--basemap", "none")
    page = config.parent / "run" / "preview.html"
    assert f"preview: {page}" in done.stdout and not done.stderr
    assert not REMOTE_TAG.search(page.read_text(encoding="utf-8"))
    # the options, in-process (geemap is imported already)
    from typer.testing import CliRunner

    from lsgh_ee.cli import app

    custom = tmp_path / "elsewhere" / "map.html"
    args = ["preview", str(config), "--cdn", "--html", str(custom), "-m", "lsgh"]
    result = CliRunner().invoke(app, [*args, "--basemap", "satellite"])
    assert result.exit_code == 0, result.output
    text = custom.read_text(encoding="utf-8")
    assert REMOTE_TAG.search(text) and "World_Imagery/MapServer" in text


# --- in a real browser, offline ----------------------------------------------------------------


def _chromium(url: str, profile: Path, *extra: str, loopback: bool = False
              ) -> subprocess.CompletedProcess:  # fmt: skip
    """Headless Chromium without network (``loopback``: but for 127.0.0.1, direct)."""
    # no network: every host resolves to nothing and every request goes to a dead proxy
    # (loopback, when allowed, is bypassed: Chromium never proxies it unless told to)
    offline = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
    if loopback:
        offline[1] += ", EXCLUDE 127.0.0.1"
    else:
        offline.append("--proxy-bypass-list=<-loopback>")
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=5000",
        *offline, *extra, url,
    ]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=90, check=True)


def _screen(lon: np.ndarray, lat: np.ndarray, zoom: int) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator pixel coordinates at ``zoom`` (Leaflet's 256-pixel tiles)."""
    scale = 256 * 2.0**zoom
    lat_r = np.radians(lat)
    x = (np.asarray(lon) + 180) / 360 * scale
    y = (1 - np.log(np.tan(lat_r) + 1 / np.cos(lat_r)) / math.pi) / 2 * scale
    return x, y


def screen_mapper(width: int, height: int) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """Map (easting, northing) in CRS to screen pixels of a page framed on AOI: Leaflet
    fits the AOI's lon/lat bounds at the largest whole zoom (at most 18) and centres them."""
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(*AOI.exterior.xy)
    x, y = _screen(np.array([min(lon), max(lon)]), np.array([max(lat), min(lat)]), 0)
    zoom = min(18, math.floor(math.log2(min(width / (x[1] - x[0]), height / (y[1] - y[0])))))
    cx, cy = (sum(v) / 2 for v in _screen(np.array([min(lon), max(lon)]),
                                          np.array([max(lat), min(lat)]), zoom))  # fmt: skip

    def on_screen(ex: np.ndarray, ny: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sx, sy = _screen(*to_lonlat.transform(ex, ny), zoom)
        return sx - cx + width / 2, sy - cy + height / 2

    return on_screen


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium; "
                    ".ci/run installs it)")  # fmt: skip
def test_page_shows_the_map_offline_in_chromium(page: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "preview.png"
    _chromium(page.as_uri(), tmp_path / "profile", f"--screenshot={shot}")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "preview.png")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    height, width = pixels.shape[:2]
    assert (width, height) == WINDOW

    on_screen = screen_mapper(width, height)
    # The susceptibility layer: green (low index) in the raster's left half, red (high) in
    # its right half, nothing of either outside. The legend (bottom right) is left out.
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    green = (g > r + 40) & (g > b + 20)
    red = (r > g + 60) & (r > b + 40)
    legend = np.zeros_like(green)
    legend[height - 230 :, width - 230 :] = True
    green, red = green & ~legend, red & ~legend
    left, top = on_screen(np.array([X0]), np.array([Y0]))
    right, bottom = on_screen(np.array([X0 + COLS * RES]), np.array([Y0 - ROWS * RES]))
    middle, _ = on_screen(np.array([X0 + COLS / 2 * RES]), np.array([Y0 - ROWS / 2 * RES]))
    assert 200 < right[0] - left[0] < width and 150 < bottom[0] - top[0] < height

    def bbox(mask: np.ndarray) -> list[int]:
        rows, cols = np.nonzero(mask)
        return [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]

    np.testing.assert_allclose(bbox(green | red), [left[0], top[0], right[0], bottom[0]], atol=4)
    np.testing.assert_allclose(bbox(green)[2], middle[0], atol=4)
    np.testing.assert_allclose(bbox(red)[0], middle[0], atol=4)
    # The two halves are solid (up to the AOI line and two landslides drawn over them).
    inner_rows = slice(round(top[0]) + 30, round(bottom[0]) - 30)
    assert green[inner_rows, round(left[0]) + 30 : round(middle[0]) - 10].mean() > 0.95
    assert red[inner_rows, round(middle[0]) + 10 : round(right[0]) - 30].mean() > 0.95

    # The legend: the index ramp and the five zone colours in the bottom-right corner.
    corner = pixels[height - 230 :, width - 230 :]
    for code, colour in ZONE_COLOURS.items():
        close = (np.abs(corner - np.array(colour[:3])).max(axis=-1) <= 3).sum()
        assert close >= 100, f"zone {code} swatch missing from the legend"

    dom = _chromium(page.as_uri(), tmp_path / "profile", "--dump-dom").stdout
    assert "Susceptibility index (lsgh)" in dom and "very high" in dom
    assert "leaflet-image-layer" in dom and "leaflet-control-layers" in dom
