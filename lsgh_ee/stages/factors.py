"""Stage ``export-factors``: the factor stack, the class-code stack, the checked inventory
and the factor report."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from lsgh_ee.atomic import atomic_path
from lsgh_ee.stages.runner import (
    ConfigLike,
    StageResult,
    as_config,
    input_files,
    run_folder,
    run_stage,
)

Backend = Literal["local", "ee"]


def export_factors(
    config: ConfigLike,
    *,
    backend: Backend = "local",
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    export_mode: str | None = None,
    task_progress: Callable[[Any], None] | None = None,
) -> StageResult:
    """Stage ``export-factors``: ``factors.tif``, ``class_codes.tif``,
    ``factor_schema.json``, ``inventory.gpkg`` and the factor report in the run folder.

    Args:
        config: a config object or the path of a region YAML.
        backend: ``local`` computes from local files; ``ee`` needs Earth Engine.
        run_dir: the run folder (default: the config's ``output.dir``).
        force: re-run even when the manifest says the outputs are current.
        progress: called with (factor name, index, number of factors) as each starts.
        export_mode: how Earth Engine pixels come out (download, gcs, asset; default the
            config's ``earthengine.export``); see :func:`lsgh_ee.earthengine.exports.fetch_image`.
        task_progress: called with each poll of a batch export task (a ``TaskStatus``).
    """
    from lsgh_ee.factors.report import factor_report_from_file, write_factor_report
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.factors.windows import export_local_factors
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import MAX_LOCAL_PIXELS, Region

    config = as_config(config)
    run = run_folder(config, run_dir)
    factors = resolve_factors(config, backend)
    fetch = None
    if backend == "ee":
        from lsgh_ee.earthengine.factor_sources import dem_file, factor_files, image_fetcher

        fetch = image_fetcher(config, run.path, export_mode, task_progress)
    dem_from_ee = (
        backend == "ee"
        and config.dem is not None
        and config.dem.source == "ee"
        and any(f.recipe == "terrain" for f in factors)
    )
    params = config.model_dump(
        mode="json", include={"name", "aoi", "crs", "resolution", "inventory", "dem", "terrain",
                              "factors", "earthengine"})  # fmt: skip
    params.update(backend=backend, importance=config.sampling.importance_samples,
                  seed=config.sampling.seed)  # fmt: skip

    def work() -> tuple[list[Path], dict]:
        region = Region.from_config(config, max_pixels=MAX_LOCAL_PIXELS)
        inventory = read_inventory(config.inventory, region)
        downloaded: list[Path] = []
        ee_dem = dem_file(config, run.path, downloaded, fetch) if dem_from_ee else None
        from_ee = [f for f in factors if f.spec.source == "ee" and f.recipe != "terrain"]
        ee_factors = (
            factor_files(config, region.grid, from_ee, run.path, downloaded, fetch)
            if backend == "ee" and from_ee
            else None
        )
        strip_rows = config.output.rows_per_strip(region.grid.width)
        stack = export_local_factors(
            region,
            factors,
            run.path,
            strip_rows=strip_rows,
            progress=progress,
            dem_file=ee_dem,
            factor_file=ee_factors,
        )
        outputs = [run.factors, run.codes, run.factor_schema, *downloaded]
        with atomic_path(run.inventory) as tmp:
            inventory.landslides.to_file(tmp, driver="GPKG", layer="landslides")
        outputs.append(run.inventory)
        report = factor_report_from_file(
            run.codes,
            stack.names,
            lambda row0, rows: inventory.mask(region.grid.strip(row0, rows), "polygon"),
            n_samples=config.sampling.importance_samples,
            seed=config.sampling.seed,
            strip_rows=strip_rows,
        )
        outputs += write_factor_report(report, run.path)
        return outputs, {
            "grid": region.grid.to_dict(),
            "factors": stack.names,
            "inventory": inventory.report.as_dict(),
            "collinear_pairs": report.collinear_pairs(),
            "importance_rank": list(report.importance.index),
        }

    return run_stage("export-factors", run, params, input_files(config), work, force)
