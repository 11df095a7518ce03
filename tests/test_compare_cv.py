"""``compare-cv``: an ablation as fold-paired differences between cross-validation runs of
the same folds, checked against a direct computation from the runs' ``folds.csv``; runs
that cut other folds are refused by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import lsgh_ee as lg
from conftest import edit_config, fast_training, run_cli
from lsgh_ee.errors import LsghError
from lsgh_ee.evaluation.crossval import compare_runs
from lsgh_ee.runfolder import RunFolder

FOLDS = 3


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """The plain 95% Student t-interval of the mean, written out independently."""
    mean, sem = values.mean(), values.std(ddof=1) / np.sqrt(values.size)
    half = stats.t.ppf(0.975, values.size - 1) * sem
    return mean, mean - half, mean + half


def test_compare_runs_pairs_folds_and_matches_a_direct_t_interval() -> None:
    rng = np.random.default_rng(3)
    level = rng.uniform(0.6, 0.9, 5)  # fold difficulty, shared by both runs
    gain = rng.normal(0.03, 0.01, 5)

    def frame(shift: np.ndarray) -> pd.DataFrame:
        rows = [{"repeat": 1, "fold": k + 1, "model": "lsgh", "auc": level[k] + shift[k],
                 "ap": level[k], "brier": 0.2} for k in range(5)]  # fmt: skip
        return pd.DataFrame(rows[::-1])  # fold order must not matter

    table = compare_runs(frame(np.zeros(5)), {"new": frame(gain)}, [("lsgh", "lsgh")])
    row = table.iloc[0]
    mean, low, high = _t_interval(gain)
    assert (row.run, row.model, row.base_model) == ("new", "lsgh", "lsgh")
    assert row.auc_diff == pytest.approx(mean) and row.auc_low == pytest.approx(low)
    assert row.auc_high == pytest.approx(high) and row.ap_diff == pytest.approx(0.0)
    assert row.other_wins_auc == f"{int((gain > 0).sum())}/5"
    assert row.auc_base == pytest.approx(level.mean())


@pytest.fixture(scope="module")
def two_runs(built_region: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The synthetic region cross-validated twice on the same folds: the base with rf and
    rf-raw, the other with rf only and a smaller forest grid."""
    runs = []
    for name, grid in (("base", None), ("small-grid", {"n_estimators": [50]})):
        folder = tmp_path_factory.mktemp(name)
        shutil.copytree(built_region.parent, folder, dirs_exist_ok=True)
        config = folder / built_region.name
        sampling = yaml.safe_load(config.read_text(encoding="utf-8")).get("sampling") or {}
        training = fast_training(epochs=2, patience=1) | ({"rf_grid": grid} if grid else {})
        edit_config(config, sampling={**sampling, "block_size": 450.0}, training=training)
        models = ["rf", "rf-raw"] if grid is None else ["rf"]
        runs.append(lg.cv(config, folds=FOLDS, models=models).run_dir)
    return runs[0], runs[1]


def test_cv_records_each_folds_test_landslides(two_runs: tuple[Path, Path]) -> None:
    details = [json.loads((RunFolder(r).cv_file(RunFolder.CV_JSON)).read_text())["fold_details"]
               for r in two_runs]  # fmt: skip
    digests = [[f["test_landslides"] for f in d] for d in details]
    assert digests[0] == digests[1] and len(set(digests[0])) == FOLDS


def test_compare_cv_is_the_fold_paired_difference_of_the_runs(two_runs: tuple[Path, Path]) -> None:
    base, other = two_runs
    result = lg.compare_cv(f"paper={base}", [f"grid={other}"], models=["rf"])
    (row,) = result.summary["rows"]
    a = pd.read_csv(RunFolder(other).cv_file(RunFolder.CV_FOLDS_CSV))
    b = pd.read_csv(RunFolder(base).cv_file(RunFolder.CV_FOLDS_CSV))
    diff = a[a.model == "rf"].auc.to_numpy() - b[b.model == "rf"].auc.to_numpy()
    mean, low, high = _t_interval(diff)
    assert row["run"] == "grid" and row["model"] == row["base_model"] == "rf"
    assert row["same_test_samples"] is True and "differ from" not in result.summary["markdown"]
    assert row["auc_diff"] == pytest.approx(mean, abs=1e-9)
    assert (row["auc_low"], row["auc_high"]) == pytest.approx((low, high), abs=1e-9)
    assert (
        "| grid | rf |" in result.summary["markdown"]
        and "AUC in paper" in result.summary["markdown"]
    )
    versus = lg.compare_cv(base, [other], versus="rf-raw")
    (row,) = versus.summary["rows"]
    ref = b[b.model == "rf-raw"].auc.to_numpy()
    assert row["base_model"] == "rf-raw"
    assert row["auc_diff"] == pytest.approx((a[a.model == "rf"].auc.to_numpy() - ref).mean())


def test_compare_cv_refuses_runs_of_other_folds(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, other = two_runs
    moved = tmp_path / "moved"
    shutil.copytree(RunFolder(other).cv, moved / RunFolder.CV_DIR)
    summary = json.loads((moved / "cv" / RunFolder.CV_JSON).read_text())
    summary["fold_details"][1]["test_landslides"] = "0" * 16
    (moved / "cv" / RunFolder.CV_JSON).write_text(json.dumps(summary))
    with pytest.raises(LsghError, match="fold 2 of moved tests other landslides"):
        lg.compare_cv(base, [moved])
    summary["block_size"] = 900.0
    (moved / "cv" / RunFolder.CV_JSON).write_text(json.dumps(summary))
    with pytest.raises(LsghError, match=r"cross-validated differently \(block_size"):
        lg.compare_cv(base, [moved])
    with pytest.raises(LsghError, match="has no cross-validated model 'lsgh'"):
        lg.compare_cv(base, [other], models=["lsgh"])
    with pytest.raises(LsghError, match="base run .* has no cross-validated model lsgh"):
        lg.compare_cv(base, [other], versus="lsgh")


def test_compare_cv_command_writes_the_table_and_fails_in_one_line(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, other = two_runs
    out = tmp_path / "ablation.md"
    proc = run_cli("compare-cv", str(base), f"grid={other}", "-m", "rf", "--out", str(out))
    assert "| grid | rf |" in proc.stdout
    assert out.read_text(encoding="utf-8").startswith("| Run | Model |")
    assert list(pd.read_csv(out.with_suffix(".csv")).model) == ["rf"]
    bad = run_cli("compare-cv", str(base), str(tmp_path / "nowhere"), check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "holds no cross-validation results" in bad.stderr
    assert "run 'lsgh-ee cv CONFIG'" in bad.stderr
