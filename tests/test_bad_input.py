"""Bad input, crashes and repeatability, through the real command line.

Every user mistake ends with exit code 2 and exactly one ``error:`` line that names the
file or key and the fix, never a traceback, and leaves the run folder as it was: no
``*.partial*`` file, and the files of an earlier successful run keep their bytes. Inputs
that can be fixed without guessing (another CRS, invalid polygons, landslides outside the
AOI) are fixed and counted. Ctrl-C exits 130 with one line, and a re-run resumes to the
same Table 4 as an uninterrupted run (the same config and seed give the same samples and
the same numbers on the CPU).
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.warp import transform_bounds
from shapely.geometry import Point, Polygon, box

from conftest import (
    ORIGIN,
    RES,
    SIZE,
    UTM,
    aoi_bbox,
    edit_config,
    fast_training,
    make_region,
    run_cli,
    write_config,
    write_raster,
)
from lsgh_ee.factors.classify import classify_breaks

# One model and a few epochs: enough to exercise training and mapping, and a Ctrl-C after
# the first epoch still lands in the middle of training.
TRAINING = fast_training(models=["lsgh"], epochs=8, patience=8)


def _region(folder: Path) -> Path:
    return edit_config(make_region(folder), training=TRAINING)


@pytest.fixture(scope="module", autouse=True)
def _long_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start the two long runs the module needs at once, in the background, so that the
    quick tests run meanwhile (2 cores): the uninterrupted reference run, and the same
    region Ctrl-C'd during training, then during prediction, then resumed."""
    needed: set[str] = set()
    for item in request.session.items:
        if getattr(item, "module", None) is request.module:
            needed.update(item.fixturenames)
    runs: dict = {"procs": [], "stop": threading.Event()}
    logs = []
    if "reference" in needed:
        config = _region(tmp_path_factory.mktemp("reference") / "region")
        logs.append(open(config.parent / "run.log", "w+", encoding="utf-8"))  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "lsgh_ee", "run", str(config)],
            stdout=logs[-1],
            stderr=subprocess.STDOUT,
        )
        runs["procs"].append(proc)
        runs["reference"] = (config, proc)
    if "interrupted" in needed:
        steps = {"config": _region(tmp_path_factory.mktemp("interrupted") / "region")}
        thread = threading.Thread(target=_interrupt_and_resume, args=(steps, runs), daemon=True)
        thread.start()
        runs["interrupted"] = (thread, steps)
    yield runs
    runs["stop"].set()
    for proc in runs["procs"]:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if "interrupted" in runs:
        runs["interrupted"][0].join(timeout=60)
    for log in logs:
        log.close()


@pytest.fixture(scope="module")
def reference(_long_runs: dict) -> Path:
    """A region through every stage with ``lsgh-ee run``, uninterrupted (read-only)."""
    config, proc = _long_runs["reference"]
    code = proc.wait(timeout=600)
    assert code == 0, (config.parent / "run.log").read_text()
    return config


@pytest.fixture
def done_region(reference: Path, tmp_path: Path) -> Path:
    """A private copy of the reference region, with every output of a successful run."""
    shutil.copytree(reference.parent, tmp_path / "region")
    return tmp_path / "region" / reference.name


# --- helpers -------------------------------------------------------------------------------


def _run_dir(config: Path) -> Path:
    return config.parent / "run"


def _snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _no_partials(folder: Path) -> None:
    leftovers = [str(p) for p in folder.rglob("*") if ".partial" in p.name]
    assert not leftovers, leftovers


def _user_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """The one ``error:`` line of a failed command; checks exit code 2, no traceback and
    that the line holds every fragment (the file or key, and the fix)."""
    both = proc.stdout + proc.stderr
    assert proc.returncode == 2, both
    assert "Traceback" not in both, both
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    print(lines[0])  # shown with pytest -rP: the messages users get
    return lines[0]


def _fails_and_keeps(config: Path, args: list[str], *fragments: str) -> str:
    """Run a stage on a region with a finished run: it must fail as a user error and leave
    every file of the run folder as it was."""
    run = _run_dir(config)
    before = _snapshot(run)
    line = _user_error(run_cli(*args, check=False), *fragments)
    _no_partials(config.parent)
    assert _snapshot(run) == before
    return line


def _manifest(config: Path) -> dict:
    return json.loads((_run_dir(config) / "manifest.json").read_text())["stages"]


def _inventory(config: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(config.parent / "landslides.gpkg")


def _replace_inventory(config: Path, frame: gpd.GeoDataFrame) -> None:
    path = config.parent / "landslides.gpkg"
    path.unlink()
    frame.to_file(path)


def _band(config: Path, name: str) -> tuple[np.ndarray, Affine]:
    with rasterio.open(_run_dir(config) / "factors.tif") as src:
        return src.read(src.descriptions.index(name) + 1), src.transform


# --- configs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"resolutoin": 30}, ["region.yaml", "unknown key 'resolutoin'", "remove or rename it"]),
        ({"resolution": "thirty"}, ["region.yaml", "key 'resolution'", "a valid number"]),
        (
            {"inventory": {"path": "slides.gpkg"}},
            ["key 'inventory.path' names slides.gpkg, which does not exist", "fix the path"],
        ),
    ],
    ids=["unknown-key", "wrong-type", "missing-path"],
)
def test_config_mistake(tmp_path: Path, change: dict, fragments: list[str]) -> None:
    config = edit_config(make_region(tmp_path / "region"), **change)
    line = _user_error(run_cli("export-factors", str(config), check=False), *fragments)
    assert "source_file" not in line  # an internal field is no key a user may write
    assert not _run_dir(config).exists()


def test_class_breaks_not_increasing(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    data = yaml.safe_load(config.read_text())
    data["factors"]["slope"] = {"breaks": [10, 30, 20]}
    write_config(config, data)
    _user_error(
        run_cli("export-factors", str(config), check=False),
        "key 'factors.slope.breaks'",
        "breaks must be strictly increasing, got [10.0, 30.0, 20.0]",
    )
    assert not _run_dir(config).exists()


# --- rasters -------------------------------------------------------------------------------


def test_raster_in_another_crs_is_reprojected(tmp_path: Path) -> None:
    """NIR in UTM zone 32 (the grid is zone 33): a ramp in the grid's easting, so the
    NDVI at any grid pixel is known exactly after reprojection."""
    config = make_region(tmp_path / "region")
    span = SIZE * RES

    def nir_at(easting: np.ndarray) -> np.ndarray:
        return 0.2 + 0.4 * (easting - ORIGIN[0]) / span

    other = "EPSG:32632"
    west, south, east, north = transform_bounds(
        UTM, other, ORIGIN[0], ORIGIN[1] - span, ORIGIN[0] + span, ORIGIN[1]
    )
    width, height = int((east - west) // RES) + 20, int((north - south) // RES) + 20
    transform = Affine(RES, 0, west - 10 * RES, 0, -RES, north + 10 * RES)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    xs, ys = transform @ (cols, rows)
    eastings, _ = Transformer.from_crs(other, UTM, always_xy=True).transform(xs, ys)
    with rasterio.open(
        config.parent / "nir.tif",
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=other,
        transform=transform,
    ) as dst:
        dst.write(nir_at(eastings).astype("float32"), 1)

    proc = run_cli("export-factors", str(config), check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    ndvi, grid = _band(config, "ndvi")
    row, col = ndvi.shape[0] // 2, ndvi.shape[1] // 3  # a known pixel inside the AOI
    easting = (grid @ (col + 0.5, row + 0.5))[0]
    nir = nir_at(np.float64(easting))
    assert ndvi[row, col] == pytest.approx((nir - 0.08) / (nir + 0.08), abs=1e-4)
    valid = np.isfinite(ndvi)
    all_cols = np.broadcast_to(np.arange(ndvi.shape[1]) + 0.5, ndvi.shape)
    nir_all = nir_at((grid @ (all_cols, np.zeros(ndvi.shape)))[0])
    expected = (nir_all - 0.08) / (nir_all + 0.08)
    assert valid.sum() > 1000
    assert np.abs(ndvi[valid] - expected[valid]).max() < 1e-3


def test_raster_without_crs(done_region: Path) -> None:
    path = done_region.parent / "landcover.tif"
    with rasterio.open(path) as src:
        data = src.read(1)
    write_raster(path, data, crs=None, nodata=0)
    _fails_and_keeps(
        done_region,
        ["export-factors", str(done_region), "--force"],
        "landcover.tif has no CRS",
        "assign one",
    )


def test_raster_not_covering_the_aoi(done_region: Path) -> None:
    path = done_region.parent / "landcover.tif"
    with rasterio.open(path) as src:
        data = src.read(1)
    write_raster(path, data[:, : SIZE // 2].copy(), nodata=0)  # the western half
    line = _fails_and_keeps(
        done_region,
        ["export-factors", str(done_region), "--force"],
        "landcover.tif covers only",
        "supply a raster that covers the whole AOI",
    )
    covered, uncovered = (float(v) for v in re.findall(r"([\d.]+)%", line))
    assert 40 < covered < 60 and covered + uncovered == pytest.approx(100, abs=0.11)


@pytest.mark.parametrize(
    ("where", "fragments"),
    [
        ("everywhere", ["landcover.tif is all nodata inside the region", "check its nodata value"]),
        (
            "inside-the-aoi",  # valid values only in the grid's corners, outside the AOI
            ["factor land_use (", "landcover.tif) has no valid pixel inside the region",
             "check its source covers the AOI and its nodata value"],
        ),
    ],
)  # fmt: skip
def test_raster_all_nodata_inside_the_aoi(
    done_region: Path, where: str, fragments: list[str]
) -> None:
    path = done_region.parent / "landcover.tif"
    with rasterio.open(path) as src:
        data, transform = src.read(1), src.transform
    if where == "everywhere":
        data[:] = 0  # the raster's nodata value
    else:
        aoi = gpd.GeoSeries([box(*aoi_bbox())], crs="EPSG:4326").to_crs(UTM).iloc[0]
        inside = rasterize([aoi], out_shape=data.shape, transform=transform, all_touched=True)
        assert 0 < inside.sum() < inside.size
        data[inside.astype(bool)] = 0
    write_raster(path, data, nodata=0)
    _fails_and_keeps(done_region, ["export-factors", str(done_region), "--force"], *fragments)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_raster(done_region: Path, damage: str) -> None:
    path = done_region.parent / "landcover.tif"
    data = path.read_bytes()
    if damage == "truncated":  # the header survives, the pixels do not
        path.write_bytes(data[: len(data) * 2 // 3])
    else:
        path.write_bytes(b"\x00\xff" * (len(data) // 2))
    line = _fails_and_keeps(
        done_region,
        ["export-factors", str(done_region), "--force"],
        "landcover.tif cannot be read",
        "re-export or re-download it",
    )
    assert "See previous exception" not in line


# --- inventories ---------------------------------------------------------------------------


def test_inventory_without_features(done_region: Path) -> None:
    _replace_inventory(done_region, gpd.GeoDataFrame({"year": []}, geometry=[], crs=UTM))
    _fails_and_keeps(
        done_region,
        ["export-factors", str(done_region), "--force"],
        "landslides.gpkg has no features",
        "it needs landslide polygons or points",
    )


def test_inventory_invalid_polygons_are_repaired_and_counted(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    frame = _inventory(config)
    geoms = list(frame.geometry)
    for i in range(3):  # self-intersecting "bow ties"
        x, y = geoms[i].centroid.coords[0]
        geoms[i] = Polygon([(x - 40, y - 40), (x + 40, y + 40), (x + 40, y - 40), (x - 40, y + 40)])
    frame = frame.set_geometry(geoms, crs=UTM)
    assert (~frame.is_valid).sum() == 3
    _replace_inventory(config, frame)
    proc = run_cli("export-factors", str(config), check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "3 invalid polygons" in " ".join(proc.stderr.split())
    notes = _manifest(config)["export-factors"]["notes"]["inventory"]
    assert notes["repaired"] == 3 and notes["unrepairable"] == 0 and notes["kept"] == 25
    kept = gpd.read_file(_run_dir(config) / "inventory.gpkg")
    assert len(kept) == 25 and kept.is_valid.all()


def test_inventory_points_outside_the_aoi_are_dropped_and_counted(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    inside = list(_inventory(config).geometry.centroid)
    outside = [Point(ORIGIN[0] + 100 + 200 * i, ORIGIN[1] - 100) for i in range(4)]
    outside.append(Point(0, 0))  # far away
    points = inside + outside
    frame = gpd.GeoDataFrame({"year": 2000 + np.arange(len(points)) % 10}, geometry=points, crs=UTM)
    _replace_inventory(config, frame)
    proc = run_cli("export-factors", str(config), check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "landslides kept: 25 of 30" in proc.stdout
    assert "5 landslides outside the AOI dropped" in " ".join(proc.stderr.split())
    notes = _manifest(config)["export-factors"]["notes"]["inventory"]
    assert notes["outside_aoi"] == 5 and notes["kept"] == 25 and notes["read"] == 30


def test_inventory_without_crs(done_region: Path) -> None:
    frame = _inventory(done_region).set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns that the file gets no CRS
        _replace_inventory(done_region, frame)
    _fails_and_keeps(
        done_region,
        ["export-factors", str(done_region), "--force"],
        "landslides.gpkg has no CRS",
        "define it",
    )


def test_inventory_in_lonlat_is_reprojected(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    original = _inventory(config)
    _replace_inventory(config, original.to_crs("EPSG:4326"))
    proc = run_cli("export-factors", str(config), check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "landslides kept: 25 of 25" in proc.stdout
    kept = gpd.read_file(_run_dir(config) / "inventory.gpkg")
    assert kept.crs.to_epsg() == 32633 and len(kept) == 25
    shift = kept.geometry.centroid.distance(original.geometry.centroid)
    assert shift.max() < 0.01  # metres: the same places


# --- heatmap -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diameter", "fragments"),
    [
        (0, ["key 'heatmap.diameter'", "greater than or equal to 1"]),
        (-3, ["key 'heatmap.diameter'", "greater than or equal to 1"]),
        (500, ["heatmap.diameter is 500 pixels", "use a diameter smaller than the grid"]),
    ],
    ids=["zero", "negative", "larger-than-region"],
)
def test_heatmap_diameter(done_region: Path, diameter: int, fragments: list[str]) -> None:
    edit_config(done_region, heatmap={"diameter": diameter})
    _fails_and_keeps(done_region, ["sample", str(done_region), "--force"], *fragments)


# --- model bundles -------------------------------------------------------------------------


def test_bundle_from_another_schema(reference: Path, tmp_path: Path) -> None:
    """A model trained with nine factors, applied to a region exported with eight."""
    config = make_region(tmp_path / "other")
    data = yaml.safe_load(config.read_text())
    del data["factors"]["lithology"]
    write_config(config, data)
    run_cli("export-factors", str(config))
    bundle = _run_dir(reference) / "models" / "lsgh"
    _fails_and_keeps(
        config,
        ["predict", str(config), "--model", "lsgh", "--bundle", str(bundle)],
        "the model needs factor 'lithology', which this region does not have",
        "export the region with exactly the model's factors or retrain",
    )
    assert not (_run_dir(config) / "maps").exists()


def test_keras_file_with_python_code_is_refused(reference: Path, tmp_path: Path) -> None:
    """A bundle whose model.keras carries a Lambda layer, with a matching sha256 in its
    schema (as a malicious bundle would have): Keras safe mode refuses it."""
    import keras

    bundle = tmp_path / "bundle"
    shutil.copytree(_run_dir(reference) / "models" / "lsgh", bundle)
    inputs = keras.Input((9,))
    outputs = keras.layers.Lambda(lambda x: x[:, :1] * 0.0 + 0.5)(inputs)
    keras.Model(inputs, outputs).save(bundle / "model.keras")
    schema = json.loads((bundle / "schema.json").read_text())
    schema["model_sha256"] = hashlib.sha256((bundle / "model.keras").read_bytes()).hexdigest()
    (bundle / "schema.json").write_text(json.dumps(schema))
    config = tmp_path / "region" / reference.name
    shutil.copytree(reference.parent, config.parent)
    _fails_and_keeps(
        config,
        ["predict", str(config), "--model", "foreign", "--bundle", str(bundle)],
        "model.keras contains Python code (a Lambda layer)",
        "Keras safe mode refuses",
        "use a model trained by lsgh-ee, or retrain",
    )
    assert not (_run_dir(config) / "maps" / "foreign").exists()


# --- output folders and disks --------------------------------------------------------------


def test_run_folder_under_a_file(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _user_error(
        run_cli("run", str(config), "--out", str(blocker / "run"), check=False),
        "cannot create run folder",
        "a-file/run",
        "set 'output.dir' or --out to a writable folder",
    )
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("stage", ["predict", "preview"])
def test_output_folder_that_is_a_file(done_region: Path, stage: str) -> None:
    """The run folder is writable but the folder a stage writes into cannot be created."""
    run = _run_dir(done_region)
    if stage == "predict":
        shutil.rmtree(run / "maps")
        (run / "maps").write_text("not a folder")
        args = ["predict", str(done_region), "--model", "lsgh", "--force"]
        where = "maps/lsgh"
    else:
        (run / "pages").write_text("not a folder")
        args = ["preview", str(done_region), "--html", str(run / "pages" / "map.html")]
        where = "pages"
    _fails_and_keeps(
        done_region,
        args,
        f"cannot create output folder {run / where}",
        "choose a writable output folder",
    )


@pytest.mark.parametrize(
    ("stage", "written"),
    [
        ("export-factors", "factors.tif"),
        ("train", "models/lsgh"),
        ("predict", "maps/lsgh/susceptibility.tif"),
    ],
)
def test_disk_full_mid_write(
    done_region: Path, monkeypatch: pytest.MonkeyPatch, stage: str, written: str
) -> None:
    """Every GeoTIFF write, and the saving of a Keras model, fail with ENOSPC (in-process,
    so that the fault can be injected)."""
    from typer.testing import CliRunner

    from lsgh_ee import cli
    from lsgh_ee.cli import core

    def disk_full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rasterio.io.DatasetWriter, "write", disk_full)
    monkeypatch.setattr(core, "_setup_logging", lambda verbose: None)  # keep pytest's logging
    args = [stage, str(done_region), "--force"]
    if stage == "train":
        import keras

        monkeypatch.setattr(keras.Model, "save", disk_full)
        args += ["--model", "lsgh", "--epochs", "1"]
    elif stage == "predict":
        args += ["--model", "lsgh"]
    run = _run_dir(done_region)
    before = _snapshot(run)
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not an OSError with a traceback
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        f"error: cannot write {run / written}: No space left on device; free disk space or "
        "choose a writable output folder"
    ], result.stderr
    print(lines[0])
    _no_partials(done_region.parent)
    assert _snapshot(run) == before


# --- Ctrl-C and repeatability --------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _interrupt(config: Path, ready: Callable[[str], bool], runs: dict) -> tuple[int, str]:
    """Run ``lsgh-ee run CONFIG`` on terminals (so its progress bars show, as for a user),
    send SIGINT as soon as ``ready(what it printed so far)``; return (exit code, stderr)."""
    assert not runs["stop"].is_set(), "the module's tests are over"
    env = {**os.environ, "TERM": "xterm", "TTY_INTERACTIVE": "1"}
    masters, slaves = zip(pty.openpty(), pty.openpty(), strict=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsgh_ee", "run", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=slaves[0],
        stderr=slaves[1],
        env=env,
        # a user's terminal delivers Ctrl-C; a shell that starts the suite in the background
        # has SIGINT ignored, which the child would inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    runs["procs"].append(proc)
    for fd in slaves:
        os.close(fd)
    captured = [bytearray(), bytearray()]

    def pump(fd: int, into: bytearray) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO once the child has closed the terminal
                return
            if not chunk:
                return
            into.extend(chunk)

    readers = [
        threading.Thread(target=pump, args=pair, daemon=True)
        for pair in zip(masters, captured, strict=True)
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 600
        while not ready(captured[0].decode(errors="replace")):
            assert proc.poll() is None, f"finished before the interrupt:\n{captured[1].decode()}"
            assert time.monotonic() < deadline, "the stage never started"
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join(timeout=10)
        for fd in masters:
            os.close(fd)
    return code, _ANSI.sub("", captured[1].decode(errors="replace"))


def _interrupt_and_resume(steps: dict, runs: dict) -> None:
    """Ctrl-C ``lsgh-ee run`` during training, re-run it and Ctrl-C it during the
    prediction, then re-run it to the end; record what each step left (in a thread)."""
    try:
        config = steps["config"]
        run = _run_dir(config)
        # any epoch line: a fast machine may redraw the bar past epoch 1 before it shows
        training = re.compile(r"train lsgh: epoch \d+ ")
        code, err = _interrupt(config, lambda out: bool(training.search(out)), runs)
        steps["training"] = (code, err, _manifest(config), sorted(run.rglob("*")))
        # maps/lsgh appears as the map's strips file is opened, before the model predicts
        code, err = _interrupt(config, lambda out: (run / "maps" / "lsgh").exists(), runs)
        steps["prediction"] = (code, err, _manifest(config), sorted(run.rglob("*")))
        assert not runs["stop"].is_set(), "the module's tests are over"
        args = [sys.executable, "-m", "lsgh_ee", "run", str(config)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs["procs"].append(proc)
        out, err = proc.communicate(timeout=600)
        steps["resumed"] = subprocess.CompletedProcess(args, proc.returncode, out, err)
    except BaseException as exc:  # re-raised by the fixture, in the test's thread
        steps["error"] = exc


def _interrupted_cleanly(code: int, stderr: str) -> None:
    assert code == 130, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = [line.strip() for line in stderr.splitlines()]
    assert lines.count("interrupted: finished outputs are kept; re-run to resume") == 1, stderr
    assert not any(line.startswith("error:") for line in lines), stderr


@pytest.fixture(scope="module")
def interrupted(_long_runs: dict) -> dict:
    """What the Ctrl-C'd and resumed run left behind at each step."""
    thread, steps = _long_runs["interrupted"]
    thread.join(timeout=900)
    assert not thread.is_alive(), "the interrupted run did not finish"
    if "error" in steps:
        raise steps["error"]
    return steps


def test_ctrl_c_during_training(interrupted: dict) -> None:
    code, stderr, stages, files = interrupted["training"]
    _interrupted_cleanly(code, stderr)
    assert {"export-factors", "sample"} <= set(stages) and "train:lsgh" not in stages
    run = _run_dir(interrupted["config"])
    assert run / "samples.gpkg" in files and run / "models" not in files  # no half model
    assert not [p for p in files if ".partial" in p.name]


def test_ctrl_c_during_prediction(interrupted: dict) -> None:
    code, stderr, stages, files = interrupted["prediction"]
    _interrupted_cleanly(code, stderr)
    assert {"train:lsgh", "evaluate"} <= set(stages) and "predict:lsgh" not in stages
    run = _run_dir(interrupted["config"])
    assert run / "models" / "lsgh" / "model.keras" in files
    assert run / "maps" / "lsgh" / "susceptibility.tif" not in files
    assert not [p for p in files if ".partial" in p.name]


def test_rerun_after_ctrl_c_resumes_to_the_same_results(interrupted: dict, reference: Path) -> None:
    proc = interrupted["resumed"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for stage in ("export-factors", "sample", "train:lsgh", "evaluate"):
        assert f"{stage}: up to date" in proc.stdout  # finished stages are not redone
    assert "predict:lsgh: done" in proc.stdout
    config = interrupted["config"]
    _no_partials(config.parent)
    assert (_run_dir(config) / "table4.csv").read_bytes() == (
        _run_dir(reference) / "table4.csv"
    ).read_bytes()


def test_same_config_and_seed_give_the_same_samples_and_numbers(
    interrupted: dict, reference: Path
) -> None:
    """Two separate runs (the reference and the interrupted-then-resumed one)."""
    from lsgh_ee.sampling import Samples

    runs = [_run_dir(reference), _run_dir(interrupted["config"])]
    digests = [Samples.read_gpkg(run / "samples.gpkg").digest() for run in runs]
    assert digests[0] == digests[1]
    tables = [gpd.read_file(run / "samples.gpkg") for run in runs]
    assert tables[0].drop(columns="geometry").equals(tables[1].drop(columns="geometry"))
    assert tables[0].geometry.geom_equals_exact(tables[1].geometry, tolerance=0).all()
    assert len({(run / "table4.csv").read_bytes() for run in runs}) == 1
    maps = []
    for run in runs:
        with rasterio.open(run / "maps" / "lsgh" / "susceptibility.tif") as src:
            maps.append(src.read(1))
    np.testing.assert_array_equal(maps[0], maps[1])


# --- classification properties -------------------------------------------------------------

_finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)
_breaks = st.lists(_finite, min_size=1, max_size=30, unique=True).map(sorted)
_values = st.lists(
    st.one_of(_finite, st.just(float("nan")), st.just(float("inf")), st.just(float("-inf"))),
    min_size=0,
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(_breaks, _values)
def test_classify_breaks_properties(breaks: list[float], values: list[float]) -> None:
    v = np.array(values, dtype="float64")
    codes = classify_breaks(v, breaks)
    assert codes.dtype == np.uint8 and codes.shape == v.shape
    nan = np.isnan(v)
    assert (codes[nan] == 0).all()
    k = len(breaks)
    assert ((codes[~nan] >= 1) & (codes[~nan] <= k + 1)).all()
    # 1 + the number of breaks at or below the value
    expected = 1 + (np.asarray(breaks)[None, :] <= v[~nan][:, None]).sum(axis=1)
    assert codes[~nan].tolist() == expected.tolist()
    order = np.argsort(v[~nan], kind="stable")
    assert (np.diff(codes[~nan][order].astype(int)) >= 0).all()  # monotone in the value


@settings(max_examples=100, deadline=None)
@given(_breaks)
def test_each_break_goes_to_the_upper_class(breaks: list[float]) -> None:
    edges = np.array(breaks)
    at = classify_breaks(edges, breaks)
    below = classify_breaks(np.nextafter(edges, -np.inf), breaks)
    assert at.tolist() == list(range(2, len(breaks) + 2))
    assert below.tolist() == list(range(1, len(breaks) + 1))
    assert classify_breaks(np.array([np.nan]), breaks).tolist() == [0]


@settings(max_examples=50, deadline=None)
@given(st.lists(_finite, min_size=2, max_size=10), st.data())
def test_breaks_that_do_not_increase_are_refused(breaks: list[float], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(breaks) - 2))
    breaks[i + 1] = data.draw(st.floats(-1e6, breaks[i], allow_nan=False))
    with pytest.raises(ValueError, match="strictly increasing"):
        classify_breaks(np.zeros(3), breaks)
