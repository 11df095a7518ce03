"""End-to-end quality floors on the embedded demo region, derived from its known truth.

The demo's landslides are drawn from a stated true susceptibility p (``assets/demo/README.md``,
``truth.tif``), so every model can be scored against p itself, not only against a sampled
inventory. A model that silently degrades (constant or random scores, scores turned upside
down, a model that ignores its input) fails these floors; a model that learns the truth,
even in a few epochs, clears them with a wide margin.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "demo"
MODELS = ("rf-raw", "rf", "cnn", "lsgh-noscse", "lsgh")
SEED = 1


def _cli(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lsgh_ee", *args], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"lsgh-ee {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"


def _demo_config(folder: Path) -> Path:
    """The demo region's config with absolute input paths, a run folder in ``folder``,
    seeded sampling and training, and few epochs (the floors hold after 5)."""
    config = yaml.safe_load((ASSETS / "region.yaml").read_text(encoding="utf-8"))
    config["dem"]["path"] = str(ASSETS / config["dem"]["path"])
    config["inventory"]["path"] = str(ASSETS / config["inventory"]["path"])
    config["evaluation"]["truth"] = str(ASSETS / config["evaluation"]["truth"])
    for spec in config["factors"].values():
        for key in ("path", "red", "nir"):
            if spec and key in spec:
                spec[key] = str(ASSETS / spec[key])
    config["output"] = {"dir": "run"}
    config["sampling"] = {"seed": SEED}
    config["training"] = {"epochs": 5, "patience": 3, "seed": SEED, "members": 1}
    path = folder / "region.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def expected_auc(score: np.ndarray, truth: np.ndarray) -> float:
    """The ROC AUC of ``score`` expected for landslides drawn from the truth p: every pixel
    a positive with weight p and a negative with weight 1 - p (scikit-learn, weighted)."""
    ok = np.isfinite(truth) & np.isfinite(score)
    p, s = truth[ok].astype(np.float64), score[ok].astype(np.float64)
    y = np.r_[np.ones(p.size), np.zeros(p.size)]
    return float(roc_auc_score(y, np.r_[s, s], sample_weight=np.r_[p, 1 - p]))


def truth_floor(truth: np.ndarray) -> tuple[float, float]:
    """(ceiling, floor): the truth's own expected AUC, and halfway from chance to it."""
    ceiling = expected_auc(truth, truth)
    return ceiling, 0.5 + (ceiling - 0.5) / 2


def _truth() -> np.ndarray:
    with rasterio.open(ASSETS / "truth.tif") as src:
        return src.read(1)


def test_truth_floor_fails_degraded_maps() -> None:
    """The expected-AUC floor fails the maps a silently broken model would make (constant,
    random, upside down, noise-dominated) and passes the truth."""
    truth = _truth()
    ceiling, floor = truth_floor(truth)
    assert 0.80 < ceiling < 0.87  # the documented truth: landslide pixels' AUC 0.83
    rng = np.random.default_rng(0)
    inside = np.isfinite(truth)
    degraded = {
        "constant": np.where(inside, 0.5, np.nan),
        "random": np.where(inside, rng.random(truth.shape), np.nan),
        "upside down": 1 - truth,
        "mostly noise": truth + rng.normal(0, 0.5, truth.shape),
    }
    for name, index in degraded.items():
        assert expected_auc(index, truth) < floor, name
    assert expected_auc(truth, truth) > floor


def test_auc_floor_for_random_scores(n_pos: int = 96, n_neg: int = 96) -> None:
    """The test-set floor's premise: the AUC of scores unrelated to the labels has mean 0.5
    and standard deviation sqrt((n0 + n1 + 1) / (12 n0 n1)) (Mann-Whitney U under the null),
    checked by simulation so that the floor below rests on a verified number."""
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    scores = rng.random((400, y.size))
    aucs = [roc_auc_score(y, s) for s in scores[:20]]  # scikit-learn on a few
    ranks = rankdata(scores, axis=1)  # Mann-Whitney on all: AUC = U / (n1 n0)
    u = ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2
    mw = u / (n_pos * n_neg)
    np.testing.assert_allclose(mw[:20], aucs)
    sd = math.sqrt((n_pos + n_neg + 1) / (12 * n_pos * n_neg))
    assert abs(np.mean(mw) - 0.5) < 4 * sd / math.sqrt(mw.size)
    assert np.std(mw) == pytest.approx(sd, rel=0.15)


@pytest.mark.slow
def test_every_model_recovers_the_demo_truth(tmp_path: Path) -> None:
    """Every model, trained for 5 epochs on the demo's samples, beats two floors.

    **Expected AUC against the truth** (``evaluation.json``: the map's ROC AUC when each
    pixel is a landslide with probability p, over all ~92,000 pixels of the region). Chance
    is 0.5: a constant map scores exactly 0.5 (ties count half) and a random one 0.5 ± 0.002
    (so many pixels leave no room for luck). The ceiling is the truth's own expected AUC,
    computed here from ``truth.tif`` (0.837): no map of p can do better. Floor: halfway from
    chance to the ceiling, 0.5 + (ceiling - 0.5) / 2 = 0.669. A model below it has lost more
    than half of what separates the truth from a coin. For scale, the best map that uses a
    single factor (each class of lithology scored with its mean p) reaches 0.713, slope
    alone 0.686; the models measured 0.732-0.796 (below).

    **ROC AUC on the held-out test samples** (Table 4). The test set holds n1 landslide and
    n0 non-landslide pixels (96 and 96 here). Scores unrelated to the labels give an AUC
    of 0.5 with standard deviation sqrt((n0 + n1 + 1) / (12 n0 n1)) = 0.042; the floor is
    3.5 of those above chance, 0.646, which a useless model passes with probability 2e-4.
    A model with AUC 0.77 has a standard error of about 0.034 on these samples (Hanley &
    McNeil 1982), so the floor sits 3.6 standard errors below the lowest measured AUC.

    Measured with these stages, 5 epochs, SEED = 1, 2, 3 with patience 2, and this test as
    written (SEED = 1, patience 3; training is not bit-reproducible across runs):

    ============  ==========================  ==========================
    model         expected AUC                test AUC
    ============  ==========================  ==========================
    rf            0.790 0.783 0.796 | 0.793   0.893 0.848 0.804 | 0.898
    cnn           0.783 0.745 0.779 | 0.750   0.857 0.813 0.811 | 0.855
    lsgh-noscse   0.756 0.741 0.763 | 0.732   0.880 0.830 0.766 | 0.825
    lsgh          0.758 0.756 0.771 | 0.757   0.875 0.878 0.831 | 0.882
    ============  ==========================  ==========================
    """
    config = str(_demo_config(tmp_path))
    _cli("export-factors", config)
    _cli("sample", config)
    for model in MODELS:
        _cli("train", config, "--model", model)
    _cli("evaluate", config)
    run = tmp_path / "run"
    summary = json.loads((run / "evaluation.json").read_text(encoding="utf-8"))

    ceiling, floor = truth_floor(_truth())

    samples = gpd.read_file(run / "samples.gpkg")
    test = samples[(samples["split"] == "test") & (samples["kind"] != "soft")]
    n1 = int((test["kind"] == "positive").sum())
    n0 = int((test["kind"] == "negative").sum())
    assert n1 >= 50 and n0 >= 50
    test_floor = 0.5 + 3.5 * math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))

    got = {m: (summary["truth"][m]["expected_auc"], summary["table4"][m]["auc"]) for m in MODELS}
    print(f"\nfloors: expected AUC {floor:.3f}, test AUC {test_floor:.3f}; got {got}")
    for model, (expected, test_auc) in got.items():
        assert summary["truth"][model]["ceiling_auc"] == pytest.approx(ceiling, abs=1e-3)
        assert floor < expected <= ceiling + 1e-9, (model, expected)
        assert test_auc > test_floor, (model, test_auc)
