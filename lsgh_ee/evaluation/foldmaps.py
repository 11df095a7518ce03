"""Whole-region maps of the cross-validation folds: each model's mean index and its
across-fold standard deviation (the map's uncertainty), and its agreement with a known
truth over each test fold."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lsgh_ee.grid import Grid
from lsgh_ee.rasters import write_geotiff


class FoldMaps:
    """Running sums of every model's whole-region index over the folds (float64; NaN
    where a factor is nodata in any fold).

    Args:
        shape: the grid's ``(rows, cols)``.
    """

    def __init__(self, shape: tuple[int, int]):
        self.shape = shape
        self._n: dict[str, int] = {}
        self._sum: dict[str, np.ndarray] = {}
        self._sumsq: dict[str, np.ndarray] = {}

    def add(self, model: str, index: np.ndarray) -> None:
        """Add one fold's index ``(rows, cols)`` of ``model``."""
        index = np.asarray(index, dtype="float64")
        if index.shape != self.shape:
            raise ValueError(f"index has shape {index.shape}, the grid {self.shape}")
        if model not in self._n:
            self._n[model] = 0
            self._sum[model] = np.zeros(self.shape)
            self._sumsq[model] = np.zeros(self.shape)
        self._n[model] += 1
        self._sum[model] += index
        self._sumsq[model] += index * index

    @property
    def models(self) -> list[str]:
        return list(self._n)

    def mean(self, model: str) -> np.ndarray:
        """The mean index over the folds, ``(rows, cols)`` float32."""
        return (self._sum[model] / self._n[model]).astype("float32")

    def sd(self, model: str) -> np.ndarray:
        """The across-fold sample standard deviation (n − 1) of the index, ``(rows, cols)``
        float32; NaN with fewer than two folds."""
        n = self._n[model]
        if n < 2:
            return np.full(self.shape, np.nan, dtype="float32")
        mean = self._sum[model] / n
        var = np.maximum(self._sumsq[model] - n * mean * mean, 0.0) / (n - 1)
        return np.sqrt(var).astype("float32")

    def write(self, path: str | os.PathLike, grid: Grid) -> Path:
        """One GeoTIFF with two bands per model: ``<model> mean`` and ``<model> sd`` (the
        index's across-fold standard deviation), NaN nodata."""
        bands, names = [], []
        for model in self.models:
            bands += [self.mean(model), self.sd(model)]
            names += [f"{model} mean", f"{model} sd"]
        tags = {"folds": ",".join(f"{m}:{self._n[m]}" for m in self.models),
                "meaning": "per model: mean susceptibility index over the cross-validation "
                "folds, and its across-fold standard deviation"}  # fmt: skip
        return write_geotiff(path, np.stack(bands), grid, descriptions=names, tags=tags)


def truth_auc_in(index: np.ndarray, truth: np.ndarray, area: np.ndarray) -> float:
    """The expected ROC AUC of ``index`` for landslides drawn from the known ``truth``
    probability (:func:`lsgh_ee.evaluation.weighted_auc`) over the pixels of ``area``
    valid in both (e.g. one test fold)."""
    from lsgh_ee.evaluation import weighted_auc

    keep = np.asarray(area, dtype=bool) & np.isfinite(index) & np.isfinite(truth)
    return weighted_auc(index[keep], truth[keep]) if keep.any() else float("nan")
