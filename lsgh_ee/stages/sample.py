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
    (one point per sample: class codes, label, kind, split). Needs ``export-factors``.

    Window by window (``output.strip_rows`` rows; 0 = the whole grid at once): the stacks
    are read strip by strip (:class:`~lsgh_ee.sampling.source.RunSource`), the samples
    drawn strip by strip (:func:`~lsgh_ee.sampling.single.draw_samples_in`) and the
    heatmap written strip by strip; the files are those of the whole-array draw."""
    from lsgh_ee.heatmap import write_heatmap_strips
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.rasters import stack_grid
    from lsgh_ee.region import Region
    from lsgh_ee.sampling.single import draw_samples_in
    from lsgh_ee.sampling.source import RunSource

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
        inventory = read_inventory(config.inventory, Region.from_config(config))
        strip_rows = config.output.rows_per_strip(stack_grid(run.codes).width)
        with RunSource(run.path, strip_rows) as source:
            samples, heatmap = draw_samples_in(
                source, inventory, config.sampling, config.heatmap_diameter,
                seed=config.sampling.seed, date_attribute=config.inventory.date_attribute,
            )  # fmt: skip
            grid = source.grid
        outputs = [
            write_heatmap_strips(run.heatmap, heatmap, grid, strip_rows=strip_rows),
            samples.write_gpkg(run.samples, grid.crs),
        ]
        return outputs, {"counts": samples.counts(), "split": config.sampling.split,
                         "digest": samples.digest()}  # fmt: skip

    return run_stage("sample", run, params, inputs, work, force)
