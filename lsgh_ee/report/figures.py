"""The run's figures (PNG, matplotlib): maps with landslides (the paper's Figure 9),
index histograms (Figure 10), landslide density per interval (Figure 11) and success-rate
curves. Every figure has a title, units, a legend and, for maps, a scale bar."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from lsgh_ee.atomic import atomic_path
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_decimated
from lsgh_ee.zoning import HISTOGRAM_EDGES, ZONE_COLOURS, ZONES, index_histogram

#: Longest side, in pixels, of a map read for a figure (:func:`read_for_figure`): a
#: figure's map panel is about 700 pixels wide, and Matplotlib resamples an image through
#: float64 RGBA copies (about 125 MiB each for 2048 × 2048).
FIGURE_MAX_SIZE = 1024


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _pyplot().close(fig)
    return path


def _scale_bar(ax, grid: Grid) -> None:
    """A scale bar of a round length, about a fifth of the map's width, bottom left."""
    left, bottom, right, top = grid.bounds
    width = right - left
    nice = [10**k * m for k in range(0, 7) for m in (1, 2, 5)]
    length = max(n for n in nice if n <= width / 5) if width >= 5 else width / 5
    x0, y0 = left + width * 0.05, bottom + (top - bottom) * 0.05
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=3, solid_capstyle="butt")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + (top - bottom) * 0.015, label, ha="center", va="bottom",
            fontsize=8, bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"})  # fmt: skip


def map_figure(
    index: np.ndarray,
    zones: np.ndarray,
    grid: Grid,
    landslides_xy: np.ndarray,
    path: str | os.PathLike,
    *,
    model: str,
) -> Path:
    """Susceptibility index and five zones side by side, landslides overlaid."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    plt = _pyplot()
    left, bottom, right, top = grid.bounds
    extent = (left, right, bottom, top)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 6), layout="constrained")
    image = ax1.imshow(index, extent=extent, cmap="RdYlGn_r", vmin=0, vmax=1,
                       interpolation="nearest")  # fmt: skip
    fig.colorbar(image, ax=ax1, shrink=0.8, label="Susceptibility index (0–1)")
    ax1.set_title(f"Susceptibility index — {model}")
    colours = [np.array(ZONE_COLOURS[k][:3]) / 255 for k in range(1, 6)]
    shown = np.where(zones > 0, zones, np.nan)
    ax2.imshow(shown, extent=extent, cmap=ListedColormap(colours), vmin=0.5, vmax=5.5,
               interpolation="nearest")  # fmt: skip
    ax2.set_title(f"Susceptibility zones (Jenks) — {model}")
    handles = [Patch(color=c, label=z) for c, z in zip(colours, ZONES, strict=True)]
    for ax in (ax1, ax2):
        if len(landslides_xy):
            ax.scatter(landslides_xy[:, 0], landslides_xy[:, 1], s=6, facecolor="none",
                       edgecolor="black", linewidth=0.6)  # fmt: skip
        ax.set_xlabel(f"Easting (m, {grid.crs.to_string()})")
        ax.set_ylabel("Northing (m)")
        ax.ticklabel_format(style="plain", useOffset=False)
        ax.tick_params(labelsize=7)
        _scale_bar(ax, grid)
    handles.append(plt.Line2D([], [], marker="o", linestyle="none", markerfacecolor="none",
                              markeredgecolor="black", label="landslide"))  # fmt: skip
    ax2.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.85)
    return _save(fig, Path(path))


def histogram_figure(indices: Mapping[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Frequency histogram of the susceptibility index, one line per model (Figure 10)."""
    counts = {}
    for model, index in indices.items():
        values = index[np.isfinite(index)]
        counts[model] = (index_histogram(values), values.size)
    return histogram_figure_from_counts(counts, path)


def histogram_figure_from_counts(
    counts: Mapping[str, tuple[np.ndarray, int]], path: str | os.PathLike
) -> Path:
    """:func:`histogram_figure` from each model's ``(pixels per bin of
    lsgh_ee.zoning.HISTOGRAM_EDGES, valid pixels)``, e.g. added up window by window."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    bins = HISTOGRAM_EDGES
    for model, (hist, valid) in counts.items():
        ax.step(bins[:-1], hist / max(valid, 1), where="post", label=model)
    ax.set(xlabel="Susceptibility index", ylabel="Share of pixels per 0.02 bin", xlim=(0, 1),
           title="Frequency of the susceptibility index")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, Path(path))


def read_for_figure(
    path: str | os.PathLike, *, categorical: bool, max_size: int = FIGURE_MAX_SIZE
) -> np.ndarray:
    """Band 1 of a map for a figure: :func:`lsgh_ee.rasters.read_decimated`."""
    return read_decimated(path, categorical=categorical, max_size=max_size)


def density_figure(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Landslide density per equal interval of the index, grouped bars per model
    (Figure 11)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    models = list(tables)
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        table = tables[model]
        x = np.arange(len(table)) + (i - (len(models) - 1) / 2) * width
        ax.bar(x, table["density"].fillna(0), width=width, label=model)
    labels = list(next(iter(tables.values())).index) if tables else []
    ax.set_xticks(range(len(labels)), labels)
    ax.set(xlabel="Susceptibility interval", ylabel="Landslide pixels / pixels in interval",
           title="Landslide density per susceptibility interval")  # fmt: skip
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return _save(fig, Path(path))


def success_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], path: str | os.PathLike
) -> Path:
    """Success-rate curves (cumulative landslides against cumulative area ranked by
    susceptibility), AUC in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
    for model, (area, found, auc) in curves.items():
        ax.plot(area * 100, found * 100, label=f"{model} (AUC = {auc:.3f})")
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":", linewidth=1, label="random")
    ax.set(xlabel="Cumulative area, most susceptible first (%)",
           ylabel="Cumulative landslide pixels (%)", xlim=(0, 100), ylim=(0, 100),
           title="Success-rate curves")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, Path(path))
