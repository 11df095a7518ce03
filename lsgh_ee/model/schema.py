"""What a model bundle's schema says about its factors, checked without TensorFlow.

A codes model's input is class codes, so it may be applied to a region only when each
factor's codes mean the same thing in both: same factors in the same order, same units,
class breaks and classes. A values model (``rf-raw``) reads the factors' values, so for it
continuous and distance factors need the same units only, their breaks do not matter;
categorical factors still need the same classes (their codes are the values). This
module reads the per-factor part of a bundle's ``schema.json`` (:func:`bundle_factors`),
names every difference (:func:`check_schema`), reconciles continuous breaks that differ by
re-classifying the region's values with the model's breaks (:func:`reclassify_for_model`,
:func:`model_class_codes`; the rule is in ``docs/transfer.md``), and says which variants
Vertex AI can host (:func:`check_hostable`).

Nothing here imports TensorFlow or Keras: ``lsgh-ee check``, the Earth Engine hosted path
and schema checks stay light (see :mod:`lsgh_ee.model`).

Rule for class breaks that differ between a model and a region: a region is always
classified with the MODEL's breaks before the model sees it. Values below the model's first
break fall in class 1 and values above its last break in the top class (what
:func:`~lsgh_ee.factors.classify.classify_breaks` does), so a region whose values reach
beyond the training region's range still gets a map. Categorical factors have no such
rule: their class lists must match exactly, or applying the model is an error.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lsgh_ee.errors import LsghError
from lsgh_ee.model.variants import hostable_variants, keras_variants
from lsgh_ee.sampling.samples import InputKind

log = logging.getLogger(__name__)

#: Variants Vertex AI can serve (the Keras / TensorFlow ones taking one pixel's codes, not
#: rf nor lsgh-ctx), in ``config.MODEL_VARIANTS`` order.
HOSTABLE_VARIANTS: tuple[str, ...] = hostable_variants()


def check_hostable(variant: str) -> None:
    """Raise :class:`LsghError` unless ``variant`` is a Keras model Vertex AI can serve."""
    if variant in keras_variants() and variant not in HOSTABLE_VARIANTS:  # lsgh-ctx
        raise LsghError(
            f"the {variant} model reads each pixel's neighbourhood, which Earth Engine's "
            "hosted prediction (one pixel's class codes per request row) cannot send, so it "
            f"cannot be hosted on Vertex AI; map {variant} locally with 'lsgh-ee predict "
            "CONFIG', or host --model lsgh"
        )
    if variant not in HOSTABLE_VARIANTS:
        raise LsghError(
            f"the {variant} model cannot be hosted on Vertex AI (only the TensorFlow models "
            f"{', '.join(HOSTABLE_VARIANTS)} can); map {variant} locally with "
            "'lsgh-ee predict CONFIG' or choose --model lsgh"
        )


# --- reading the factors of a schema ---------------------------------------------------------


def bundle_factors(factor_schema: dict) -> list[dict]:
    """The per-factor part of a bundle schema, from a region's ``factor_schema.json`` (or
    from a bundle's ``schema.json``): one dict per factor with ``name``, ``kind``,
    ``units``, ``breaks`` (floats, in the factor's units), ``classes`` and ``n_classes``."""
    factors = factor_schema.get("factors") if isinstance(factor_schema, dict) else None
    if not isinstance(factors, list) or not factors:
        raise LsghError(
            "the factor schema has no 'factors' list; pass the contents of the region's "
            "factor_schema.json (written by export-factors)"
        )
    entries = []
    for i, factor in enumerate(factors):
        if not isinstance(factor, dict) or "name" not in factor:
            raise LsghError(f"factor {i} of the factor schema has no name; re-run export-factors")
        classes = [str(c) for c in factor.get("classes", [])]
        entries.append(
            {
                "name": str(factor["name"]),
                "kind": factor.get("kind"),
                "units": factor.get("units"),
                "breaks": [float(b) for b in factor.get("breaks", [])],
                "classes": classes,
                "n_classes": int(factor.get("n_classes", len(classes))),
            }
        )
    return entries


def check_schema(bundle_schema: dict, factor_schema: dict, input_kind: InputKind = "codes") -> None:
    """Raise :class:`LsghError` naming every way the region's factors differ from the
    model's: missing or extra factors, another order, other units, breaks or classes
    (for a ``values`` model, breaks and classes of categorical factors only)."""
    model = bundle_factors(bundle_schema)
    region = bundle_factors(factor_schema)
    problems, fixes = _factor_set_problems([f["name"] for f in model], [f["name"] for f in region])
    by_name = {f["name"]: f for f in region}
    class_problems = [
        problem
        for want in model
        if want["name"] in by_name
        for problem in _class_problems(want, by_name[want["name"]], input_kind)
    ]
    if class_problems:
        problems += class_problems
        fixes.append("re-run export-factors with the model's breaks and classes or retrain")
    if problems:
        raise LsghError("; ".join(problems) + "; " + "; ".join(fixes))


def _factor_set_problems(model: list[str], region: list[str]) -> tuple[list[str], list[str]]:
    """Missing, extra or reordered factors: (problems, fixes)."""
    problems: list[str] = []
    fixes: list[str] = []
    missing = [n for n in model if n not in region]
    extra = [n for n in region if n not in model]
    for name in missing:
        problems.append(f"the model needs factor {name!r}, which this region does not have")
    for name in extra:
        problems.append(f"this region has factor {name!r}, which the model was not trained with")
    if missing or extra:
        fixes.append("export the region with exactly the model's factors or retrain")
    elif model != region:
        problems.append(f"the model's factor order is {model} but this region's is {region}")
        fixes.append("export the factors in the model's order or retrain")
    return problems, fixes


def _class_problems(want: dict, have: dict, input_kind: InputKind = "codes") -> list[str]:
    """How one factor's units, breaks or classes differ between model and region (for a
    values model: units, kind, and the classes of a categorical factor)."""
    name = want["name"]
    problems = []
    if want["units"] and have["units"] and want["units"] != have["units"]:
        problems.append(
            f"model was trained with {name} in {want['units']!r} but this region has "
            f"{have['units']!r}"
        )
    if input_kind == "values":
        if want["kind"] and have["kind"] and want["kind"] != have["kind"]:
            problems.append(
                f"model was trained with {name} {want['kind']} but this region has it "
                f"{have['kind']}"
            )
        elif want["kind"] == "categorical" and want["classes"] != have["classes"]:
            problems.append(
                f"model was trained with {name} classes {_fmt(want['classes'])} but this "
                f"region has {_fmt(have['classes'])}"
            )
        return problems
    if not same_numbers(want["breaks"], have["breaks"]):
        problems.append(
            f"model was trained with {name} breaks {_fmt(want['breaks'])} but this region "
            f"uses {_fmt(have['breaks'])}"
        )
    elif want["classes"] != have["classes"] or want["n_classes"] != have["n_classes"]:
        problems.append(
            f"model was trained with {name} classes {_fmt(want['classes'])} "
            f"({want['n_classes']}) but this region has {_fmt(have['classes'])} "
            f"({have['n_classes']})"
        )
    return problems


def same_numbers(a: list[float], b: list[float]) -> bool:
    """Whether two break lists are equal up to float round-off."""
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b, strict=True)
    )


def _fmt(values: list) -> str:
    items = [f"{v:g}" if isinstance(v, int | float) else str(v) for v in values]
    return "[" + ", ".join(items) + "]"


# --- breaks that differ between a model and a region -----------------------------------------


def reclassify_for_model(
    bundle_schema: dict, factor_schema: dict, run: Path
) -> tuple[np.ndarray | None, dict, list[str]]:
    """Class codes of a region under a model's class breaks (see the module docstring).

    For every continuous or distance factor present in both with the same kind and units
    whose breaks differ, the region's values (``factors.tif`` of ``run``) are re-classified
    with the model's breaks. Categorical factors, and anything else that differs, are left
    for :func:`check_schema` to report.

    Returns:
        (the re-classified ``(F, rows, cols)`` uint8 stack, or None when nothing differs;
        the region's factor schema with those factors' breaks and classes replaced by the
        model's; one notice per re-classified factor).
    """
    changed = _factors_to_reclassify(bundle_schema, factor_schema)
    if not changed:
        return None, factor_schema, []
    from lsgh_ee.factors.classify import classify_breaks
    from lsgh_ee.rasters import read_stack
    from lsgh_ee.runfolder import RunFolder

    region = factor_schema["factors"]
    values, _, _ = read_stack(RunFolder(run).factors)
    codes, _, _ = read_stack(RunFolder(run).codes)
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


def _factors_to_reclassify(bundle_schema: dict, factor_schema: dict) -> dict[int, dict]:
    """Region factor index → the model's factor entry, for the factors whose breaks differ
    and may be reconciled (continuous or distance, same kind and units)."""
    model = {f["name"]: f for f in bundle_factors(bundle_schema)}
    changed: dict[int, dict] = {}
    for i, have in enumerate(factor_schema["factors"]):
        want = model.get(have["name"])
        if (
            want is None
            or have.get("kind") not in ("continuous", "distance")
            or want["kind"] != have.get("kind")
            or not want["breaks"]
            or (want["units"] and have.get("units") and want["units"] != have["units"])
        ):
            continue
        if not same_numbers(want["breaks"], [float(b) for b in have.get("breaks", [])]):
            changed[i] = want
    return changed


@contextmanager
def model_class_codes(
    bundle_schema: dict, factor_schema: dict, run: Path
) -> Iterator[tuple[Path, dict, list[str]]]:
    """``class_codes.tif`` of ``run``, or a temporary class-code stack re-classified with
    the model's breaks (removed on exit): ``(path, adjusted factor schema, notices)``."""
    import tempfile

    from lsgh_ee.rasters import read_stack, write_geotiff
    from lsgh_ee.runfolder import RunFolder

    codes, schema, notes = reclassify_for_model(bundle_schema, factor_schema, run)
    if codes is None:
        yield RunFolder(run).codes, schema, notes
        return
    _, grid, _ = read_stack(RunFolder(run).codes)
    names = [f["name"] for f in schema["factors"]]
    with tempfile.TemporaryDirectory(dir=run, prefix=".model-breaks-") as tmp:
        path = write_geotiff(
            Path(tmp) / RunFolder.CODES_TIF,
            codes,
            grid,
            nodata=0,
            descriptions=names,
            overviews=False,
        )
        yield path, schema, notes
