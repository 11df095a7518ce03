"""Stages ``preview`` and ``report``: the interactive map and the HTML report."""

from __future__ import annotations

import os
from pathlib import Path

from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage


def preview(
    config: ConfigLike,
    model: str,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``preview``: ``preview.html``, the self-contained interactive map of one
    model's susceptibility and zones, the landslides, the AOI and the factors. Offline
    only (a recorded stage must not hold tile URLs that expire): ``lsgh-ee preview`` adds
    the uploaded maps as Earth Engine layers."""
    config = as_config(config)
    run = run_folder(config, run_dir)
    inputs = [run.susceptibility(model), run.zones(model), run.inventory, run.factors]
    require(run, inputs, "run")

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.region import Region
        from lsgh_ee.report.preview import write_preview

        page = write_preview(run.path, run.preview, model=model,
                             aoi=Region.from_config(config).aoi, earth_engine=False)  # fmt: skip
        return [page], {"model": model}

    return run_stage("preview", run, {"model": model}, inputs, work, force)


def report(
    config: ConfigLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``report``: one self-contained HTML page (``report.html``) with the config,
    the factor report, Table 4, the zoning tables, the cross-validation study (``cv/``),
    every figure and the run's timings. It re-runs when a cv run appears or changes."""
    config = as_config(config)
    run = run_folder(config, run_dir)
    require(run, [run.factor_schema], "export-factors")
    named = {run.evaluation.name, run.zoning.name, run.preview.name, run.CV_JSON}
    inputs = sorted(p for p in run.path.rglob("*")
                    if p.suffix in (".png", ".md", ".csv") or p.name in named)  # fmt: skip
    if config.source_file is not None:
        inputs.append(config.source_file)

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.report.html import write_report

        path = write_report(config, run.path)
        return [path], {"report": str(path)}

    return run_stage("report", run, {"version": 1}, inputs, work, force)
