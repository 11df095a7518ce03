"""Stages of the Earth Engine-native run: the factors and class codes stay in Earth Engine;
only the sample table and the zoning statistics come back (see docs/earth-engine.md).

* :func:`sample_in_ee` (stage ``sample``, backend ``ee``): the factor schema (classes and
  breaks, no pixels) and ``samples.gpkg`` drawn in Earth Engine
  (:mod:`lsgh_ee.earthengine.native_samples`); training then runs locally as usual.
* :func:`zone_in_ee` (stage ``zone``, backend ``ee``): the Jenks zones, Tables 5/6 and the
  success-rate curve of maps left in Earth Engine assets by ``predict --backend ee
  --to-asset`` (``ee_assets.json``), from reductions
  (:mod:`lsgh_ee.earthengine.native_zoning`); the same table files and ``zoning.json``
  as the local ``zone`` stage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lsgh_ee.atomic import write_text
from lsgh_ee.config import RegionConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.region import Region
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.runner import (
    ConfigLike,
    StageResult,
    as_config,
    input_files,
    run_folder,
    run_stage,
)
from lsgh_ee.stages.zone import write_zone_tables, zone_summary


def factor_schema_in_ee(config: RegionConfig, grid: Grid) -> dict:
    """The run's factor schema (``factor_schema.json``: per factor its kind, units, breaks
    and classes) from the config and the Earth Engine recipes, without any pixel: class
    breaks from the config or the catalogue (Table 2), categorical classes from the recipe.

    Raises:
        LsghError: a continuous factor without breaks (``classify: quantile | natural``
            needs the factor's values: give ``breaks`` or use the local run).
    """
    from lsgh_ee.earthengine.recipes import factor_image_with_classes
    from lsgh_ee.factors.catalogue import interval_labels
    from lsgh_ee.factors.resolve import resolve_factors

    entries = []
    for factor in resolve_factors(config, backend="ee"):
        breaks: tuple[float, ...] = ()
        if factor.name == "aspect":
            classes = factor.classes
        elif factor.kind == "categorical":
            _, classes = factor_image_with_classes(factor, grid, config)
        elif factor.breaks:
            breaks, classes = tuple(factor.breaks), interval_labels(factor.breaks)
        else:
            raise LsghError(
                f"factor {factor.name} has no class breaks; the Earth Engine-native run "
                f"needs them: set 'factors.{factor.name}.breaks' (or use the local run for "
                "breaks computed from the data)"
            )
        entries.append({"name": factor.name, "kind": factor.kind, "units": factor.units,
                        "breaks": list(breaks), "classes": list(classes),
                        "n_classes": len(classes),
                        "method": {"backend": "earthengine", "recipe": factor.recipe}})  # fmt: skip
    return {"grid": grid.to_dict(), "factors": entries}


def _sources(config: RegionConfig, schema: dict, region: Region) -> Any:
    from lsgh_ee.earthengine.classify import class_code_image
    from lsgh_ee.earthengine.native_heatmap import area_image
    from lsgh_ee.earthengine.native_samples import NativeSources
    from lsgh_ee.earthengine.recipes import factor_image
    from lsgh_ee.factors.resolve import resolve_factors

    grid = region.grid
    names = tuple(f["name"] for f in schema["factors"])
    slope = None
    if config.sampling.negatives == "low_slope":
        resolved = {f.name: f for f in resolve_factors(config, backend="ee")}
        if "slope" in resolved:
            slope = factor_image(resolved["slope"], grid, config)
    codes = class_code_image(schema, grid, config)
    return NativeSources(codes, names, grid, slope, area_image(region.aoi, grid))


def sample_in_ee(
    config: ConfigLike, *, run_dir: str | os.PathLike | None = None, force: bool = False
) -> StageResult:
    """Stage ``sample`` of the Earth Engine-native run: ``factor_schema.json``,
    ``inventory.gpkg`` and ``samples.gpkg`` (drawn in Earth Engine; the table is the only
    download). The local ``train`` stage reads them as it reads the local run's."""
    from lsgh_ee.earthengine.connect import connect
    from lsgh_ee.earthengine.native_samples import draw_native_samples
    from lsgh_ee.inventory import read_inventory

    config = as_config(config)
    run = run_folder(config, run_dir)
    params = config.model_dump(mode="json", include={"name", "aoi", "crs", "resolution",
                                                     "inventory", "dem", "terrain", "factors",
                                                     "heatmap", "sampling"})  # fmt: skip
    params["backend"] = "ee"

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.atomic import atomic_path

        region = Region.from_config(config)
        inventory = read_inventory(config.inventory, region)
        _, settings = connect(config)
        settings.require_bucket("the Earth Engine-native sample table")  # before any work
        schema = factor_schema_in_ee(config, region.grid)
        write_text(run.factor_schema, json.dumps(schema, indent=2))
        samples, _ = draw_native_samples(
            _sources(config, schema, region), inventory, config.sampling,
            config.heatmap_diameter, settings, seed=config.sampling.seed,
        )  # fmt: skip
        with atomic_path(run.inventory) as tmp:
            inventory.landslides.to_file(tmp, driver="GPKG", layer="landslides")
        outputs = [run.factor_schema, run.inventory,
                   samples.write_gpkg(run.samples, region.grid.crs)]  # fmt: skip
        return outputs, {"counts": samples.counts(), "notices": samples.meta["notices"],
                         "backend": "ee"}  # fmt: skip

    return run_stage("sample", run, params, input_files(config), work, force)


def map_assets(run: RunFolder) -> dict[str, str]:
    """``{model: asset id}`` of the susceptibility maps in ``ee_assets.json``.

    Raises:
        LsghError: no such file or no susceptibility map in it.
    """
    try:
        doc = json.loads(run.ee_assets.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        doc = {}
    found = {e["model"]: e["asset_id"] for e in doc.get("assets", [])
             if e.get("layer") == "susceptibility"}  # fmt: skip
    if not found:
        raise LsghError(
            f"{run.path} records no susceptibility map in Earth Engine; run 'lsgh-ee predict "
            "CONFIG --backend ee --to-asset --endpoint ...' first"
        )
    return found


def zone_in_ee(
    config: ConfigLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
    assets: dict[str, str] | None = None,
) -> StageResult:
    """Stage ``zone`` of the Earth Engine-native run, for the maps in Earth Engine
    (``assets``: ``{model: image asset id}``, default ``ee_assets.json``): per model
    ``intervals.csv`` / ``intervals.md`` / ``zones.csv``, and ``zoning.json`` plus the
    density and success-rate figures, as the local stage writes them (no zone GeoTIFF,
    map figure or index histogram: those need the pixels)."""
    from lsgh_ee.earthengine.connect import connect
    from lsgh_ee.earthengine.native_heatmap import area_image, landslide_image
    from lsgh_ee.earthengine.native_zoning import zoning_statistics
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.report import figures

    config = as_config(config)
    run = run_folder(config, run_dir)
    assets = dict(assets) if assets is not None else map_assets(run)
    params = {"assets": assets, "seed": config.sampling.seed, "backend": "ee"}

    def work() -> tuple[list[Path], dict]:
        import ee

        region = Region.from_config(config)
        inventory = read_inventory(config.inventory, region)
        connect(config)
        slides = landslide_image(inventory, region.grid)
        inside = area_image(region.aoi, region.grid)  # the local maps are NaN outside
        outputs: list[Path] = []
        summary, tables, curves = {}, {}, {}
        for model, asset_id in assets.items():
            index = ee.Image(asset_id).select([0]).updateMask(inside)
            native = zoning_statistics(index, slides, region.grid,
                                       seed=config.sampling.seed)  # fmt: skip
            outputs += write_zone_tables(run.map_dir(model), native.intervals, native.zoning)
            summary[model] = {**zone_summary(native.intervals, native.zoning),
                              "asset_id": asset_id}  # fmt: skip
            tables[model], curves[model] = native.intervals.table, native.zoning.curve
        outputs.append(figures.density_figure(tables, run / RunFolder.DENSITY_PNG))
        outputs.append(figures.success_figure(curves, run / RunFolder.SUCCESS_PNG))
        write_text(run.zoning, json.dumps(summary, indent=2))
        outputs.append(run.zoning)
        return outputs, {"models": summary, "backend": "ee"}

    return run_stage("zone", run, params, [*config.inventory.paths], work, force)
