"""Stage ``evaluate``: every trained model scored on the same held-out hard samples."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lsgh_ee.atomic import write_text
from lsgh_ee.errors import LsghError
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage
from lsgh_ee.stages.train import trained_models


def evaluate(
    config: ConfigLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``evaluate``: the paper's Table 4 (``table4.csv`` / ``.md``, threshold 0.5),
    the metrics at each model's Youden threshold (``table4_youden.csv`` / ``.md``), PR and
    ROC curves, the reliability diagram (``reliability.png``) and ``evaluation.json``
    (with each model's calibration method, Youden threshold, Brier score and ECE); when the
    config names a reference susceptibility (``evaluation.truth``), each model's agreement
    with it. Scores are the models' calibrated ones when ``training.calibration`` was set.

    The agreement is computed strip by strip (``output.strip_rows`` rows; memory bounded
    by a strip, :mod:`lsgh_ee.evaluation.truth`), or on the whole map at once with
    ``strip_rows: 0``; the two agree within 1e-9."""
    from lsgh_ee.model.files import bundle_schema_path

    config = as_config(config)
    run = run_folder(config, run_dir)
    require(run, [run.samples], "sample")
    models = trained_models(run)
    if not models:
        raise LsghError(f"{run.path} has no trained model; run 'lsgh-ee train CONFIG --model lsgh'")
    inputs = [run.samples] + [bundle_schema_path(run.model_dir(m)) for m in models]
    if config.evaluation.truth is not None:
        inputs.append(config.evaluation.truth)
    params = {"models": models, "truth": str(config.evaluation.truth), "calibration": 1}

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.evaluation import (
            ModelScores,
            metrics_table,
            plot_curves,
            truth_agreement,
            write_table,
        )
        from lsgh_ee.evaluation import calibration as cal
        from lsgh_ee.evaluation.truth import model_truth_agreement
        from lsgh_ee.mapping import predict_stack
        from lsgh_ee.model import load_bundle
        from lsgh_ee.rasters import read_onto_grid, stack_grid
        from lsgh_ee.sampling import Samples
        from lsgh_ee.sampling.patches import model_inputs, run_codes

        truth = config.evaluation.truth  # compared over the local factor stack's grid
        # (an Earth Engine-native run has no class-code raster: no strips to size)
        grid = stack_grid(run.codes) if truth is not None or run.codes.exists() else None
        strip_rows = config.output.rows_per_strip(grid.width) if grid is not None else 0

        def agreement(model, truth: Path, grid) -> dict:
            if strip_rows == 0:  # the whole map at once: the reference computation
                return truth_agreement(predict_stack(model, run.path), read_onto_grid(truth, grid))
            return model_truth_agreement(model, run.path, truth, grid, strip_rows)

        test = Samples.read_gpkg(run.samples).test
        test = test.subset(test.kind != "soft")
        scores = []
        truth_scores: dict[str, dict] = {}
        calibration: dict[str, dict] = {}
        for variant in models:
            model, _ = load_bundle(run.model_dir(variant))
            inputs = model_inputs(test, model, run_codes(model, run.codes, strip_rows))
            scores.append(ModelScores(variant, test.label, model.predict(inputs)))
            fitted = model.calibrator_
            calibration[variant] = {
                "method": "none" if fitted is None else fitted.method,
                "fitted_on": None if fitted is None else fitted.source,
                **cal.calibration_summary(scores[-1], model.threshold_),
            }
            if truth is not None and grid is not None:
                truth_scores[variant] = agreement(model, truth, grid)
        table = metrics_table(scores)
        outputs = write_table(table, run.path)
        thresholds = {m: c["threshold"] for m, c in calibration.items()}
        youden = cal.youden_table(scores, thresholds)
        outputs += cal.write_youden(youden, run.path, run.YOUDEN_STEM)
        title = f"{config.name}, {config.sampling.split} split"
        outputs.append(cal.plot_reliability(scores, run / run.RELIABILITY_PNG, title=title))
        outputs += plot_curves(scores, run.path, title=title)
        summary = {"table4": json.loads(table.to_json(orient="index")),
                   "test_samples": len(test), "split": config.sampling.split,
                   "calibration": calibration,
                   "youden": json.loads(youden.to_json(orient="index"))}  # fmt: skip
        if truth_scores:
            summary["truth"] = truth_scores
        write_text(run.evaluation, json.dumps(summary, indent=2))
        outputs.append(run.evaluation)
        return outputs, summary

    return run_stage("evaluate", run, params, inputs, work, force)
