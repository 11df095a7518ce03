"""The command line end to end: real files out, manifest, re-runs, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

from conftest import edit_config, run_cli
from lsgh_ee.factors.stack import FactorStack

EXPECTED = [
    "factors.tif",
    "class_codes.tif",
    "factor_schema.json",
    "inventory.gpkg",
    "factor_correlation.csv",
    "factor_importance.csv",
    "factor_report.png",
    "manifest.json",
]


def _run_dir(config: Path) -> Path:
    return config.parent / "run"


def test_export_factors_writes_every_output(built_region: Path) -> None:
    run = _run_dir(built_region)
    assert sorted(p.name for p in run.iterdir()) == sorted(EXPECTED)
    with rasterio.open(run / "class_codes.tif") as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 0
        assert src.count == 9 and src.crs.to_epsg() == 32633
        assert src.descriptions[0] == "slope" and src.descriptions[-1] == "lithology"
        assert json.loads(src.tags(6)["classes"])[0] == "arable"
        codes = src.read()
    with rasterio.open(run / "factors.tif") as src:
        assert src.dtypes[0] == "float32" and np.isnan(src.nodata)
        assert src.tags(1)["units"] == "degrees"
        values = src.read()
    assert np.array_equal(codes > 0, ~np.isnan(values))
    schema = json.loads((run / "factor_schema.json").read_text())
    assert [f["n_classes"] for f in schema["factors"]][:4] == [11, 9, 12, 10]
    stack = FactorStack.read(run)
    assert stack.names[-1] == "lithology" and stack.layers[-1].classes == ("sandstone", "shale")
    inventory = gpd.read_file(run / "inventory.gpkg")
    assert len(inventory) == 25 and inventory.crs.to_epsg() == 32633
    importance = pd.read_csv(run / "factor_importance.csv", index_col="factor")
    assert sorted(importance.index) == sorted(stack.names)
    corr = pd.read_csv(run / "factor_correlation.csv", index_col=0)
    np.testing.assert_allclose(np.diag(corr.to_numpy()), 1.0)
    assert (run / "factor_report.png").read_bytes()[:4] == b"\x89PNG"


def test_manifest_records_inputs_and_outputs(built_region: Path) -> None:
    manifest = json.loads((_run_dir(built_region) / "manifest.json").read_text())
    stage = manifest["stages"]["export-factors"]
    assert set(stage["outputs"]) == set(EXPECTED) - {"manifest.json"}
    assert any(p.endswith("dem.tif") for p in stage["inputs"])
    assert stage["versions"]["rasterio"]
    assert stage["notes"]["inventory"]["kept"] == 25


def test_rerun_is_skipped_until_an_input_changes(region_config: Path) -> None:
    first = run_cli("export-factors", str(region_config))
    assert "done in" in first.stdout
    second = run_cli("export-factors", str(region_config))
    assert "up to date" in second.stdout
    edit_config(region_config, terrain={"tpi_radius": 300, "relief_radius": 150})
    third = run_cli("export-factors", str(region_config))
    assert "done in" in third.stdout


def _fails(*args: str) -> str:
    proc = run_cli(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _no_outputs(run: Path) -> None:
    assert not run.exists() or not any(p.suffix in (".tif", ".gpkg") for p in run.iterdir())


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"resolutoin": 30}, "unknown key 'resolutoin'"),
        ({"resolution": "high"}, "key 'resolution'"),
        ({"dem": {"path": "missing.tif"}}, "'dem.path' names missing.tif, which does not exist"),
        ({"heatmap": {"diameter": 0}}, "heatmap.diameter"),
        ({"crs": "EPSG:4326"}, "geographic (degrees); use a projected CRS"),
    ],
)
def test_config_mistakes(region_config: Path, change: dict, fragment: str) -> None:
    edit_config(region_config, **change)
    assert fragment in _fails("export-factors", str(region_config))
    _no_outputs(_run_dir(region_config))


def test_inputs_mistakes(region_config: Path) -> None:
    folder = region_config.parent
    (folder / "landslides.gpkg").unlink()
    gpd.GeoDataFrame(geometry=[], crs="EPSG:32633").to_file(folder / "landslides.gpkg")
    assert "has no features" in _fails("export-factors", str(region_config))
    _no_outputs(_run_dir(region_config))


def test_corrupt_dem(region_config: Path) -> None:
    dem = region_config.parent / "dem.tif"
    dem.write_bytes(dem.read_bytes()[:500])
    assert "dem.tif cannot be read" in _fails("export-factors", str(region_config))
    _no_outputs(_run_dir(region_config))


def test_unwritable_run_folder(region_config: Path) -> None:
    blocker = region_config.parent / "a-file"
    blocker.write_text("not a folder")
    line = _fails("export-factors", str(region_config), "--out", str(blocker / "run"))
    assert "cannot create run folder" in line and "writable folder" in line


def test_earth_engine_backend_without_credentials(
    region_config: Path, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    edit_config(region_config, dem={"source": "ee"})
    line = _fails("export-factors", str(region_config), "--backend", "ee")
    assert "no Earth Engine credentials found: run 'earthengine authenticate'" in line
    _no_outputs(_run_dir(region_config))


def test_earth_engine_dem_needs_the_ee_backend(region_config: Path) -> None:
    edit_config(region_config, dem={"source": "ee"})
    line = _fails("export-factors", str(region_config))
    assert "'dem.source' is 'ee' but the local backend was chosen; run with --backend ee" in line


def test_a_factor_without_an_earth_engine_recipe_is_named(region_config: Path) -> None:
    config = yaml.safe_load(region_config.read_text())
    config["factors"]["soil"] = {"source": "ee", "kind": "categorical", "path": "landcover.tif"}
    region_config.write_text(yaml.safe_dump(config))
    line = _fails("export-factors", str(region_config), "--backend", "ee")
    assert "factor 'soil' is a raster with no Earth Engine recipe" in line
    assert "'factors.soil' a local file" in line


def test_unknown_backend(region_config: Path) -> None:
    assert "--backend must be 'local' or 'ee'" in _fails(
        "export-factors", str(region_config), "--backend", "gcs"
    )


def test_help_explains_the_options() -> None:
    out = run_cli("export-factors", "--help").stdout
    assert "--backend" in out and "--force" in out and "Earth Engine" in out
    assert "lsgh-ee" in run_cli("--version").stdout


def test_demo_config_is_valid_yaml() -> None:
    from lsgh_ee.demo import ASSETS

    config = ASSETS / "region.yaml"
    if not config.exists():
        pytest.skip("the demo region has not been generated in this checkout")
    assert yaml.safe_load(config.read_text())["name"] == "jacksboro-demo"
