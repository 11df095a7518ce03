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

from conftest import edit_config, make_region, run_cli
from lsgh_ee.pipeline import weighted_auc


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
    edit_config(config, training={"epochs": 3, "patience": 2})
    proc = run_cli("run", str(config))
    assert "| lsgh |" in proc.stdout
    return config


@pytest.mark.slow
def test_run_writes_every_stage(trained_run: Path) -> None:
    run = trained_run.parent / "run"
    for name in ("heatmap.tif", "samples.gpkg", "table4.csv", "table4.md", "pr_curves.png",
                 "roc_curves.png", "evaluation.json"):  # fmt: skip
        assert (run / name).exists(), name
    files = {"rf": "model.joblib", "cnn": "model.keras", "lsgh-noscse": "model.keras",
             "lsgh": "model.keras"}  # fmt: skip
    for variant, model_file in files.items():
        assert (run / "models" / variant / model_file).exists()
        schema = json.loads((run / "models" / variant / "schema.json").read_text())
        assert schema["variant"] == variant and schema["heatmap_diameter"] == 13
    samples = gpd.read_file(run / "samples.gpkg")
    assert set(samples["kind"]) == {"positive", "negative", "soft"}
    with rasterio.open(run / "heatmap.tif") as src:
        assert src.read(1).max() == pytest.approx(1.0)
    table = pd.read_csv(run / "table4.csv", index_col="model")
    assert list(table.index) == ["rf", "cnn", "lsgh-noscse", "lsgh"]
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
    assert proc.stdout.count("up to date") == 7  # factors, samples, 4 models, evaluation


def test_stage_order_is_enforced(region_config: Path) -> None:
    proc = run_cli("sample", str(region_config), check=False)
    assert proc.returncode == 2 and "run 'lsgh-ee export-factors CONFIG' first" in proc.stderr
    proc = run_cli("train", str(region_config), "--model", "xgb", check=False)
    assert proc.returncode == 2 and "unknown model 'xgb'" in proc.stderr
