"""``export-factors --backend ee`` strip by strip: the Earth Engine DEM's terrain factors
and the ``source: ee`` factors read from their downloaded files strip by strip give, bit
for bit, the files of the whole-array computation (strips of a few rows against
``strip_rows: 0`` and against :func:`lsgh_ee.factors.local.compute_local_factors` on the
same downloads), through the real ``ee`` client against the loopback fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from ee_client import trusted_key
from ee_fake import FakeEarthEngine
from test_earthengine_imagery import LATTICE, PROJECT, _ee_region
from test_windowed import _assert_same_files

from conftest import UTM, edit_config, run_cli, synthetic_dem
from lsgh_ee.config import load_config
from lsgh_ee.factors.dem_layers import dem_halo
from lsgh_ee.factors.local import compute_local_factors
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.factors.windows import export_local_factors
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_onto_grid, write_geotiff
from lsgh_ee.region import Region

DEM_ASSET = "USGS/SRTMGL1_003"
TERRAIN = {
    "slope": {},
    "aspect": {},
    "curvature": {},
    "slope_position": {},  # whole-region TPI moments: a first pass over the strips
    "local_relief": {},
    "elevation": {"classify": "natural", "n_classes": 4},  # breaks from the strips
}
EE_FACTORS = {
    "ndvi": {"source": "ee", "years": [2023], "classify": "quantile", "n_classes": 4},
    "land_use": {"source": "ee"},
    "distance_to_roads": {"source": "ee", "path": "roads.gpkg"},
    "distance_to_rivers": {"source": "ee", "asset": "projects/p/assets/rivers"},
    "lithology": {"source": "ee", "path": "geology.gpkg", "attribute": "unit"},
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        yield f


def _region(folder: Path, fake: FakeEarthEngine, rows: int) -> Path:
    """The imagery test's Earth Engine region, its DEM from Earth Engine too, ``rows``
    rows per strip (run folder ``run``)."""
    key = trusted_key(fake, folder.parent / "sa-key.json")
    config = _ee_region(folder, fake, key, "ee")
    return edit_config(config, dem={"source": "ee", "ee_asset": DEM_ASSET},
                       factors={**TERRAIN, **EE_FACTORS},
                       output={"dir": "run", "strip_rows": rows})  # fmt: skip


def _with_strips(config: Path, rows: int, run: str) -> Path:
    """The same region, ``rows`` rows per strip, run folder ``run``."""
    edit_config(config, output={"dir": run, "strip_rows": rows})
    return config.parent / run


def _whole_reference(config_path: Path, out: Path) -> Path:
    """The whole-array computation (:func:`compute_local_factors`) on the downloads of
    ``config_path``'s run: the DEM read whole from ``dem_ee.tif``, every ``source: ee``
    factor whole from its band of ``factors_ee.tif`` (as the whole path read them)."""
    config = load_config(config_path)
    run = config_path.parent / "run"
    region, factors = Region.from_config(config), resolve_factors(config, "ee")
    schema = {f["name"]: f for f in json.loads((run / "factor_schema.json").read_text())["factors"]}
    with rasterio.open(run / "factors_ee.tif") as src:
        downloaded = dict(zip(src.descriptions, src.read(), strict=True))

    def read_dem(grid: Grid, min_coverage: float) -> np.ndarray:
        with rasterio.open(run / "dem_ee.tif") as src:
            assert (src.height, src.width) == grid.shape
            return src.read(1)

    def read_factor(factor):
        own = schema[factor.name]
        return downloaded[factor.name], tuple(own.get("classes") or ()), own["method"]

    compute_local_factors(region, factors, read_dem=read_dem, read_factor=read_factor).write(out)
    return out


def test_earth_engine_factors_by_strips_equal_the_whole_computation(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    fake.add_asset(DEM_ASSET, synthetic_dem(), UTM, LATTICE, ["elevation"])
    config = _region(tmp_path / "region", fake, 7)
    run_cli("export-factors", str(config), "--backend", "ee")
    reference = _whole_reference(config, tmp_path / "reference")
    whole = _with_strips(config, 0, "whole")  # one strip: the whole grid at once
    run_cli("export-factors", str(config), "--backend", "ee")

    run = config.parent / "run"
    _assert_same_files(run, whole)
    _assert_same_files(run, reference)
    with rasterio.open(run / "class_codes.tif") as src:
        codes = dict(zip(src.descriptions, src.read(), strict=True))
    assert set(np.unique(codes["elevation"])) == {0, 1, 2, 3, 4}  # data breaks applied
    assert set(np.unique(codes["ndvi"])) - {0}  # quantile breaks of the downloaded NDVI
    schema = {f["name"]: f for f in json.loads((run / "factor_schema.json").read_text())["factors"]}
    assert schema["slope"]["method"]["dem"] == f"earthengine:{DEM_ASSET}"
    assert schema["ndvi"]["method"]["recipe"] == "earthengine ndvi"
    assert schema["ndvi"]["method"]["classify"] == "quantile"
    assert schema["distance_to_rivers"]["method"] == {
        "recipe": "earthengine distance", "source": "projects/p/assets/rivers"}  # fmt: skip
    assert schema["lithology"]["classes"] == ["sandstone", "shale"]


def test_an_earth_engine_dem_with_gaps_is_refused_strip_by_strip(
    fake: FakeEarthEngine, tmp_path: Path
) -> None:
    dem = synthetic_dem()
    dem[:40] = np.nan  # the north of the region has no data
    fake.add_asset(DEM_ASSET, dem, UTM, LATTICE, ["elevation"])
    config = _region(tmp_path / "gaps", fake, 5)
    proc = run_cli("export-factors", str(config), "--backend", "ee", check=False)

    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    with rasterio.open(config.parent / "run" / "dem_ee.tif") as src:
        share = np.isnan(src.read(1)).mean()  # over the whole padded grid, read whole
    assert share > 0.3
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: Earth Engine DEM {DEM_ASSET} has no data over {share:.1%} of the region; "
        "choose a DEM that covers it"
    )
    assert not (config.parent / "run" / "factors.tif").exists()


def _dem_file(config_path: Path, folder: Path) -> Callable[[Grid, float], Path]:
    """A ``dem_file`` as the Earth Engine backend's: the region's DEM on the padded grid as
    a GeoTIFF (here resampled from the local DEM instead of downloaded)."""

    def path_of(grid: Grid, min_coverage: float) -> Path:
        dem = read_onto_grid(config_path.parent / "dem.tif", grid, min_coverage=min_coverage)
        return write_geotiff(folder / "dem_ee.tif", dem, grid)

    return path_of


@pytest.mark.parametrize(
    "names", [["slope", "local_relief", "tri"], ["slope", "twi", "flow_accumulation"]]
)
def test_a_dem_file_by_strips_equals_the_whole_computation(
    tmp_path: Path, names: list[str]
) -> None:
    """Without the fake: a DEM file on the padded grid (local factors by strips; with a
    hydrology factor, every DEM factor whole from the file) against the whole array."""
    from conftest import make_region

    config_path = edit_config(make_region(tmp_path / "region"),
                              factors={name: {} for name in names})  # fmt: skip
    config = load_config(config_path)
    region, factors = Region.from_config(config), resolve_factors(config, "local")
    dem_file = _dem_file(config_path, tmp_path)
    export_local_factors(region, factors, tmp_path / "strips", strip_rows=3, dem_file=dem_file)

    def read_dem(grid: Grid, min_coverage: float) -> np.ndarray:
        with rasterio.open(dem_file(grid, min_coverage)) as src:
            return src.read(1)

    compute_local_factors(region, factors, read_dem=read_dem).write(tmp_path / "whole")
    _assert_same_files(tmp_path / "strips", tmp_path / "whole")
    with rasterio.open(tmp_path / "dem_ee.tif") as src:
        pad = dem_halo(region.grid, config.terrain, names)
        assert (src.height, src.width) == region.grid.padded(pad).shape
