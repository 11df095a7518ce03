"""Susceptibility models with one scikit-learn-style interface, selected by variant name.

=================  ===========================================  =================
variant            model                                        training samples
=================  ===========================================  =================
``lsgh``           LSGH-Net (with scSE)                         hard + soft
``lsgh-noscse``    LSGH-Net without scSE (the paper's ablation) hard + soft
``cnn``            the same network as ``lsgh``, scSE included  hard only
``rf``             random forest on the raw class-code vector   hard only
=================  ===========================================  =================

The paper's CNN baseline is "consistent with the proposed network" and differs only in not
using the Gaussian-heatmap (soft) samples, so ``cnn`` is LSGH-Net itself, scSE included;
``lsgh`` vs ``cnn`` isolates the effect of the soft samples, ``lsgh`` vs ``lsgh-noscse`` the
effect of scSE. Estimators never filter samples themselves: each class says in
``uses_soft_samples`` whether the caller should pass the soft (0 < label < 1) samples.

Common interface::

    model = make_model("lsgh", class_counts)
    model.fit(codes, labels, validation_fraction=0.2, epochs=200, patience=50,
              batch_size=32, seed=0, verbose=0, on_epoch=None)
    index = model.predict(codes)          # (N,) float32 in [0, 1]
    model.save(folder); model = ModelEstimator.load(folder)

Keras variants follow the paper's §3.1: MSE loss, Adam, batch 32, at most 200 epochs, early
stopping on the validation loss with patience 50 restoring the best weights. The validation
split is drawn (seeded, stratified on ``label > 0.5``) from the samples given to ``fit``.
Data go through ``tf.data`` (seeded shuffle, batch, prefetch); TensorFlow uses a GPU by
itself when it sees one. With ``deterministic=True`` (default) ``fit`` seeds Python, NumPy
and the backend (``keras.utils.set_random_seed``) and turns on TensorFlow op determinism —
a process-wide switch that also disables XLA auto-clustering in Keras and can slow GPU
training — so the same seed gives the same model on the same machine.
"""

from __future__ import annotations

import inspect
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lsgh_ee.errors import LsghError  # noqa: E402
from lsgh_ee.model.data import (  # noqa: E402
    check_class_counts,
    check_codes,
    check_labels,
    check_training_set,
    validation_split,
)
from lsgh_ee.model.files import (  # noqa: E402
    SCHEMA_JSON,
    atomic_folder,
    read_schema,
    sha256_file,
    write_json,
)
from lsgh_ee.model.network import build_lsgh_net  # noqa: E402

EpochCallback = Callable[[int, dict], Any]
SCHEMA_FORMAT = "lsgh-ee-model"
SCHEMA_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions recorded with a saved model."""
    import sklearn

    import lsgh_ee

    versions = {
        "lsgh_ee": lsgh_ee.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    except ImportError:  # pragma: no cover - another Keras backend without TensorFlow
        pass
    return versions


class ModelEstimator:
    """Base of all variants: validation, saving and loading.

    Attributes:
        variant: the variant name (``make_model``'s first argument).
        uses_soft_samples: whether the caller should train it on the soft samples too.
        class_counts: classes per factor, in input column order.
        factor_names: optional factor names (used in error messages and saved schemas).
        history_: per-epoch ``loss``, ``val_loss``, ``mae``, ``val_mae`` (empty for rf).
        samples_per_second_: training speed measured during ``fit``.
        fit_info_: what ``fit`` did (epochs run, best epoch, seed, grid-search result...).
    """

    variant: ClassVar[str] = ""
    uses_soft_samples: ClassVar[bool] = False
    model_file: ClassVar[str] = ""

    def __init__(self, class_counts: Sequence[int], *, factor_names: Sequence[str] | None = None):
        self.class_counts = check_class_counts(class_counts)
        if factor_names is not None:
            factor_names = [str(name) for name in factor_names]
            if len(factor_names) != len(self.class_counts):
                raise LsghError(
                    f"{len(factor_names)} factor names for {len(self.class_counts)} class "
                    "counts; pass one name per factor"
                )
        self.factor_names = factor_names
        self.model_ = None
        self.history_: dict[str, list[float]] = {}
        self.samples_per_second_: float | None = None
        self.fit_info_: dict = {}

    # -- parameters --------------------------------------------------------------------
    def get_params(self) -> dict:
        """Constructor parameters other than ``class_counts`` / ``factor_names``."""
        names = [
            p
            for p in inspect.signature(type(self).__init__).parameters
            if p not in ("self", "class_counts", "factor_names")
        ]
        return {name: _jsonable(getattr(self, name)) for name in names}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({self.class_counts}, {params})"

    # -- the interface each variant implements -----------------------------------------
    def fit(self, codes, labels, **kwargs) -> ModelEstimator:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, codes) -> np.ndarray:
        """Susceptibility index ``(N,)`` float32 in [0, 1] for class codes ``(N, F)``."""
        self._check_fitted()
        x = check_codes(codes, self.class_counts, self.factor_names)
        if x.shape[0] == 0:
            return np.empty(0, dtype="float32")
        return np.clip(self._predict(x), 0.0, 1.0).astype("float32")

    def _predict(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _save_model(self, path: Path) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_model(self, path: Path) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- checks --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise LsghError(f"the {self.variant} model is not trained yet; call fit() first")

    def _check_data(self, codes, labels) -> tuple[np.ndarray, np.ndarray]:
        x = check_codes(codes, self.class_counts, self.factor_names)
        y = check_labels(labels, x.shape[0])
        check_training_set(y)
        return x, y

    # -- saving and loading --------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the model file and ``schema.json`` into ``folder`` (atomically)."""
        self._check_fitted()
        with atomic_folder(folder) as tmp:
            write_json(tmp / SCHEMA_JSON, self._write(tmp))
        return Path(folder)

    def _write(self, folder: Path) -> dict:
        """Write the model file into ``folder``; return the estimator part of the schema."""
        self._check_fitted()
        path = folder / self.model_file
        self._save_model(path)
        return {
            "format": SCHEMA_FORMAT,
            "format_version": SCHEMA_VERSION,
            "variant": self.variant,
            "uses_soft_samples": self.uses_soft_samples,
            "class_counts": list(self.class_counts),
            "factor_names": self.factor_names,
            "params": self.get_params(),
            "model_file": self.model_file,
            "model_sha256": sha256_file(path),
            "history": self.history_,
            "samples_per_second": self.samples_per_second_,
            "fit_info": _jsonable(self.fit_info_),
            "versions": library_versions(),
        }

    @classmethod
    def load(cls, folder: str | os.PathLike) -> ModelEstimator:
        """Load a model saved by :meth:`save` or :func:`~lsgh_ee.model.save_bundle`.

        Keras models load in Keras safe mode (no Python code from the file is run). A rf
        model is a pickle (joblib): it is loaded only when its SHA-256 matches the one in
        ``schema.json``, which catches swapped or damaged files but is not a signature —
        load rf models only from sources you trust.
        """
        folder = Path(folder)
        return cls._from_schema(folder, read_schema(folder))

    @classmethod
    def _from_schema(cls, folder: Path, schema: dict) -> ModelEstimator:
        version = schema.get("format_version")
        if (
            schema.get("format") != SCHEMA_FORMAT
            or not isinstance(version, int)
            or version > SCHEMA_VERSION
        ):
            raise LsghError(
                f"{folder / SCHEMA_JSON} is format {schema.get('format')!r} version "
                f"{schema.get('format_version')!r}; this lsgh-ee reads {SCHEMA_FORMAT!r} up "
                f"to version {SCHEMA_VERSION}: upgrade lsgh-ee or retrain"
            )
        variant = schema["variant"]
        klass = VARIANTS.get(variant)
        if klass is None:
            raise LsghError(
                f"{folder} holds an unknown model variant {variant!r}; "
                f"this lsgh-ee knows {', '.join(VARIANTS)}"
            )
        if not issubclass(klass, cls):
            raise LsghError(
                f"{folder} holds a {variant!r} model, not {cls.variant!r}; "
                "load it with ModelEstimator.load or load_bundle"
            )
        try:
            estimator = klass(
                schema["class_counts"],
                factor_names=schema.get("factor_names"),
                **schema.get("params", {}),
            )
        except TypeError as exc:
            raise LsghError(
                f"{folder / SCHEMA_JSON} has parameters this lsgh-ee does not know ({exc}); "
                "upgrade lsgh-ee or retrain"
            ) from exc
        if schema.get("model_file", klass.model_file) != klass.model_file:
            raise LsghError(
                f"{folder / SCHEMA_JSON} names model file {schema.get('model_file')!r}; a "
                f"{variant} model is always {klass.model_file!r}: restore the bundle or retrain"
            )
        path = folder / klass.model_file
        if not path.is_file():
            raise LsghError(f"model file {path} is missing; save or copy the whole model folder")
        expected = schema.get("model_sha256")
        actual = sha256_file(path)
        if expected != actual:
            raise LsghError(
                f"{path} does not match the sha256 recorded in {SCHEMA_JSON} "
                f"({str(expected)[:12]}… vs {actual[:12]}…); the model was modified or "
                "damaged: restore the bundle from its source or retrain"
            )
        estimator._load_model(path)
        estimator.history_ = schema.get("history") or {}
        estimator.samples_per_second_ = schema.get("samples_per_second")
        estimator.fit_info_ = schema.get("fit_info") or {}
        return estimator


class _TrainingMonitor(keras.callbacks.Callback):
    """Times the training part of each epoch and forwards epoch logs to ``on_epoch``."""

    def __init__(self, on_epoch: EpochCallback | None):
        super().__init__()
        self.on_epoch = on_epoch
        self.train_seconds: list[float] = []
        self._start = 0.0
        self._train = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._train = None

    def on_test_begin(self, logs=None):
        if self._train is None:
            self._train = time.perf_counter() - self._start

    def on_epoch_end(self, epoch, logs=None):
        elapsed = self._train if self._train is not None else time.perf_counter() - self._start
        self.train_seconds.append(elapsed)
        if self.on_epoch is not None:
            self.on_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})


class _HardValidationAUC(keras.callbacks.Callback):
    """Adds ``val_auc``, the ROC AUC of the hard validation samples, to each epoch's logs
    (before EarlyStopping reads them)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        super().__init__()
        self.x, self.y = x, y

    def on_epoch_end(self, epoch, logs=None):
        from lsgh_ee.evaluation import roc_auc

        scores = self.model.predict_on_batch(self.x)
        if logs is not None:
            logs["val_auc"] = roc_auc(self.y, np.asarray(scores).ravel())


class KerasEstimator(ModelEstimator):
    """LSGH-Net trained with Keras (see :func:`~lsgh_ee.model.network.build_lsgh_net`).

    Args:
        class_counts: classes per factor, in input column order.
        factor_names: optional factor names, for messages and saved schemas.
        filters: conv block widths and the head width (paper layout: 32, 64, 128, 256).
        dropout: dropout rate before the output (paper: 0.5).
        reduction: cSE reduction ratio.
        learning_rate: Adam learning rate (Keras default 0.001).
        predict_batch_size: batch size for :meth:`predict` (memory vs speed only).
    """

    scse: ClassVar[bool] = True
    model_file: ClassVar[str] = "model.keras"

    def __init__(
        self,
        class_counts: Sequence[int],
        *,
        factor_names: Sequence[str] | None = None,
        filters: Sequence[int] = (32, 64, 128, 256),
        dropout: float = 0.5,
        reduction: int = 2,
        learning_rate: float = 1e-3,
        predict_batch_size: int = 8192,
        bn_momentum: float = 0.9,
    ):
        super().__init__(class_counts, factor_names=factor_names)
        self.bn_momentum = float(bn_momentum)
        self.filters = tuple(int(f) for f in filters)
        self.dropout = float(dropout)
        self.reduction = int(reduction)
        self.learning_rate = float(learning_rate)
        self.predict_batch_size = int(predict_batch_size)
        if len(self.filters) < 2 or min(self.filters) < 1:
            raise LsghError(f"filters needs at least two positive widths, got {filters!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise LsghError(f"dropout must be in [0, 1), got {dropout}")
        if self.reduction < 1 or self.learning_rate <= 0 or self.predict_batch_size < 1:
            raise LsghError(
                f"reduction ({reduction}), learning_rate ({learning_rate}) and "
                f"predict_batch_size ({predict_batch_size}) must be positive"
            )

    def build(self) -> keras.Model:
        """A new, untrained network with this estimator's parameters."""
        try:
            return build_lsgh_net(
                self.class_counts,
                scse=self.scse,
                dropout=self.dropout,
                filters=self.filters,
                reduction=self.reduction,
                bn_momentum=self.bn_momentum,
                name=f"lsgh_net_{self.variant.replace('-', '_')}",
            )
        except ValueError as exc:
            raise LsghError(f"invalid {self.variant} model parameters: {exc}") from exc

    def fit(
        self,
        codes,
        labels,
        *,
        validation_fraction: float = 0.2,
        epochs: int = 200,
        patience: int = 50,
        batch_size: int = 32,
        seed: int = 0,
        verbose: int = 0,
        on_epoch: EpochCallback | None = None,
        deterministic: bool = True,
        init_weights: list | None = None,
        train_only: Sequence[str] | None = None,
        early_stopping: str = "val_auc",
    ) -> KerasEstimator:
        """Train on class codes ``(N, F)`` and labels ``(N,)`` in [0, 1].

        Args:
            validation_fraction: share of the samples held out (stratified on
                ``label > 0.5``) for early stopping; 0 trains all ``epochs`` without it.
            epochs: maximum number of epochs (paper: 200).
            patience: epochs without a better validation score before stopping (paper:
                50); the weights of the best epoch are kept.
            batch_size: training batch size (paper: 32).
            seed: seeds the split, the shuffling and the weight initialisation.
            verbose: Keras progress output (0 silent, 1 bar, 2 one line per epoch).
            on_epoch: called as ``on_epoch(epoch, logs)`` after every epoch (``logs``: loss,
                mae, val_loss, val_mae) — for progress bars.
            deterministic: turn on TensorFlow op determinism (process-wide).
            init_weights: start from these weights (``model_.get_weights()`` of a trained
                estimator with the same parameters) instead of a fresh initialisation:
                fine-tuning.
            train_only: names of the layers to train; every other layer is frozen (its
                weights, BatchNorm statistics included, stay as they are). None trains all.
            early_stopping: the validation score early stopping watches: ``"val_auc"``
                (default: ROC AUC of the hard validation samples, threshold-free; the paper
                watched validation accuracy) or ``"val_loss"`` (MSE of every validation
                sample, soft ones included). With a few hundred landslides the validation
                MSE is noisy and its minimum often sits in the first epochs, where the
                network still predicts about 0.5 everywhere; AUC follows what a
                susceptibility map needs — the ranking.
        """
        import tensorflow as tf

        x, y = self._check_data(codes, labels)
        _check_positive(epochs=epochs, batch_size=batch_size)
        if patience < 0:
            raise LsghError(f"patience must be >= 0, got {patience}")
        x_train, y_train, x_val, y_val = validation_split(x, y, validation_fraction, seed)

        keras.utils.set_random_seed(seed)
        if deterministic and keras.backend.backend() == "tensorflow":
            tf.config.experimental.enable_op_determinism()
        model = self.build()
        if init_weights is not None:
            model.set_weights(init_weights)
        if train_only is not None:
            for layer in model.layers:
                layer.trainable = layer.name in set(train_only)
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse", metrics=["mae"]
        )
        train = (
            tf.data.Dataset.from_tensor_slices((x_train, y_train[:, None]))
            .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        monitor = _TrainingMonitor(on_epoch)
        callbacks: list[keras.callbacks.Callback] = []
        val = None
        if x_val is not None:
            val = (
                tf.data.Dataset.from_tensor_slices((x_val, y_val[:, None]))
                .batch(max(batch_size, 1024))
                .prefetch(tf.data.AUTOTUNE)
            )
            hard = (y_val == 0) | (y_val == 1)
            if early_stopping == "val_auc" and len(np.unique(y_val[hard])) == 2:
                callbacks.append(_HardValidationAUC(x_val[hard], y_val[hard]))
                stop = keras.callbacks.EarlyStopping(
                    monitor="val_auc", mode="max", patience=patience, restore_best_weights=True
                )
            else:
                stop = keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=patience, restore_best_weights=True
                )
            callbacks.append(stop)
        callbacks.append(monitor)
        history = model.fit(
            train,
            validation_data=val,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            shuffle=False,  # tf.data shuffles (seeded)
        )

        # Keep an uncompiled copy for inference: no optimizer state in saved files.
        inference = self.build()
        inference.set_weights(model.get_weights())
        self.model_ = inference
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        self.samples_per_second_ = _throughput(len(x_train), monitor.train_seconds)
        val_loss = self.history_.get("val_loss")
        self.fit_info_ = {
            "n_train": int(len(x_train)),
            "n_validation": 0 if x_val is None else int(len(x_val)),
            "epochs_run": len(monitor.train_seconds),
            "best_epoch": None if not val_loss else int(np.argmin(val_loss)),
            "best_val_loss": None if not val_loss else float(np.min(val_loss)),
            "seed": int(seed),
            "batch_size": int(batch_size),
            "max_epochs": int(epochs),
            "patience": int(patience),
            "validation_fraction": float(validation_fraction),
            "deterministic": bool(deterministic),
            "fine_tuned": init_weights is not None,
            "trained_layers": None if train_only is None else list(train_only),
            "devices": [d.device_type for d in tf.config.list_logical_devices()],
        }
        return self

    def _predict(self, x: np.ndarray) -> np.ndarray:
        # Chunks through predict_on_batch: no tf.data pipeline per call (mapping calls this
        # once per window), same compiled function as Keras's predict.
        step = self.predict_batch_size
        out = [
            np.asarray(self.model_.predict_on_batch(x[start : start + step])).reshape(-1)
            for start in range(0, x.shape[0], step)
        ]
        return np.concatenate(out)

    def _save_model(self, path: Path) -> None:
        self.model_.save(path)

    def _load_model(self, path: Path) -> None:
        self.model_ = load_keras_model(path, len(self.class_counts))


def load_keras_model(path: str | os.PathLike, n_factors: int | None = None) -> keras.Model:
    """``keras.saving.load_model`` in safe mode, with user-facing errors."""
    path = Path(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # any failure to read a user's file is a user-facing problem
        reason = " ".join(str(exc).split())
        if "safe_mode" in reason or "Lambda" in reason:
            raise LsghError(
                f"{path} contains Python code (a Lambda layer) that Keras safe mode refuses "
                "to run; use a model trained by lsgh-ee, or retrain"
            ) from exc
        raise LsghError(
            f"cannot load {path}: {reason[:300]}; the file is damaged or not an lsgh-ee "
            "model, retrain or restore it"
        ) from exc
    if n_factors is not None:
        shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else ()
        if len(shape) != 2 or shape[-1] != n_factors:
            raise LsghError(
                f"{path} takes input {shape} but its schema has {n_factors} factors; "
                "the bundle is inconsistent, retrain or restore it"
            )
    return model


class LsghNet(KerasEstimator):
    """LSGH-Net with scSE, trained on hard and soft samples."""

    variant = "lsgh"
    uses_soft_samples = True
    scse = True


class LsghNetNoScse(KerasEstimator):
    """LSGH-Net without the scSE blocks (the paper's ablation), hard and soft samples."""

    variant = "lsgh-noscse"
    uses_soft_samples = True
    scse = False


class CnnBaseline(KerasEstimator):
    """The paper's CNN baseline: LSGH-Net (scSE included) trained on hard samples only."""

    variant = "cnn"
    uses_soft_samples = False
    scse = True


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
    tuned with ``GridSearchCV`` (seeded stratified ``cv``-fold, mean squared error) over
    ``param_grid``; on 0/1 labels its prediction — the mean label of the leaves — is the
    landslide probability, and the same estimator also accepts soft labels.

    The model is saved with joblib (a pickle): load it only from a source you trust.
    ``fit`` ignores the Keras-only arguments (validation_fraction, epochs, patience,
    batch_size, on_epoch); ``samples_per_second_`` is samples / wall-clock seconds of the
    whole fit, grid search included.
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
    ):
        super().__init__(class_counts, factor_names=factor_names)
        grid = DEFAULT_RF_GRID if param_grid is None else param_grid
        if not isinstance(grid, dict) or not grid:
            raise LsghError(f"param_grid must be a non-empty mapping, got {param_grid!r}")
        self.param_grid = {key: list(values) for key, values in grid.items()}
        self.cv = int(cv)
        if self.cv < 2:
            raise LsghError(f"cv must be >= 2 folds, got {cv}")
        self.n_jobs = n_jobs

    def fit(
        self,
        codes,
        labels,
        *,
        validation_fraction: float = 0.2,
        epochs: int = 200,
        patience: int = 50,
        batch_size: int = 32,
        seed: int = 0,
        verbose: int = 0,
        on_epoch: EpochCallback | None = None,
    ) -> RandomForest:
        """Grid-search and fit the forest on all given samples (see the class docstring)."""
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        x, y = self._check_data(codes, labels)
        strata = y > 0.5
        folds = min(self.cv, int(strata.sum()), int((~strata).sum()))
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        forest = RandomForestRegressor(max_features="sqrt", random_state=seed, n_jobs=self.n_jobs)
        search = GridSearchCV(
            forest,
            self.param_grid,
            scoring="neg_mean_squared_error",
            cv=list(splits.split(x, strata)),
            refit=True,
            verbose=verbose,
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
            "param_grid": self.param_grid,
            "seed": int(seed),
        }
        return self

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


VARIANTS: dict[str, type[ModelEstimator]] = {
    klass.variant: klass for klass in (LsghNet, LsghNetNoScse, CnnBaseline, RandomForest)
}


def make_model(variant: str, class_counts: Sequence[int], **params) -> ModelEstimator:
    """A new, untrained model of ``variant`` (one of :data:`VARIANTS`).

    ``params`` are the variant's constructor parameters (``factor_names`` for all; Keras
    variants: ``filters``, ``dropout``, ``reduction``, ``learning_rate``,
    ``predict_batch_size``; rf: ``param_grid``, ``cv``, ``n_jobs``).
    """
    klass = VARIANTS.get(variant)
    if klass is None:
        raise LsghError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    known = [p for p in inspect.signature(klass.__init__).parameters if p not in ("self",)]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise LsghError(
            f"unknown parameter(s) {', '.join(unknown)} for model variant {variant!r}; "
            f"valid: {', '.join(p for p in known if p != 'class_counts')}"
        )
    return klass(class_counts, **params)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) < 1:
            raise LsghError(f"{name} must be >= 1, got {value}")


def _throughput(n_train: int, seconds: list[float]) -> float | None:
    """Training samples per second; the first epoch (graph tracing) is left out when
    later epochs exist."""
    timed = seconds[1:] if len(seconds) > 1 else seconds
    total = sum(timed)
    if total <= 0 or not math.isfinite(total):
        return None
    return n_train * len(timed) / total


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
