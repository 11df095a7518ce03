"""Fine-tuning a trained network on another region (``train --init-from``): start from the
bundle's weights and train only the head (:data:`~lsgh_ee.model.network.HEAD_LAYERS`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lsgh_ee.errors import LsghError
from lsgh_ee.model.bundle import load_bundle
from lsgh_ee.model.schema import check_schema
from lsgh_ee.model.variants import training_params

if TYPE_CHECKING:
    from lsgh_ee.config import TrainingConfig
    from lsgh_ee.model.base import ModelEstimator


def fine_tune_start(
    bundle: str | os.PathLike,
    variant: str,
    factor_schema: dict,
    *,
    training: TrainingConfig | None = None,
    **params: Any,
) -> ModelEstimator:
    """The estimator of ``bundle``, ready for ``fit(codes, labels)`` to fine-tune it on a
    new region: ``warm_start`` on, only the head layers trained, the training settings
    taken from ``training`` (the new region's config) and ``params`` (e.g. ``on_epoch``);
    the architecture stays the bundle's.

    Args:
        bundle: a Keras model bundle folder (``models/<variant>`` of another region's run).
        variant: the variant the caller asked for; must be the bundle's.
        factor_schema: the new region's ``factor_schema.json`` contents.
        training: the new region's ``training`` section (None keeps the bundle's settings).
        params: constructor parameters overriding ``training``.

    Raises:
        LsghError: the bundle holds another variant or an rf model, or its factor schema
            does not match the region's (:func:`~lsgh_ee.model.schema.check_schema`: the
            class codes must mean the same in both regions, so the breaks must match too).
    """
    model, schema = load_bundle(bundle)
    if schema.get("variant") != variant:
        raise LsghError(
            f"the bundle in {bundle} holds a {schema.get('variant')} model; pass "
            f"--model {schema.get('variant')} to fine-tune it"
        )
    if "warm_start" not in model.param_names():
        raise LsghError(f"--init-from fine-tunes a network; {variant} cannot be fine-tuned")
    try:
        check_schema(schema, factor_schema)
    except LsghError as exc:
        raise LsghError(
            f"cannot fine-tune {bundle} on this region: {exc} (for fine-tuning, give this "
            "region the model's breaks: classify: table2 with the same 'breaks')"
        ) from None
    from lsgh_ee.model.network import HEAD_LAYERS

    keep = getattr(type(model), "architecture_params", ())  # the bundle's network shape
    config = {k: v for k, v in training_params(type(model), training).items() if k not in keep}
    settings = {**config, **params}
    return model.set_params(warm_start=True, train_only=HEAD_LAYERS, **settings)
