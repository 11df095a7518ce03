"""Shared fixtures: a small synthetic region written as real files, and the shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: Where google.auth looks for a Compute Engine metadata server when it searches for
#: Application Default Credentials: a closed loopback port, so that no test ever sends a
#: request to the real one (169.254.169.254). Set before google.auth is imported (it reads
#: them once); tests of the metadata path point them at the fake's server instead.
NO_METADATA_SERVER = "127.0.0.1:9"
for _name in ("GCE_METADATA_HOST", "GCE_METADATA_IP"):
    os.environ[_name] = NO_METADATA_SERVER
UTM = "EPSG:32633"
ORIGIN = (300_000.0, 5_000_000.0)  # upper-left corner; off the central meridian, so
# a lon/lat AOI box is rotated against the UTM grid
RES = 30.0
SIZE = 90  # cells per side of the synthetic rasters
#: A one-size random-forest grid search: tests check the forest's plumbing, not its tuning,
#: and the default grid (8 settings x 3 folds, up to 300 trees) dominated their run time.
SMALL_RF_GRID = {"n_estimators": [50], "min_samples_leaf": [2]}


def fast_training(**settings) -> dict:
    """A ``training`` config section for tests: ``settings`` plus the small forest grid and
    one network per model (the default preset averages 5; tests check the plumbing)."""
    return {"members": 1, **settings, "rf_grid": SMALL_RF_GRID}


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (only beside the CI checkout)")
    return SHARED_DATA


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: str | None = UTM,
    transform: Affine | None = None,
    nodata: float | None = None,
) -> Path:
    """Write a single-band GeoTIFF (defaults: the synthetic grid)."""
    transform = transform or Affine(RES, 0, ORIGIN[0], 0, -RES, ORIGIN[1])
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype.name,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def synthetic_dem() -> np.ndarray:
    """A smooth valley running north-south with a hill, metres."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype("float64")
    x = (cols - SIZE / 2) * RES
    y = (rows - SIZE / 2) * RES
    return (400 + 0.0004 * x**2 + 0.05 * y + 120 * np.exp(-((x - 600) ** 2 + y**2) / 2e5)).astype(
        "float32"
    )


def aoi_bbox(inset_cells: int = 10) -> list[float]:
    """A lon/lat bbox inside the synthetic rasters."""
    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    left = ORIGIN[0] + inset_cells * RES
    right = ORIGIN[0] + (SIZE - inset_cells) * RES
    top = ORIGIN[1] - inset_cells * RES
    bottom = ORIGIN[1] - (SIZE - inset_cells) * RES
    xs, ys = to_lonlat.transform([left, right, left, right], [top, top, bottom, bottom])
    return [max(xs[0], xs[2]), max(ys[2], ys[3]), min(xs[1], xs[3]), min(ys[0], ys[1])]


def make_region(folder: Path) -> Path:
    """Write a complete small region (every factor source, an inventory) and its config."""
    folder.mkdir(parents=True, exist_ok=True)
    dem = synthetic_dem()
    write_raster(folder / "dem.tif", dem)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    red = np.full(dem.shape, 0.08, "float32")
    nir = np.where(cols < SIZE // 2, 0.40, 0.20).astype("float32")
    write_raster(folder / "red.tif", red)
    write_raster(folder / "nir.tif", nir)
    landcover = np.where(rows < SIZE // 3, 10, np.where(cols < SIZE // 2, 40, 30)).astype("uint8")
    write_raster(folder / "landcover.tif", landcover, nodata=0)
    x0, y0 = ORIGIN
    span = SIZE * RES
    mid = x0 + span / 2
    gpd.GeoDataFrame(
        {"name": ["main"]}, geometry=[LineString([(mid, y0), (mid, y0 - span)])], crs=UTM
    ).to_file(folder / "rivers.gpkg")
    gpd.GeoDataFrame(
        {"kind": ["road"]},
        geometry=[LineString([(x0, y0 - span / 3), (x0 + span, y0 - span / 3)])],
        crs=UTM,
    ).to_file(folder / "roads.gpkg")
    gpd.GeoDataFrame(
        {"unit": ["sandstone", "shale"]},
        geometry=[box(x0, y0 - span, mid + 300, y0), box(mid + 300, y0 - span, x0 + span, y0)],
        crs=UTM,
    ).to_file(folder / "geology.gpkg")
    rng = np.random.default_rng(0)
    centres = rng.uniform([x0 + 600, y0 - span + 600], [x0 + span - 600, y0 - 600], size=(25, 2))
    slides = [Point(c).buffer(40) for c in centres]
    gpd.GeoDataFrame(
        {"id": range(25), "year": 2000 + np.arange(25) % 10}, geometry=slides, crs=UTM
    ).to_file(folder / "landslides.gpkg")
    config = {
        "name": "synthetic",
        "aoi": {"bbox": aoi_bbox()},
        "crs": UTM,
        "resolution": RES,
        "inventory": {"path": "landslides.gpkg", "date_attribute": "year"},
        "dem": {"path": "dem.tif"},
        "terrain": {"tpi_radius": 150, "relief_radius": 150},
        "factors": {
            "slope": {},
            "aspect": {},
            "curvature": {},
            "slope_position": {},
            "ndvi": {"red": "red.tif", "nir": "nir.tif"},
            "land_use": {
                "path": "landcover.tif",
                "remap": {10: "woodland", 30: "grassland", 40: "arable"},
            },
            "distance_to_roads": {"path": "roads.gpkg"},
            "distance_to_rivers": {"path": "rivers.gpkg"},
            "lithology": {"path": "geology.gpkg", "attribute": "unit"},
        },
        "training": fast_training(),
        "output": {"dir": "run"},
    }
    return write_config(folder / "region.yaml", config)


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def edit_config(path: Path, **changes) -> Path:
    """Rewrite a config with top-level keys replaced (None deletes the key)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return write_config(path, config)


#: Environment variables through which Earth Engine settings and credentials reach a process.
EARTH_ENGINE_ENV = ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT",
                    "LSGH_EE_STORAGE_URL", "XDG_CONFIG_HOME", "CLOUDSDK_CONFIG",
                    "LSGH_EE_DEADLINE")  # fmt: skip


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials or Earth Engine settings from the machine: an empty HOME (so no
    ``earthengine authenticate`` credentials) and none of :data:`EARTH_ENGINE_ENV`."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    for name in EARTH_ENGINE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("GCE_METADATA_HOST", "GCE_METADATA_IP"):  # no metadata server either
        monkeypatch.setenv(name, NO_METADATA_SERVER)


@pytest.fixture
def region_config(tmp_path: Path) -> Path:
    return make_region(tmp_path / "region")


@pytest.fixture(scope="session")
def built_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic region with export-factors already run (shared, read-only)."""
    config = make_region(tmp_path_factory.mktemp("built") / "region")
    run_cli("export-factors", str(config))
    return config


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real ``lsgh-ee`` console entry point in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "lsgh_ee", *args], capture_output=True, text=True, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"lsgh-ee {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def polygon_square(x: float, y: float, half: float) -> Polygon:
    return box(x - half, y - half, x + half, y + half)
