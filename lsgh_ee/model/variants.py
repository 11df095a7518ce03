"""The model variants: each name of ``config.MODEL_VARIANTS`` mapped to its estimator class,
and :func:`make_model`, which builds an untrained estimator from a name and the config's
``training`` section.

=================  ===========================================  =================
variant            model                                        training samples
=================  ===========================================  =================
``rf-raw``         random forest on the factor values (the      hard only
                   reference; categorical factors one-hot)
``lsgh``           LSGH-Net (with scSE)                         hard + soft
``lsgh-noscse``    LSGH-Net without scSE (the paper's ablation) hard + soft
``cnn``            the same network as ``lsgh``, scSE included  hard only
``rf``             random forest on the raw class-code vector   hard only
``lsgh-ctx``       LSGH-Net on the k × k neighbourhood of       hard + soft
                   class codes (beyond the paper; not in the
                   default ``training.models``, not hostable)
=================  ===========================================  =================

The paper's CNN baseline is "consistent with the proposed network" and differs only in not
using the Gaussian-heatmap (soft) samples, so ``cnn`` is LSGH-Net itself, scSE included;
``lsgh`` vs ``cnn`` isolates the effect of the soft samples, ``lsgh`` vs ``lsgh-noscse`` the
effect of scSE. Estimators never filter samples themselves: each class says in
``uses_soft_samples`` whether the caller should pass the soft (0 < label < 1) samples, and
in ``input_kind`` whether it takes class codes or factor values (``rf-raw``): callers pass
``samples.inputs(model.input_kind)`` (:meth:`lsgh_ee.sampling.Samples.inputs`) and map
from ``factors.tif`` instead of ``class_codes.tif`` (:func:`lsgh_ee.mapping.predict_map`).
``rf-raw`` is the reference every change is compared with: the first row of Table 4.

The names are owned by :data:`lsgh_ee.config.MODEL_VARIANTS` (config is the lowest layer);
this module only maps them to classes. Classes are imported on first use, so importing this
module (and :mod:`lsgh_ee.model.schema`, which asks it which variants are Keras networks)
does not start TensorFlow; an rf model never does.

Usage::

    model = make_model("lsgh", class_counts, factor_names=names, training=config.training)
    model.fit(codes, labels)                 # codes (N, F) uint8, labels (N,) in [0, 1]
    index = model.predict(codes)             # (N,) float32 in [0, 1]

    reference = make_model("rf-raw", class_counts, factor_names=names, factor_kinds=kinds)
    reference.fit(samples.inputs(reference.input_kind), samples.label)   # factor values
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsgh_ee.config import MODEL_VARIANTS
from lsgh_ee.errors import LsghError

if TYPE_CHECKING:
    from lsgh_ee.config import TrainingConfig

# The classes are lsgh_ee.model.base.ModelEstimator subclasses; base imports this module (to
# load a bundle by its variant name), so the annotations below say ``type`` / ``Any`` only.
ModelEstimator = Any

KERAS_MODULE = "lsgh_ee.model.keras_estimators"
FOREST_MODULE = "lsgh_ee.model.forest"
RAW_FOREST_MODULE = "lsgh_ee.model.raw_forest"
CONTEXT_MODULE = "lsgh_ee.model.context"
NETWORK_MODULES = (KERAS_MODULE, CONTEXT_MODULE)

# name -> (module, class), in the order messages list them
_CLASSES: dict[str, tuple[str, str]] = {
    "lsgh": (KERAS_MODULE, "LsghNet"),
    "lsgh-noscse": (KERAS_MODULE, "LsghNetNoScse"),
    "cnn": (KERAS_MODULE, "CnnBaseline"),
    "rf": (FOREST_MODULE, "RandomForest"),
    "rf-raw": (RAW_FOREST_MODULE, "RawForest"),
    "lsgh-ctx": (CONTEXT_MODULE, "ContextNet"),
}
if set(_CLASSES) != set(MODEL_VARIANTS):  # pragma: no cover - a developer's mistake
    raise RuntimeError(
        f"lsgh_ee.model.variants maps {sorted(_CLASSES)} but config.MODEL_VARIANTS names "
        f"{sorted(MODEL_VARIANTS)}: add the new variant's class here"
    )


def variant_names() -> tuple[str, ...]:
    """Every variant name, in the order error messages list them."""
    return tuple(_CLASSES)


def keras_variants() -> tuple[str, ...]:
    """The variants that are Keras networks (they stop early and can be fine-tuned), in
    ``config.MODEL_VARIANTS`` order."""
    return tuple(v for v in MODEL_VARIANTS if _CLASSES[v][0] in NETWORK_MODULES)


def hostable_variants() -> tuple[str, ...]:
    """The networks whose input is one pixel's class codes, which Vertex AI can serve to
    Earth Engine (not ``lsgh-ctx``, which reads neighbourhoods), in
    ``config.MODEL_VARIANTS`` order."""
    return tuple(v for v in MODEL_VARIANTS if _CLASSES[v][0] == KERAS_MODULE)


def variant_class(variant: str) -> type[ModelEstimator]:
    """The estimator class of ``variant`` (imports it; Keras variants start TensorFlow)."""
    entry = _CLASSES.get(variant)
    if entry is None:
        raise LsghError(f"unknown model variant {variant!r}; choose one of {', '.join(_CLASSES)}")
    module, name = entry
    return getattr(importlib.import_module(module), name)


def variant_classes() -> dict[str, type[ModelEstimator]]:
    """Every variant's class by name (imports them all, TensorFlow included)."""
    return {variant: variant_class(variant) for variant in _CLASSES}


def training_params(klass: type[ModelEstimator], training: TrainingConfig | None) -> dict:
    """The settings of a config's ``training`` section that ``klass``'s constructor takes
    (``seed``, ``calibration`` and ``rf_grid`` as ``param_grid`` for rf; ``epochs``,
    ``patience``, ``batch_size``, ``validation_fraction``, ``early_stopping``,
    ``calibration`` and ``seed`` for the Keras variants)."""
    if training is None:
        return {}
    accepted = set(klass.param_names())
    settings = training.model_dump()
    if training.rf_grid is not None:  # the config names it for what it is
        settings["param_grid"] = training.rf_grid
    return {k: v for k, v in settings.items() if k in accepted}


def make_model(
    variant: str,
    class_counts: Sequence[int],
    *,
    factor_names: Sequence[str] | None = None,
    factor_kinds: Sequence[str] | None = None,
    training: TrainingConfig | None = None,
    **params: Any,
) -> ModelEstimator:
    """A new, untrained model of ``variant`` (a name of ``config.MODEL_VARIANTS``).

    Args:
        variant: ``lsgh``, ``lsgh-noscse``, ``cnn``, ``rf``, ``rf-raw`` or ``lsgh-ctx``.
        class_counts: classes per factor, in input column order (``F`` values, 1..255).
        factor_names: optional factor names (``F``), for messages and saved schemas.
        factor_kinds: optional factor kinds (``F``: ``continuous``, ``distance``,
            ``categorical``, as in ``factor_schema.json``); a values model (``rf-raw``)
            one-hots the categorical ones (its ``categorical`` parameter), the others
            ignore it. Without it ``rf-raw`` treats every factor as continuous.
        training: a config's ``training`` section; the settings the variant's constructor
            takes are filled from it (:func:`training_params`), the rest are ignored.
        params: constructor parameters, overriding ``training``. Keras variants:
            ``filters``, ``dropout``, ``reduction``, ``learning_rate``, ``bn_momentum``,
            ``predict_batch_size``, ``epochs``, ``patience``, ``batch_size``,
            ``validation_fraction``, ``early_stopping``, ``seed``, ``verbose``,
            ``deterministic``, ``train_only``, ``warm_start``, ``calibration``,
            ``on_epoch`` (``lsgh-ctx`` also ``context``, the window side); rf:
            ``param_grid``, ``cv``, ``n_jobs``, ``seed``, ``verbose``,
            ``calibration``, ``on_epoch`` (never called: a forest has no epochs); rf-raw:
            ``categorical``, ``n_estimators``, ``min_samples_leaf``, ``max_features``,
            ``n_jobs``, ``seed``, ``calibration``, ``on_epoch``.

    Raises:
        LsghError: an unknown variant or parameter, or an invalid value.
    """
    klass = variant_class(variant)
    klass.check_param_names(params)
    merged = {**training_params(klass, training), **params}
    if factor_kinds is not None and "categorical" in klass.param_names():
        kinds = list(factor_kinds)
        if len(kinds) != len(class_counts):
            raise LsghError(
                f"{len(kinds)} factor kinds for {len(class_counts)} factors; pass one kind "
                "per factor (the 'kind' of each factor in factor_schema.json)"
            )
        merged.setdefault("categorical", [f for f, k in enumerate(kinds) if k == "categorical"])
    return klass(class_counts, factor_names=factor_names, **merged)
