"""Stage ``predict``: one model's susceptibility map over the whole region, here (streamed
window by window) or in Earth Engine by the model hosted on Vertex AI."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from lsgh_ee.errors import LsghError
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage

Backend = Literal["local", "ee"]


def predict(
    config: ConfigLike,
    variant: str,
    *,
    run_dir: str | os.PathLike | None = None,
    bundle: str | os.PathLike | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    backend: Backend = "local",
    endpoint: str | None = None,
    codes_asset: str | None = None,
    tile_size: int | None = None,
    to_asset: bool = False,
) -> StageResult:
    """Stage ``predict:<variant>``: ``maps/<variant>/susceptibility.tif`` (COG, float32 0–1,
    NaN nodata), streamed window by window, each distinct class-code vector predicted once
    (a values model such as ``rf-raw`` maps from ``factors.tif``, every valid pixel).

    Args:
        variant: a model trained in this run (``models/<variant>``), or the name to file
            the map under when ``bundle`` is given.
        bundle: a model bundle folder from elsewhere (another region): its factors must
            match this region's (names, order, kinds, units, categorical classes); where
            only a continuous factor's breaks differ, this region's values are
            re-classified with the model's breaks for the prediction (a logged notice;
            see :func:`lsgh_ee.model.schema.model_class_codes`).
        progress: called with (windows done, windows) while mapping locally.
        backend: ``local`` predicts here; ``ee`` has Earth Engine predict with the model
            deployed on the Vertex AI ``endpoint`` (see :mod:`lsgh_ee.earthengine.hosted`)
            from the class codes in ``codes_asset`` (or computed in Earth Engine), sending
            tiles of ``tile_size`` pixels, and fetches the map into the same file.
        to_asset: with ``backend="ee"``, export the map to the Earth Engine asset
            ``<asset_folder>/<name>_<variant>_susceptibility`` and leave it there (stage
            ``predict-ee:<variant>``; recorded in ``ee_assets.json``); nothing is downloaded.
    """
    from lsgh_ee.model.files import require_bundle

    config = as_config(config)
    run = run_folder(config, run_dir)
    _check_backend(backend, variant if bundle is None else None, endpoint, codes_asset)
    if to_asset and backend != "ee":
        raise LsghError("--to-asset is for --backend ee (a map made by the hosted model)")
    require(run, [run.codes, run.factor_schema] if backend == "local" else [run.factor_schema],
            "export-factors")  # fmt: skip
    folder = Path(bundle) if bundle is not None else run.model_dir(variant)
    require_bundle(folder, None if bundle is not None else variant)
    model_files = sorted(p for p in folder.iterdir() if p.is_file())
    out = run.susceptibility(variant)
    inputs = [run.factor_schema, *model_files]
    if backend == "ee":
        from lsgh_ee.stages.predict_hosted import predict_in_earth_engine

        return predict_in_earth_engine(
            config, run, variant, folder, inputs, endpoint=endpoint, codes_asset=codes_asset,
            tile_size=tile_size, force=force, to_asset=to_asset,
        )  # fmt: skip

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.mapping import input_raster, predict_map
        from lsgh_ee.model import load_bundle
        from lsgh_ee.model.schema import check_schema, model_class_codes
        from lsgh_ee.rasters import stack_grid

        model, schema = load_bundle(folder)
        factor_schema = json.loads(run.factor_schema.read_text(encoding="utf-8"))
        start = time.perf_counter()
        tags = {"model": variant, "bundle": str(folder)}
        rows = config.output.rows_per_strip(
            stack_grid(input_raster(run.path, model.input_kind)).width
        )
        if model.input_kind == "values":  # class breaks do not matter: nothing to reclassify
            check_schema(schema, factor_schema, model.input_kind)
            stats = predict_map(model, input_raster(run.path, model.input_kind), out,
                                schema["class_counts"], input_kind=model.input_kind,
                                rows_per_window=rows, progress=progress, tags=tags)  # fmt: skip
        else:
            with model_class_codes(schema, factor_schema, run.path) as (codes, adjusted, notes):
                check_schema(schema, adjusted)
                if notes:
                    tags["reclassified"] = "; ".join(notes)
                stats = predict_map(model, codes, out, schema["class_counts"],
                                    input_kind=model.input_kind,  # codes or patches
                                    rows_per_window=rows, progress=progress,
                                    tags=tags)  # fmt: skip
            if notes:
                stats["reclassified"] = notes
        seconds = time.perf_counter() - start
        stats["pixels_per_second"] = round(stats["pixels"] / max(seconds, 1e-9))
        return [out], stats

    return run_stage(f"predict:{variant}", run, {"variant": variant, "bundle": str(folder)},
                     [run.codes, run.factors, *inputs], work, force)  # fmt: skip


def mapped_models(run_dir: str | os.PathLike) -> list[str]:
    """Models with a susceptibility map in the run folder (Table 4 order, then others)."""
    from lsgh_ee.config import MODEL_VARIANTS
    from lsgh_ee.runfolder import RunFolder

    found = RunFolder(run_dir).mapped_models()
    return [m for m in MODEL_VARIANTS if m in found] + [m for m in found if m not in MODEL_VARIANTS]


def _check_backend(
    backend: str, variant: str | None, endpoint: str | None, codes_asset: str | None
) -> None:
    if backend not in ("local", "ee"):
        raise LsghError(f"--backend must be 'local' or 'ee', got {backend!r}")
    if backend == "local":
        if endpoint is not None or codes_asset is not None:
            raise LsghError(
                "--endpoint and --codes-asset are for --backend ee; add it or drop them"
            )
        return
    from lsgh_ee.earthengine.hosted import check_endpoint
    from lsgh_ee.model.schema import check_hostable

    if variant is not None:
        check_hostable(variant)
    if endpoint is None:
        raise LsghError(
            "--backend ee needs --endpoint projects/PROJECT/locations/REGION/endpoints/ID, the "
            "Vertex AI endpoint serving the model ('lsgh-ee export-model' says how to deploy it)"
        )
    check_endpoint(endpoint)
