"""Cross-validation summaries: Table 4 as mean ± 95% interval per model, paired
differences of every model pair, and the per-fold AUC figure.

**Interval**: Student's t over the fold values, ``mean ± t(0.975, n-1) · s · sqrt(1/n + c)``
with ``n`` the number of fold values and ``s`` their standard deviation. For one k-fold
repeat ``c = 0`` (the plain t-interval). With repeats the k·r fold values share their data,
so ``c = 1 / (k - 1)`` (n_test / n_train), the correction of Nadeau & Bengio (2003) as used
for repeated k-fold by Bouckaert & Frank (2004); without it the interval would shrink with
every repeat although no new data came in. The same rule gives the paired interval of the
fold-wise difference of two models (both scored on the same test fold each time).
"""

from __future__ import annotations

import os
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from lsgh_ee.atomic import atomic_path, write_text

#: Columns of the per-fold metrics.
FOLD_COLUMNS = ("repeat", "fold", "model", "auc", "ap", "brier", "brier_raw", "n_test",
                "n_test_positive", "expected_auc")  # fmt: skip
#: ``brier``: Brier score of the model's (calibrated, when ``training.calibration`` is set)
#: scores on the test fold; ``brier_raw``: the same before calibration; ``expected_auc``
#: (where ``evaluation.truth`` names a known susceptibility): the expected AUC of the fold
#: model's map over the test fold's pixels for landslides drawn from that truth.
SCORES = ("auc", "ap", "brier")


def t_interval(values, level: float = 0.95, correction: float = 0.0) -> tuple[float, float, float]:
    """(mean, low, high): the t-interval of the mean of ``values`` (NaN dropped); with
    ``correction`` c the variance of the mean is ``s² (1/n + c)`` (see the module doc).
    One value gives an interval of NaN."""
    from scipy.stats import t

    x = np.asarray(values, dtype="float64")
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if x.size < 2:
        return mean, float("nan"), float("nan")
    half = float(t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1))
    half *= float(np.sqrt(1.0 / x.size + correction))
    return mean, mean - half, mean + half


def correction_for(folds: int, repeats: int) -> float:
    """The variance correction c for ``repeats`` of ``folds``-fold CV (0 for one repeat)."""
    return 0.0 if repeats <= 1 else 1.0 / (folds - 1)


def summary_table(per_fold: pd.DataFrame, correction: float = 0.0) -> pd.DataFrame:
    """Per model (in first-seen order): mean, low, high of AUC, AP and the Brier score
    (``brier_raw`` too when the folds have it), and the folds."""
    rows = {}
    for model, group in per_fold.groupby("model", sort=False):
        row: dict[str, float] = {}
        for score in (*SCORES, "brier_raw", "expected_auc"):
            if score not in group or group[score].isna().all():
                continue
            mean, low, high = t_interval(group[score], correction=correction)
            row |= {f"{score}_mean": mean, f"{score}_low": low, f"{score}_high": high}
        row["folds"] = len(group)
        rows[model] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def paired_differences(per_fold: pd.DataFrame, correction: float = 0.0) -> pd.DataFrame:
    """Every model pair (a, b): the mean fold-wise difference a − b of AUC, AP and the Brier
    score with its interval, and in how many folds a scored the higher AUC."""
    scores = [s for s in SCORES if s in per_fold]
    wide = {s: per_fold.pivot_table(index=["repeat", "fold"], columns="model", values=s)
            for s in scores}  # fmt: skip
    models = list(dict.fromkeys(per_fold["model"]))
    rows = []
    for a, b in combinations(models, 2):
        row: dict[str, object] = {"model_a": a, "model_b": b}
        for score in scores:
            diff = (wide[score][a] - wide[score][b]).to_numpy()
            mean, low, high = t_interval(diff, correction=correction)
            row |= {f"{score}_diff": mean, f"{score}_low": low, f"{score}_high": high}
        diff = (wide["auc"][a] - wide["auc"][b]).to_numpy()
        row["a_wins_auc"] = f"{int((diff > 0).sum())}/{int(np.isfinite(diff).sum())}"
        rows.append(row)
    columns = ["model_a", "model_b",
               *[f"{s}_{part}" for s in scores for part in ("diff", "low", "high")],
               "a_wins_auc"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _ci(mean: float, low: float, high: float) -> str:
    if not np.isfinite(mean):
        return "–"
    if not np.isfinite(low):
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {(high - low) / 2:.4f} [{low:.4f}, {high:.4f}]"


def summary_markdown(table: pd.DataFrame, title: str = "") -> str:
    """The cross-validated Table 4 as Markdown (mean ± half-width [low, high])."""
    lines = [f"{title}\n"] if title else []
    briers = [s for s in ("brier", "brier_raw", "expected_auc") if f"{s}_mean" in table]
    names = {"brier": "Brier (95% CI)", "brier_raw": "Brier before calibration",
             "expected_auc": "AUC vs known truth"}  # fmt: skip
    header = ["Model", "AUC (95% CI)", "AP (95% CI)", *[names[s] for s in briers], "Folds"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, r in table.iterrows():
        cells = [_ci(r[f"{s}_mean"], r[f"{s}_low"], r[f"{s}_high"])
                 for s in ("auc", "ap", *briers)]  # fmt: skip
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {int(r.folds)} |")
    return "\n".join(lines) + "\n"


def pairs_markdown(pairs: pd.DataFrame) -> str:
    """The paired differences as Markdown."""
    scores = [s for s in SCORES if f"{s}_diff" in pairs]
    names = {"auc": "ΔAUC (95% CI)", "ap": "ΔAP (95% CI)", "brier": "ΔBrier (95% CI)"}
    header = ["Comparison", *[names[s] for s in scores], "A wins (AUC)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in pairs.iterrows():
        cells = [_ci(r[f"{s}_diff"], r[f"{s}_low"], r[f"{s}_high"]) for s in scores]
        lines.append(f"| {r.model_a} − {r.model_b} | " + " | ".join(cells)
                     + f" | {r.a_wins_auc} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def write_markdown(path: str | os.PathLike, text: str) -> Path:
    write_text(Path(path), text)
    return Path(path)


def plot_fold_auc(
    per_fold: pd.DataFrame, table: pd.DataFrame, path: str | os.PathLike, *, title: str = ""
) -> Path:
    """Per-fold AUC of every model (one grey line per fold joins its models: the pairing),
    with each model's mean and 95% interval in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(table.index)
    x = {m: i for i, m in enumerate(models)}
    fig, ax = plt.subplots(figsize=(1.6 * len(models) + 2.5, 4.5), layout="constrained")
    for _, group in per_fold.groupby(["repeat", "fold"]):
        group = group.set_index("model").reindex(models)
        ax.plot(range(len(models)), group["auc"], color="grey", alpha=0.5, marker="o",
                markersize=4, linewidth=0.8)  # fmt: skip
    for model, r in table.iterrows():
        err = [[r.auc_mean - r.auc_low], [r.auc_high - r.auc_mean]]
        ax.errorbar(x[model] + 0.12, r.auc_mean, yerr=err if np.isfinite(r.auc_low) else None,
                    color="black", marker="s", capsize=5)  # fmt: skip
    ax.set_xticks(range(len(models)), models)
    ax.set(ylabel="ROC AUC on the test fold", xlim=(-0.5, len(models) - 0.5))
    ax.set_title("Per-fold AUC (grey: one fold; black: mean and 95% CI)"
                 + (f"\n{title}" if title else ""))  # fmt: skip
    ax.grid(alpha=0.3, axis="y")
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def format_ci(mean: float, low: float, high: float) -> str:
    """A value with its 95% interval as every cv table shows it:
    ``0.8339 ± 0.0720 [0.7618, 0.9059]`` ("–" for no value, the value alone without an
    interval)."""
    return _ci(mean, low, high)


def compare_runs(
    base: pd.DataFrame,
    others: dict[str, pd.DataFrame],
    pairs: list[tuple[str, str]],
    correction: float = 0.0,
) -> pd.DataFrame:
    """Paired differences between cross-validation runs of the same folds (an ablation):
    for every ``(label, other)`` and ``(model_other, model_base)`` in ``pairs``, the mean
    fold-wise difference ``other[model_other] − base[model_base]`` of AUC, AP and the Brier
    score with its interval (:func:`t_interval`), and in how many folds the other run
    scored the higher AUC. Frames are per-fold tables (:data:`FOLD_COLUMNS`); folds are
    matched on ``(repeat, fold)``, so both runs must have cut the same folds (the caller
    checks). Rows whose model is missing from either run are skipped."""
    rows = []
    for label, other in others.items():
        for model_other, model_base in pairs:
            a = other[other.model == model_other].set_index(["repeat", "fold"])
            b = base[base.model == model_base].set_index(["repeat", "fold"])
            if a.empty or b.empty:
                continue
            joined = a.merge(b, left_index=True, right_index=True, suffixes=("_a", "_b"))
            row: dict[str, object] = {"run": label, "model": model_other, "base_model": model_base}
            for score in SCORES:
                diff = (joined[f"{score}_a"] - joined[f"{score}_b"]).to_numpy(dtype="float64")
                mean, low, high = t_interval(diff, correction=correction)
                row |= {f"{score}_diff": mean, f"{score}_low": low, f"{score}_high": high}
            diff = (joined["auc_a"] - joined["auc_b"]).to_numpy(dtype="float64")
            row["auc_other"] = float(joined["auc_a"].mean())
            row["auc_base"] = float(joined["auc_b"].mean())
            row["other_wins_auc"] = f"{int((diff > 0).sum())}/{int(np.isfinite(diff).sum())}"
            rows.append(row)
    columns = ["run", "model", "base_model", "auc_base", "auc_other",
               *[f"{s}_{part}" for s in SCORES for part in ("diff", "low", "high")],
               "other_wins_auc"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def comparison_markdown(table: pd.DataFrame, base: str) -> str:
    """:func:`compare_runs`' table as Markdown, one row per run and model."""
    names = {"auc": "ΔAUC (95% CI)", "ap": "ΔAP (95% CI)", "brier": "ΔBrier (95% CI)"}
    header = ["Run", "Model", f"AUC in {base}", "AUC in run", *names.values(), "Run wins (AUC)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in table.iterrows():
        model = r.model if r.model == r.base_model else f"{r.model} vs {r.base_model}"
        cells = [_ci(r[f"{s}_diff"], r[f"{s}_low"], r[f"{s}_high"]) for s in SCORES]
        lines.append(f"| {r.run} | {model} | {r.auc_base:.4f} | {r.auc_other:.4f} | "
                     + " | ".join(cells) + f" | {r.other_wins_auc} |")  # fmt: skip
    return "\n".join(lines) + "\n"
