"""Stage ``zone``: Jenks zones, the paper's Tables 5/6 and the zoning figures of every
mapped model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lsgh_ee.atomic import write_text
from lsgh_ee.config import RegionConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.predict import mapped_models
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, run_folder, run_stage
from lsgh_ee.zoning import IntervalTable, Zoning

if TYPE_CHECKING:
    from lsgh_ee.grid import Grid
    from lsgh_ee.inventory import Inventory


def zone(
    config: ConfigLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``zone``: for every mapped model, Jenks zones (``zones.tif`` with a colour
    table), the equal-interval table (the paper's Tables 5/6) and the zone table; figures
    of all models: maps with landslides, index histograms, landslide density, success-rate
    curves; ``zoning.json``."""
    config = as_config(config)
    run = run_folder(config, run_dir)
    models = mapped_models(run.path)
    if not models:
        raise LsghError(f"{run.path} has no susceptibility map; run 'lsgh-ee predict CONFIG' first")
    inputs = [*(run.susceptibility(m) for m in models), run.factor_schema, *config.inventory.paths]
    params = {"models": models, "seed": config.sampling.seed}

    def work() -> tuple[list[Path], dict]:
        return zone_maps(config, run, models)

    return run_stage("zone", run, params, inputs, work, force)


def zone_maps(config: RegionConfig, run: RunFolder, models: list[str]) -> tuple[list[Path], dict]:
    """The work of the ``zone`` stage (see :func:`zone`): outputs and summary. Window by
    window (``output.strip_rows`` rows, :mod:`lsgh_ee.zoning.windowed`), or each whole
    map at once with ``strip_rows: 0``; the same files and numbers either way."""
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region
    from lsgh_ee.report import figures

    region = Region.from_config(config)
    inventory = read_inventory(config.inventory, region)
    centres = inventory.centroids()
    strip_rows = config.output.rows_per_strip(region.grid.width)
    outputs: list[Path] = []
    summary: dict[str, dict] = {}
    histograms, tables, curves = {}, {}, {}
    for model in models:
        zone_one = _zone_whole if strip_rows == 0 else _zone_windowed
        intervals, zoning, histograms[model] = zone_one(config, run, model, inventory, region.grid)
        outputs.append(run.zones(model))
        folder = run.map_dir(model)
        outputs += write_zone_tables(folder, intervals, zoning)
        index = figures.read_for_figure(run.susceptibility(model), categorical=False)
        zones = figures.read_for_figure(run.zones(model), categorical=True)
        outputs.append(figures.map_figure(index, zones, region.grid, centres,
                                          folder / RunFolder.MAP_PNG, model=model))  # fmt: skip
        tables[model], curves[model] = intervals.table, zoning.curve
        summary[model] = zone_summary(intervals, zoning)
    outputs.append(figures.histogram_figure_from_counts(histograms, run / RunFolder.HISTOGRAM_PNG))
    outputs.append(figures.density_figure(tables, run / RunFolder.DENSITY_PNG))
    outputs.append(figures.success_figure(curves, run / RunFolder.SUCCESS_PNG))
    write_text(run.zoning, json.dumps(summary, indent=2))
    outputs.append(run.zoning)
    return outputs, {"models": summary}


def zones_tags(zoning: Zoning) -> dict[str, str]:
    """Tags of ``zones.tif``: the classes and the Jenks breaks."""
    classes = "1 very low, 2 low, 3 moderate, 4 high, 5 very high"
    breaks = json.dumps(zoning.breaks)
    return {"classes": classes, "jenks_breaks": breaks, "jenks_values": str(zoning.used)}


def _zone_whole(
    config: RegionConfig, run: RunFolder, model: str, inventory: Inventory, grid: Grid
) -> tuple[IntervalTable, Zoning, tuple[np.ndarray, int]]:
    """One map zoned as a whole array (the reference of :func:`_zone_windowed`)."""
    import rasterio

    from lsgh_ee.rasters import write_geotiff
    from lsgh_ee.zoning import ZONE_COLOURS, index_histogram, interval_table, zone_map

    landslides = inventory.mask(grid, "polygon")
    with rasterio.open(run.susceptibility(model)) as src:
        index = src.read(1)
    zoning = zone_map(index, landslides, seed=config.sampling.seed)
    write_geotiff(run.zones(model), zoning.zones, grid, nodata=0, colormap=ZONE_COLOURS,
                  descriptions=["susceptibility zone"], tags=zones_tags(zoning))  # fmt: skip
    valid = index[np.isfinite(index)]
    return interval_table(index, landslides), zoning, (index_histogram(valid), valid.size)


def _zone_windowed(
    config: RegionConfig, run: RunFolder, model: str, inventory: Inventory, grid: Grid
) -> tuple[IntervalTable, Zoning, tuple[np.ndarray, int]]:
    """One map zoned strip by strip (:func:`lsgh_ee.zoning.windowed.zone_by_strips`),
    its ``zones.tif`` written strip by strip."""
    from lsgh_ee.factors.windows import strip_grid
    from lsgh_ee.rasters import StripWriter
    from lsgh_ee.zoning import ZONE_COLOURS
    from lsgh_ee.zoning.windowed import zone_by_strips, zone_strips

    rows = config.output.rows_per_strip(grid.width)

    def landslides(row0: int, height: int) -> np.ndarray:
        return inventory.mask(strip_grid(grid, row0, height), "polygon")

    done = zone_by_strips(run.susceptibility(model), landslides, seed=config.sampling.seed,
                          strip_rows=rows, workdir=run.path)  # fmt: skip
    with StripWriter(run.zones(model), grid, 1, "uint8", nodata=0) as out:
        for row0, zones in zone_strips(run.susceptibility(model), done.zoning.breaks, rows):
            out.write(1, row0, zones)
        out.close(descriptions=["susceptibility zone"], tags=zones_tags(done.zoning),
                  colormap=ZONE_COLOURS)  # fmt: skip
    valid = int(done.intervals.table["pixels"].sum())
    return done.intervals, done.zoning, (done.histogram, valid)


def write_zone_tables(folder: Path, intervals: IntervalTable, zoning: Zoning) -> list[Path]:
    """One model's ``intervals.csv`` / ``intervals.md`` (Tables 5/6) and ``zones.csv`` in
    ``folder`` (``maps/<model>/``)."""
    tables_text = {
        RunFolder.INTERVALS_CSV: intervals.table.round(6).to_csv(),
        RunFolder.INTERVALS_MD: intervals.markdown(),
        RunFolder.ZONES_CSV: zoning.zones_table.round(6).to_csv(),
    }
    for name, text in tables_text.items():
        write_text(folder / name, text)
    return [folder / name for name in tables_text]


def zone_summary(intervals: IntervalTable, zoning: Zoning) -> dict:
    """One model's entry of ``zoning.json``."""
    return {
        "jenks_breaks": [round(b, 5) for b in zoning.breaks],
        "jenks_values": zoning.used,
        "high_very_high_area_share": zoning.high_very_high_area_share,
        "high_very_high_landslide_share": zoning.high_very_high_landslide_share,
        "success_auc": zoning.curve[2],
        "intervals": json.loads(intervals.table.to_json(orient="index")),
    }
