"""Calibration metrics of the test scores: Brier score, reliability bins, expected
calibration error, the metrics at each model's Youden threshold and the reliability
diagram.

The Brier score is the mean squared difference between the score and the hard label
(1 landslide, 0 not): on the hard test samples it *is* Table 4's MSE column, which the
Markdown table labels "MSE (Brier)". Reliability bins are ``bins`` equal-width score
intervals on [0, 1] (the last one closed); in each, the observed landslide share of the
samples against their mean score. A calibrated model lies on the diagonal. The expected
calibration error (ECE) is ``Σ_b n_b / N · |observed_b − mean score_b|``.

The Youden threshold is fitted on the validation samples when the model is trained
(:mod:`lsgh_ee.model.calibration`); here the test samples are scored at it, next to
Table 4's 0.5.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from lsgh_ee.atomic import atomic_path, write_text
from lsgh_ee.evaluation import THRESHOLD_METRICS as _PERCENT
from lsgh_ee.evaluation import ModelScores, _cell, _check, binary_metrics

#: columns of the Youden table (the threshold, then Table 4's threshold metrics)
YOUDEN_COLUMNS = ("threshold", *_PERCENT)
DEFAULT_BINS = 10


def brier_score(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean of ``(score − label)²`` over hard labels (NaN for no samples)."""
    y_true, y_score = _check(y_true, y_score)
    return float(np.mean((y_score - y_true) ** 2)) if y_true.size else float("nan")


def reliability_bins(
    y_true: np.ndarray, y_score: np.ndarray, bins: int = DEFAULT_BINS
) -> pd.DataFrame:
    """One row per equal-width score bin of [0, 1]: ``low``, ``high``, ``count``,
    ``mean_score`` and ``observed`` (landslide share; NaN in empty bins)."""
    y_true, y_score = _check(y_true, y_score)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, y_score, side="right") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(index, weights=y_score, minlength=bins) / count
        observed = np.bincount(index, weights=y_true, minlength=bins) / count
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": count,
                         "mean_score": mean, "observed": observed})  # fmt: skip


def expected_calibration_error(
    y_true: np.ndarray, y_score: np.ndarray, bins: int = DEFAULT_BINS
) -> float:
    """``Σ_b n_b / N · |observed_b − mean score_b|`` over the non-empty bins."""
    table = reliability_bins(y_true, y_score, bins)
    used = table[table["count"] > 0]
    if used.empty:
        return float("nan")
    gap = (used["observed"] - used["mean_score"]).abs()
    return float((used["count"] * gap).sum() / used["count"].sum())


def calibration_summary(score: ModelScores, threshold: float | None) -> dict:
    """``brier``, ``ece`` and ``threshold`` of one model on the test set."""
    return {
        "brier": brier_score(score.y_true, score.y_score),
        "ece": expected_calibration_error(score.y_true, score.y_score),
        "threshold": threshold,
    }


def youden_table(scores: list[ModelScores], thresholds: Mapping[str, float | None]) -> pd.DataFrame:
    """One row per model: its Youden threshold and the test metrics at it (fractions; NaN
    for a model without a threshold)."""
    rows = {}
    for s in scores:
        t = thresholds.get(s.model)
        if t is None:
            rows[s.model] = dict.fromkeys(YOUDEN_COLUMNS, float("nan"))
            continue
        metrics = binary_metrics(s.y_true, s.y_score, threshold=t)
        rows[s.model] = {"threshold": t, **{m: metrics[m] for m in _PERCENT}}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(YOUDEN_COLUMNS))
    return frame.rename_axis("model")


def youden_markdown(table: pd.DataFrame) -> str:
    """The Youden table as Markdown (threshold with 4 decimals, metrics in percent)."""
    header = ["Model", "Threshold (Youden)", "Accuracy", "Precision", "Specificity",
              "Sensitivity", "F1"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, row in table.iterrows():
        cells = [_cell(row[c], c in _PERCENT) for c in YOUDEN_COLUMNS]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_youden(table: pd.DataFrame, folder: str | os.PathLike, stem: str) -> list[Path]:
    """``<stem>.csv`` (fractions) and ``<stem>.md`` (percentages) in ``folder``."""
    folder = Path(folder)
    write_text(folder / f"{stem}.csv", table.round(6).to_csv())
    write_text(folder / f"{stem}.md", youden_markdown(table))
    return [folder / f"{stem}.csv", folder / f"{stem}.md"]


def plot_reliability(
    scores: list[ModelScores], path: str | os.PathLike, *, bins: int = DEFAULT_BINS,
    title: str = "",
) -> Path:  # fmt: skip
    """The reliability diagram: observed landslide share against mean score per bin for
    every model (Brier score in the legend), the diagonal of perfect calibration, and
    below it the samples per bin (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6, 7), height_ratios=(3, 1.3), sharex=True, layout="constrained"
    )
    top.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="calibrated")
    width = 1.0 / bins / (len(scores) + 1)
    for i, s in enumerate(scores):
        table = reliability_bins(s.y_true, s.y_score, bins)
        used = table[table["count"] > 0]
        brier = brier_score(s.y_true, s.y_score)
        line = top.plot(used["mean_score"], used["observed"], marker="o",
                        label=f"{s.model} (Brier = {brier:.3f})")  # fmt: skip
        bottom.bar(table["low"] + (i + 0.5) * width, table["count"], width=width,
                   color=line[0].get_color(), align="edge")  # fmt: skip
    top.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="Observed landslide share")
    top.set_title("Reliability on the test set" + (f"\n{title}" if title else ""))
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    bottom.set(xlabel="Predicted susceptibility (bin)", ylabel="Samples per bin")
    bottom.set_yscale("log")
    bottom.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    bottom.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    bottom.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    bottom.grid(alpha=0.3, axis="y")
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
