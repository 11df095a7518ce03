"""``predict --backend ee``: the map computed in Earth Engine by the model deployed on a
Vertex AI endpoint, fetched into the run folder or left in an Earth Engine asset."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lsgh_ee.config import RegionConfig
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.runner import StageResult, run_stage


def predict_in_earth_engine(
    config: RegionConfig,
    run: RunFolder,
    variant: str,
    folder: Path,
    inputs: list[Path],
    *,
    endpoint: str | None,
    codes_asset: str | None,
    tile_size: int | None,
    force: bool,
    to_asset: bool = False,
) -> StageResult:
    """Stage ``predict:<variant>`` (map fetched) or ``predict-ee:<variant>`` (map left in
    an asset, recorded in ``ee_assets.json``); see :func:`lsgh_ee.stages.predict`."""
    from lsgh_ee.earthengine.hosted import DEFAULT_TILE_SIZE, check_tile_size, predict_hosted

    tile_size = check_tile_size(DEFAULT_TILE_SIZE if tile_size is None else tile_size)
    out = run.susceptibility(variant)
    params = {
        "variant": variant,
        "bundle": str(folder),
        "backend": "ee",
        "endpoint": endpoint,
        "codes_asset": codes_asset,
        "tile_size": tile_size,
        "earthengine": config.earthengine.model_dump(mode="json", include={"project", "export"}),
    }

    def schemas() -> tuple[dict, dict]:
        from lsgh_ee.model.files import read_schema
        from lsgh_ee.model.schema import check_schema

        schema = read_schema(folder)
        factor_schema = json.loads(run.factor_schema.read_text(encoding="utf-8"))
        check_schema(schema, factor_schema)
        return schema, factor_schema

    def work() -> tuple[list[Path], dict]:
        schema, factor_schema = schemas()
        start = time.perf_counter()
        stats = predict_hosted(config, schema, factor_schema, out, endpoint=endpoint,
                               codes_asset=codes_asset, tile_size=tile_size,
                               tile_dir=run.ee_tiles,
                               tags={"model": variant, "bundle": str(folder),
                                     "endpoint": endpoint})  # fmt: skip
        stats["seconds"] = round(time.perf_counter() - start, 3)
        return [out], stats

    def work_in_ee() -> tuple[list[Path], dict]:
        from lsgh_ee.earthengine.assets import map_asset_id, write_assets_json
        from lsgh_ee.earthengine.connect import connect

        schema, factor_schema = schemas()
        session, settings = connect(config)
        asset_id = map_asset_id(settings.asset_root, config.name, variant, "susceptibility")
        start = time.perf_counter()
        stats = predict_hosted(config, schema, factor_schema, out, endpoint=endpoint,
                               codes_asset=codes_asset, tile_size=tile_size,
                               to_asset=asset_id, overwrite=force)  # fmt: skip
        stats["seconds"] = round(time.perf_counter() - start, 3)
        entry = {"model": variant, "layer": "susceptibility", "asset_id": asset_id,
                 "band": "susceptibility"}  # fmt: skip
        return [write_assets_json(run.path, session.project, [entry])], stats

    if to_asset:
        return run_stage(f"predict-ee:{variant}", run, params, inputs, work_in_ee, force)
    return run_stage(f"predict:{variant}", run, params, inputs, work, force)
