"""``transfer-eval``: models trained in region A scored on region B — all of B's hard
samples and B's inventory — to measure how well the method transfers. Runs the stages of
both regions as needed (see ``docs/transfer.md``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lsgh_ee.config import MODEL_VARIANTS
from lsgh_ee.errors import LsghError
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.factors import export_factors
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, run_stage
from lsgh_ee.stages.sample import sample
from lsgh_ee.stages.train import train


def transfer_eval(
    train_config: ConfigLike,
    test_config: ConfigLike,
    *,
    models: list[str] | None = None,
    epochs: int | None = None,
    force: bool = False,
) -> StageResult:
    """Train every variant on region A's samples (running A's stages as needed) and score
    it on region B: all of B's hard samples (both splits) and B's inventory.

    Writes ``<A run>/transfer/<A>_to_<B>/table.csv`` / ``table.md`` (AUC, AP, success-rate
    AUC, share of area and of landslides in the high + very-high Jenks zones, and the
    threshold metrics), ``zones_<model>.csv`` and ``success_rate.png``.
    """
    cfg_a, cfg_b = as_config(train_config), as_config(test_config)
    models = list(models or cfg_a.training.models)
    unknown = [m for m in models if m not in MODEL_VARIANTS]
    if unknown:
        raise LsghError(f"unknown model(s) {unknown}; choose from {', '.join(MODEL_VARIANTS)}")
    if cfg_a.run_dir.resolve() == cfg_b.run_dir.resolve():
        raise LsghError("the two configs share one run folder (output.dir); give each its own")
    from lsgh_ee.model.files import bundle_schema_path

    run_a, run_b = RunFolder(cfg_a.run_dir), RunFolder(cfg_b.run_dir)
    export_factors(cfg_a, force=force)
    sample(cfg_a, force=force)
    for variant in models:
        train(cfg_a, variant, epochs=epochs, force=force)
    export_factors(cfg_b, force=force)
    sample(cfg_b, force=force)
    folder = run_a.transfer_dir(cfg_a.name, cfg_b.name)
    inputs = [
        run_b.factors,
        run_b.factor_schema,
        run_b.samples,
        *cfg_b.inventory.paths,
        *(bundle_schema_path(run_a.model_dir(m)) for m in models),
    ]
    params = {"models": models, "test_run": str(run_b), "seed": cfg_b.sampling.seed}

    def work() -> tuple[list[Path], dict]:
        return _transfer_work(cfg_a, cfg_b, models, folder)

    return run_stage(f"transfer:{cfg_b.name}", run_a, params, inputs, work, force)


def _transfer_work(cfg_a, cfg_b, models: list[str], folder: Path) -> tuple[list[Path], dict]:
    import pandas as pd

    from lsgh_ee.atomic import write_text
    from lsgh_ee.evaluation import ModelScores, binary_metrics
    from lsgh_ee.factors.stack import FactorStack
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.mapping import predict_codes, predict_values
    from lsgh_ee.model import load_bundle
    from lsgh_ee.model.schema import check_schema, reclassify_for_model
    from lsgh_ee.region import Region
    from lsgh_ee.report import figures
    from lsgh_ee.sampling import Samples
    from lsgh_ee.zoning import zone_map

    run_a, run_b = RunFolder(cfg_a.run_dir), RunFolder(cfg_b.run_dir)
    factor_schema = json.loads(run_b.factor_schema.read_text(encoding="utf-8"))
    stack = FactorStack.read(run_b.path)
    samples = Samples.read_gpkg(run_b.samples)
    hard = samples.subset(samples.kind != "soft")
    inventory = read_inventory(cfg_b.inventory, Region.from_config(cfg_b))
    landslides = inventory.mask(stack.grid, "polygon")
    rows, curves, notes = {}, {}, {}
    outputs: list[Path] = []
    for variant in models:
        model, schema = load_bundle(run_a.model_dir(variant))
        if model.input_kind == "values":  # B's own values: class breaks do not matter
            check_schema(schema, factor_schema, model.input_kind)
            inputs, notices = stack.values, []
        else:
            codes, adjusted, notices = reclassify_for_model(schema, factor_schema, run_b.path)
            check_schema(schema, adjusted)
            inputs = stack.codes if codes is None else codes
        sampled = inputs[:, hard.rows, hard.cols].T
        scores = ModelScores(variant, hard.label, model.predict(sampled))
        flat = inputs.reshape(inputs.shape[0], -1).T
        if model.input_kind == "values":
            index = predict_values(model, flat)
        else:
            index = predict_codes(model, flat, np.asarray(schema["class_counts"]))
        index = index.reshape(stack.grid.shape)
        zoning = zone_map(index, landslides, seed=cfg_b.sampling.seed)
        curve = zoning.curve
        write_text(folder / f"zones_{variant}.csv", zoning.zones_table.round(6).to_csv())
        outputs.append(folder / f"zones_{variant}.csv")
        metrics = binary_metrics(scores.y_true, scores.y_score)
        rows[variant] = {
            "auc": metrics["auc"],
            "ap": metrics["ap"],
            "success_auc": curve[2],
            "high_vh_area_share": zoning.high_very_high_area_share,
            "high_vh_landslide_share": zoning.high_very_high_landslide_share,
            **{k: v for k, v in metrics.items() if k not in ("auc", "ap")},
        }
        curves[variant] = curve
        if notices:
            notes[variant] = notices
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    table_csv, table_md = (folder / f"{RunFolder.STUDY_TABLE_STEM}{ext}" for ext in (".csv", ".md"))
    write_text(table_csv, table.round(6).to_csv())
    write_text(table_md, _markdown(table, cfg_a.name, cfg_b.name, len(hard)))
    outputs += [
        table_csv,
        table_md,
        figures.success_figure(curves, folder / RunFolder.SUCCESS_PNG),
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
    write_text(folder / RunFolder.TRANSFER_JSON, json.dumps(summary, indent=2))
    outputs.append(folder / RunFolder.TRANSFER_JSON)
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
