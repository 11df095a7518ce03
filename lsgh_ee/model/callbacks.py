"""Keras callbacks of the networks' training: epoch timing and progress, and the validation
ROC AUC that early stopping watches."""

from __future__ import annotations

import math
import time

from lsgh_ee.model.runtime import start_tensorflow

start_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lsgh_ee.model.base import EpochCallback  # noqa: E402


class TrainingMonitor(keras.callbacks.Callback):
    """Times the training part of each epoch (seconds, validation excluded) into
    ``train_seconds`` and forwards epoch logs to ``on_epoch``."""

    def __init__(self, on_epoch: EpochCallback | None):
        super().__init__()
        self.on_epoch = on_epoch
        self.train_seconds: list[float] = []
        self._start = 0.0
        self._train: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self._train = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        if self._train is None:
            self._train = time.perf_counter() - self._start

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        elapsed = self._train if self._train is not None else time.perf_counter() - self._start
        self.train_seconds.append(elapsed)
        if self.on_epoch is not None:
            self.on_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})


class HardValidationAUC(keras.callbacks.Callback):
    """Adds ``val_auc``, the ROC AUC of the hard validation samples, and ``val_brier``,
    their mean squared error (the Brier score), to each epoch's logs (before early
    stopping reads them).

    Args:
        x: class codes ``(M, F)`` of the hard validation samples.
        y: their labels ``(M,)``, 0 or 1, both present.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        super().__init__()
        self.x, self.y = x, y

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        scores = np.asarray(self.model.predict_on_batch(self.x), dtype="float64").ravel()
        if logs is not None:
            logs["val_auc"] = hard_roc_auc(self.y, scores)
            logs["val_brier"] = float(np.mean((scores - self.y) ** 2))


class SmoothedEarlyStopping(keras.callbacks.Callback):
    """Early stopping on the moving average of a validation score.

    After each epoch the mean of ``monitor`` over the last ``window`` epochs is compared
    with the best so far; from epoch ``min_epochs`` on, a better mean makes the epoch in
    the middle of that window the best one (its weights are kept). Training stops when
    ``patience`` epochs pass without a better mean, and the best epoch's weights are put
    back at the end. With ``window=1`` and ``min_epochs=0`` this is Keras's
    ``EarlyStopping(restore_best_weights=True)``.

    Why: with a few hundred validation samples one epoch's AUC has a standard error of
    several hundredths, so the single best epoch over many is mostly the luckiest one;
    the mean over a window follows the trend instead.

    Attributes:
        best_epoch: the epoch (from 0) whose weights were restored, None before training.
        best_score: the window mean at that epoch.
    """

    def __init__(self, monitor: str, mode: str, *, window: int, patience: int, min_epochs: int):
        super().__init__()
        self.monitor, self.sign = monitor, 1.0 if mode == "max" else -1.0
        self.window, self.patience, self.min_epochs = window, patience, min_epochs
        self.best_epoch: int | None = None
        self.best_score: float | None = None
        self._values: list[float] = []
        self._recent: list[tuple[int, list]] = []
        self._best_weights: list | None = None
        self._best_end = -1

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.best_epoch = self.best_score = self._best_weights = None
        self._values, self._recent, self._best_end = [], [], -1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            value = -math.inf * self.sign  # an undefined score never wins
        self._values.append(float(value))
        self._recent.append((epoch, self.model.get_weights()))
        self._recent = self._recent[-(self.window // 2 + 1) :]
        mean = float(np.mean(self._values[-self.window :]))
        if epoch + 1 >= self.min_epochs and (
            self.best_score is None or self.sign * (mean - self.best_score) > 0
        ):
            self.best_score, self._best_end = mean, epoch
            self.best_epoch, self._best_weights = self._recent[0]
        elif self.best_epoch is not None and epoch - self._best_end >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


def hard_roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """ROC AUC of labels ``(M,)`` in {0, 1} (both present) and scores ``(M,)``: the
    trapezoid area over every distinct score, ties counting half (Mann–Whitney).

    The same sums in the same order as :func:`lsgh_ee.evaluation.roc_auc`, so early
    stopping sees bit-identical values (scikit-learn's ``roc_auc_score`` differs in the
    last bits, which can move a tie between epochs); the model package must not import
    ``evaluation``.
    """
    y_true = np.asarray(y_true, dtype="float64").ravel()
    y_score = np.asarray(y_score, dtype="float64").ravel()
    order = np.argsort(-y_score, kind="mergesort")
    scores, labels = y_score[order], y_true[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(labels)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    fpr = np.concatenate([[0.0], fps / fps[-1]])
    tpr = np.concatenate([[0.0], tps / tps[-1]])
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def throughput(n_train: int, seconds: list[float]) -> float | None:
    """Training samples per second over the epochs' training ``seconds``; the first epoch
    (graph tracing) is left out when later epochs exist."""
    timed = seconds[1:] if len(seconds) > 1 else seconds
    total = sum(timed)
    if total <= 0 or not math.isfinite(total):
        return None
    return n_train * len(timed) / total
