"""Stage ``zone``: Jenks zones, the paper's Tables 5/6 and the zoning figures of every
mapped model."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lsgh_ee.atomic import write_text
from lsgh_ee.config import RegionConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.predict import mapped_models
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, run_folder, run_stage
from lsgh_ee.zoning import IntervalTable, Zoning


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
    """The work of the ``zone`` stage (see :func:`zone`): outputs and summary."""
    import rasterio

    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.rasters import write_geotiff
    from lsgh_ee.region import Region
    from lsgh_ee.report import figures
    from lsgh_ee.zoning import ZONE_COLOURS, interval_table, zone_map

    region = Region.from_config(config)
    inventory = read_inventory(config.inventory, region)
    landslides = inventory.mask(region.grid, "polygon")
    centres = inventory.centroids()
    outputs: list[Path] = []
    summary: dict[str, dict] = {}
    indices, tables, curves = {}, {}, {}
    for model in models:
        folder = run.map_dir(model)
        with rasterio.open(run.susceptibility(model)) as src:
            index = src.read(1)
        zoning = zone_map(index, landslides, seed=config.sampling.seed)
        outputs.append(write_geotiff(
            run.zones(model), zoning.zones, region.grid, nodata=0, colormap=ZONE_COLOURS,
            descriptions=["susceptibility zone"],
            tags={"classes": "1 very low, 2 low, 3 moderate, 4 high, 5 very high",
                  "jenks_breaks": json.dumps(zoning.breaks), "jenks_values": str(zoning.used)},
        ))  # fmt: skip
        intervals = interval_table(index, landslides)
        outputs += write_zone_tables(folder, intervals, zoning)
        outputs.append(figures.map_figure(index, zoning.zones, region.grid, centres,
                                          folder / RunFolder.MAP_PNG, model=model))  # fmt: skip
        indices[model], tables[model], curves[model] = index, intervals.table, zoning.curve
        summary[model] = zone_summary(intervals, zoning)
    outputs.append(figures.histogram_figure(indices, run / RunFolder.HISTOGRAM_PNG))
    outputs.append(figures.density_figure(tables, run / RunFolder.DENSITY_PNG))
    outputs.append(figures.success_figure(curves, run / RunFolder.SUCCESS_PNG))
    write_text(run.zoning, json.dumps(summary, indent=2))
    outputs.append(run.zoning)
    return outputs, {"models": summary}


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
