"""The reference model (``rf-raw``): a plain random forest on the factors' own values.

Every other variant sees the Table 2 class codes; ``rf-raw`` sees what they were classified
from — slope in degrees, distances in metres, NDVI — with the categorical factors (land use,
lithology) one-hot, and no grid search. It is the number every change is compared with:
a model that cannot beat it has not earned its complexity (issue 14).

Encoding (:func:`encode_values`): continuous and distance factors stay one column each, as
they are; a categorical factor with ``k`` classes becomes ``k`` 0/1 columns for its codes
1..k, in place of its column. A categorical value outside 1..k (a class the training region
did not have) gives an all-zero row of that factor, and NaN (nodata) gives NaN in all of
them. NaN is left to scikit-learn's own missing-value support in the forest (>= 1.4: at
each split, samples with a missing value go to the side that lowers the error most, or to
the larger child when training saw none); the samples are drawn where every factor is
valid, and maps are NaN wherever any factor is, so in practice the forest sees no NaN.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from lsgh_ee.errors import LsghError
from lsgh_ee.model.base import EpochCallback, ModelEstimator, check_positive
from lsgh_ee.model.forest import RandomForest, calibrate_forest


def encode_values(
    values: np.ndarray, class_counts: Sequence[int], categorical: Sequence[int]
) -> np.ndarray:
    """The forest's feature matrix: factor values ``(N, F)`` → float32 ``(N, C)``.

    Columns in factor order; factor ``f`` in ``categorical`` (column indices) becomes
    ``class_counts[f]`` one-hot columns (code 1 first), any other factor stays one column.
    See the module docstring for unseen classes and NaN.
    """
    values = np.asarray(values, dtype=np.float32)
    blocks = []
    for f in range(values.shape[1]):
        column = values[:, f : f + 1]
        if f in categorical:
            codes = np.arange(1, int(class_counts[f]) + 1, dtype=np.float32)
            hot = (column == codes).astype(np.float32)
            hot[np.isnan(column[:, 0])] = np.nan
            blocks.append(hot)
        else:
            blocks.append(column)
    return np.concatenate(blocks, axis=1) if blocks else values


def feature_names(
    factor_names: Sequence[str], class_counts: Sequence[int], categorical: Sequence[int]
) -> list[str]:
    """Names of :func:`encode_values`' columns: the factor's name, or ``<factor>=<code>``
    for a one-hot column."""
    names = []
    for f, name in enumerate(factor_names):
        if f in categorical:
            names += [f"{name}={code}" for code in range(1, int(class_counts[f]) + 1)]
        else:
            names.append(name)
    return names


class RawForest(ModelEstimator):
    """Random forest on factor values with the categorical factors one-hot (``rf-raw``).

    A ``RandomForestRegressor`` (squared error, ``max_features="sqrt"``), the same
    estimator as ``rf``: on 0/1 labels its squared-error split criterion is the Gini
    impurity up to a factor 2 and its prediction — the mean label of the leaves — is the
    landslide probability, so ``rf`` vs ``rf-raw`` isolates the input (class codes vs
    values) and the grid search, not the learner. Defaults, fixed (no grid search):
    ``n_estimators=500`` (enough trees that the ranking no longer changes with the seed;
    the usual choice in susceptibility studies) and ``min_samples_leaf=5`` (on continuous
    inputs a leaf of one sample memorises single pixels; five smooth the probabilities
    and the map and keep the saved model small; it is a point of ``rf``'s own grid). On
    the demo region, 5-fold spatially blocked CV: AUC 0.875 with leaves of 5, 0.866 with
    leaves of 1; the random 7:3 split prefers 1 (0.898 vs 0.885), as it rewards memorising
    the test pixels' neighbours; AUC against the demo's true susceptibility: 0.798 vs 0.796.

    Saved with joblib like ``rf`` (a pickle, loaded only when its SHA-256 matches:
    load it only from a source you trust). It cannot be hosted on Vertex AI and cannot
    be fine-tuned.

    Args:
        class_counts: classes per factor, in input column order (the one-hot width of
            the categorical factors).
        factor_names: optional factor names, for messages and saved schemas.
        categorical: column indices of the categorical factors (one-hot);
            :func:`~lsgh_ee.model.variants.make_model` fills it from ``factor_kinds``.
        n_estimators, min_samples_leaf, max_features: the forest's settings.
        n_jobs: parallel jobs of the forest (-1: every core).
        seed: seeds the forest.
        calibration: ``none``, ``platt`` or ``isotonic`` (fitted as rf's is).
        on_epoch: taken so that every variant takes the same progress argument; never
            called (a forest has no epochs) and not saved.
    """

    variant = "rf-raw"
    input_kind = "values"
    uses_soft_samples = False
    model_file = RandomForest.model_file

    def __init__(
        self,
        class_counts: Sequence[int],
        *,
        factor_names: Sequence[str] | None = None,
        categorical: Sequence[int] = (),
        n_estimators: int = 500,
        min_samples_leaf: int = 5,
        max_features: str | float | int | None = "sqrt",
        n_jobs: int | None = -1,
        seed: int = 0,
        calibration: str = "none",
        on_epoch: EpochCallback | None = None,
    ):
        super().__init__(class_counts, factor_names=factor_names, calibration=calibration)
        columns = sorted({int(f) for f in categorical})
        if columns and (columns[0] < 0 or columns[-1] >= len(self.class_counts)):
            raise LsghError(
                f"categorical names columns {columns} but the model has "
                f"{len(self.class_counts)} factors; pass column indices 0..F-1"
            )
        self.categorical = columns
        check_positive(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf)
        self.n_estimators = int(n_estimators)
        self.min_samples_leaf = int(min_samples_leaf)
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.seed = int(seed)
        self.on_epoch = on_epoch

    def _check_inputs(self, inputs: Any) -> np.ndarray:
        """Factor values as float32 ``(N, F)``; NaN (nodata) is allowed, infinities and
        non-numbers are not."""
        try:
            array = np.asarray(inputs, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise LsghError(
                f"the {self.variant} model takes factor values (numbers) but got {exc}; "
                "pass the factors' values (factors.tif), one row per sample"
            ) from exc
        n_factors = len(self.class_counts)
        if array.ndim != 2 or array.shape[1] != n_factors:
            raise LsghError(
                f"factor values have shape {array.shape} but the {self.variant} model takes "
                f"(samples, {n_factors}); pass the values of the model's factors in its order"
            )
        if np.isinf(array).any():
            raise LsghError(
                f"factor values hold infinities (factor columns "
                f"{sorted(set(np.nonzero(np.isinf(array))[1].tolist()))}); use NaN for nodata"
            )
        return array

    def encode(self, values: np.ndarray) -> np.ndarray:
        """:func:`encode_values` with this model's class counts and categorical factors."""
        return encode_values(values, self.class_counts, self.categorical)

    def feature_names(self) -> list[str]:
        """Names of the forest's input columns (for feature importances)."""
        names = self.factor_names or [f"factor_{f}" for f in range(len(self.class_counts))]
        return feature_names(names, self.class_counts, self.categorical)

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple | None = None,
        groups: np.ndarray | None = None,
    ) -> None:
        """Fit the forest on checked values ``(N, F)`` and labels ``(N,)`` (no grid search,
        so ``groups`` is not used), then calibrate as rf does: on ``validation`` when
        given, else on the out-of-bag predictions."""
        from sklearn.ensemble import RandomForestRegressor

        forest = RandomForestRegressor(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            random_state=self.seed,
            n_jobs=self.n_jobs,
        )
        start = time.perf_counter()
        try:
            forest.fit(self.encode(x), y)
        except (ValueError, TypeError) as exc:
            raise LsghError(f"the {self.variant} forest cannot be fitted: {exc}") from exc
        elapsed = time.perf_counter() - start
        self.model_ = forest
        self.history_ = {}
        self.samples_per_second_ = len(x) / elapsed if elapsed > 0 else None
        self.fit_info_ = {
            "n_train": int(len(x)),
            "features": self.feature_names(),
            "importances": [round(float(v), 6) for v in forest.feature_importances_],
            "seed": self.seed,
        }
        calibrate_forest(self, self.encode(x), y, validation)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(self.encode(x))

    # saved and loaded exactly as rf (joblib; the sha256 is checked by ModelEstimator.load)
    _save_model = RandomForest._save_model
    _load_model = RandomForest._load_model
