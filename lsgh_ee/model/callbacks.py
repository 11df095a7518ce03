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
    """Adds ``val_auc``, the ROC AUC of the hard validation samples, to each epoch's logs
    (before EarlyStopping reads them).

    Args:
        x: class codes ``(M, F)`` of the hard validation samples.
        y: their labels ``(M,)``, 0 or 1, both present.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        super().__init__()
        self.x, self.y = x, y

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        scores = self.model.predict_on_batch(self.x)
        if logs is not None:
            logs["val_auc"] = hard_roc_auc(self.y, np.asarray(scores).ravel())


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
