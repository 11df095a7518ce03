"""The paper's §4.3 scale study: one LSGH-Net per heatmap diameter on one shared test set,
or (``folds``) a spatially blocked cross-validation per diameter, compared fold by fold."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lsgh_ee.atomic import write_text
from lsgh_ee.config import RegionConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage

#: ``scale_study/cv_table.csv`` / ``.md``: the cross-validated scale study's table.
CV_TABLE_STEM = "cv_table"


def scale_study(
    config: ConfigLike,
    diameters: list[int],
    *,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    folds: int | None = None,
    force: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> StageResult:
    """One LSGH-Net per heatmap diameter (pixels), all scored on the SAME test set — the
    hard test samples of the run's ``samples.gpkg`` — so their AP values compare. Each
    diameter draws its own training samples (same seed), minus any pixel of the shared
    test set. Writes ``scale_study/table.csv``/``.md`` and ``scale_study/pr_curves.png``.

    With ``folds`` (k), the study is cross-validated instead (:func:`scale_study_cv`).
    """
    config = as_config(config)
    run = run_folder(config, run_dir)
    if not diameters or any(d < 1 for d in diameters):
        raise LsghError(f"--diameters must be positive pixel counts, got {diameters}")
    if folds is not None:
        return scale_study_cv(config, diameters, folds, run_dir=run_dir, epochs=epochs,
                              force=force, on_epoch=on_epoch)  # fmt: skip
    require(run, [run.samples], "sample")
    training = config.training.model_copy(update={"epochs": epochs} if epochs else {})
    params = {"diameters": diameters, "training": training.model_dump(mode="json"),
              "sampling": config.sampling.model_dump(mode="json")}  # fmt: skip
    inputs = [run.samples, run.codes, run.factor_schema, *config.inventory.paths]
    folder = run.scale_study

    def work() -> tuple[list[Path], dict]:
        import numpy as np

        from lsgh_ee.evaluation import ModelScores, metrics_table, plot_curves, write_table
        from lsgh_ee.factors.stack import FactorStack
        from lsgh_ee.inventory import read_inventory
        from lsgh_ee.model import make_model
        from lsgh_ee.region import Region
        from lsgh_ee.sampling import Samples, draw_samples

        stack = FactorStack.read(run.path)
        inventory = read_inventory(config.inventory, Region.from_config(config))
        test = Samples.read_gpkg(run.samples).test
        test = test.subset(test.kind != "soft")
        test_pixels = test.rows * stack.grid.width + test.cols
        counts = [len(layer.classes) for layer in stack.layers]
        scores, rows = [], {}
        for diameter in diameters:
            drawn, _ = draw_samples(stack, inventory, config.sampling, diameter,
                                    seed=config.sampling.seed,
                                    date_attribute=config.inventory.date_attribute)  # fmt: skip
            train_set = drawn.train
            pixels = train_set.rows * stack.grid.width + train_set.cols
            train_set = train_set.subset(~np.isin(pixels, test_pixels))
            model = make_model("lsgh", counts, factor_names=stack.names, training=training,
                               on_epoch=on_epoch)  # fmt: skip
            model.fit(train_set.codes, train_set.label)
            name = f"D={diameter}"
            scores.append(ModelScores(name, test.label, model.predict(test.codes)))
            rows[name] = {"training_samples": len(train_set),
                          "soft_samples": int((train_set.kind == "soft").sum())}  # fmt: skip
        table = metrics_table(scores)
        outputs = write_table(table, folder, stem=RunFolder.STUDY_TABLE_STEM)
        outputs += plot_curves(scores, folder, title=f"{config.name}, heatmap diameters")
        summary = {"ap": table["ap"].round(4).to_dict(), "auc": table["auc"].round(4).to_dict(),
                   "training": rows, "test_samples": len(test)}  # fmt: skip
        return outputs, summary

    return run_stage("scale-study", run, params, inputs, work, force)


def scale_study_cv(
    config: RegionConfig,
    diameters: list[int],
    folds: int,
    *,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    force: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> StageResult:
    """The scale study on the cross-validation: per heatmap diameter (pixels), a
    ``folds``-fold spatially blocked :func:`~lsgh_ee.stages.cv.cv` of LSGH-Net in
    ``scale_study/cv-D<d>/`` (the same folds for every diameter: they depend on the
    landslides and blocks only; and the same test samples, drawn as with the base
    diameter, whose negatives' exclusion zone would otherwise grow with the diameter and
    make the test easier), then each diameter's AUC and AP with their 95% intervals
    and its fold-paired AUC difference from the base diameter — the config's own when
    listed, else the first — in ``scale_study/cv_table.csv``/``.md``. Needs
    ``export-factors``."""
    import time

    import pandas as pd

    from lsgh_ee.evaluation import crossval as cvs
    from lsgh_ee.stages.cv import cv

    start = time.perf_counter()
    run = run_folder(config, run_dir)
    diameters = list(dict.fromkeys(diameters))
    base = config.heatmap_diameter if config.heatmap_diameter in diameters else diameters[0]
    hook = None if on_epoch is None else (lambda label, e, logs: on_epoch(e, logs))
    per_fold, skipped = {}, []
    for diameter in diameters:
        heatmap = config.heatmap.model_copy(update={"diameter": diameter, "diameter_m": None})
        folder = Path(run.SCALE_STUDY_DIR) / f"cv-D{diameter}"
        result = cv(config.model_copy(update={"heatmap": heatmap}), folds=folds,
                    models=["lsgh"], run_dir=run.path, epochs=epochs, folder=folder,
                    test_diameter=base, force=force, on_epoch=hook)  # fmt: skip
        skipped.append(result.skipped)
        per_fold[diameter] = pd.read_csv(run.path / folder / run.CV_FOLDS_CSV)
    correction = cvs.correction_for(folds, 1)
    rows = []
    for diameter in diameters:
        scores = cvs.summary_table(per_fold[diameter], correction).loc["lsgh"]
        row = {"diameter": diameter, "metres": diameter * config.resolution,
               **{k: scores[k] for k in ("auc_mean", "auc_low", "auc_high",
                                         "ap_mean", "ap_low", "ap_high")}}  # fmt: skip
        diff = cvs.compare_runs(per_fold[base], {"other": per_fold[diameter]},
                                [("lsgh", "lsgh")], correction).iloc[0]  # fmt: skip
        row |= {"auc_diff": diff.auc_diff, "auc_diff_low": diff.auc_low,
                "auc_diff_high": diff.auc_high, "wins": diff.other_wins_auc}  # fmt: skip
        rows.append(row)
    table = pd.DataFrame(rows).set_index("diameter")
    header = (f"LSGH-Net per heatmap diameter, {folds}-fold spatially blocked CV (blocks of "
              f"{config.sampling.block_size:g} m); differences paired by fold against "
              f"D = {base}.\n")  # fmt: skip
    lines = [header, f"| D (pixels) | D (m) | AUC (95% CI) | AP (95% CI) | ΔAUC vs D = {base} "
             "| wins |", "|---|---|---|---|---|---|"]  # fmt: skip
    for diameter, r in table.iterrows():
        delta = "–" if diameter == base else cvs.format_ci(r.auc_diff, r.auc_diff_low,
                                                           r.auc_diff_high)  # fmt: skip
        cells = [f"{diameter}", f"{r.metres:g}", cvs.format_ci(r.auc_mean, r.auc_low, r.auc_high),
                 cvs.format_ci(r.ap_mean, r.ap_low, r.ap_high), delta,
                 "–" if diameter == base else r.wins]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    out = run.scale_study
    outputs = [out / f"{CV_TABLE_STEM}.csv", out / f"{CV_TABLE_STEM}.md"]
    write_text(outputs[0], table.round(6).to_csv())
    write_text(outputs[1], "\n".join(lines) + "\n")
    summary = {"base": base, "folds": folds, "auc": table["auc_mean"].round(4).to_dict()}
    return StageResult("scale-study", run.path, outputs, all(skipped),
                       time.perf_counter() - start, summary)  # fmt: skip
