"""The stages after export-factors on the synthetic region: sample → train → evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from sklearn.metrics import roc_auc_score

from conftest import edit_config, fast_training, make_region, run_cli
from lsgh_ee.evaluation import weighted_auc


def test_weighted_auc_is_the_auc_of_the_expanded_data() -> None:
    rng = np.random.default_rng(0)
    score = np.round(rng.random(400), 2)  # with ties
    p = rng.random(400)
    expanded_y = np.r_[np.ones(400), np.zeros(400)]
    expanded_s = np.r_[score, score]
    expected = roc_auc_score(expanded_y, expanded_s, sample_weight=np.r_[p, 1 - p])
    assert weighted_auc(score, p) == pytest.approx(expected)
    assert weighted_auc(p, p) > weighted_auc(score, p)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic region through every stage, 3 epochs (tests, not results)."""
    config = make_region(tmp_path_factory.mktemp("pipeline") / "region")
    edit_config(config, training=fast_training(epochs=3, patience=2))
    proc = run_cli("run", str(config))
    assert "| lsgh |" in proc.stdout
    return config


@pytest.mark.slow
def test_run_writes_every_stage(trained_run: Path) -> None:
    run = trained_run.parent / "run"
    for name in ("heatmap.tif", "samples.gpkg", "table4.csv", "table4.md", "pr_curves.png",
                 "roc_curves.png", "evaluation.json", "zoning.json", "report.html",
                 "index_histogram.png", "landslide_density.png", "success_rate.png",
                 "preview.html"):  # fmt: skip
        assert (run / name).exists(), name
    files = {"rf-raw": "model.joblib", "rf": "model.joblib", "cnn": "model.keras",
             "lsgh-noscse": "model.keras", "lsgh": "model.keras"}  # fmt: skip
    for variant, model_file in files.items():
        assert (run / "models" / variant / model_file).exists()
        schema = json.loads((run / "models" / variant / "schema.json").read_text())
        assert schema["variant"] == variant and schema["heatmap_diameter"] == 13
    samples = gpd.read_file(run / "samples.gpkg")
    assert set(samples["kind"]) == {"positive", "negative", "soft"}
    with rasterio.open(run / "heatmap.tif") as src:
        assert src.read(1).max() == pytest.approx(1.0)
    table = pd.read_csv(run / "table4.csv", index_col="model")
    assert list(table.index) == ["rf-raw", "rf", "cnn", "lsgh-noscse", "lsgh"]
    assert (
        ((table[["accuracy", "auc", "ap"]] >= 0) & (table[["accuracy", "auc", "ap"]] <= 1))
        .all()
        .all()
    )


@pytest.mark.slow
def test_every_model_is_scored_on_the_same_hard_test_samples(trained_run: Path) -> None:
    run = trained_run.parent / "run"
    samples = gpd.read_file(run / "samples.gpkg")
    hard_test = samples[(samples["split"] == "test") & (samples["kind"] != "soft")]
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["test_samples"] == len(hard_test)
    # an independent recomputation of one model's accuracy from its bundle
    from lsgh_ee.model import load_bundle

    model, _ = load_bundle(run / "models" / "rf")
    names = json.loads((run / "factor_schema.json").read_text())["factors"]
    codes = hard_test[[f["name"] for f in names]].to_numpy().astype("uint8")
    accuracy = np.mean((model.predict(codes) >= 0.5) == (hard_test["label"].to_numpy() == 1))
    assert evaluation["table4"]["rf"]["accuracy"] == pytest.approx(accuracy)


@pytest.mark.slow
def test_rerun_does_no_work(trained_run: Path) -> None:
    proc = run_cli("run", str(trained_run))
    # factors, samples, 5 models, evaluation, 5 maps, zoning, preview, report
    assert proc.stdout.count(": up to date ->") == 16, proc.stdout
    assert "done in" not in proc.stdout


def test_stage_order_is_enforced(region_config: Path) -> None:
    proc = run_cli("sample", str(region_config), check=False)
    assert proc.returncode == 2 and "run 'lsgh-ee export-factors CONFIG' first" in proc.stderr
    proc = run_cli("train", str(region_config), "--model", "xgb", check=False)
    assert proc.returncode == 2 and "unknown model 'xgb'" in proc.stderr


@pytest.mark.slow
def test_maps_zones_and_tables(trained_run: Path) -> None:
    run = trained_run.parent / "run"
    with rasterio.open(run / "class_codes.tif") as src:
        valid = (src.read() > 0).all(axis=0)
        grid_transform = src.transform
    for model in ("rf-raw", "rf", "cnn", "lsgh-noscse", "lsgh"):
        folder = run / "maps" / model
        with rasterio.open(folder / "susceptibility.tif") as src:
            index = src.read(1)
            assert src.transform == grid_transform
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert np.array_equal(np.isfinite(index), valid)  # nodata where any factor is
        assert np.nanmin(index) >= 0 and np.nanmax(index) <= 1
        with rasterio.open(folder / "zones.tif") as src:
            zones = src.read(1)
            assert src.colormap(1)[5][:3] == (215, 25, 28)
        assert np.array_equal(zones > 0, valid) and set(np.unique(zones[valid])) <= set(range(1, 6))
        # zones are ordered: a higher zone never holds a lower index than a lower zone
        means = [np.mean(index[zones == z]) for z in range(1, 6) if (zones == z).any()]
        assert means == sorted(means)
        intervals = pd.read_csv(folder / "intervals.csv", index_col="interval")
        assert intervals["pixels"].sum() == valid.sum()
        assert np.isclose(intervals["area_share"].sum(), 1.0)
    html = (run / "report.html").read_text()
    for text in (
        "Table 4",
        "Equal intervals",
        "Jenks zones",
        "Timings",
        "data:image/png;base64",
        'href="preview.html"',
    ):
        assert text in html
    assert "http://" not in html and "https://" not in html  # self-contained


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_outputs(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    def region(name: str) -> Path:
        config = make_region(tmp_path / name)
        edit_config(config, training=fast_training(epochs=3, patience=2))
        return config

    whole = region("whole")
    run_cli("run", str(whole))
    broken = region("broken")
    proc = subprocess.Popen([sys.executable, "-m", "lsgh_ee", "run", str(broken)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while not (broken.parent / "run" / "models" / "cnn").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a hard crash in the middle of training
    proc.wait()
    resumed = run_cli("run", str(broken))
    assert "up to date" in resumed.stdout  # the finished stages were not redone
    assert not list((broken.parent / "run").rglob("*.partial*"))
    for name in ("table4.csv", "maps/lsgh/intervals.csv", "maps/rf/zones.csv"):
        assert (whole.parent / "run" / name).read_text() == (
            broken.parent / "run" / name
        ).read_text(), name


@pytest.mark.slow
def test_scale_study_scores_every_diameter_on_one_test_set(trained_run: Path) -> None:
    proc = run_cli("scale-study", str(trained_run), "--diameters", "3", "9", "--epochs", "2")
    assert "| D=3 |" in proc.stdout and "| D=9 |" in proc.stdout
    run = trained_run.parent / "run"
    table = pd.read_csv(run / "scale_study" / "table.csv", index_col="model")
    assert list(table.index) == ["D=3", "D=9"]
    manifest = json.loads((run / "manifest.json").read_text())
    notes = manifest["stages"]["scale-study"]["notes"]
    samples = gpd.read_file(run / "samples.gpkg")
    assert notes["test_samples"] == int(
        ((samples.split == "test") & (samples.kind != "soft")).sum()
    )
    assert (run / "scale_study" / "pr_curves.png").exists()
    bad = run_cli("scale-study", str(trained_run), "--diameters", "0", check=False)
    assert bad.returncode == 2 and "--diameters must be positive" in bad.stderr
