"""The factor analysis report (the paper's factor-selection step).

Pearson correlation between factors and a random-forest importance ranking, computed on
the class-code stack (the model's input): correlations flag redundant factor pairs
(|r| > 0.7 is the usual multicollinearity warning), the ranking shows which factors
separate landslide pixels from the rest. Written as CSV and one PNG.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rasterio.windows import Window

from lsgh_ee.atomic import atomic_path, write_text
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.factors.stripping import strips
from lsgh_ee.rasters import open_raster
from lsgh_ee.runfolder import RunFolder

COLLINEAR = 0.7


@dataclass(frozen=True)
class FactorReport:
    """Correlation matrix (factors × factors) and importance table (one row per factor,
    best first: ``rank`` (1 = most important), ``permutation``, ``permutation_std``,
    ``mdi``, ``mdi_std``, and the factor's strongest correlation with another one,
    ``most_correlated`` and ``max_abs_r``: the two numbers a factor selection weighs)."""

    correlation: pd.DataFrame
    importance: pd.DataFrame
    n_landslide: int
    n_other: int

    def collinear_pairs(self, threshold: float = COLLINEAR) -> list[tuple[str, str, float]]:
        """Factor pairs with |r| above ``threshold``."""
        names = list(self.correlation.columns)
        corr = self.correlation.to_numpy()
        return [
            (names[i], names[j], float(corr[i, j]))
            for i in range(len(names))
            for j in range(i + 1, len(names))
            if abs(corr[i, j]) > threshold
        ]


def factor_report(
    stack: FactorStack, landslide_mask: np.ndarray, *, n_samples: int = 5000, seed: int = 42
) -> FactorReport:
    """Correlation and random-forest importance of the factors.

    Args:
        stack: the region's factors.
        landslide_mask: boolean ``grid.shape``, True on landslide pixels.
        n_samples: at most this many landslide pixels and as many other pixels are used.
        seed: for the pixel draw and the forest.
    """
    return codes_report(stack.codes, stack.names, landslide_mask, n_samples=n_samples, seed=seed)


#: Valid pixels (every factor coded) the report reads from ``class_codes.tif``, about,
#: besides every landslide pixel: each valid pixel is kept with probability this / their
#: number (seeded; one byte per factor and kept pixel held, ~10 MB for 10 factors). A
#: region with at most this many valid pixels is read whole and gets the report of the
#: whole stack.
REPORT_SAMPLE = 1_000_000


def factor_report_from_file(
    codes_path: str | os.PathLike,
    names: list[str],
    landslide_mask: np.ndarray | Callable[[int, int], np.ndarray],
    *,
    n_samples: int = 5000,
    seed: int = 42,
    strip_rows: int = 512,
    sample: int = REPORT_SAMPLE,
) -> FactorReport:
    """:func:`factor_report` of a written ``class_codes.tif``, read strip by strip
    (``strip_rows`` rows; 0 = whole). ``landslide_mask``: the grid's boolean landslide
    mask, or a function of (first row, rows) that gives a strip's (memory of a strip).

    The valid pixels are counted first. At most ``sample`` of them: all are kept, in row
    order, and the report equals :func:`factor_report` of the whole stack (it draws only
    among valid pixels, by their rank). More: the landslide pixels are kept and every
    other valid pixel with probability ``sample / count`` (a seeded stream of uniform
    numbers in row order, independent of ``strip_rows``; memory of a strip, where an exact
    draw of ``sample`` positions would allocate up to 8 bytes per valid pixel), and the
    report (correlation, forest) is computed on them; the draw is uniform, so the
    correlations estimate the region's.
    """
    count = 0
    for _, codes in _code_strips(codes_path, strip_rows):
        count += int((codes > 0).all(axis=0).sum())
    rng = np.random.default_rng([seed, count]) if count > sample else None
    kept_codes, kept_mask = [], []
    for row0, codes in _code_strips(codes_path, strip_rows):
        valid = (codes > 0).all(axis=0)
        flags = (
            landslide_mask(row0, codes.shape[1])
            if callable(landslide_mask)
            else landslide_mask[row0 : row0 + codes.shape[1]]
        )[valid]
        chosen = codes[:, valid]
        if rng is not None:
            picked = flags | (rng.random(chosen.shape[1]) < sample / count)
            chosen, flags = chosen[:, picked], flags[picked]
        kept_codes.append(chosen)
        kept_mask.append(flags)
    codes = np.concatenate(kept_codes, axis=1) if kept_codes else np.zeros((len(names), 0), "uint8")
    return codes_report(codes, names, np.concatenate(kept_mask) if kept_mask else np.zeros(0, bool),
                        n_samples=n_samples, seed=seed)  # fmt: skip


def _code_strips(path: str | os.PathLike, strip_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, uint8 (factors, rows, cols))`` strips of a class-code stack."""
    with open_raster(path) as src:
        for row0, row1 in strips(src.height, strip_rows):
            yield row0, src.read(window=Window(0, row0, src.width, row1 - row0))


def codes_report(
    codes: np.ndarray,
    names: list[str],
    landslide_mask: np.ndarray,
    *,
    n_samples: int = 5000,
    seed: int = 42,
) -> FactorReport:
    """:func:`factor_report` of a uint8 ``(factors, rows, cols)`` class-code stack, or of
    ``(factors, pixels)`` codes of some pixels with their ``(pixels,)`` landslide flags
    (the draws depend only on the valid pixels' order)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    codes = codes.reshape(len(names), -1)
    valid = (codes > 0).all(axis=0)
    flat_mask = landslide_mask.reshape(-1)
    positives = np.flatnonzero(valid & flat_mask)
    others = np.flatnonzero(valid & ~flat_mask)
    positives = rng.permutation(positives)[:n_samples]
    others = rng.permutation(others)[: max(len(positives), 1)]

    sample = np.flatnonzero(valid)
    if sample.size > 200_000:
        sample = rng.choice(sample, 200_000, replace=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(codes[:, sample].astype("float64"))
    correlation = pd.DataFrame(np.atleast_2d(corr), index=names, columns=names)

    x = np.concatenate([codes[:, positives], codes[:, others]], axis=1).T
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(others))])
    if len(positives) < 5:
        importance = pd.DataFrame(
            {"mdi": np.nan, "mdi_std": np.nan, "permutation": np.nan, "permutation_std": np.nan},
            index=pd.Index(names, name="factor"),
        )
    else:
        x_fit, x_held, y_fit, y_held = train_test_split(
            x, y, test_size=0.3, random_state=seed, stratify=y
        )
        forest = RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
        forest.fit(x_fit, y_fit)
        per_tree = np.array([t.feature_importances_ for t in forest.estimators_])
        perm = permutation_importance(forest, x_held, y_held, n_repeats=5, random_state=seed)
        importance = pd.DataFrame(
            {
                "mdi": forest.feature_importances_,
                "mdi_std": per_tree.std(axis=0),
                "permutation": perm.importances_mean,
                "permutation_std": perm.importances_std,
            },
            index=pd.Index(names, name="factor"),
        ).sort_values("permutation", ascending=False)
    return FactorReport(correlation, _ranked(importance, correlation), len(positives), len(others))


def _ranked(importance: pd.DataFrame, correlation: pd.DataFrame) -> pd.DataFrame:
    """The importance table with its rank and each factor's strongest correlation."""
    table = importance[["permutation", "permutation_std", "mdi", "mdi_std"]].copy()
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    names = list(correlation.columns)
    strength = np.abs(correlation.to_numpy(dtype="float64"))
    np.fill_diagonal(strength, np.nan)
    partner, highest = {}, {}
    for name, row in zip(names, strength, strict=True):
        if np.isfinite(row).any():  # a constant factor has no correlation at all
            j = int(np.nanargmax(row))
            partner[name], highest[name] = names[j], float(row[j])
    table["most_correlated"] = [partner.get(n, "") for n in table.index]
    table["max_abs_r"] = [highest.get(n, np.nan) for n in table.index]
    return table


def write_factor_report(report: FactorReport, run_dir: str | os.PathLike) -> list[Path]:
    """Write the CSVs and the PNG (correlation heatmap + importance bars) into ``run_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    write_text(run_dir / RunFolder.CORRELATION_CSV, report.correlation.round(4).to_csv())
    write_text(run_dir / RunFolder.IMPORTANCE_CSV, report.importance.round(5).to_csv())

    names = list(report.correlation.columns)
    side = max(5.5, 0.42 * len(names))  # inches: cells stay legible with many factors
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(2.35 * side, side), gridspec_kw={"width_ratios": [1.1, 1]},
        layout="constrained",
    )  # fmt: skip
    image = ax1.imshow(report.correlation.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax1.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax1.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            r = report.correlation.iat[i, j]
            weight = "bold" if i != j and abs(r) > COLLINEAR else "normal"
            colour = "white" if abs(r) > 0.6 else "black"
            ax1.text(
                j, i, f"{r:.2f}", ha="center", va="center", fontsize=7, weight=weight, color=colour
            )
    fig.colorbar(image, ax=ax1, label="Pearson r (class codes)", shrink=0.8)
    ax1.set_title("Factor correlation (|r| > 0.7 in bold)")

    imp = report.importance.iloc[::-1]
    ax2.barh(imp.index, imp["permutation"], xerr=imp["permutation_std"], color="#b5542b")
    ax2.set_xlabel("Permutation importance (drop in held-out accuracy)")
    ax2.set_title(
        f"Random-forest importance ({report.n_landslide} landslide / {report.n_other} other px)"
    )
    with atomic_path(run_dir / RunFolder.FACTOR_REPORT_PNG) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return [
        run_dir / RunFolder.CORRELATION_CSV,
        run_dir / RunFolder.IMPORTANCE_CSV,
        run_dir / RunFolder.FACTOR_REPORT_PNG,
    ]
