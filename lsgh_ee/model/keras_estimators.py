"""The Keras variants: LSGH-Net with and without scSE, and the CNN baseline.

They follow the paper's §3.1 by default: MSE loss, Adam, batch 32, at most 200 epochs, early
stopping with patience 50 restoring the best weights. Options beyond the paper: ``loss="bce"``
(binary cross-entropy, which takes the soft targets 0 < y < 1 as they are), ``soft_weight``
(the loss weight of every soft sample, hard samples weigh 1; Keras averages ``w * loss`` over
the batch size) and ``weight_decay`` (L2 on the conv and dense kernels). The validation split
is drawn (seeded, stratified on ``label > 0.5``) from the samples given to ``fit``. Data go through
``tf.data`` (seeded shuffle, batch, prefetch); TensorFlow uses a GPU by itself when it sees
one. With ``deterministic=True`` (default) ``fit`` seeds Python, NumPy and the backend
(``keras.utils.set_random_seed``) and turns on TensorFlow op determinism — a process-wide
switch that also disables XLA auto-clustering in Keras and can slow GPU training — so the
same seed gives the same model on the same machine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from lsgh_ee.model.runtime import start_tensorflow

start_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lsgh_ee.errors import LsghError  # noqa: E402
from lsgh_ee.model.base import EpochCallback, ModelEstimator, check_positive  # noqa: E402
from lsgh_ee.model.callbacks import (  # noqa: E402
    HardValidationAUC,
    SmoothedEarlyStopping,
    TrainingMonitor,
    throughput,
)
from lsgh_ee.model.data import validation_split  # noqa: E402
from lsgh_ee.model.network import build_lsgh_net  # noqa: E402

EARLY_STOPPING = ("val_auc", "val_loss", "val_brier")
LOSSES = ("mse", "bce")
LR_SCHEDULES = ("constant", "cosine")


class KerasEstimator(ModelEstimator):
    """LSGH-Net trained with Keras (see :func:`~lsgh_ee.model.network.build_lsgh_net`).

    Args:
        class_counts: classes per factor, in input column order.
        factor_names: optional factor names, for messages and saved schemas.
        filters: conv block widths and the head width (paper layout: 32, 64, 128, 256).
        dropout: dropout rate before the output (paper: 0.5).
        reduction: cSE reduction ratio.
        learning_rate: Adam learning rate (Keras default 0.001).
        weight_decay: L2 penalty on the conv and dense kernels (0: none, the paper).
        lr_schedule: ``"constant"`` (the paper) or ``"cosine"``: the learning rate falls
            from ``learning_rate`` to 0 along half a cosine over ``epochs`` epochs.
        loss: ``"mse"`` (the paper) or ``"bce"`` (binary cross-entropy on soft targets).
        soft_weight: loss weight of each soft sample (0 < label < 1); hard samples weigh 1
            (default 1.0: every sample counts the same, the paper). 0 ignores the soft
            samples' labels (they still pass through batch normalisation).
        predict_batch_size: batch size for :meth:`predict` (memory vs speed only).
        bn_momentum: batch-normalisation momentum (see ``build_lsgh_net``).
        epochs: maximum number of epochs (paper: 200).
        patience: epochs without a better validation score before stopping (paper: 50);
            the weights of the best epoch are kept.
        batch_size: training batch size in samples (paper: 32).
        validation_fraction: share of the samples held out (stratified on ``label > 0.5``)
            for early stopping; 0 trains all ``epochs`` without it.
        early_stopping: the validation score early stopping watches: ``"val_auc"``
            (default: ROC AUC of the hard validation samples, threshold-free; the paper
            watched validation accuracy) or ``"val_loss"`` (MSE of every validation sample,
            soft ones included). With a few hundred landslides the validation MSE is noisy
            and its minimum often sits in the first epochs, where the network still
            predicts about 0.5 everywhere; AUC follows what a susceptibility map needs —
            the ranking.
        seed: seeds the split, the shuffling and the weight initialisation.
        verbose: Keras progress output (0 silent, 1 bar, 2 one line per epoch).
        deterministic: turn on TensorFlow op determinism (process-wide).
        train_only: names of the layers to train (e.g.
            :data:`~lsgh_ee.model.network.HEAD_LAYERS`); every other layer is frozen (its
            weights, BatchNorm statistics included, stay as they are). None trains all.
        warm_start: when the estimator is already trained, ``fit`` starts from its current
            weights instead of a fresh initialisation (fine-tuning).
        calibration: ``none``, ``platt`` or ``isotonic``, fitted on the early-stopping
            validation samples (:mod:`lsgh_ee.model.calibration`).
        members: networks trained, each from its own seed (``seed``, ``seed + 1``, ...)
            with its own early stopping, whose outputs are averaged into one saved network
            (a seed ensemble; 1, the paper: one network). A small inventory leaves each
            network's weights to chance; the average removes that variance (see
            ``docs/training-settings.md``). Training and map prediction take ``members``
            times as long; fine-tuning (``warm_start``) tunes every member.
        on_epoch: called as ``on_epoch(epoch, logs)`` after every epoch (``logs``: loss,
            mae, val_loss, val_mae, val_auc) — for progress bars; not saved with the model.
    """

    scse: ClassVar[bool] = True
    model_file: ClassVar[str] = "model.keras"
    #: the parameters that shape the network: fine-tuning keeps the bundle's
    architecture_params: ClassVar[tuple[str, ...]] = ("filters", "dropout", "reduction", "members")

    def __init__(
        self,
        class_counts: Sequence[int],
        *,
        factor_names: Sequence[str] | None = None,
        filters: Sequence[int] = (32, 64, 128, 256),
        dropout: float = 0.5,
        reduction: int = 2,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        lr_schedule: str = "constant",
        loss: str = "mse",
        soft_weight: float = 1.0,
        predict_batch_size: int = 8192,
        bn_momentum: float = 0.9,
        epochs: int = 200,
        patience: int = 50,
        batch_size: int = 32,
        validation_fraction: float = 0.2,
        early_stopping: str = "val_auc",
        smoothing: int = 1,
        min_epochs: int = 0,
        seed: int = 0,
        verbose: int = 0,
        deterministic: bool = True,
        train_only: Sequence[str] | None = None,
        warm_start: bool = False,
        calibration: str = "none",
        members: int = 1,
        on_epoch: EpochCallback | None = None,
    ):
        super().__init__(class_counts, factor_names=factor_names, calibration=calibration)
        check_positive(members=members)
        self.members = int(members)
        self.bn_momentum = float(bn_momentum)
        self.filters = tuple(int(f) for f in filters)
        self.dropout = float(dropout)
        self.reduction = int(reduction)
        self.learning_rate = float(learning_rate)
        self.predict_batch_size = int(predict_batch_size)
        self.weight_decay, self.soft_weight = float(weight_decay), float(soft_weight)
        self.loss, self.lr_schedule = loss, lr_schedule
        if self.loss not in LOSSES:
            raise LsghError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise LsghError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {lr_schedule!r}"
            )
        if self.weight_decay < 0 or self.soft_weight < 0:
            raise LsghError(
                f"weight_decay ({weight_decay}) and soft_weight ({soft_weight}) must be >= 0"
            )
        if len(self.filters) < 2 or min(self.filters) < 1:
            raise LsghError(f"filters needs at least two positive widths, got {filters!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise LsghError(f"dropout must be in [0, 1), got {dropout}")
        if self.reduction < 1 or self.learning_rate <= 0 or self.predict_batch_size < 1:
            raise LsghError(
                f"reduction ({reduction}), learning_rate ({learning_rate}) and "
                f"predict_batch_size ({predict_batch_size}) must be positive"
            )
        self._set_training(
            epochs, patience, batch_size, validation_fraction, early_stopping, seed, verbose
        )
        self.smoothing, self.min_epochs = int(smoothing), int(min_epochs)
        if self.smoothing < 1 or self.min_epochs < 0:
            raise LsghError(
                f"smoothing must be >= 1 and min_epochs >= 0, got {smoothing}, {min_epochs}"
            )
        self.deterministic = bool(deterministic)
        self.train_only = None if train_only is None else tuple(str(n) for n in train_only)
        self.warm_start = bool(warm_start)
        self.on_epoch = on_epoch

    def _set_training(
        self,
        epochs: int,
        patience: int,
        batch_size: int,
        validation_fraction: float,
        early_stopping: str,
        seed: int,
        verbose: int,
    ) -> None:
        check_positive(epochs=epochs, batch_size=batch_size)
        if int(patience) < 0:
            raise LsghError(f"patience must be >= 0, got {patience}")
        if not 0.0 <= float(validation_fraction) < 1.0:
            raise LsghError(
                f"validation_fraction must be in [0, 1), got {validation_fraction}; "
                "0.2 is the default"
            )
        if early_stopping not in EARLY_STOPPING:
            raise LsghError(
                f"early_stopping must be one of {', '.join(EARLY_STOPPING)}, got {early_stopping!r}"
            )
        self.epochs, self.patience, self.batch_size = int(epochs), int(patience), int(batch_size)
        self.validation_fraction = float(validation_fraction)
        self.early_stopping = early_stopping
        self.seed, self.verbose = int(seed), int(verbose)

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
                weight_decay=self.weight_decay,
                name=f"lsgh_net_{self.variant.replace('-', '_')}",
            )
        except ValueError as exc:
            raise LsghError(f"invalid {self.variant} model parameters: {exc}") from exc

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        groups: np.ndarray | None = None,  # only the forest's grid search uses them
    ) -> None:
        """Train on checked codes ``(N, F)`` int32 and labels ``(N,)`` float32; early
        stopping watches ``validation`` when given, else a split of the samples."""
        import tensorflow as tf

        seed, batch_size = self.seed, self.batch_size
        if validation is not None:
            x_train, y_train, (x_val, y_val) = x, y, validation
        else:
            x_train, y_train, x_val, y_val = validation_split(x, y, self.validation_fraction, seed)
        if self.deterministic and keras.backend.backend() == "tensorflow":
            tf.config.experimental.enable_op_determinism()
        warm = self.warm_start and self.model_ is not None
        starts = self._member_weights() if warm else [None] * self.members
        trained = [
            self._fit_network(x_train, y_train, x_val, y_val, seed + member, start)
            for member, start in enumerate(starts)
        ]
        _, history, monitor, stopper = trained[0]
        self.model_ = self._inference_model([t[0] for t in trained])
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        self.samples_per_second_ = throughput(len(x_train), monitor.train_seconds)
        val_loss = self.history_.get("val_loss")
        best = None if stopper is None else stopper.best_epoch
        self.fit_info_ = {
            "n_train": int(len(x_train)),
            "n_validation": 0 if x_val is None else int(len(x_val)),
            "epochs_run": len(monitor.train_seconds),
            "best_epoch": best,
            "early_stopping": None if stopper is None else stopper.monitor,
            "best_score": None if stopper is None else stopper.best_score,
            "best_val_loss": None if best is None or not val_loss else float(val_loss[best]),
            "seed": seed,
            "batch_size": batch_size,
            "max_epochs": self.epochs,
            "patience": self.patience,
            "loss": self.loss,
            "soft_weight": self.soft_weight,
            "validation_fraction": None if validation is not None else self.validation_fraction,
            "deterministic": self.deterministic,
            "fine_tuned": warm,
            "trained_layers": None if self.train_only is None else list(self.train_only),
            "devices": [d.device_type for d in tf.config.list_logical_devices()],
        }
        if self.members > 1:  # the first member's history and stop are the ones above
            self.fit_info_["members"] = [
                {"seed": seed + i, "epochs_run": len(t[2].train_seconds),
                 "best_epoch": None if t[3] is None else t[3].best_epoch,
                 "best_score": None if t[3] is None else t[3].best_score}
                for i, t in enumerate(trained)
            ]  # fmt: skip
        # calibration and the Youden threshold: on the early-stopping validation samples
        self._calibrate(None if x_val is None else self._predict(x_val), y_val, "validation")

    def _fit_network(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray | None,
        y_val: np.ndarray | None,
        seed: int,
        start: list[np.ndarray] | None,
    ) -> tuple[keras.Model, keras.callbacks.History, TrainingMonitor, SmoothedEarlyStopping | None]:
        """One network trained from ``seed``, starting from the weights ``start`` when
        given (fine-tuning): (the trained model, its history, its monitor, its early
        stopper or None)."""
        import tensorflow as tf

        batch_size = self.batch_size
        keras.utils.set_random_seed(seed)
        model = self.build()
        if start is not None:
            model.set_weights(start)
        if self.train_only is not None:
            for layer in model.layers:
                layer.trainable = layer.name in set(self.train_only)
        loss = keras.losses.BinaryCrossentropy() if self.loss == "bce" else "mse"
        rate = self.learning_rate
        if self.lr_schedule == "cosine":
            steps = self.epochs * -(-len(x_train) // batch_size)
            rate = keras.optimizers.schedules.CosineDecay(self.learning_rate, steps)
        model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=["mae"])
        weights = sample_weights(y_train, self.soft_weight)
        train = (
            tf.data.Dataset.from_tensor_slices((x_train, y_train[:, None], weights))
            .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        monitor = TrainingMonitor(self.on_epoch)
        callbacks: list[keras.callbacks.Callback] = []
        stopper = None
        val = None
        if x_val is not None:
            val = (
                tf.data.Dataset.from_tensor_slices((x_val, y_val[:, None]))
                .batch(max(batch_size, 1024))
                .prefetch(tf.data.AUTOTUNE)
            )
            callbacks += self._early_stopping(x_val, y_val)
            stopper = callbacks[-1]
        callbacks.append(monitor)
        history = model.fit(
            train,
            validation_data=val,
            epochs=self.epochs,
            verbose=self.verbose,
            callbacks=callbacks,
            shuffle=False,  # tf.data shuffles (seeded)
        )
        return model, history, monitor, stopper

    def _member_weights(self) -> list[list[np.ndarray]]:
        """The trained weights of each member network (one list per member)."""
        if self.members == 1:
            return [self.model_.get_weights()]
        try:
            return [self.model_.get_layer(f"member_{i}").get_weights() for i in range(self.members)]
        except ValueError as exc:
            raise LsghError(
                f"the {self.variant} model does not hold {self.members} member networks; retrain it"
            ) from exc

    def _inference_model(self, trained: list[keras.Model]) -> keras.Model:
        """An uncompiled copy of the trained network(s) for inference (no optimizer state
        in saved files); several members become one network averaging their outputs."""
        copies = []
        for model in trained:
            copy = self.build()
            copy.set_weights(model.get_weights())
            copies.append(copy)
        if len(copies) == 1:
            return copies[0]
        from lsgh_ee.model.network import INPUT_NAME, OUTPUT_NAME

        shape = tuple(copies[0].inputs[0].shape[1:])  # (F,) codes, (k, k, F) patches
        inputs = keras.Input(shape, dtype="int32", name=INPUT_NAME)
        outputs = [
            keras.Model(c.inputs[0], c.outputs[0], name=f"member_{i}")(inputs)
            for i, c in enumerate(copies)
        ]
        average = keras.layers.Average(name=OUTPUT_NAME)(outputs)
        return keras.Model(inputs, average, name=f"{copies[0].name}_x{len(copies)}")

    def _early_stopping(self, x_val: np.ndarray, y_val: np.ndarray) -> list:
        """The callbacks that score the hard validation samples (when both classes are
        there) and stop on ``early_stopping``'s moving average; the last one is the
        :class:`SmoothedEarlyStopping`. Without both hard classes only ``val_loss`` (MSE of
        every validation sample) is left to watch."""
        hard = (y_val == 0) | (y_val == 1)
        callbacks: list[keras.callbacks.Callback] = []
        monitor = self.early_stopping
        if len(np.unique(y_val[hard])) == 2:
            callbacks.append(HardValidationAUC(x_val[hard], y_val[hard]))
        else:
            monitor = "val_loss"
        mode = "max" if monitor == "val_auc" else "min"
        callbacks.append(
            SmoothedEarlyStopping(
                monitor,
                mode,
                window=self.smoothing,
                patience=self.patience,
                min_epochs=self.min_epochs,
            )
        )
        return callbacks

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


def sample_weights(y: np.ndarray, soft_weight: float) -> np.ndarray:
    """Loss weights ``(N,)`` float32 for labels ``y`` ``(N,)``: ``soft_weight`` for the soft
    samples (0 < y < 1), 1 for the hard ones."""
    soft = (y > 0) & (y < 1)
    return np.where(soft, np.float32(soft_weight), np.float32(1.0)).astype(np.float32)


def load_keras_model(path: str | os.PathLike, n_factors: int | None = None) -> keras.Model:
    """``keras.saving.load_model`` in safe mode, with user-facing errors; ``n_factors``
    checks the model's input ``(batch, F)``."""
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
