"""The estimator interface every model variant shares: parameters, checks, saving, loading.

scikit-learn style: every setting (architecture and training alike) is a constructor
parameter, ``fit`` takes data only, ``get_params`` returns the settings (JSON-able; they
are saved with the model and given back to the constructor when it is loaded)::

    model = make_model("lsgh", class_counts, epochs=50, seed=1)   # see lsgh_ee.model.variants
    model.fit(codes, labels)           # codes (N, F) class codes, labels (N,) in [0, 1]
    index = model.predict(codes)       # (N,) float32 in [0, 1]
    model.save(folder); model = ModelEstimator.load(folder)

``calibration="platt"`` or ``"isotonic"`` (every variant's constructor, from
``training.calibration``) fits a calibration of the scores on the validation samples at the
end of ``fit`` (:mod:`lsgh_ee.model.calibration`); ``predict`` then returns calibrated
scores (``predict(codes, calibrated=False)`` the raw ones), and every fitted model keeps the
Youden-J threshold of its validation samples in ``threshold_``.

Nothing here imports TensorFlow: a Keras variant's module does, when it is first used.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lsgh_ee.errors import LsghError
from lsgh_ee.model.calibration import Calibrator, check_method, fit_calibrator
from lsgh_ee.model.data import check_class_counts, check_codes, check_labels, check_training_set
from lsgh_ee.model.files import SCHEMA_JSON, atomic_folder, read_schema, sha256_file, write_json
from lsgh_ee.model.variants import variant_class, variant_names
from lsgh_ee.sampling.samples import InputKind

#: ``on_epoch(epoch, logs)``: epoch from 0; logs ``loss``, ``mae``, ``val_loss``, ...
EpochCallback = Callable[[int, dict], Any]
SCHEMA_FORMAT = "lsgh-ee-model"
SCHEMA_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions recorded with a saved model, read from the installed packages' metadata (so
    saving a random forest does not start TensorFlow)."""
    import sys
    from importlib import metadata

    import lsgh_ee

    versions = {"lsgh_ee": lsgh_ee.__version__}
    for package in ("keras", "scikit-learn", "tensorflow"):
        with contextlib.suppress(metadata.PackageNotFoundError):  # another Keras backend
            versions[package] = metadata.version(package)
    keras = sys.modules.get("keras")
    versions["keras_backend"] = (
        keras.backend.backend() if keras else os.environ.get("KERAS_BACKEND", "tensorflow")
    )
    versions.update(numpy=np.__version__, python=platform.python_version())
    return versions


class ModelEstimator:
    """Base of all variants: parameters, validation, saving and loading.

    Attributes:
        variant: the variant name (``make_model``'s first argument).
        input_kind: what ``fit`` and ``predict`` take per sample: ``codes`` (class codes,
            uint8 ``(N, F)``, 0 = nodata) or ``values`` (factor values, float ``(N, F)``,
            NaN = nodata); callers pick it with ``samples.inputs(model.input_kind)``.
        uses_soft_samples: whether the caller should train it on the soft samples too.
        unsaved_params: constructor parameters left out of :meth:`get_params` (callbacks).
        class_counts: classes per factor, in input column order.
        factor_names: optional factor names (used in error messages and saved schemas).
        history_: per-epoch ``loss``, ``val_loss``, ``mae``, ``val_mae`` (empty for rf).
        samples_per_second_: training speed measured during ``fit``.
        fit_info_: what ``fit`` did (epochs run, best epoch, seed, grid-search result...).
        calibration: ``none``, ``platt`` or ``isotonic`` (:mod:`lsgh_ee.model.calibration`),
            a constructor parameter of every variant.
        calibrator_: the calibration fitted on the validation samples by ``fit`` (with the
            Youden threshold; method ``none`` keeps the scores as they are), or None when
            ``fit`` had no validation samples. :meth:`predict` applies it.
    """

    variant: ClassVar[str] = ""
    input_kind: ClassVar[InputKind] = "codes"
    uses_soft_samples: ClassVar[bool] = False
    model_file: ClassVar[str] = ""
    unsaved_params: ClassVar[tuple[str, ...]] = ("on_epoch",)

    def __init__(
        self,
        class_counts: Sequence[int],
        *,
        factor_names: Sequence[str] | None = None,
        calibration: str = "none",
    ):
        self.class_counts = check_class_counts(class_counts)
        if factor_names is not None:
            factor_names = [str(name) for name in factor_names]
            if len(factor_names) != len(self.class_counts):
                raise LsghError(
                    f"{len(factor_names)} factor names for {len(self.class_counts)} class "
                    "counts; pass one name per factor"
                )
        self.factor_names = factor_names
        self.calibration = check_method(calibration)
        self.calibrator_: Calibrator | None = None
        self.model_: Any = None
        self.history_: dict[str, list[float]] = {}
        self.samples_per_second_: float | None = None
        self.fit_info_: dict = {}

    # -- parameters --------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        """Constructor parameters other than ``class_counts`` / ``factor_names``."""
        return [
            p
            for p in inspect.signature(cls.__init__).parameters
            if p not in ("self", "class_counts", "factor_names")
        ]

    @classmethod
    def check_param_names(cls, params: dict) -> None:
        """Raise :class:`LsghError` naming the keys of ``params`` the constructor lacks."""
        known = cls.param_names()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise LsghError(
                f"unknown parameter(s) {', '.join(unknown)} for model variant "
                f"{cls.variant!r}; valid: factor_names, {', '.join(known)}"
            )

    def get_params(self) -> dict:
        """The constructor parameters (JSON-able) other than ``class_counts``,
        ``factor_names`` and :attr:`unsaved_params`: what a saved model records."""
        return {
            name: _jsonable(getattr(self, name))
            for name in self.param_names()
            if name not in self.unsaved_params
        }

    def set_params(self, **params: Any) -> ModelEstimator:
        """Change constructor parameters (checked as the constructor checks them); the
        trained model, if any, is kept. Returns ``self``."""
        self.check_param_names(params)
        current = {name: getattr(self, name) for name in self.param_names()}
        fresh = type(self)(
            self.class_counts, factor_names=self.factor_names, **{**current, **params}
        )
        for name in self.param_names():
            setattr(self, name, getattr(fresh, name))
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({self.class_counts}, {params})"

    # -- the interface each variant implements -----------------------------------------
    def fit(
        self,
        codes: Any,
        labels: Any,
        *,
        validation: tuple[Any, Any] | None = None,
        groups: Any = None,
    ) -> ModelEstimator:
        """Train on class codes ``(N, F)`` (0 = nodata, 1..k; factor values for a model
        whose :attr:`input_kind` is ``values``) and labels ``(N,)`` in [0, 1] with the
        constructor's settings, then fit the calibration. Returns ``self``.

        ``validation``: optional ``(codes, labels)`` for early stopping and calibration,
        used instead of a split drawn from the training samples (e.g. whole held-out blocks,
        so that the validation set is as far from the training samples as the test set
        is). The forest does not stop early; it calibrates on it (see its class).

        ``groups``: optional ``(N,)`` group (spatial block) ids of the samples: the
        forest's grid search then never scores a block it was fitted on; networks ignore
        it."""
        x, y = self._check_data(codes, labels)
        if validation is not None:
            x_val = self._check_inputs(validation[0])
            validation = (x_val, check_labels(validation[1], x_val.shape[0]))
        elif self.calibration != "none" and getattr(self, "validation_fraction", 1.0) == 0:
            raise LsghError(
                f"training.calibration: {self.calibration} is fitted on validation samples "
                "but training.validation_fraction is 0; raise it (e.g. 0.2) or set "
                "training.calibration: none"
            )
        if groups is not None:
            groups = np.asarray(groups).ravel()
            if groups.shape[0] != x.shape[0]:
                raise LsghError(
                    f"groups has {groups.shape[0]} values for {x.shape[0]} samples; pass "
                    "one block id per sample"
                )
        self.calibrator_ = None
        self._fit(x, y, validation, groups)
        return self

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None,
        groups: np.ndarray | None = None,
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _calibrate(self, scores: np.ndarray | None, labels: np.ndarray | None, source: str) -> None:
        """Fit :attr:`calibrator_` on raw validation ``scores`` ``(N,)`` and ``labels``
        ``(N,)`` (None: no validation samples) and record it in ``fit_info_``; called by
        the variants' ``_fit`` once the model is trained."""
        if scores is None or labels is None:
            if self.calibration != "none":
                raise LsghError(
                    f"training.calibration: {self.calibration} needs validation samples; "
                    "raise training.validation_fraction or set training.calibration: none"
                )
            self.calibrator_ = None
        else:
            raw = np.clip(np.asarray(scores, dtype="float64"), 0.0, 1.0)
            self.calibrator_ = fit_calibrator(self.calibration, raw, labels, source=source)
        fitted = self.calibrator_
        self.fit_info_["calibration"] = None if fitted is None else {
            "method": fitted.method, "source": source, "n_validation": fitted.n_validation,
            "threshold": fitted.threshold}  # fmt: skip

    def predict(self, codes: Any, *, calibrated: bool = True) -> np.ndarray:
        """Susceptibility index ``(N,)`` float32 in [0, 1] for class codes ``(N, F)`` (or
        factor values, see :attr:`input_kind`):
        calibrated by :attr:`calibrator_` when it is fitted, unless ``calibrated=False``
        (the raw model output)."""
        self._check_fitted()
        x = self._check_inputs(codes)
        if x.shape[0] == 0:
            return np.empty(0, dtype="float32")
        raw = np.clip(self._predict(x), 0.0, 1.0)
        if calibrated and self.calibrator_ is not None:
            raw = self.calibrator_.apply(raw)
        return raw.astype("float32")

    @property
    def threshold_(self) -> float | None:
        """The Youden-J threshold of the validation samples (on :meth:`predict`'s scale),
        or None."""
        return None if self.calibrator_ is None else self.calibrator_.threshold

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

    def _check_inputs(self, inputs: Any) -> np.ndarray:
        """The checked ``(N, F)`` input of this model's :attr:`input_kind` (class codes
        here; a values model overrides it)."""
        return check_codes(inputs, self.class_counts, self.factor_names)

    def _check_data(self, codes: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        x = self._check_inputs(codes)
        y = check_labels(labels, x.shape[0])
        check_training_set(y)
        return x, y

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
            "input_kind": self.input_kind,
            "uses_soft_samples": self.uses_soft_samples,
            "class_counts": list(self.class_counts),
            "factor_names": self.factor_names,
            "params": self.get_params(),
            "model_file": self.model_file,
            "model_sha256": sha256_file(path),
            "history": self.history_,
            "samples_per_second": self.samples_per_second_,
            "fit_info": _jsonable(self.fit_info_),
            "calibration": None if self.calibrator_ is None else self.calibrator_.to_json(),
            "versions": library_versions(),
        }

    @classmethod
    def load(cls, folder: str | os.PathLike) -> ModelEstimator:
        """Load a model saved by :meth:`save` or :func:`~lsgh_ee.model.save_bundle`.

        Keras models load in Keras safe mode (no Python code from the file is run). A rf
        model is a pickle (joblib): it is loaded only when its SHA-256 matches the one in
        ``schema.json``, which catches swapped or damaged files but is not a signature —
        load rf models only from sources you trust. Models saved before the training
        settings became constructor parameters load with those settings' defaults.
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
        if variant not in variant_names():
            raise LsghError(
                f"{folder} holds an unknown model variant {variant!r}; "
                f"this lsgh-ee knows {', '.join(variant_names())}"
            )
        klass = variant_class(variant)
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
        path = _checked_model_file(folder, schema, klass)
        estimator._load_model(path)
        estimator.history_ = schema.get("history") or {}
        estimator.samples_per_second_ = schema.get("samples_per_second")
        estimator.fit_info_ = schema.get("fit_info") or {}
        estimator.calibrator_ = Calibrator.from_json(schema.get("calibration"))
        return estimator


def _checked_model_file(folder: Path, schema: dict, klass: type[ModelEstimator]) -> Path:
    """The model file of a saved model, once its name and SHA-256 match ``schema``."""
    variant = schema["variant"]
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
    return path


def check_positive(**values: int) -> None:
    """Raise :class:`LsghError` for any value below 1."""
    for name, value in values.items():
        if int(value) < 1:
            raise LsghError(f"{name} must be >= 1, got {value}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
