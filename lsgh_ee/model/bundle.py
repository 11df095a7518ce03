"""Model bundles: a trained model plus the factor schema it must be applied with.

A bundle is a folder::

    model.keras | model.joblib   the model (Keras variants | rf)
    schema.json                  everything needed to apply it safely elsewhere

``schema.json`` holds the variant, class counts, factor names, the class breaks and class
names of every factor (from the region's ``factor_schema.json``), the heatmap diameter and
the training-data hash given by the caller, metrics (filled in later by the caller with
:func:`update_bundle`), the SHA-256 of the model file, the training history and speed, the
lsgh-ee / Keras / TensorFlow / scikit-learn versions and the creation time.

Safety: Keras models are loaded with ``safe_mode=True`` — a ``.keras`` file carrying Python
code (a ``Lambda`` layer) is refused, never run. rf models are joblib pickles, which *can*
run code when loaded: they are loaded only when their SHA-256 matches ``schema.json``
(catches swapped or damaged files), and must come from a trusted source all the same.

Applying a bundle to a region goes through :func:`~lsgh_ee.model.schema.check_schema`,
which names every difference between the factors the model was trained with and the
region's factors. Nothing here imports TensorFlow; loading a Keras bundle does.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from lsgh_ee.atomic import write_text
from lsgh_ee.errors import LsghError
from lsgh_ee.model.base import ModelEstimator
from lsgh_ee.model.files import SCHEMA_JSON, atomic_folder, read_schema, write_json
from lsgh_ee.model.schema import bundle_factors

BUNDLE_KEYS = ("factors", "heatmap_diameter", "training_hash", "metrics", "created")
_UPDATABLE = ("metrics",)


def save_bundle(
    folder: str | os.PathLike,
    estimator: ModelEstimator,
    factor_schema: dict,
    *,
    heatmap_diameter: int | None,
    training_hash: str,
    extra: dict | None = None,
) -> Path:
    """Write ``estimator`` and its schema into ``folder`` atomically.

    ``heatmap_diameter`` (pixels) and ``training_hash`` are the caller's: the diameter of
    the Gaussian heatmap the training samples were drawn with (stored with the samples, not
    read from a config) and the digest of those samples.

    The bundle is written into a temporary folder beside ``folder`` and renamed into place,
    so ``folder`` is either the previous bundle or the complete new one, never half of
    either. ``extra`` keys are added to the schema (``metrics`` may be among them); they
    must not collide with the schema's own keys.
    """
    factors = bundle_factors(factor_schema)
    names = [f["name"] for f in factors]
    counts = [f["n_classes"] for f in factors]
    if counts != list(estimator.class_counts):
        raise LsghError(
            f"the {estimator.variant} model was built for class counts "
            f"{list(estimator.class_counts)} but the factor schema has {counts} ({names}); "
            "train the model on this region's class codes"
        )
    if estimator.factor_names is not None and list(estimator.factor_names) != names:
        raise LsghError(
            f"the model was trained with factors {estimator.factor_names} but the factor "
            f"schema lists {names}; pass the factor schema the model was trained with"
        )
    extra = dict(extra or {})
    metrics = extra.pop("metrics", {})
    with atomic_folder(folder) as tmp:
        schema = estimator._write(tmp)
        clash = sorted(set(extra) & (set(schema) | set(BUNDLE_KEYS)))
        if clash:
            raise ValueError(f"extra keys {clash} would overwrite bundle schema keys")
        schema["factor_names"] = names
        schema.update(
            {
                "factors": factors,
                "heatmap_diameter": heatmap_diameter,
                "training_hash": training_hash,
                "metrics": metrics,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            }
        )
        schema.update(extra)
        write_json(tmp / SCHEMA_JSON, schema)
    return Path(folder)


def load_bundle(folder: str | os.PathLike) -> tuple[ModelEstimator, dict]:
    """Load a bundle: ``(estimator, schema)``; Keras in safe mode, rf only with a matching
    SHA-256 (see the module docstring)."""
    folder = Path(folder)
    schema = read_schema(folder)
    if "factors" not in schema:
        raise LsghError(
            f"{folder} holds a model saved without its factor schema; "
            "save it with save_bundle (lsgh-ee train does)"
        )
    estimator = ModelEstimator._from_schema(folder, schema)
    return estimator, schema


def update_bundle(folder: str | os.PathLike, updates: dict) -> dict:
    """Add or replace ``metrics`` and other caller keys in a bundle's ``schema.json``
    (atomically); the model's own keys cannot be changed. Returns the new schema."""
    folder = Path(folder)
    schema = read_schema(folder)
    from_model = {"format", "format_version", "variant", "class_counts", "factor_names"}
    protected = (
        set(BUNDLE_KEYS) | from_model | {"model_file", "model_sha256", "params", "calibration"}
    ) - set(_UPDATABLE)
    clash = sorted(set(updates) & protected)
    if clash:
        raise ValueError(f"cannot change bundle keys {clash}")
    schema.update(updates)
    write_text(folder / SCHEMA_JSON, json.dumps(schema, indent=2) + "\n")
    return schema
