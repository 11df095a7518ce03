"""``lsgh-ee export-factors --backend ee`` end to end: the real ``ee`` client in the CLI
process, over HTTP, against the loopback fake of the Earth Engine REST API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import yaml
from affine import Affine
from ee_client import trusted_key
from ee_fake import FakeEarthEngine

from conftest import RES, edit_config, make_region, run_cli, synthetic_dem, write_raster

PROJECT = "lsgh-test"
# A DEM on the grid lattice (multiples of the resolution), so the Earth Engine grid and the
# local grid are the same pixels and the two backends must agree exactly.
DEM_TRANSFORM = Affine(RES, 0, 300_000.0, 0, -RES, 4_999_980.0)
TERRAIN = ["slope", "aspect", "curvature", "slope_position", "local_relief"]


def _region(folder: Path, **changes) -> Path:
    config = make_region(folder)
    write_raster(folder / "dem.tif", synthetic_dem(), transform=DEM_TRANSFORM)
    factors = {name: {} for name in TERRAIN}
    factors["lithology"] = {"path": "geology.gpkg", "attribute": "unit"}  # a local factor too
    return edit_config(config, factors=factors, **changes)


def test_terrain_factors_from_earth_engine_equal_the_local_ones(
    tmp_path: Path, no_ambient_credentials: None
) -> None:
    with FakeEarthEngine(projects={PROJECT: None}) as fake:
        fake.add_asset("USGS/SRTMGL1_003", synthetic_dem(), "EPSG:32633", DEM_TRANSFORM,
                       ["elevation"])  # fmt: skip
        key = trusted_key(fake, tmp_path / "key.json")
        remote = _region(
            tmp_path / "ee",
            dem={"source": "ee"},
            earthengine={"project": PROJECT, "api_url": fake.url, "key_file": str(key.path)},
        )
        proc = run_cli("export-factors", str(remote), "--backend", "ee")
        pixel_requests = fake.requests("computePixels")
    local = _region(tmp_path / "local")
    run_cli("export-factors", str(local))

    assert "dem_ee.tif" in proc.stdout
    assert pixel_requests  # the DEM came over HTTP through the real client
    with (
        rasterio.open(remote.parent / "run" / "factors.tif") as a,
        rasterio.open(local.parent / "run" / "factors.tif") as b,
    ):
        assert a.transform == b.transform and a.descriptions == b.descriptions
        np.testing.assert_allclose(a.read(), b.read(), atol=1e-4, equal_nan=True)
    with (
        rasterio.open(remote.parent / "run" / "class_codes.tif") as a,
        rasterio.open(local.parent / "run" / "class_codes.tif") as b,
    ):
        assert np.array_equal(a.read(), b.read())
    schema = yaml.safe_load((remote.parent / "run" / "factor_schema.json").read_text())
    assert schema["factors"][0]["method"]["dem"] == "earthengine:USGS/SRTMGL1_003"
    assert not list((remote.parent / "run").glob(".ee_tiles*/**/*.npy"))  # cache cleaned up


def test_a_project_the_account_may_not_use_is_one_line(
    tmp_path: Path, no_ambient_credentials: None
) -> None:
    with FakeEarthEngine(projects={"someone-elses": {"other@example.com"}}) as fake:
        key = trusted_key(fake, tmp_path / "key.json")
        config = _region(
            tmp_path / "ee",
            dem={"source": "ee"},
            earthengine={"project": "someone-elses", "api_url": fake.url,
                         "key_file": str(key.path)},
        )  # fmt: skip
        proc = run_cli("export-factors", str(config), "--backend", "ee", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "someone-elses" in errors[0]
    assert key.private_key_id not in proc.stderr
    assert not (config.parent / "run" / "factors.tif").exists()
