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

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
TRANSFER_DIR = "transfer"


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


# --- transfer-eval -------------------------------------------------------------------------


def transfer_eval(
    train_config: Any,
    test_config: Any,
    *,
    models: list[str] | None = None,
    epochs: int | None = None,
    force: bool = False,
):
    """Train every variant on region A's samples (running A's stages as needed) and score
    it on region B: all of B's hard samples (both splits) and B's inventory.

    Writes ``<A run>/transfer/<A>_to_<B>/table.csv`` / ``table.md`` (AUC, AP, success-rate
    AUC, share of area and of landslides in the high + very-high Jenks zones, and the
    threshold metrics), ``zones_<model>.csv`` and ``success_rate.png``.
    """
    from lsgh_ee import pipeline
    from lsgh_ee.factors.stack import SCHEMA_JSON

    cfg_a, cfg_b = pipeline.as_config(train_config), pipeline.as_config(test_config)
    models = list(models or cfg_a.training.models)
    from lsgh_ee.config import MODEL_VARIANTS

    unknown = [m for m in models if m not in MODEL_VARIANTS]
    if unknown:
        raise LsghError(f"unknown model(s) {unknown}; choose from {', '.join(MODEL_VARIANTS)}")
    if cfg_a.run_dir.resolve() == cfg_b.run_dir.resolve():
        raise LsghError("the two configs share one run folder (output.dir); give each its own")
    run_a, run_b = cfg_a.run_dir, cfg_b.run_dir
    pipeline.export_factors(cfg_a, force=force)
    pipeline.sample(cfg_a, force=force)
    for variant in models:
        pipeline.train(cfg_a, variant, epochs=epochs, force=force)
    pipeline.export_factors(cfg_b, force=force)
    pipeline.sample(cfg_b, force=force)
    folder = run_a / TRANSFER_DIR / f"{cfg_a.name}_to_{cfg_b.name}"
    inputs = [
        run_b / "factors.tif",
        run_b / SCHEMA_JSON,
        run_b / pipeline.SAMPLES_GPKG,
        cfg_b.inventory.path,
        *(run_a / pipeline.MODELS_DIR / m / "schema.json" for m in models),
    ]
    params = {"models": models, "test_run": str(run_b), "seed": cfg_b.sampling.seed}

    def work() -> tuple[list[Path], dict]:
        return _transfer_work(cfg_a, cfg_b, models, folder)

    return pipeline._run_stage(f"transfer:{cfg_b.name}", run_a, params, inputs, work, force)


def _transfer_work(cfg_a, cfg_b, models: list[str], folder: Path) -> tuple[list[Path], dict]:
    import pandas as pd

    from lsgh_ee.atomic import write_text
    from lsgh_ee.evaluation import ModelScores, binary_metrics
    from lsgh_ee.factors.stack import SCHEMA_JSON, FactorStack
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.mapping import predict_codes
    from lsgh_ee.model import check_schema, load_bundle
    from lsgh_ee.pipeline import MODELS_DIR, SAMPLES_GPKG
    from lsgh_ee.region import Region
    from lsgh_ee.report import figures
    from lsgh_ee.sampling import Samples
    from lsgh_ee.zoning import jenks_breaks, success_rate_curve, zone, zone_table

    run_a, run_b = cfg_a.run_dir, cfg_b.run_dir
    factor_schema = json.loads((run_b / SCHEMA_JSON).read_text(encoding="utf-8"))
    stack = FactorStack.read(run_b)
    samples = Samples.read_gpkg(run_b / SAMPLES_GPKG)
    hard = samples.subset(samples.kind != "soft")
    inventory = read_inventory(cfg_b.inventory, Region.from_config(cfg_b))
    landslides = inventory.mask(stack.grid, "polygon")
    rows, curves, notes = {}, {}, {}
    outputs: list[Path] = []
    for variant in models:
        model, schema = load_bundle(run_a / MODELS_DIR / variant)
        codes, adjusted, notices = reclassify_for_model(schema, factor_schema, run_b)
        check_schema(schema, adjusted)
        codes = stack.codes if codes is None else codes
        scores = ModelScores(variant, hard.label, model.predict(codes[:, hard.rows, hard.cols].T))
        flat = codes.reshape(codes.shape[0], -1).T
        index = predict_codes(model, flat, np.asarray(schema["class_counts"]))
        index = index.reshape(stack.grid.shape)
        curve = success_rate_curve(index, landslides)
        breaks, _ = jenks_breaks(index, seed=cfg_b.sampling.seed)
        zones = zone_table(zone(index, breaks), landslides)
        write_text(folder / f"zones_{variant}.csv", zones.round(6).to_csv())
        outputs.append(folder / f"zones_{variant}.csv")
        high = zones.loc[["high", "very high"]]
        metrics = binary_metrics(scores.y_true, scores.y_score)
        rows[variant] = {
            "auc": metrics["auc"],
            "ap": metrics["ap"],
            "success_auc": curve[2],
            "high_vh_area_share": float(high["area_share"].sum()),
            "high_vh_landslide_share": float(high["landslide_share"].sum()),
            **{k: v for k, v in metrics.items() if k not in ("auc", "ap")},
        }
        curves[variant] = curve
        if notices:
            notes[variant] = notices
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    write_text(folder / "table.csv", table.round(6).to_csv())
    write_text(folder / "table.md", _markdown(table, cfg_a.name, cfg_b.name, len(hard)))
    outputs += [
        folder / "table.csv",
        folder / "table.md",
        figures.success_figure(curves, folder / "success_rate.png"),
    ]
    summary = {
        "train": cfg_a.name,
        "test": cfg_b.name,
        "test_samples": len(hard),
        "test_landslides": len(inventory),
        "folder": str(folder),
        "table": json.loads(table.to_json(orient="index")),
        "reclassified": notes,
    }
    write_text(folder / "transfer.json", json.dumps(summary, indent=2))
    outputs.append(folder / "transfer.json")
    return outputs, summary


def _markdown(table, train: str, test: str, n: int) -> str:
    head = (
        f"Trained on {train}, tested on {test} ({n} hard samples, every split; "
        "success rate and zones on the whole region)\n\n"
    )
    cols = ["AUC", "AP", "Success-rate AUC", "High+VH area", "High+VH landslides", "Accuracy", "F1"]
    lines = ["| Model | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for model, r in table.iterrows():
        cells = [
            f"{r['auc']:.4f}",
            f"{r['ap']:.4f}",
            f"{r['success_auc']:.4f}",
            f"{r['high_vh_area_share']:.1%}",
            f"{r['high_vh_landslide_share']:.1%}",
            f"{r['accuracy']:.1%}",
            f"{r['f1']:.1%}",
        ]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"
