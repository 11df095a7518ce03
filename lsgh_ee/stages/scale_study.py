"""The paper's §4.3 scale study: one LSGH-Net per heatmap diameter on one shared test set."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lsgh_ee.errors import LsghError
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage


def scale_study(
    config: ConfigLike,
    diameters: list[int],
    *,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    force: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> StageResult:
    """One LSGH-Net per heatmap diameter (pixels), all scored on the SAME test set — the
    hard test samples of the run's ``samples.gpkg`` — so their AP values compare. Each
    diameter draws its own training samples (same seed), minus any pixel of the shared
    test set. Writes ``scale_study/table.csv``/``.md`` and ``scale_study/pr_curves.png``.
    """
    config = as_config(config)
    run = run_folder(config, run_dir)
    require(run, [run.samples], "sample")
    if not diameters or any(d < 1 for d in diameters):
        raise LsghError(f"--diameters must be positive pixel counts, got {diameters}")
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
