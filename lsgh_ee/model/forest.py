"""The paper's random-forest baseline (``rf``), a scikit-learn model behind the estimator
interface; it does not need TensorFlow to train or predict."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lsgh_ee.errors import LsghError
from lsgh_ee.model.base import EpochCallback, ModelEstimator

DEFAULT_RF_GRID = {
    "n_estimators": [100, 300],
    "max_depth": [None, 10],
    "min_samples_leaf": [1, 5],
}


class RandomForest(ModelEstimator):
    """Random forest on the one-dimensional vector of class codes (the paper's RF baseline).

    Features are the raw class codes (one column per factor), the paper's "one-dimensional"
    input: most factors are ordered classes (slope, NDVI, distance bands), which trees split
    directly, and trees can still isolate single codes of the categorical ones (land use,
    lithology). A ``RandomForestRegressor`` (squared error, ``max_features="sqrt"``) is
    tuned with ``GridSearchCV`` (mean squared error) over ``param_grid``; on 0/1 labels its
    prediction — the mean label of the leaves — is the landslide probability, and the same
    estimator also accepts soft labels.

    Grid-search folds: with ``groups`` (the spatial block of each sample, passed by
    ``train`` under a spatial split and by ``cv``) a seeded ``StratifiedGroupKFold``: whole
    blocks go to the fitted or the scored part of a split, never both, so the grid is
    chosen on ground the forest has not seen, as the test blocks are (``cv`` folds become
    fewer when there are fewer blocks; with one block, pixel folds). Without groups, a
    seeded ``StratifiedKFold`` of the samples (random pixels, the paper's set-up).
    ``fit_info_["grid_search_cv"]`` records which.

    Calibration (``calibration``, see :mod:`lsgh_ee.model.calibration`) and the Youden
    threshold are fitted on ``validation`` when ``fit`` gets it (``cv`` passes whole
    held-out blocks), else on the forest's out-of-bag predictions of its training samples:
    each sample scored only by the trees whose bootstrap left it out, so no sample is
    scored by a tree that was fitted on it (samples no tree left out are skipped). OOB
    scores average about a third of the trees, a little noisier than the full forest's.

    The model is saved with joblib (a pickle): load it only from a source you trust.
    ``samples_per_second_`` is samples / wall-clock seconds of the whole fit, grid search
    included.

    Args:
        class_counts: classes per factor, in input column order.
        factor_names: optional factor names, for messages and saved schemas.
        param_grid: ``GridSearchCV`` grid of ``RandomForestRegressor`` parameters
            (default :data:`DEFAULT_RF_GRID`; tests pass a one-point grid).
        cv: folds of the grid search (fewer when a class has fewer samples).
        n_jobs: parallel jobs of the forest (-1: every core).
        seed: seeds the folds and the forest.
        verbose: ``GridSearchCV`` progress output.
        calibration: ``none``, ``platt`` or ``isotonic``.
        on_epoch: taken so that every variant takes the same progress argument; a forest
            has no epochs, so it is never called (and, as for the networks, not saved).
    """

    variant = "rf"
    uses_soft_samples = False
    model_file = "model.joblib"

    def __init__(
        self,
        class_counts: Sequence[int],
        *,
        factor_names: Sequence[str] | None = None,
        param_grid: dict | None = None,
        cv: int = 3,
        n_jobs: int | None = -1,
        seed: int = 0,
        verbose: int = 0,
        calibration: str = "none",
        on_epoch: EpochCallback | None = None,
    ):
        super().__init__(class_counts, factor_names=factor_names, calibration=calibration)
        grid = DEFAULT_RF_GRID if param_grid is None else param_grid
        if not isinstance(grid, dict) or not grid:
            raise LsghError(f"param_grid must be a non-empty mapping, got {param_grid!r}")
        self.param_grid = {key: list(values) for key, values in grid.items()}
        self.cv = int(cv)
        if self.cv < 2:
            raise LsghError(f"cv must be >= 2 folds, got {cv}")
        self.n_jobs = n_jobs
        self.seed = int(seed)
        self.verbose = int(verbose)
        self.on_epoch = on_epoch

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple | None = None,
        groups: np.ndarray | None = None,
    ) -> None:
        """Grid-search and fit the forest on checked codes ``(N, F)`` and labels ``(N,)``
        (folds of whole ``groups`` when given), then calibrate on ``validation`` or on the
        out-of-bag predictions."""
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.model_selection import GridSearchCV

        seed = self.seed
        splits, folds, described = self._grid_splits(y, groups)
        forest = RandomForestRegressor(max_features="sqrt", random_state=seed, n_jobs=self.n_jobs)
        search = GridSearchCV(
            forest,
            self.param_grid,
            scoring="neg_mean_squared_error",
            cv=splits,
            refit=True,
            verbose=self.verbose,
        )
        start = time.perf_counter()
        try:
            search.fit(x.astype("float32"), y)
        except (ValueError, TypeError) as exc:
            raise LsghError(f"random forest grid search failed: {exc}; check param_grid") from exc
        elapsed = time.perf_counter() - start
        self.model_ = search.best_estimator_
        self.history_ = {}
        self.samples_per_second_ = len(x) / elapsed if elapsed > 0 else None
        self.fit_info_ = {
            "n_train": int(len(x)),
            "best_params": search.best_params_,
            "cv_mse": float(-search.best_score_),
            "cv_folds": folds,
            "grid_search_cv": described,
            "param_grid": self.param_grid,
            "seed": seed,
        }
        calibrate_forest(self, x, y, validation)

    def _grid_splits(self, y: np.ndarray, groups: np.ndarray | None) -> tuple[list, int, str]:
        """(train/score index pairs, folds, a description) of the grid search."""
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        strata = y > 0.5
        n_groups = 0 if groups is None else int(np.unique(groups).size)
        if n_groups >= 2:
            folds = min(self.cv, n_groups)
            splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=self.seed)
            splits = list(splitter.split(np.zeros(len(y)), strata, groups))
            return splits, folds, f"StratifiedGroupKFold: {folds} folds of {n_groups} blocks"
        folds = min(self.cv, int(strata.sum()), int((~strata).sum()))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
        splits = list(splitter.split(np.zeros(len(y)), strata))
        why = "" if groups is None else " (one block only)"
        return splits, folds, f"StratifiedKFold: {folds} folds of samples{why}"

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(x.astype("float32"))

    def _save_model(self, path: Path) -> None:
        import joblib

        joblib.dump(self.model_, path, compress=3)

    def _load_model(self, path: Path) -> None:
        import joblib

        try:
            self.model_ = joblib.load(path)  # sha256 verified by ModelEstimator.load
        except Exception as exc:  # a damaged or foreign pickle
            raise LsghError(
                f"cannot load {path}: {exc}; the file is damaged, retrain or restore it"
            ) from exc


def calibrate_forest(
    estimator: ModelEstimator, features: np.ndarray, y: np.ndarray, validation: tuple | None
) -> None:
    """Fit a fitted forest estimator's calibration on ``validation`` (its inputs, labels)
    when given, else on the out-of-bag scores of its training samples: ``features`` are
    the forest's own input matrix ``(N, columns)``, ``y`` their labels ``(N,)``."""
    if validation is not None:
        x_val, y_val = validation
        estimator._calibrate(estimator._predict(x_val), y_val, "validation")
    else:
        scores, seen = out_of_bag(estimator.model_, features)
        estimator._calibrate(scores[seen], y[seen], "out-of-bag")


def out_of_bag(forest, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, seen)``: each sample's mean prediction over the trees whose bootstrap
    left it out (``(N,)`` float64), and whether any tree did (``(N,)`` bool)."""
    x = x.astype("float32")
    total = np.zeros(len(x))
    count = np.zeros(len(x))
    for tree, in_bag in zip(forest.estimators_, forest.estimators_samples_, strict=True):
        out = np.ones(len(x), dtype=bool)
        out[in_bag] = False
        if out.any():
            total[out] += tree.predict(x[out])
            count[out] += 1
    seen = count > 0
    return np.divide(total, count, out=np.zeros(len(x)), where=seen), seen
