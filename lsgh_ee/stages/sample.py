"""Stage ``sample``: the Gaussian heatmap and the hard + soft samples with their split."""

from __future__ import annotations

import os
from pathlib import Path

from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage


def sample(
    config: ConfigLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``sample``: ``heatmap.tif`` (its diameter in the tags) and ``samples.gpkg``
    (one point per sample: class codes, label, kind, split). Needs ``export-factors``."""
    from lsgh_ee.factors.stack import FactorStack
    from lsgh_ee.heatmap import write_heatmap
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region
    from lsgh_ee.sampling import draw_samples

    config = as_config(config)
    run = run_folder(config, run_dir)
    require(run, [run.codes, run.factor_schema], "export-factors")
    params = {
        "sampling": config.sampling.model_dump(mode="json"),
        "heatmap": config.heatmap.model_dump(mode="json"),
        "date_attribute": config.inventory.date_attribute,
    }
    inputs = [run.codes, run.factors, run.factor_schema, *config.inventory.paths]

    def work() -> tuple[list[Path], dict]:
        stack = FactorStack.read(run.path)
        inventory = read_inventory(config.inventory, Region.from_config(config))
        samples, heatmap = draw_samples(
            stack, inventory, config.sampling, config.heatmap_diameter,
            seed=config.sampling.seed, date_attribute=config.inventory.date_attribute,
        )  # fmt: skip
        outputs = [
            write_heatmap(run.heatmap, heatmap, stack.grid, diameter=config.heatmap_diameter),
            samples.write_gpkg(run.samples, stack.grid.crs),
        ]
        return outputs, {"counts": samples.counts(), "split": config.sampling.split,
                         "digest": samples.digest()}  # fmt: skip

    return run_stage("sample", run, params, inputs, work, force)
