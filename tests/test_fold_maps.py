"""Cross-validation maps: the across-fold mean and standard deviation of the index, and the
expected AUC against a known truth over a test fold (issue 13, points 6 and the truth)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from sklearn.metrics import roc_auc_score

import lsgh_ee as lg
from conftest import edit_config, fast_training
from lsgh_ee.evaluation.foldmaps import FoldMaps, truth_auc_in
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.rasters import write_geotiff
from lsgh_ee.runfolder import RunFolder


def test_fold_maps_mean_and_sd_match_numpy():
    rng = np.random.default_rng(0)
    folds = rng.random((5, 4, 6))
    folds[:, 0, 0] = np.nan  # nodata in every fold stays nodata
    maps = FoldMaps((4, 6))
    for index in folds:
        maps.add("lsgh", index)
    maps.add("rf", folds[0])
    np.testing.assert_allclose(maps.mean("lsgh"), np.mean(folds, axis=0), rtol=1e-6)
    np.testing.assert_allclose(maps.sd("lsgh"), np.std(folds, axis=0, ddof=1), rtol=1e-5)
    assert np.isnan(maps.sd("lsgh")[0, 0])
    assert np.isnan(maps.sd("rf")).all()  # one fold has no spread
    with pytest.raises(ValueError, match="shape"):
        maps.add("rf", folds[0][:2])


def test_truth_auc_in_an_area_is_the_weighted_auc_of_its_pixels():
    rng = np.random.default_rng(1)
    truth = rng.random((20, 20))
    index = truth + rng.normal(0, 0.3, truth.shape)
    area = np.zeros(truth.shape, dtype=bool)
    area[5:15, 2:12] = True
    index[6, 3] = np.nan  # a nodata pixel inside the area is left out
    keep = area & np.isfinite(index)
    p, s = truth[keep], index[keep]
    # each pixel is a landslide with weight p and ground with weight 1 - p
    expected = roc_auc_score(np.r_[np.ones(p.size), np.zeros(p.size)], np.r_[s, s],
                             sample_weight=np.r_[p, 1 - p])  # fmt: skip
    assert truth_auc_in(index, truth, area) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(truth_auc_in(index, truth, np.zeros_like(area)))


def test_cv_writes_fold_maps_and_the_auc_against_a_known_truth(built_region: Path, tmp_path):
    shutil.copytree(built_region.parent, tmp_path / "region")
    config = tmp_path / "region" / built_region.name
    stack = FactorStack.read(RunFolder(lg.load_config(config).output.dir).path)
    truth = (stack.codes[0] / stack.codes[0].max()).astype("float32")
    write_geotiff(tmp_path / "region" / "truth.tif", truth, stack.grid)
    edit_config(config, sampling={"block_size": 450.0}, evaluation={"truth": "truth.tif"},
                training=fast_training(epochs=2, patience=1))  # fmt: skip
    result = lg.cv(config, folds=3, models=["rf"])
    run = RunFolder(result.run_dir)
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    assert per_fold["expected_auc"].between(0, 1).all()
    table = pd.read_csv(run.cv_file(run.CV_TABLE_CSV), index_col="model")
    assert table.loc["rf", "expected_auc_mean"] == pytest.approx(per_fold["expected_auc"].mean())
    assert "AUC vs known truth" in run.cv_file(run.CV_TABLE_MD).read_text(encoding="utf-8")
    with rasterio.open(run.cv_file(run.CV_MAPS_TIF)) as src:
        assert src.descriptions == ("rf mean", "rf sd")
        mean, sd = src.read(1), src.read(2)
    valid = (stack.codes > 0).all(axis=0)
    assert np.isfinite(mean[valid]).all() and np.isnan(mean[~valid]).all()
    assert (mean[valid] >= 0).all() and (mean[valid] <= 1).all() and (sd[valid] >= 0).all()
    assert sd[valid].max() > 0  # three folds' forests disagree somewhere


def test_cv_scores_an_ensemble_as_the_mean_of_its_members(built_region: Path, tmp_path):
    shutil.copytree(built_region.parent, tmp_path / "region")
    config = edit_config(tmp_path / "region" / built_region.name,
                         sampling={"block_size": 450.0},
                         training=fast_training(epochs=2, patience=1))  # fmt: skip
    with pytest.raises(lg.LsghError, match="--ensemble needs two or more"):
        lg.cv(config, folds=3, models=["rf", "rf-raw"], ensemble=["rf", "lsgh"])
    result = lg.cv(config, folds=3, models=["rf", "rf-raw"], ensemble=["rf", "rf-raw"])
    run = RunFolder(result.run_dir)
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    assert list(dict.fromkeys(per_fold["model"])) == ["rf", "rf-raw", "ensemble"]
    with rasterio.open(run.cv_file(run.CV_MAPS_TIF)) as src:
        bands = dict(zip(src.descriptions, src.read(), strict=True))
    # the mean over the folds of the members' mean map is the mean of their fold means
    members = (bands["rf mean"] + bands["rf-raw mean"]) / 2
    np.testing.assert_allclose(bands["ensemble mean"], members, rtol=1e-5)
    assert "ensemble" in result.summary["table"]
