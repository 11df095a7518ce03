"""Getting a run's results out: maps to Earth Engine assets (``upload``) and a model as a
TensorFlow SavedModel for a Vertex AI endpoint (``export-model``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from lsgh_ee.errors import LsghError
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage


def upload(
    config: ConfigLike,
    model: str = "lsgh",
    *,
    run_dir: str | os.PathLike | None = None,
    mode: Literal["ingest", "cog"] = "ingest",
    overwrite: bool = False,
    progress: Callable[[Any], None] | None = None,
) -> StageResult:
    """Stage ``upload:<model>``: the model's susceptibility and zone maps as Earth Engine
    image assets (staged in ``earthengine.bucket``; see :mod:`lsgh_ee.earthengine.assets`),
    recorded in ``ee_assets.json``. Up to date when the maps did not change; ``overwrite``
    replaces existing assets (and re-runs the stage).

    Args:
        mode: ``ingest`` copies the maps into Earth Engine; ``cog`` registers the staged
            cloud-optimised GeoTIFFs as Cloud GeoTIFF-backed assets.
        progress: called with each poll of an ingestion task (a ``TaskStatus``).
    """
    from lsgh_ee.earthengine.exports import require_bucket

    if mode not in ("ingest", "cog"):
        raise LsghError(f"--mode must be ingest or cog, got {mode!r}")
    config = as_config(config)
    run = run_folder(config, run_dir)
    inputs = [run.susceptibility(model), run.zones(model), run.factor_schema]
    require(run, inputs, "run")
    ee_settings = config.earthengine
    require_bucket(ee_settings.bucket, "upload")
    params = {"model": model, "mode": mode, "region": config.name,
              "earthengine": ee_settings.model_dump(mode="json", include={
                  "project", "api_url", "bucket", "asset_folder"})}  # fmt: skip

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.earthengine.assets import upload_maps
        from lsgh_ee.earthengine.connect import connect

        _, settings = connect(config)
        entries = upload_maps(run.path, region=config.name, model=model, settings=settings,
                              mode=mode, overwrite=overwrite, progress=progress)  # fmt: skip
        return [run.ee_assets], {"assets": [e["asset_id"] for e in entries]}

    return run_stage(f"upload:{model}", run, params, inputs, work, overwrite)


def export_model(
    config: ConfigLike,
    model: str = "lsgh",
    *,
    out: str | os.PathLike | None = None,
    run_dir: str | os.PathLike | None = None,
) -> Path:
    """A trained network as a TensorFlow SavedModel for a Vertex AI endpoint, in ``out``
    (default ``savedmodel/<model>/`` of the run folder); returns the folder."""
    from lsgh_ee.model.files import require_bundle
    from lsgh_ee.model.schema import check_hostable

    check_hostable(model)  # before TensorFlow starts: a refusal is immediate
    config = as_config(config)
    run = run_folder(config, run_dir)
    bundle = run.model_dir(model)
    require_bundle(bundle, model)
    from lsgh_ee.model.savedmodel import export_savedmodel

    return export_savedmodel(bundle, out or run.savedmodel_dir(model))
