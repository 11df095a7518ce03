"""export-factors strip by strip (lsgh_ee.factors.windows): the files equal, bit for bit,
those of the whole-array computation, on strips of a few rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml

from conftest import make_region, write_raster
from lsgh_ee.config import load_config
from lsgh_ee.config.output import MIN_STRIP_ROWS
from lsgh_ee.errors import LsghError
from lsgh_ee.factors import neighbourhood
from lsgh_ee.factors.local import compute_local_factors
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.factors.windows import export_local_factors, strips
from lsgh_ee.region import Region

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo"


def _inputs(config_path: Path):
    config = load_config(config_path)
    return Region.from_config(config), resolve_factors(config, "local")


def _whole(config_path: Path, out: Path) -> Path:
    region, factors = _inputs(config_path)
    compute_local_factors(region, factors).write(out)
    return out


def _windowed(config_path: Path, out: Path, rows: int) -> Path:
    region, factors = _inputs(config_path)
    export_local_factors(region, factors, out, strip_rows=rows)
    return out


def _assert_same_files(a: Path, b: Path) -> None:
    for name in ("factors.tif", "class_codes.tif"):
        with rasterio.open(a / name) as x, rasterio.open(b / name) as y:
            px, py = dict(x.profile), dict(y.profile)
            assert str(px.pop("nodata")) == str(py.pop("nodata"))  # NaN or 0
            assert px == py
            assert x.descriptions == y.descriptions
            assert x.tags() == y.tags()
            assert [x.tags(i) for i in x.indexes] == [y.tags(i) for i in y.indexes]
            vx, vy = x.read(), y.read()
            assert vx.dtype == vy.dtype
            assert np.array_equal(vx, vy, equal_nan=True), name
            assert vx.tobytes() == vy.tobytes(), name  # NaN payloads too
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    schema_a = (a / "factor_schema.json").read_text()
    assert schema_a == (b / "factor_schema.json").read_text()
    assert json.loads(schema_a)["factors"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO, folder, dirs_exist_ok=True)
    return folder / "region.yaml"


@pytest.fixture(scope="module")
def demo_whole(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _whole(demo, tmp_path_factory.mktemp("whole"))


@pytest.mark.parametrize("rows", [3, 7, 0])
def test_the_demo_by_strips_equals_the_whole_array(
    demo: Path, demo_whole: Path, tmp_path: Path, rows: int
) -> None:
    out = _windowed(demo, tmp_path / "run", rows)
    _assert_same_files(demo_whole, out)
    schema = json.loads((out / "factor_schema.json").read_text())
    # every kind the demo uses: terrain (aspect sectors, Table 2 breaks, slope position
    # classes), NDVI, a remapped raster, distances, polygons
    assert [f["name"] for f in schema["factors"]] == [
        "slope", "aspect", "curvature", "slope_position", "ndvi", "land_use",
        "distance_to_roads", "distance_to_rivers", "lithology",
    ]  # fmt: skip
    with rasterio.open(out / "class_codes.tif") as src:
        codes = src.read()
    assert (codes[:, 0, :] == 0).all() or (codes[:, -1, :] == 0).any()  # AOI edges are nodata
    assert all(band.any() for band in codes)


@pytest.fixture(scope="module")
def holed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic region with a nodata hole and edge in the DEM and the DEM factors
    that are local (no hydrology), two classified from their own values."""
    from conftest import synthetic_dem

    path = make_region(tmp_path_factory.mktemp("holed") / "region")
    dem = synthetic_dem()
    dem[40:47, 50:58] = np.nan  # a hole inside the AOI
    dem[:, -14:] = np.nan  # nodata along the east edge, into the AOI
    write_raster(path.parent / "dem.tif", dem, nodata=float("nan"))
    config = yaml.safe_load(path.read_text())
    config["factors"] = {
        "slope": {},
        "aspect": {},
        "slope_position": {},
        "elevation": {"classify": "natural", "n_classes": 5},
        "plan_curvature": {},
        "profile_curvature": {},
        "tri": {"classify": "quantile", "n_classes": 4},
        "local_relief": {},
        "curvature": {},
        "ndvi": {"red": "red.tif", "nir": "nir.tif"},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize("rows", [1, 4, 5])
def test_nodata_edges_and_data_breaks_by_strips(holed: Path, tmp_path: Path, rows: int) -> None:
    whole = _whole(holed, tmp_path / "whole")
    out = _windowed(holed, tmp_path / "strips", rows)
    _assert_same_files(whole, out)
    with rasterio.open(out / "factors.tif") as src:
        slope = src.read(1)
    assert np.isnan(slope).any() and (~np.isnan(slope)).any()
    schema = json.loads((out / "factor_schema.json").read_text())
    tri = next(f for f in schema["factors"] if f["name"] == "tri")
    assert tri["method"]["classify"] == "quantile" and len(tri["breaks"]) == 3


def test_hydrology_factors_stay_whole_and_equal(holed: Path, tmp_path: Path) -> None:
    config = yaml.safe_load(holed.read_text())
    config["factors"] = {"slope": {}, "twi": {}, "slope_position": {}}
    path = tmp_path / "region.yaml"
    for name in ("dem.tif", "landslides.gpkg"):
        shutil.copy(holed.parent / name, tmp_path / name)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    _assert_same_files(_whole(path, tmp_path / "whole"), _windowed(path, tmp_path / "s", 6))


def test_hydrology_factors_refuse_a_grid_whose_dem_would_not_fit(
    holed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flow routing holds the whole padded DEM: with too little memory export-factors says
    so before reading it, naming the factors and the way out, and writes nothing."""
    from lsgh_ee import headroom
    from lsgh_ee.factors.dem_layers import HYDROLOGY_BYTES_PER_PIXEL, dem_halo

    config = yaml.safe_load(holed.read_text())
    config["factors"] = {"slope": {}, "twi": {}}
    path = tmp_path / "region.yaml"
    for name in ("dem.tif", "landslides.gpkg"):
        shutil.copy(holed.parent / name, tmp_path / name)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    region, _ = _inputs(path)
    padded = region.grid.padded(dem_halo(region.grid, region.config.terrain, ["twi"]))
    need = padded.height * padded.width * HYDROLOGY_BYTES_PER_PIXEL
    monkeypatch.setattr(headroom, "available_memory", lambda: need - 1)
    with pytest.raises(LsghError, match=r"hydrology factors \(twi\) of a .* needs about .* "
                       r"GB of memory, .* available; drop them from 'factors'"):  # fmt: skip
        _windowed(path, tmp_path / "run", 6)
    assert not (tmp_path / "run" / "factors.tif").exists()
    monkeypatch.setattr(headroom, "available_memory", lambda: need)
    assert (_windowed(path, tmp_path / "run", 6) / "factors.tif").exists()


def test_a_dem_short_of_the_aoi_is_refused_by_strips(holed: Path, tmp_path: Path) -> None:
    from conftest import synthetic_dem

    for name in ("landslides.gpkg", "red.tif", "nir.tif"):
        shutil.copy(holed.parent / name, tmp_path / name)
    write_raster(tmp_path / "dem.tif", synthetic_dem()[:60])  # the southern part is missing
    config = yaml.safe_load(holed.read_text())
    config["factors"] = {"slope": {}, "slope_position": {}}
    path = tmp_path / "region.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(LsghError, match=r"dem.tif covers only .* supply a raster"):
        _windowed(path, tmp_path / "run", 4)
    assert not (tmp_path / "run" / "factors.tif").exists()
    assert not list((tmp_path / "run").glob(".*partial*"))


def test_strips_cover_the_rows_once() -> None:
    assert list(strips(10, 4)) == [(0, 4), (4, 8), (8, 10)]
    assert list(strips(10, 0)) == [(0, 10)]
    assert list(strips(3, 7)) == [(0, 3)]


def test_the_aoi_rasterised_by_strips_equals_the_whole_mask(demo: Path) -> None:
    region = Region.from_config(load_config(demo))
    whole = region.aoi_mask
    assert 0 < whole.sum() < whole.size  # the UTM outline of the lon/lat box has edges
    for rows in (1, 7, 64):
        parts = [region.aoi_rows(r0, r1 - r0) for r0, r1 in strips(region.grid.height, rows)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_tpi_of_a_strip_with_its_halo_equals_the_whole() -> None:
    rng = np.random.default_rng(3)
    dem = rng.normal(800, 50, (40, 33)).astype("float32")
    dem[5:9, 3:6] = np.nan
    radius = 4.5
    k = 4
    whole = neighbourhood.topographic_position_index(dem, radius)
    for r0 in range(0, 40, 3):
        r1 = min(r0 + 3, 40)
        lo, hi = max(r0 - k, 0), min(r1 + k, 40)
        part = neighbourhood.topographic_position_index(dem[lo:hi], radius)
        assert part[r0 - lo : r0 - lo + (r1 - r0)].tobytes() == whole[r0:r1].tobytes()
    # and it is the definition: the mean of the valid neighbours in the disk
    footprint = neighbourhood.disk(radius)
    r, c = 20, 16
    window = dem[r - k : r + k + 1, c - k : c + k + 1].astype("float64")
    mask = footprint.copy()
    mask[k, k] = False
    neighbours = window[mask & ~np.isnan(window)]
    assert whole[r, c] == pytest.approx(dem[r, c] - neighbours.mean(), abs=1e-4)


def test_tpi_moments_merge_exactly() -> None:
    rng = np.random.default_rng(5)
    tpi = rng.normal(0, 30, (50, 20))
    tpi[3, :] = np.nan
    parts = [neighbourhood.strip_moments(tpi[i : i + 7]) for i in range(0, 50, 7)]
    assert neighbourhood.merge_moments(parts) == neighbourhood.tpi_moments(tpi)
    n, total, squares = neighbourhood.tpi_moments(tpi)
    valid = tpi[~np.isnan(tpi)]
    assert n == valid.size
    assert total == pytest.approx(valid.sum()) and squares == pytest.approx((valid**2).sum())


def test_strip_rows_setting(tmp_path: Path) -> None:
    path = make_region(tmp_path / "region")
    output = load_config(path).output
    assert (output.strip_rows, output.strip_pixels) == (None, 1_000_000)
    # by default a strip holds about a million pixels, whatever the grid's width
    assert [output.rows_per_strip(w) for w in (1, 1000, 3000, 1_000_000)] == [
        1_000_000, 1000, 333, MIN_STRIP_ROWS]  # fmt: skip
    config = yaml.safe_load(path.read_text())
    for key, value in (("strip_rows", 16), ("strip_rows", 0), ("strip_pixels", 50_000),
                       ("strip_rows", -1), ("strip_pixels", 0)):  # fmt: skip
        config["output"] = {"dir": "run", key: value}
        other = tmp_path / "region" / f"{key}{value}.yaml"
        other.write_text(yaml.safe_dump(config, sort_keys=False))
        if key == "strip_rows" and value >= 0:  # rows win over pixels; 0 = the whole grid
            assert load_config(other).output.rows_per_strip(1000) == value
        elif value > 0:
            assert load_config(other).output.rows_per_strip(1000) == 50
        else:
            with pytest.raises(LsghError, match=key):
                load_config(other)


def test_a_grid_too_large_for_a_local_run_is_refused_with_the_way_out(demo: Path) -> None:
    """export-factors refuses a grid over MAX_LOCAL_PIXELS in one line that names the
    native run; the grid itself (a header) is still there for the Earth Engine-native run."""
    from conftest import run_cli
    from lsgh_ee.region import MAX_LOCAL_PIXELS

    config = yaml.safe_load(demo.read_text())
    config["resolution"] = 1.0  # the demo's 27 x 28 km at 1 m: about 780 M pixels
    config["output"] = {"dir": "huge-run"}
    huge = demo.parent / "huge.yaml"
    huge.write_text(yaml.safe_dump(config, sort_keys=False))
    grid = Region.from_config(load_config(huge)).grid
    assert grid.height * grid.width > MAX_LOCAL_PIXELS
    with pytest.raises(LsghError, match="more than the 400 M a local run takes"):
        Region.from_config(load_config(huge), max_pixels=MAX_LOCAL_PIXELS)
    proc = run_cli("export-factors", str(huge), check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    line = f"{grid.height} x {grid.width} grid ({grid.height * grid.width / 1e6:.0f} M pixels"
    assert line in proc.stderr and "--backend ee" in proc.stderr
    assert not list((demo.parent / "huge-run").glob("*.tif"))
