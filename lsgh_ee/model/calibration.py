"""Calibration of a model's scores, fitted on validation samples: ``none``, ``platt`` or
``isotonic``, and the Youden-J threshold. NumPy only (no scikit-learn or TensorFlow at
predict time); a fitted :class:`Calibrator` is plain JSON saved in the model's
``schema.json``.

Why: a network trained with MSE on a few hundred landslides, or a forest scored on a
region unlike its training blocks, can rank pixels well (high AUC) while putting most
landslides below 0.5; the 0.5-threshold metrics and the equal-interval tables then
describe the calibration, not the model. A calibrator maps the raw score ``s`` to the
observed landslide frequency of the validation samples with that score.

Methods (fitted on the *hard* validation samples: labels 0 and 1; soft samples are left
out):

``platt``
    Logistic regression on the logit of the score, ``p = sigmoid(a · logit(s) + b)``, with
    ``s`` clipped to ``[1e-6, 1 - 1e-6]``; maximum likelihood by Newton's method with a
    weak ridge ``(PLATT_RIDGE / 2) · a²`` on the slope only (scikit-learn's
    ``LogisticRegression(C=1 / PLATT_RIDGE)``), which keeps ``a`` finite when the
    validation classes are perfectly separated. Strictly monotone: the ranking, hence the
    AUC, is unchanged. A slope ``a <= 0`` (the validation scores rank landslides *below*
    non-landslides, or not at all) would flatten or invert the map: the model is then left
    uncalibrated (method ``none``, with a ``notice`` saying why, and a logged warning) —
    not an error, since no setting fixes it and one unlucky fold must not end a
    cross-validation.
``isotonic``
    Pool-adjacent-violators (the least-squares non-decreasing step function of the score,
    tied scores pooled first, as scikit-learn's ``IsotonicRegression``). The steps are not
    applied as steps: each pooled block is a point (weighted mean score of the block, block
    frequency) and a score is mapped by linear interpolation between those points, clipped
    to the first and last block's value outside them. Interpolating between the block
    centres (rather than between block ends, as scikit-learn does) makes the map strictly
    increasing between the first and last centre, so the ranking of the map — its AUC and
    its Jenks zones' order — is kept there, and a map does not turn into a few flat
    plateaus; only scores beyond the outer centres are tied.
``none``
    The identity; the Youden threshold is still computed on the raw validation scores.

Youden threshold: the score ``t`` maximising ``J = sensitivity + specificity - 1`` on the
validation samples' (calibrated) scores when a sample is called a landslide at
``score >= t``; candidates are the distinct validation scores, and among equal maxima the
highest ``t`` wins (fewest pixels flagged).

Too few validation samples: fitting needs at least :data:`MIN_PER_CLASS` hard landslides
and as many hard non-landslides. When the user asked for ``platt`` or ``isotonic`` and
they are not there, fitting raises :class:`LsghError` (a silently uncalibrated model would
be reported as calibrated); with ``none`` the threshold is left ``None`` (and the
evaluation shows no Youden metrics) when either class is missing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lsgh_ee.errors import LsghError

#: ``training.calibration`` values.
CALIBRATION_METHODS = ("none", "platt", "isotonic")
#: hard landslides (and hard non-landslides) a calibrator needs in the validation samples
MIN_PER_CLASS = 10
#: ridge on the Platt slope (``LogisticRegression(C=1 / PLATT_RIDGE)``)
PLATT_RIDGE = 1e-3
#: scores are clipped to ``[EPS, 1 - EPS]`` before the logit
EPS = 1e-6


def check_method(method: str) -> str:
    """``method`` when it is one of :data:`CALIBRATION_METHODS`, else :class:`LsghError`."""
    if method not in CALIBRATION_METHODS:
        raise LsghError(
            f"training.calibration must be one of {', '.join(CALIBRATION_METHODS)}, got {method!r}"
        )
    return method


def logit(scores: np.ndarray) -> np.ndarray:
    """``log(s / (1 - s))`` of scores clipped to ``[EPS, 1 - EPS]`` (float64)."""
    s = np.clip(np.asarray(scores, dtype="float64"), EPS, 1 - EPS)
    return np.log(s / (1 - s))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype="float64")))


def platt_fit(scores: np.ndarray, labels: np.ndarray, ridge: float = PLATT_RIDGE) -> tuple:
    """``(a, b)`` of ``p = sigmoid(a · logit(s) + b)`` by penalised maximum likelihood
    (``ridge / 2 · a²``, the intercept not penalised): Newton steps, halved until the
    penalised log-loss decreases."""
    z = logit(scores)
    y = np.asarray(labels, dtype="float64")
    design = np.column_stack([z, np.ones_like(z)])
    penalty = np.diag([ridge, 0.0])

    def loss(w: np.ndarray) -> float:
        eta = design @ w
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * ridge * w[0] ** 2)

    w = np.array([1.0, 0.0])
    current = loss(w)
    for _ in range(200):
        p = sigmoid(design @ w)
        grad = design.T @ (p - y) + penalty @ w
        hess = design.T @ (design * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-10 and loss(w - scale * step) > current:
            scale /= 2
        w = w - scale * step
        new = loss(w)
        if current - new <= 1e-12 * max(1.0, abs(current)):
            break
        current = new
    return float(w[0]), float(w[1])


def isotonic_fit(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: ``(centres, values)`` of the pooled blocks, both
    increasing — the weighted mean score of each block and its landslide frequency
    (tied scores are pooled first)."""
    s = np.asarray(scores, dtype="float64")
    y = np.asarray(labels, dtype="float64")
    xs, inverse = np.unique(s, return_inverse=True)
    weight = np.bincount(inverse).astype("float64")
    total = np.bincount(inverse, weights=y)
    score_sum = xs * weight
    # a stack of blocks: (label sum, score sum, weight)
    sums, ssum, wsum = [], [], []
    for t, sx, w in zip(total, score_sum, weight, strict=True):
        sums.append(t)
        ssum.append(sx)
        wsum.append(w)
        while len(sums) > 1 and sums[-2] / wsum[-2] >= sums[-1] / wsum[-1]:
            t2, s2, w2 = sums.pop(), ssum.pop(), wsum.pop()
            sums[-1] += t2
            ssum[-1] += s2
            wsum[-1] += w2
    w_arr = np.asarray(wsum)
    return np.asarray(ssum) / w_arr, np.asarray(sums) / w_arr


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """The score ``t`` maximising sensitivity + specificity − 1 at ``score >= t`` over the
    distinct scores (the highest ``t`` among equal maxima); None without both classes."""
    s = np.asarray(scores, dtype="float64")
    y = np.asarray(labels, dtype="float64") == 1
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]
    tp = np.cumsum(y_sorted)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    j = tp / n_pos - fp / n_neg
    return float(s_sorted[last_of_tie][int(np.argmax(j))])  # argmax: the first, highest t


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration: ``method``, its JSON parameters, the Youden threshold on the
    calibrated validation scores and what it was fitted on.

    Attributes:
        method: ``none``, ``platt`` or ``isotonic``.
        params: platt ``{"a", "b"}``; isotonic ``{"x": centres, "y": values}``; none ``{}``.
        threshold: Youden-J threshold on the calibrated scale (None: no validation classes).
        n_validation, n_positive: hard validation samples and landslides among them.
        source: where the validation scores came from (``validation``, ``out-of-bag``).
        notice: why the calibration asked for was not applied (empty when it was).
    """

    method: str = "none"
    params: dict = field(default_factory=dict)
    threshold: float | None = None
    n_validation: int = 0
    n_positive: int = 0
    source: str = ""
    notice: str = ""

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated scores ``(N,)`` float64 in [0, 1] for raw scores ``(N,)`` in [0, 1]."""
        s = np.asarray(scores, dtype="float64")
        if self.method == "platt":
            return sigmoid(self.params["a"] * logit(s) + self.params["b"])
        if self.method == "isotonic":
            return np.interp(s, self.params["x"], self.params["y"])
        return s

    def to_json(self) -> dict:
        """Plain JSON (what ``schema.json`` stores under ``calibration``)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> Calibrator | None:
        """The calibrator saved by :meth:`to_json` (None for None)."""
        if not data:
            return None
        try:
            calibrator = cls(**data)
            check_method(calibrator.method)
        except (TypeError, LsghError) as exc:
            raise LsghError(
                f"the model's saved calibration {data!r} is not readable ({exc}); retrain"
            ) from exc
        return calibrator


def fit_calibrator(method: str, scores: Any, labels: Any, *, source: str = "") -> Calibrator:
    """A :class:`Calibrator` of ``method`` fitted on validation ``scores`` ``(N,)`` in [0, 1]
    and labels ``(N,)`` (soft labels, neither 0 nor 1, are dropped).

    Raises:
        LsghError: ``platt`` / ``isotonic`` with fewer than :data:`MIN_PER_CLASS` hard
            landslides or non-landslides.
    """
    check_method(method)
    s = np.asarray(scores, dtype="float64").ravel()
    y = np.asarray(labels, dtype="float64").ravel()
    hard = (y == 0) | (y == 1)
    s, y = s[hard], y[hard]
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    params: dict = {}
    notice = ""
    if method != "none":
        if min(n_pos, n_neg) < MIN_PER_CLASS:
            raise LsghError(
                f"training.calibration: {method} needs at least {MIN_PER_CLASS} landslides "
                f"and {MIN_PER_CLASS} non-landslides among the validation samples, got "
                f"{n_pos} and {n_neg}; raise training.validation_fraction, use more "
                "landslides, or set training.calibration: none"
            )
        if method == "platt":
            a, b = platt_fit(s, y)
            if a > 0:
                params = {"a": a, "b": b}
            else:
                notice = (f"Platt slope {a:.3g} <= 0 on {s.size} validation samples "
                          "(higher scores do not mean more landslides there): "
                          "left uncalibrated")  # fmt: skip
                logging.getLogger(__name__).warning("%s", notice)
                method = "none"
        else:
            x, v = isotonic_fit(s, y)
            params = {"x": [float(t) for t in x], "y": [float(t) for t in v]}
    calibrated = Calibrator(method, params).apply(s)
    return Calibrator(
        method=method,
        params=params,
        threshold=youden_threshold(calibrated, y),
        n_validation=int(s.size),
        n_positive=n_pos,
        source=source,
        notice=notice,
    )
