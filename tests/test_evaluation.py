"""Evaluation metrics checked against scikit-learn as an independent implementation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from lsgh_ee.evaluation import (
    ModelScores,
    average_precision,
    binary_metrics,
    confusion,
    metrics_table,
    plot_curves,
    pr_curve,
    roc_auc,
    roc_curve,
    truth_agreement,
    weighted_auc,
    write_table,
)


def _data(seed: int, n: int = 500, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    score = np.clip(0.35 * y + rng.random(n) * 0.7, 0, 1)
    return y, np.round(score, 1) if ties else score


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_metrics_match_scikit_learn(seed: int, ties: bool) -> None:
    y, score = _data(seed, ties=ties)
    pred = score >= 0.5
    got = binary_metrics(y, score)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert got["specificity"] == pytest.approx(skm.recall_score(1 - y, ~pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, score))
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert got["ap"] == pytest.approx(skm.average_precision_score(y, score))


def test_curves_match_scikit_learn() -> None:
    y, score = _data(7, ties=True)
    fpr, tpr = roc_curve(y, score)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    recall, precision = pr_curve(y, score)
    sk_precision, sk_recall, _ = skm.precision_recall_curve(y, score)
    np.testing.assert_allclose(recall, sk_recall[::-1])
    np.testing.assert_allclose(precision, sk_precision[::-1])


def test_perfect_and_degenerate_cases() -> None:
    y = np.array([0, 0, 1, 1.0])
    assert binary_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["f1"] == 1.0
    assert np.isnan(roc_auc(np.ones(3), np.array([0.1, 0.5, 0.9])))  # one class: undefined
    assert np.isnan(average_precision(np.zeros(3), np.array([0.1, 0.5, 0.9])))
    assert np.isnan(binary_metrics(y, np.zeros(4))["precision"])  # nothing predicted positive
    with pytest.raises(ValueError, match="hard labels"):
        binary_metrics(np.array([0.5, 1.0]), np.array([0.2, 0.3]))


def test_table_and_figures(tmp_path: Path) -> None:
    scores = [ModelScores(name, *_data(seed)) for seed, name in enumerate(["rf", "cnn", "lsgh"])]
    table = metrics_table(scores)
    assert list(table.index) == ["rf", "cnn", "lsgh"]
    paths = write_table(table, tmp_path)
    back = pd.read_csv(paths[0], index_col="model")
    np.testing.assert_allclose(back["auc"], table["auc"], atol=1e-6)
    md = paths[1].read_text()
    assert md.startswith("| Model | Accuracy |") and md.count("\n") == 5
    assert f"{table.loc['cnn', 'accuracy'] * 100:.2f}%" in md
    for png in plot_curves(scores, tmp_path, title="test"):
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_auc_is_the_auc_of_every_pixel_as_positive_and_negative(ties: bool) -> None:
    """weighted_auc(score, p) is the ROC AUC when each pixel is a positive with weight p and
    a negative with weight 1 - p: scikit-learn's AUC of the doubled data with those weights."""
    rng = np.random.default_rng(11)
    p = rng.beta(0.5, 3.0, 400)
    score = p + rng.normal(0, 0.1, 400)
    if ties:
        score = np.round(score, 1)
    y = np.r_[np.ones(400), np.zeros(400)]
    want = skm.roc_auc_score(y, np.r_[score, score], sample_weight=np.r_[p, 1 - p])
    assert weighted_auc(score, p) == pytest.approx(want, abs=1e-12)
    # chance for a constant or an unrelated score, 1 - AUC for the reversed one
    assert weighted_auc(np.zeros(400), p) == pytest.approx(0.5)
    assert weighted_auc(-score, p) == pytest.approx(1 - want)
    assert np.isnan(weighted_auc(score, np.zeros(400)))  # no positive weight


def test_truth_agreement_over_pixels_valid_in_both() -> None:
    rng = np.random.default_rng(12)
    truth = rng.beta(0.5, 3.0, (30, 40))
    index = np.clip(truth + rng.normal(0, 0.05, truth.shape), 0, 1)
    truth[0, :5] = np.nan
    index[1, :7] = np.nan
    ok = np.isfinite(truth) & np.isfinite(index)
    got = truth_agreement(index, truth)
    y = np.r_[np.ones(ok.sum()), np.zeros(ok.sum())]
    w = np.r_[truth[ok], 1 - truth[ok]]
    assert got["expected_auc"] == pytest.approx(
        skm.roc_auc_score(y, np.r_[index[ok], index[ok]], sample_weight=w)
    )
    assert got["ceiling_auc"] == pytest.approx(
        skm.roc_auc_score(y, np.r_[truth[ok], truth[ok]], sample_weight=w)
    )
    ranks = (pd.Series(index[ok]).rank(), pd.Series(truth[ok]).rank())
    assert got["spearman"] == pytest.approx(np.corrcoef(*ranks)[0, 1])
    assert got["ceiling_auc"] > got["expected_auc"] > 0.5


def test_curve_figures_show_each_models_curve_and_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PR and ROC figures (captured as they are saved): titles, axis labels, one step
    curve per model through the curve's points, the legend's AP / AUC from scikit-learn,
    and the ROC figure's chance diagonal."""
    from matplotlib.figure import Figure

    saved: list[Figure] = []
    original = Figure.savefig

    def capture(self: Figure, *args: object, **kwargs: object) -> None:
        saved.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", capture)
    scores = [ModelScores(name, *_data(seed, ties=True)) for seed, name in enumerate(["rf", "x"])]
    paths = plot_curves(scores, tmp_path, title="a region")
    assert [p.name for p in paths] == ["pr_curves.png", "roc_curves.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pr_curves.png", "roc_curves.png"]
    (pr_ax,), (roc_ax,) = (fig.axes for fig in saved)
    assert pr_ax.get_title() == "Precision–recall curves on the test set\na region"
    assert roc_ax.get_title() == "ROC curves on the test set\na region"
    assert (pr_ax.get_xlabel(), pr_ax.get_ylabel()) == ("Recall", "Precision")
    assert (roc_ax.get_xlabel(), roc_ax.get_ylabel()) == (
        "False-positive rate",
        "True-positive rate",
    )
    for ax in (pr_ax, roc_ax):
        assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1.02)
    pr_labels = [t.get_text() for t in pr_ax.get_legend().get_texts()]
    roc_labels = [t.get_text() for t in roc_ax.get_legend().get_texts()]
    want_pr = [f"{s.model} (AP = {skm.average_precision_score(s.y_true, s.y_score):.3f})"
               for s in scores]  # fmt: skip
    want_roc = [f"{s.model} (AUC = {skm.roc_auc_score(s.y_true, s.y_score):.3f})" for s in scores]
    assert pr_labels == want_pr
    assert roc_labels == [*want_roc, "chance"]
    for ax, curve in ((pr_ax, pr_curve), (roc_ax, roc_curve)):
        for line, s in zip(ax.get_lines(), scores, strict=False):
            x, y = curve(s.y_true, s.y_score)
            np.testing.assert_allclose(line.get_xdata(), x)
            np.testing.assert_allclose(line.get_ydata(), y)
            assert line.get_drawstyle() == "steps-post"
    diagonal = roc_ax.get_lines()[-1]
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    saved.clear()
    plot_curves(scores, tmp_path / "other")
    assert saved[0].axes[0].get_title() == "Precision–recall curves on the test set"


def test_table4_markdown_and_csv(tmp_path: Path) -> None:
    """Table 4 written by hand for one model: percentages with 2 decimals for the threshold
    metrics, 4 decimals for MSE, AUC and AP, '–' for an undefined value; the CSV keeps
    fractions rounded to 6 decimals."""
    row = {
        "accuracy": 0.875,
        "precision": float("nan"),
        "specificity": 1.0,
        "sensitivity": 0.12345,
        "f1": 0.5,
        "mse": 0.1234567,
        "auc": 0.98765,
        "ap": 0.5,
    }
    table = pd.DataFrame.from_dict({"lsgh": row}, orient="index").rename_axis("model")
    md = (
        "| Model | Accuracy | Precision | Specificity | Sensitivity | F1 | MSE (Brier) | AUC "
        "| AP |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        "| lsgh | 87.50% | – | 100.00% | 12.35% | 50.00% | 0.1235 | 0.9877 | 0.5000 |\n"
    )
    csv, written_md = write_table(table, tmp_path)
    assert (csv.name, written_md.name) == ("table4.csv", "table4.md")
    assert written_md.read_text(encoding="utf-8") == md
    back = pd.read_csv(csv, index_col="model")
    assert back.loc["lsgh", "mse"] == 0.123457 and back.loc["lsgh", "sensitivity"] == 0.12345


def test_thresholds_and_one_class_curves() -> None:
    y = np.array([1, 1, 0, 0, 1.0])
    s = np.array([0.5, 0.49, 0.5, 0.2, 0.9])
    # by hand at 0.5 (score >= 0.5 is a landslide): tp 2 (0.5, 0.9), fp 1, tn 1, fn 1
    assert confusion(y, s) == {"tp": 2, "fp": 1, "tn": 1, "fn": 1}
    assert binary_metrics(y, s)["precision"] == pytest.approx(2 / 3)
    # at 0.9: tp 1, fp 0, tn 2, fn 2
    at = binary_metrics(y, s, threshold=0.9)
    assert at["precision"] == 1.0 and at["sensitivity"] == pytest.approx(1 / 3)
    assert at["accuracy"] == pytest.approx(3 / 5)
    # only landslides: the false-positive rate stays 0; none: recall stays 0
    fpr, tpr = roc_curve(np.ones(3), np.array([0.2, 0.5, 0.9]))
    assert fpr.tolist() == [0, 0, 0, 0] and tpr.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    fpr, tpr = roc_curve(np.zeros(3), np.array([0.2, 0.5, 0.9]))
    assert tpr.tolist() == [0, 0, 0, 0] and fpr.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    recall, precision = pr_curve(np.zeros(3), np.array([0.2, 0.5, 0.9]))
    assert recall.tolist() == [0, 0, 0, 0] and precision.tolist() == [1, 0, 0, 0]
