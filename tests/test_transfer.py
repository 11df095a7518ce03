"""Taking the method to new regions: check, init, class breaks that travel, fine-tuning,
transfer-eval and the region templates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from shapely.geometry import Point

from conftest import aoi_bbox, edit_config, fast_training, make_region, run_cli, write_config
from lsgh_ee.config import load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.classify import classify_breaks, data_breaks

TEMPLATES = Path(__file__).resolve().parents[1] / "assets" / "templates"
FAST = fast_training(epochs=2, patience=1, models=["rf", "lsgh"])
LOCAL_FILES = ("dem.tif", "red.tif", "nir.tif", "landcover.tif", "roads.gpkg", "rivers.gpkg",
               "geology.gpkg")  # fmt: skip


def _factors(config: Path) -> dict:
    return yaml.safe_load(config.read_text(encoding="utf-8"))["factors"]


def _no_credentials_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return env


# --- check ---------------------------------------------------------------------------------


def test_check_prints_what_will_be_used(region_config: Path) -> None:
    factors = _factors(region_config)
    factors["distance_to_roads"] = None
    edit_config(region_config, factors=factors)
    proc = run_cli("check", str(region_config))
    out = proc.stdout
    assert "usable" in out and "EPSG:32633" in out
    assert "30 m, 70 x 70 pixels" in out
    assert "left out" in out and "distance_to_roads" in out
    assert "25 polygon features, 25 inside the AOI" in out
    assert "data on 100.0% of the AOI" in out
    assert not (region_config.parent / "run").exists()  # nothing was computed


def test_check_exits_2_with_one_line_per_problem(region_config: Path) -> None:
    (region_config.parent / "landcover.tif").write_bytes(b"not a raster")
    with rasterio.open(region_config.parent / "dem.tif") as src:
        dem = src.read(1)
        profile = src.profile
    profile.update(width=20, height=20)  # covers a corner of the AOI only
    with rasterio.open(region_config.parent / "dem.tif", "w", **profile) as dst:
        dst.write(dem[:20, :20], 1)
    proc = run_cli("check", str(region_config), check=False)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, proc.stderr
    assert any("landcover.tif cannot be read" in e for e in errors)
    assert any("dem.tif covers only" in e for e in errors)
    assert "ERROR" in proc.stdout and "Traceback" not in proc.stderr


# --- init and templates --------------------------------------------------------------------


def test_init_writes_an_ee_and_a_local_config(tmp_path: Path) -> None:
    source = make_region(tmp_path / "source")
    folder = tmp_path / "valley"
    bbox = [f"{v:.6f}" for v in aoi_bbox()]
    proc = run_cli("init", str(folder), "--bbox", *bbox, "--inventory",
                   str(source.parent / "landslides.gpkg"), "--name", "valley")  # fmt: skip
    assert "region.yaml" in proc.stdout
    ee_text = (folder / "region.yaml").read_text()
    assert "UTM zone 33N (EPSG:32633)" in ee_text and "ee_asset: USGS/SRTMGL1_003" in ee_text
    ee = load_config(folder / "region.yaml")
    assert ee.dem.source == "ee" and ee.factors["ndvi"].source == "ee"
    assert len(ee.factors["ndvi"].years) == 2
    assert ee.inventory.path.resolve() == (source.parent / "landslides.gpkg").resolve()
    raw = yaml.safe_load(ee_text)
    assert raw["inventory"]["path"] == "../source/landslides.gpkg"  # relative
    # never overwritten without --force
    again = run_cli("init", str(folder), "--bbox", *bbox, check=False)
    assert again.returncode == 2 and "--force" in again.stderr
    # the local variant loads once the user's files exist
    with pytest.raises(LsghError, match="dem.tif"):
        load_config(folder / "region-local.yaml")
    for name in LOCAL_FILES:
        shutil.copy(source.parent / name, folder / name)
    local = load_config(folder / "region-local.yaml")
    assert local.dem.path == (folder / "dem.tif").resolve()
    assert run_cli("check", str(folder / "region-local.yaml")).returncode == 0


def test_init_fills_in_the_templates(tmp_path: Path) -> None:
    """init's configs are the template files with the region's values filled in: every
    other key and value, and the templates' comments, come from the one copy in
    assets/templates (lsgh_ee/regions/templates)."""
    import datetime

    from lsgh_ee.regions.init import init_region

    written = init_region(tmp_path / "valley", bbox=(103.71, 33.11, 103.9, 33.33),
                          name="valley", resolution=90,
                          today=datetime.date(2026, 12, 2))  # fmt: skip
    for path, template, name in zip(written, ("jiuzhaigou-ee.yaml", "local-files.yaml"),
                                    ("valley", "valley-local"), strict=True):  # fmt: skip
        text, source = path.read_text(), (TEMPLATES / template).read_text()
        expected = yaml.safe_load(source)
        expected.update(name=name, resolution=90, output={"dir": f"runs/{name}"})
        if "years" in expected["factors"]["ndvi"]:
            expected["factors"]["ndvi"]["years"] = [2024, 2025]
        assert yaml.safe_load(text) == expected
        assert text.startswith("# Region config written by 'lsgh-ee init'")
        assert "UTM zone 48N (EPSG:32648)" in text
        # the templates' comments are kept (the NDVI years of 2026 are the template's)
        section = source[source.index("\ndem:") : source.index("\nheatmap:")]
        assert section in text


def test_templates_load_and_the_ee_one_checks_up_to_credentials(tmp_path: Path) -> None:
    for template in ("jiuzhaigou-ee.yaml", "local-files.yaml"):
        shutil.copy(TEMPLATES / template, tmp_path / template)
    for name in ("dem.tif", "red.tif", "nir.tif", "landcover.tif", "roads.gpkg", "rivers.gpkg",
                 "geology.gpkg"):  # fmt: skip
        (tmp_path / name).touch()  # placeholders: load_config checks the paths exist
    slides = [Point(103.80, 33.20), Point(103.75, 33.25)]
    gpd.GeoDataFrame({"id": [1, 2]}, geometry=slides, crs="EPSG:4326").to_file(
        tmp_path / "landslides.gpkg"
    )
    ee = load_config(tmp_path / "jiuzhaigou-ee.yaml")
    assert ee.aoi.bbox == (103.71, 33.11, 103.90, 33.33) and ee.dem.source == "ee"
    local = load_config(tmp_path / "local-files.yaml")
    assert all(spec.source == "local" for spec in local.factors.values())
    proc = subprocess.run(
        [sys.executable, "-m", "lsgh_ee", "check", str(tmp_path / "jiuzhaigou-ee.yaml")],
        capture_output=True, text=True, timeout=300, env=_no_credentials_env(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "needs credentials" in proc.stderr
    assert "EPSG:32648" in proc.stdout and "2 point features, 2 inside the AOI" in proc.stdout


# --- class breaks that travel --------------------------------------------------------------


def test_data_breaks() -> None:
    values = np.r_[np.arange(100, dtype="float64"), np.nan]
    assert data_breaks(values, "quantile", 4) == (24.75, 49.5, 74.25)
    rng = np.random.default_rng(0)
    two = np.r_[rng.normal(0, 1, 3000), rng.normal(50, 1, 3000)]
    (cut,) = data_breaks(two, "natural", 2, seed=1)
    assert 3 < cut < 47
    assert data_breaks(two, "natural", 2, seed=1) == (cut,)  # seeded
    with pytest.raises(ValueError, match="constant"):
        data_breaks(np.ones(10), "quantile", 3)
    # out-of-range values: below the first break -> class 1, above the last -> top class
    assert list(classify_breaks(np.array([-1e9, 1e9, np.nan]), [0.0, 1.0])) == [1, 3, 0]


def test_classify_options_are_validated(region_config: Path) -> None:
    factors = _factors(region_config)
    factors["slope"] = {"classify": "quantile", "breaks": [10, 20]}
    edit_config(region_config, factors=factors)
    with pytest.raises(LsghError, match="either 'breaks' or classify"):
        load_config(region_config)
    factors["slope"] = {}
    factors["aspect"] = {"classify": "natural"}
    edit_config(region_config, factors=factors)
    from lsgh_ee.factors.resolve import resolve_factors

    with pytest.raises(LsghError, match="aspect' is categorical; remove 'factors.aspect.classify"):
        resolve_factors(load_config(region_config))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic region with rf and lsgh trained (2 epochs), Table 2 breaks."""
    from lsgh_ee import stages

    config = make_region(tmp_path_factory.mktemp("transfer") / "region")
    edit_config(config, training=FAST)
    stages.export_factors(config)
    stages.sample(config)
    for variant in ("rf", "lsgh"):
        stages.train(config, variant)
    return config


def _variant(config: Path, name: str, **factor_changes) -> Path:
    """A copy of ``config`` with its own run folder and some factors changed."""
    factors = _factors(config)
    factors.update(factor_changes)
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw.update(name=name, factors=factors, output={"dir": f"run-{name}"})
    path = config.parent / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_region_breaks_are_recorded_and_a_bundle_reclassifies_them(trained: Path) -> None:
    from lsgh_ee import stages

    other = _variant(trained, "quantiles", slope={"classify": "quantile", "n_classes": 5},
                     distance_to_rivers={"classify": "natural", "n_classes": 4,
                                         "path": "rivers.gpkg"})  # fmt: skip
    stages.export_factors(other)
    run = trained.parent / "run-quantiles"
    schema = {f["name"]: f for f in json.loads((run / "factor_schema.json").read_text())["factors"]}
    assert len(schema["slope"]["breaks"]) == 4 and schema["slope"]["n_classes"] == 5
    assert schema["slope"]["method"]["classify"] == "quantile"
    assert len(schema["distance_to_rivers"]["breaks"]) == 3
    with rasterio.open(run / "class_codes.tif") as src:
        assert src.read(1).max() == 5
    # a model trained with Table 2 breaks maps this region through its own breaks
    bundle = trained.parent / "run" / "models" / "rf"
    result = stages.predict(other, "rf-transferred", bundle=bundle)
    notes = result.summary["reclassified"]
    assert [n.split(":")[0] for n in notes] == ["slope", "distance_to_rivers"]
    stages.predict(trained, "rf")
    own = trained.parent / "run" / "maps" / "rf" / "susceptibility.tif"
    with rasterio.open(run / "maps" / "rf-transferred" / "susceptibility.tif") as a:
        with rasterio.open(own) as b:
            np.testing.assert_array_equal(a.read(1), b.read(1))  # same values, same codes
        assert "slope" in a.tags()["reclassified"]
    assert not list(run.glob(".model-breaks-*"))  # the temporary stack is gone


def test_categorical_classes_must_still_match(trained: Path) -> None:
    from lsgh_ee import stages

    other = _variant(trained, "renamed", lithology={"path": "geology.gpkg", "attribute": "unit",
                     "remap": {"sandstone": "sandstone", "shale": "mudstone"}})  # fmt: skip
    stages.export_factors(other)
    bundle = trained.parent / "run" / "models" / "rf"
    with pytest.raises(LsghError, match="lithology classes"):
        stages.predict(other, "rf", bundle=bundle)


# --- fine-tuning ---------------------------------------------------------------------------


def test_fine_tuning_trains_only_the_head(trained: Path) -> None:
    from lsgh_ee import stages
    from lsgh_ee.model import load_bundle
    from lsgh_ee.model.network import HEAD_LAYERS

    other = _variant(trained, "finetune")
    bbox = aoi_bbox()
    edit_config(other, aoi={"bbox": [bbox[0], bbox[1], (bbox[0] + bbox[2]) / 2, bbox[3]]})
    stages.export_factors(other)
    stages.sample(other)
    source = trained.parent / "run" / "models" / "lsgh"
    with pytest.raises(LsghError, match="--model lsgh"):
        stages.train(other, "cnn", init_from=source)
    with pytest.raises(LsghError, match="rf cannot be fine-tuned"):
        stages.train(other, "rf", init_from=source)
    result = stages.train(other, "lsgh", init_from=source)
    assert result.summary["fine_tuned_from"] == str(source)
    before, _ = load_bundle(source)
    after, _ = load_bundle(trained.parent / "run-finetune" / "models" / "lsgh")
    changed = []
    for old, new in zip(before.model_.layers, after.model_.layers, strict=True):
        same = all(np.array_equal(a, b) for a, b in zip(old.get_weights(), new.get_weights(),
                                                        strict=True))  # fmt: skip
        if old.name in HEAD_LAYERS:
            changed.append(not same)
        else:
            assert same, f"frozen layer {old.name} changed"
    assert any(changed), "the head did not train"


def test_fine_tuning_needs_matching_breaks(trained: Path) -> None:
    from lsgh_ee import stages

    other = _variant(trained, "coarse", slope={"breaks": [15, 30, 45]})
    stages.export_factors(other)
    stages.sample(other)
    with pytest.raises(LsghError, match="cannot fine-tune .* slope breaks"):
        stages.train(other, "lsgh", init_from=trained.parent / "run" / "models" / "lsgh")


# --- transfer-eval -------------------------------------------------------------------------


def test_transfer_eval_west_to_east(tmp_path: Path) -> None:
    config = make_region(tmp_path / "region")
    w, s, e, n = aoi_bbox()
    mid = (w + e) / 2
    west = _variant(config, "west")
    east = _variant(config, "east")
    edit_config(west, aoi={"bbox": [w, s, mid, n]}, training=FAST)
    edit_config(east, aoi={"bbox": [mid, s, e, n]}, training=FAST)
    proc = run_cli("transfer-eval", "--train", str(west), "--test", str(east))
    folder = tmp_path / "region" / "run-west" / "transfer" / "west_to_east"
    for name in ("table.csv", "table.md", "success_rate.png", "zones_rf.csv",
                 "zones_lsgh.csv"):  # fmt: skip
        assert (folder / name).exists(), name
    table = pd.read_csv(folder / "table.csv", index_col="model")
    assert list(table.index) == ["rf", "lsgh"]
    for col in ("auc", "ap", "success_auc", "high_vh_area_share", "high_vh_landslide_share"):
        assert table[col].between(0, 1).all(), col
    assert "| lsgh |" in proc.stdout
    summary = json.loads((folder / "transfer.json").read_text())
    samples = gpd.read_file(tmp_path / "region" / "run-east" / "samples.gpkg")
    assert summary["test_samples"] == int((samples["kind"] != "soft").sum())  # both splits
    print("\n" + (folder / "table.md").read_text())
    # a re-run with nothing changed does no work
    again = run_cli("transfer-eval", "--train", str(west), "--test", str(east))
    assert "up to date" in again.stdout


@pytest.mark.slow
def test_transfer_on_the_demo_region_west_to_east(tmp_path: Path) -> None:
    """The embedded demo split in two: models learn in the west half and are scored on the
    east half's landslides (the demo's truth is one function everywhere, so a model that
    learnt it must rank the east's landslides well above chance)."""
    from lsgh_ee.demo import ASSETS

    base = yaml.safe_load((ASSETS / "region.yaml").read_text())
    w, s, e, n = base["aoi"]["bbox"]
    mid = (w + e) / 2
    for key in ("dem",):
        base[key]["path"] = str(ASSETS / base[key]["path"])
    base["inventory"]["path"] = str(ASSETS / base["inventory"]["path"])
    base["evaluation"]["truth"] = str(ASSETS / base["evaluation"]["truth"])
    for spec in base["factors"].values():
        for key in ("path", "red", "nir"):
            if spec and key in spec:
                spec[key] = str(ASSETS / spec[key])
    configs = {}
    for name, bbox in (("west", [w, s, mid, n]), ("east", [mid, s, e, n])):
        config = {**base, "name": name, "aoi": {"bbox": bbox}, "output": {"dir": f"run-{name}"},
                  "training": fast_training(epochs=5, patience=3)}  # fmt: skip
        configs[name] = write_config(tmp_path / f"{name}.yaml", config)
    proc = run_cli("transfer-eval", "--train", str(configs["west"]), "--test", str(configs["east"]))
    table = pd.read_csv(tmp_path / "run-west" / "transfer" / "west_to_east" / "table.csv",
                        index_col="model")  # fmt: skip
    assert list(table.index) == ["rf-raw", "rf", "cnn", "lsgh-noscse", "lsgh"]
    assert table.loc["rf", "auc"] > 0.65 and table.loc["rf", "success_auc"] > 0.65
    assert "| lsgh |" in proc.stdout
