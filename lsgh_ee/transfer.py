"""Taking the method to a new region: apply a model whose class breaks differ from the
region's, and score models trained in one region on another (``transfer-eval``). Checking
a config and writing a starting one are :mod:`lsgh_ee.regions.check` and
:mod:`lsgh_ee.regions.init`.

Rule for class breaks that differ between a model and a region (see ``docs/transfer.md``):
a model's input is class codes, so a region is always classified with the MODEL's breaks
before the model sees it. :func:`reclassify_for_model` re-classifies the region's factor
values (``factors.tif``) with the breaks recorded in the model bundle whenever a continuous
or distance factor's breaks differ; values below the model's first break fall in class 1
and values above its last break in the top class (what
:func:`~lsgh_ee.factors.classify.classify_breaks` does), so a region whose values reach
beyond the training region's range still gets a map. Categorical factors have no such
rule: their class lists must match exactly, or applying the model is an error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lsgh_ee.errors import LsghError

log = logging.getLogger(__name__)

#: LSGH-Net layers trained when fine-tuning (``train --init-from``): the head convolution
#: and everything after it; the one-hot encoding and the convolutional blocks are frozen.
HEAD_LAYERS = (
    "head_conv",
    "head_bn",
    "head_relu",
    "head_scse",
    "flatten",
    "dropout",
    "susceptibility",
)


# --- breaks that differ between a model and a region ---------------------------------------


def reclassify_for_model(
    bundle_schema: dict, factor_schema: dict, run: Path
) -> tuple[np.ndarray | None, dict, list[str]]:
    """Class codes of a region under a model's class breaks (see the module docstring).

    For every continuous or distance factor present in both with the same kind and units
    whose breaks differ, the region's values (``factors.tif``) are re-classified with the
    model's breaks. Categorical factors, and anything else that differs, are left for
    :func:`~lsgh_ee.model.check_schema` to report.

    Returns:
        (the re-classified ``(F, rows, cols)`` uint8 stack, or None when nothing differs;
        the region's factor schema with those factors' breaks and classes replaced by the
        model's; one notice per re-classified factor).
    """
    from lsgh_ee.factors.classify import classify_breaks
    from lsgh_ee.model.bundle import _same_numbers, bundle_factors

    model = {f["name"]: f for f in bundle_factors(bundle_schema)}
    region = factor_schema["factors"]
    changed: dict[int, dict] = {}
    for i, have in enumerate(region):
        want = model.get(have["name"])
        if (
            want is None
            or have.get("kind") not in ("continuous", "distance")
            or want["kind"] != have.get("kind")
            or not want["breaks"]
            or (want["units"] and have.get("units") and want["units"] != have["units"])
        ):
            continue
        if not _same_numbers(want["breaks"], [float(b) for b in have.get("breaks", [])]):
            changed[i] = want
    if not changed:
        return None, factor_schema, []
    from lsgh_ee.factors.stack import CODES_TIF, FACTORS_TIF
    from lsgh_ee.rasters import read_stack

    values, _, _ = read_stack(run / FACTORS_TIF)
    codes, _, _ = read_stack(run / CODES_TIF)
    factors = [dict(f) for f in region]
    notes = []
    for i, want in changed.items():
        codes[i] = classify_breaks(values[i].astype("float64"), want["breaks"])
        band = values[i][np.isfinite(values[i])]
        below = float((band < want["breaks"][0]).mean()) if band.size else 0.0
        above = float((band >= want["breaks"][-1]).mean()) if band.size else 0.0
        note = (
            f"{want['name']}: re-classified with the model's breaks "
            f"{want['breaks']} instead of this region's {region[i].get('breaks')} "
            f"({below:.1%} of pixels below the first break -> class 1, {above:.1%} at or "
            f"above the last -> class {len(want['breaks']) + 1})"
        )
        log.warning("%s", note)
        notes.append(note)
        factors[i].update(
            breaks=list(want["breaks"]), classes=list(want["classes"]), n_classes=want["n_classes"]
        )
    return codes, {**factor_schema, "factors": factors}, notes


@contextmanager
def model_class_codes(
    bundle_schema: dict, factor_schema: dict, run: Path
) -> Iterator[tuple[Path, dict, list[str]]]:
    """``class_codes.tif`` of ``run``, or a temporary class-code stack re-classified with
    the model's breaks (removed on exit): ``(path, adjusted factor schema, notices)``."""
    import tempfile

    from lsgh_ee.factors.stack import CODES_TIF
    from lsgh_ee.rasters import read_stack, write_geotiff

    codes, schema, notes = reclassify_for_model(bundle_schema, factor_schema, run)
    if codes is None:
        yield run / CODES_TIF, schema, notes
        return
    _, grid, _ = read_stack(run / CODES_TIF)
    names = [f["name"] for f in schema["factors"]]
    with tempfile.TemporaryDirectory(dir=run, prefix=".model-breaks-") as tmp:
        path = write_geotiff(
            Path(tmp) / CODES_TIF, codes, grid, nodata=0, descriptions=names, overviews=False
        )
        yield path, schema, notes


# --- fine-tuning ---------------------------------------------------------------------------


def fine_tune_start(bundle: str | os.PathLike, variant: str, factor_schema: dict):
    """The estimator of a bundle and the ``fit`` arguments that fine-tune it on a new
    region: start from its weights, train only :data:`HEAD_LAYERS` (``train --init-from``).

    Raises:
        LsghError: the bundle holds another variant, or its factor schema does not match
            the region's (:func:`~lsgh_ee.model.check_schema`: the class codes must mean
            the same in both regions, so the breaks must match too).
    """
    from lsgh_ee.model import check_schema, load_bundle

    model, schema = load_bundle(bundle)
    if schema.get("variant") != variant:
        raise LsghError(
            f"the bundle in {bundle} holds a {schema.get('variant')} model; pass "
            f"--model {schema.get('variant')} to fine-tune it"
        )
    try:
        check_schema(schema, factor_schema)
    except LsghError as exc:
        raise LsghError(
            f"cannot fine-tune {bundle} on this region: {exc} (for fine-tuning, give this "
            "region the model's breaks: classify: table2 with the same 'breaks')"
        ) from None
    return model, {"init_weights": model.model_.get_weights(), "train_only": HEAD_LAYERS}
