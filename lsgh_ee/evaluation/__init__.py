"""Evaluation metrics of the paper's Table 3, ROC / PR curves and the Table 4 writer.

Everything is computed here from counts and ranks (no scikit-learn), so the tests can
check each number against scikit-learn as an independent implementation.

Conventions: ``y_true`` holds hard labels (1 landslide, 0 non-landslide); ``y_score``
is the susceptibility index in [0, 1]; a pixel is predicted a landslide when its score is
``>= threshold`` (0.5 by default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lsgh_ee.atomic import atomic_path, write_text
from lsgh_ee.runfolder import RunFolder

METRICS = ("accuracy", "precision", "specificity", "sensitivity", "f1", "mse", "auc", "ap")
#: the metrics that depend on the threshold (shown in percent)
THRESHOLD_METRICS = ("accuracy", "precision", "specificity", "sensitivity", "f1")
_PERCENT = THRESHOLD_METRICS


def _check(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype="float64").ravel()
    y_score = np.asarray(y_score, dtype="float64").ravel()
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true has {y_true.size} values but y_score has {y_score.size}")
    if not np.isin(y_true, (0.0, 1.0)).all():
        raise ValueError("y_true must hold hard labels 0 and 1 (soft samples are for training)")
    return y_true, y_score


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def confusion(y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    """TP, FP, TN, FN at ``threshold`` (score >= threshold → landslide)."""
    y_true, y_score = _check(y_true, y_score)
    pred = y_score >= threshold
    pos = y_true == 1
    return {
        "tp": int((pred & pos).sum()),
        "fp": int((pred & ~pos).sum()),
        "tn": int((~pred & ~pos).sum()),
        "fn": int((~pred & pos).sum()),
    }


def roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) at every distinct score, from (0, 0)."""
    tps, fps, _ = _cumulative(*_check(y_true, y_score))
    fpr = np.concatenate([[0.0], fps / fps[-1] if fps[-1] else fps])
    tpr = np.concatenate([[0.0], tps / tps[-1] if tps[-1] else tps])
    return fpr, tpr


def pr_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at every distinct score, highest threshold first, starting at
    recall 0 with precision 1 (scikit-learn's convention, reversed)."""
    tps, fps, _ = _cumulative(*_check(y_true, y_score))
    precision = tps / (tps + fps)
    recall = tps / tps[-1] if tps[-1] else np.zeros_like(tps)
    return np.concatenate([[0.0], recall]), np.concatenate([[1.0], precision])


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; ties count half, as Mann–Whitney)."""
    y_true, _ = _check(y_true, y_score)
    if y_true.min() == y_true.max():
        return float("nan")
    fpr, tpr = roc_curve(y_true, y_score)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """AP = Σ (R_n − R_{n−1}) P_n over distinct thresholds: the area under the PR curve
    as a step function (the paper's 'AP value')."""
    y_true, _ = _check(y_true, y_score)
    if not y_true.any():
        return float("nan")
    recall, precision = pr_curve(y_true, y_score)
    return float(np.sum(np.diff(recall) * precision[1:]))


def _cumulative(y_true: np.ndarray, y_score: np.ndarray):
    order = np.argsort(-y_score, kind="mergesort")
    scores, labels = y_score[order], y_true[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(labels)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return tps, fps, scores[last_of_tie]


def binary_metrics(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """The paper's Table 3 metrics plus ROC AUC and AP.

    Returns:
        accuracy, precision, specificity (TN / (TN + FP)), sensitivity (TP / (TP + FN)),
        f1 (2TP / (2TP + FP + FN)), mse (mean squared error of the scores against the
        hard labels: the Brier score), auc, ap;
        NaN where a ratio has an empty denominator.
    """
    y_true, y_score = _check(y_true, y_score)
    c = confusion(y_true, y_score, threshold)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    return {
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "specificity": _ratio(tn, tn + fp),
        "sensitivity": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mse": float(np.mean((y_score - y_true) ** 2)) if y_true.size else float("nan"),
        "auc": roc_auc(y_true, y_score),
        "ap": average_precision(y_true, y_score),
    }


@dataclass(frozen=True)
class ModelScores:
    """One model's scores on the shared test set."""

    model: str
    y_true: np.ndarray
    y_score: np.ndarray

    def metrics(self) -> dict[str, float]:
        return binary_metrics(self.y_true, self.y_score)


def metrics_table(scores: list[ModelScores]) -> pd.DataFrame:
    """Table 4: one row per model, the columns of :data:`METRICS` (fractions)."""
    rows = {s.model: s.metrics() for s in scores}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(METRICS)).rename_axis("model")


def table_markdown(table: pd.DataFrame) -> str:
    """Table 4 as Markdown: percentages for the threshold metrics, 4 decimals otherwise."""
    header = ["Model", "Accuracy", "Precision", "Specificity", "Sensitivity", "F1",
              "MSE (Brier)", "AUC", "AP"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, row in table.iterrows():
        cells = [_cell(row[m], m in _PERCENT) for m in METRICS]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: float, percent: bool) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{value * 100:.2f}%" if percent else f"{value:.4f}"


def write_table(
    table: pd.DataFrame, folder: str | os.PathLike, stem: str = RunFolder.TABLE_STEM
) -> list[Path]:
    """Write Table 4 as CSV (fractions) and Markdown (percentages)."""
    folder = Path(folder)
    write_text(folder / f"{stem}.csv", table.round(6).to_csv())
    write_text(folder / f"{stem}.md", table_markdown(table))
    return [folder / f"{stem}.csv", folder / f"{stem}.md"]


def plot_curves(
    scores: list[ModelScores], folder: str | os.PathLike, *, title: str = ""
) -> list[Path]:
    """PR curves (AP in the legend) and ROC curves (AUC in the legend) of every model on
    one plot each, as ``pr_curves.png`` and ``roc_curves.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    out = []
    for name, curve, metric, xlabel, ylabel in (
        (RunFolder.PR_CURVES_PNG, pr_curve, average_precision, "Recall", "Precision"),
        (RunFolder.ROC_CURVES_PNG, roc_curve, roc_auc, "False-positive rate", "True-positive rate"),
    ):
        fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
        for s in scores:
            x, y = curve(s.y_true, s.y_score)
            label = f"{s.model} ({'AP' if metric is average_precision else 'AUC'} = "
            ax.step(x, y, where="post", label=label + f"{metric(s.y_true, s.y_score):.3f})")
        if curve is roc_curve:
            ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel)
        kind = "Precision–recall" if curve is pr_curve else "ROC"
        ax.set_title(f"{kind} curves on the test set" + (f"\n{title}" if title else ""))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if curve is pr_curve else "lower right")
        with atomic_path(folder / name) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        out.append(folder / name)
    return out


def scores_by_model(scores: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[ModelScores]:
    """``{model: (y_true, y_score)}`` → list of :class:`ModelScores` in the given order."""
    return [ModelScores(name, *pair) for name, pair in scores.items()]


def truth_agreement(index: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """How well a susceptibility map recovers a reference susceptibility p (0–1), over the
    pixels valid in both: the expected ROC AUC of the map for landslides drawn from p
    (positives weighted by p, negatives by 1 − p; the reference itself scores the ceiling)
    and the Spearman rank correlation."""
    from scipy.stats import spearmanr

    index, truth = np.ravel(index), np.ravel(truth)
    valid = np.isfinite(index) & np.isfinite(truth)
    return {
        "expected_auc": weighted_auc(index[valid], truth[valid]),
        "ceiling_auc": weighted_auc(truth[valid], truth[valid]),
        "spearman": float(spearmanr(index[valid], truth[valid]).statistic),
    }


def weighted_auc(score, p) -> float:
    """ROC AUC of ``score`` when each pixel is a positive with weight ``p`` and a negative
    with weight ``1 − p`` (ties count half): the AUC expected over inventories drawn from
    ``p``."""
    score = np.asarray(score, dtype="float64")
    p = np.asarray(p, dtype="float64")
    order = np.argsort(score, kind="mergesort")
    score, p = score[order], p[order]
    bounds = np.r_[0, np.flatnonzero(np.diff(score)) + 1, score.size]
    pos = np.add.reduceat(p, bounds[:-1])
    neg = np.add.reduceat(1 - p, bounds[:-1])
    below = np.cumsum(neg) - neg  # negative weight strictly below each tie group
    total = pos.sum() * neg.sum()
    return float(np.sum(pos * (below + neg / 2)) / total) if total else float("nan")
