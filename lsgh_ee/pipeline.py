"""Pipeline stages: each reads files, writes files into the run folder and records itself
in the run manifest, so a finished stage is skipped when its inputs did not change.

Stages and their files (all in the run folder):

- ``export-factors``: factors.tif, class_codes.tif, factor_schema.json, inventory.gpkg,
  factor report (CSV + PNG);
- ``sample``: heatmap.tif, samples.gpkg;
- ``train`` (one per model): models/<variant>/ (model bundle);
- ``evaluate``: table4.csv / table4.md, pr_curves.png, roc_curves.png, evaluation.json;
- ``predict`` (one per model): maps/<variant>/susceptibility.tif;
- ``zone``: maps/<variant>/zones.tif, intervals.csv/.md, zones.csv, map.png; figures of
  all models; zoning.json;
- ``preview``: preview.html (interactive map, works offline);
- ``report``: report.html.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lsgh_ee.atomic import atomic_path, write_text
from lsgh_ee.config import RegionConfig, TrainingConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.manifest import Manifest, StageRecord, file_digest, fingerprint, now

log = logging.getLogger(__name__)

Backend = Literal["local", "ee"]
INVENTORY_GPKG = "inventory.gpkg"
HEATMAP_TIF = "heatmap.tif"
SAMPLES_GPKG = "samples.gpkg"
MODELS_DIR = "models"
EVALUATION_JSON = "evaluation.json"
MAPS_DIR = "maps"
SUSCEPTIBILITY_TIF = "susceptibility.tif"
ZONES_TIF = "zones.tif"
ZONING_JSON = "zoning.json"
PREVIEW_HTML = "preview.html"


@dataclass
class StageResult:
    """What a stage call did: its outputs, whether it was skipped as up to date, and a
    short summary for the CLI."""

    stage: str
    run_dir: Path
    outputs: list[Path]
    skipped: bool
    seconds: float
    summary: dict = field(default_factory=dict)


def as_config(config: RegionConfig | str | os.PathLike) -> RegionConfig:
    """A validated config from a config object or a YAML path."""
    return config if isinstance(config, RegionConfig) else load_config(config)


def input_files(config: RegionConfig) -> list[Path]:
    """Every local input file a config names (for fingerprints)."""
    paths = [config.inventory.path, config.aoi.file]
    if config.dem is not None:
        paths.append(config.dem.path)
    for spec in config.factors.values():
        if spec is not None and spec.source == "local":
            paths += [spec.path, spec.red, spec.nir]
    return sorted({Path(p) for p in paths if p is not None})


def _run_stage(
    name: str,
    run: Path,
    params: dict[str, Any],
    inputs: list[Path],
    work: Callable[[], tuple[list[Path], dict]],
    force: bool,
) -> StageResult:
    """Run ``work`` unless the manifest says its outputs are current for these parameters
    and input files; record it afterwards."""
    start = time.perf_counter()
    digests = {str(p): file_digest(p) for p in inputs}
    stage_fp = fingerprint(params, digests)
    manifest = Manifest(run)
    if not force and manifest.is_current(name, stage_fp):
        log.info("%s is up to date in %s (use --force to re-run)", name, run)
        record = manifest.stages[name]
        outputs = [run / rel for rel in record["outputs"]]
        return StageResult(name, run, outputs, True, time.perf_counter() - start,
                           record.get("notes", {}))  # fmt: skip
    _check_writable(run)
    started = now()
    outputs, summary = work()
    seconds = time.perf_counter() - start
    record = StageRecord(stage_fp, params, digests, manifest.output_digests(outputs), started,
                         round(seconds, 3), notes=summary)  # fmt: skip
    Manifest(run).record(name, record)  # re-read: another stage may have recorded meanwhile
    return StageResult(name, run, outputs, False, seconds, summary)


def _run_folder(config: RegionConfig, run_dir: str | os.PathLike | None) -> Path:
    return Path(run_dir) if run_dir is not None else config.run_dir


def _require(run: Path, files: list[str], command: str) -> None:
    missing = [f for f in files if not (run / f).exists()]
    if missing:
        raise LsghError(
            f"{run} has no {', '.join(missing)}; run 'lsgh-ee {command} CONFIG' first "
            "(or 'lsgh-ee run CONFIG' for every stage)"
        )


# --- export-factors ------------------------------------------------------------------------


def export_factors(
    config: RegionConfig | str | os.PathLike,
    *,
    backend: Backend = "local",
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    export_mode: str | None = None,
    task_progress: Callable[[Any], None] | None = None,
) -> StageResult:
    """Stage ``export-factors``: factor stack, class-code stack, checked inventory and the
    factor report, written into the run folder.

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
    from lsgh_ee.earthengine.factor_sources import dem_reader, factor_reader, image_fetcher
    from lsgh_ee.factors.local import compute_local_factors
    from lsgh_ee.factors.report import factor_report, write_factor_report
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region

    config = as_config(config)
    run = _run_folder(config, run_dir)
    factors = resolve_factors(config, backend)
    fetch = image_fetcher(config, run, export_mode, task_progress) if backend == "ee" else None
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
        region = Region.from_config(config)
        inventory = read_inventory(config.inventory, region)
        downloaded: list[Path] = []
        read_dem = dem_reader(config, run, downloaded, fetch) if dem_from_ee else None
        from_ee = [f for f in factors if f.spec.source == "ee" and f.recipe != "terrain"]
        read_factor = (
            factor_reader(config, region.grid, from_ee, run, downloaded, fetch)
            if backend == "ee" and from_ee
            else None
        )
        stack = compute_local_factors(region, factors, progress, read_dem, read_factor)
        outputs = stack.write(run) + downloaded
        with atomic_path(run / INVENTORY_GPKG) as tmp:
            inventory.landslides.to_file(tmp, driver="GPKG", layer="landslides")
        outputs.append(run / INVENTORY_GPKG)
        report = factor_report(
            stack,
            inventory.mask(region.grid, "polygon"),
            n_samples=config.sampling.importance_samples,
            seed=config.sampling.seed,
        )
        outputs += write_factor_report(report, run)
        return outputs, {
            "grid": region.grid.to_dict(),
            "factors": stack.names,
            "inventory": inventory.report.as_dict(),
            "collinear_pairs": report.collinear_pairs(),
            "importance_rank": list(report.importance.index),
        }

    return _run_stage("export-factors", run, params, input_files(config), work, force)


# --- sample --------------------------------------------------------------------------------


def sample(
    config: RegionConfig | str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``sample``: the Gaussian heatmap and the hard + soft samples with their split."""
    from lsgh_ee.factors.stack import CODES_TIF, SCHEMA_JSON, FactorStack
    from lsgh_ee.heatmap import write_heatmap
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region
    from lsgh_ee.sampling import draw_samples

    config = as_config(config)
    run = _run_folder(config, run_dir)
    _require(run, [CODES_TIF, SCHEMA_JSON], "export-factors")
    params = {
        "sampling": config.sampling.model_dump(mode="json"),
        "heatmap": config.heatmap.model_dump(mode="json"),
        "date_attribute": config.inventory.date_attribute,
    }
    inputs = [run / CODES_TIF, run / SCHEMA_JSON, config.inventory.path]

    def work() -> tuple[list[Path], dict]:
        stack = FactorStack.read(run)
        inventory = read_inventory(config.inventory, Region.from_config(config))
        samples, heatmap = draw_samples(
            stack, inventory, config.sampling, config.heatmap.diameter,
            seed=config.sampling.seed, date_attribute=config.inventory.date_attribute,
        )  # fmt: skip
        outputs = [
            write_heatmap(run / HEATMAP_TIF, heatmap, stack.grid,
                          diameter=config.heatmap.diameter),
            samples.write_gpkg(run / SAMPLES_GPKG, stack.grid.crs),
        ]  # fmt: skip
        return outputs, {"counts": samples.counts(), "split": config.sampling.split,
                         "digest": samples.digest()}  # fmt: skip

    return _run_stage("sample", run, params, inputs, work, force)


# --- train ---------------------------------------------------------------------------------


def train(
    config: RegionConfig | str | os.PathLike,
    variant: str,
    *,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    force: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
    init_from: str | os.PathLike | None = None,
) -> StageResult:
    """Stage ``train``: fit one model variant on the training samples and save its bundle
    in ``models/<variant>/``. Variants that do not use soft samples (``cnn``, ``rf``) are
    trained on the hard samples only.

    ``init_from``: a model bundle (another region's) to fine-tune: its factor schema must
    match this region's (``check_schema``), training starts from its weights with the
    convolutional blocks frozen and only the head (``transfer.HEAD_LAYERS``) trained.
    """
    from lsgh_ee.factors.stack import SCHEMA_JSON
    from lsgh_ee.model import VARIANTS, make_model, save_bundle
    from lsgh_ee.sampling import Samples

    config = as_config(config)
    if variant not in VARIANTS:
        raise LsghError(f"unknown model {variant!r}; choose one of {', '.join(VARIANTS)}")
    run = _run_folder(config, run_dir)
    _require(run, [SAMPLES_GPKG], "sample")
    training = config.training.model_copy(
        update={k: v for k, v in {"epochs": epochs, "seed": seed}.items() if v is not None}
    )
    params = {"variant": variant, "training": training.model_dump(mode="json", exclude={"models"})}
    if variant == "rf":
        params["training"] = {"seed": training.seed}  # epochs etc. do not apply
    inputs = [run / SAMPLES_GPKG, run / SCHEMA_JSON]
    folder = run / MODELS_DIR / variant
    if init_from is not None:
        init_from = Path(init_from)
        if not (init_from / "schema.json").exists():
            raise LsghError(f"no model bundle in {init_from}; pass a folder holding schema.json")
        if variant == "rf":
            raise LsghError("--init-from fine-tunes a network; rf cannot be fine-tuned")
        params["init_from"] = str(init_from.resolve())
        inputs += sorted(p for p in init_from.iterdir() if p.is_file())

    def work() -> tuple[list[Path], dict]:
        samples = Samples.read_gpkg(run / SAMPLES_GPKG).train
        factor_schema = json.loads((run / SCHEMA_JSON).read_text(encoding="utf-8"))
        counts = [f["n_classes"] for f in factor_schema["factors"]]
        model = make_model(variant, counts, factor_names=samples.factor_names)
        fine_tune: dict[str, Any] = {}
        if init_from is not None:
            from lsgh_ee.transfer import fine_tune_start

            model, fine_tune = fine_tune_start(init_from, variant, factor_schema)
        if not model.uses_soft_samples:
            samples = samples.subset(samples.kind != "soft")
        fit_args: dict[str, Any] = {"seed": training.seed}
        if variant != "rf":
            fit_args.update(keras_fit_args(training), on_epoch=on_epoch, **fine_tune)
        start = time.perf_counter()
        model.fit(samples.codes, samples.label, **fit_args)
        seconds = time.perf_counter() - start
        summary = {
            "variant": variant,
            "training_samples": len(samples),
            "soft_samples": int((samples.kind == "soft").sum()),
            "seconds": round(seconds, 2),
            "epochs_run": len(getattr(model, "history_", {}).get("loss", [])) or None,
            "samples_per_second": round(getattr(model, "samples_per_second_", 0) or 0, 1),
        }
        if init_from is not None:
            summary["fine_tuned_from"] = str(init_from)
        save_bundle(folder, model, factor_schema, heatmap_diameter=config.heatmap.diameter,
                    training_hash=samples.digest(), extra={"training": summary})  # fmt: skip
        return sorted(p for p in folder.iterdir() if p.is_file()), summary

    return _run_stage(f"train:{variant}", run, params, inputs, work, force)


def keras_fit_args(training: TrainingConfig) -> dict[str, Any]:
    """The ``training`` settings as the Keras estimators' ``fit`` arguments (seed apart)."""
    return {
        "epochs": training.epochs,
        "patience": training.patience,
        "batch_size": training.batch_size,
        "validation_fraction": training.validation_fraction,
        "early_stopping": training.early_stopping,
    }


def trained_models(run: Path) -> list[str]:
    """Variants with a bundle in the run folder, in the paper's Table 4 order."""
    from lsgh_ee.config import MODEL_VARIANTS

    return [v for v in MODEL_VARIANTS if (run / MODELS_DIR / v / "schema.json").exists()]


# --- evaluate ------------------------------------------------------------------------------


def evaluate(
    config: RegionConfig | str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``evaluate``: every trained model on the same held-out hard samples — the
    paper's Table 4 (CSV + Markdown), PR and ROC curves — and, when the config names a
    reference susceptibility (``evaluation.truth``), each model's agreement with it."""
    config = as_config(config)
    run = _run_folder(config, run_dir)
    _require(run, [SAMPLES_GPKG], "sample")
    models = trained_models(run)
    if not models:
        raise LsghError(f"{run} has no trained model; run 'lsgh-ee train CONFIG --model lsgh'")
    inputs = [run / SAMPLES_GPKG] + [run / MODELS_DIR / m / "schema.json" for m in models]
    if config.evaluation.truth is not None:
        inputs.append(config.evaluation.truth)
    params = {"models": models, "truth": str(config.evaluation.truth)}

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.evaluation import (
            ModelScores,
            metrics_table,
            plot_curves,
            truth_agreement,
            write_table,
        )
        from lsgh_ee.factors.stack import FactorStack
        from lsgh_ee.mapping import predict_stack
        from lsgh_ee.model import load_bundle
        from lsgh_ee.rasters import read_onto_grid
        from lsgh_ee.sampling import Samples

        grid = FactorStack.read(run).grid

        test = Samples.read_gpkg(run / SAMPLES_GPKG).test
        test = test.subset(test.kind != "soft")
        scores = []
        truth_scores: dict[str, dict] = {}
        for variant in models:
            model, _ = load_bundle(run / MODELS_DIR / variant)
            scores.append(ModelScores(variant, test.label, model.predict(test.codes)))
            if config.evaluation.truth is not None:
                truth_scores[variant] = truth_agreement(
                    predict_stack(model, run), read_onto_grid(config.evaluation.truth, grid)
                )
        table = metrics_table(scores)
        outputs = write_table(table, run)
        outputs += plot_curves(scores, run, title=f"{config.name}, {config.sampling.split} split")
        summary = {"table4": json.loads(table.to_json(orient="index")),
                   "test_samples": len(test), "split": config.sampling.split}  # fmt: skip
        if truth_scores:
            summary["truth"] = truth_scores
        write_text(run / EVALUATION_JSON, json.dumps(summary, indent=2))
        outputs.append(run / EVALUATION_JSON)
        return outputs, summary

    return _run_stage("evaluate", run, params, inputs, work, force)


# --- predict -------------------------------------------------------------------------------


def predict(
    config: RegionConfig | str | os.PathLike,
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
    """Stage ``predict``: the susceptibility map of one model over the whole region,
    ``maps/<variant>/susceptibility.tif`` (COG, float32 0–1, NaN nodata), streamed window
    by window, each distinct class-code vector predicted once.

    Args:
        variant: a model trained in this run (``models/<variant>``), or the name to file
            the map under when ``bundle`` is given.
        bundle: a model bundle folder from elsewhere (another region): its factors must
            match this region's (names, order, kinds, units, categorical classes); where
            only a continuous factor's breaks differ, this region's values are
            re-classified with the model's breaks for the prediction (a logged notice;
            see :mod:`lsgh_ee.transfer`).
        backend: ``local`` predicts here; ``ee`` has Earth Engine predict with the model
            deployed on the Vertex AI ``endpoint`` (see :mod:`lsgh_ee.earthengine.hosted`)
            from the class codes in ``codes_asset`` (or computed in Earth Engine), sending
            tiles of ``tile_size`` pixels, and fetches the map into the same file.
        to_asset: with ``backend="ee"``, export the map to the Earth Engine asset
            ``<asset_folder>/<name>_<variant>_susceptibility`` and leave it there (stage
            ``predict-ee:<variant>``; recorded in ``ee_assets.json``); nothing is downloaded.
    """
    from lsgh_ee.factors.stack import CODES_TIF, FACTORS_TIF, SCHEMA_JSON

    config = as_config(config)
    run = _run_folder(config, run_dir)
    _check_predict_backend(backend, variant if bundle is None else None, endpoint, codes_asset)
    if to_asset and backend != "ee":
        raise LsghError("--to-asset is for --backend ee (a map made by the hosted model)")
    _require(run, [CODES_TIF, SCHEMA_JSON] if backend == "local" else [SCHEMA_JSON],
             "export-factors")  # fmt: skip
    folder = Path(bundle) if bundle is not None else run / MODELS_DIR / variant
    if not (folder / "schema.json").exists():
        hint = (f"run 'lsgh-ee train CONFIG --model {variant}' first" if bundle is None
                else "pass the folder of a model bundle (it holds schema.json)")  # fmt: skip
        raise LsghError(f"no model bundle in {folder}; {hint}")
    model_files = sorted(p for p in folder.iterdir() if p.is_file())
    out = run / MAPS_DIR / variant / SUSCEPTIBILITY_TIF
    if backend == "ee":
        return _predict_hosted(
            config, run, variant, folder, model_files,
            endpoint=endpoint, codes_asset=codes_asset, tile_size=tile_size, force=force,
            to_asset=to_asset,
        )  # fmt: skip

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.mapping import predict_map
        from lsgh_ee.model import check_schema, load_bundle
        from lsgh_ee.transfer import model_class_codes

        model, schema = load_bundle(folder)
        factor_schema = json.loads((run / SCHEMA_JSON).read_text(encoding="utf-8"))
        start = time.perf_counter()
        tags = {"model": variant, "bundle": str(folder)}
        with model_class_codes(schema, factor_schema, run) as (codes, adjusted, notes):
            check_schema(schema, adjusted)
            if notes:
                tags["reclassified"] = "; ".join(notes)
            stats = predict_map(model, codes, out, schema["class_counts"],
                                progress=progress, tags=tags)  # fmt: skip
        if notes:
            stats["reclassified"] = notes
        seconds = time.perf_counter() - start
        stats["pixels_per_second"] = round(stats["pixels"] / max(seconds, 1e-9))
        return [out], stats

    return _run_stage(f"predict:{variant}", run, {"variant": variant, "bundle": str(folder)},
                      [run / CODES_TIF, run / FACTORS_TIF, run / SCHEMA_JSON, *model_files],
                      work, force)  # fmt: skip


def _check_predict_backend(
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
    from lsgh_ee.earthengine.hosted import check_endpoint, check_hostable

    if variant is not None:
        check_hostable(variant)
    if endpoint is None:
        raise LsghError(
            "--backend ee needs --endpoint projects/PROJECT/locations/REGION/endpoints/ID, the "
            "Vertex AI endpoint serving the model ('lsgh-ee export-model' says how to deploy it)"
        )
    check_endpoint(endpoint)


def _predict_hosted(
    config: RegionConfig,
    run: Path,
    variant: str,
    folder: Path,
    model_files: list[Path],
    *,
    endpoint: str | None,
    codes_asset: str | None,
    tile_size: int | None,
    force: bool,
    to_asset: bool = False,
) -> StageResult:
    """``predict --backend ee``: the map computed in Earth Engine by the hosted model."""
    from lsgh_ee.earthengine.hosted import DEFAULT_TILE_SIZE, check_tile_size, predict_hosted
    from lsgh_ee.factors.stack import SCHEMA_JSON

    tile_size = check_tile_size(DEFAULT_TILE_SIZE if tile_size is None else tile_size)
    out = run / MAPS_DIR / variant / SUSCEPTIBILITY_TIF
    params = {
        "variant": variant,
        "bundle": str(folder),
        "backend": "ee",
        "endpoint": endpoint,
        "codes_asset": codes_asset,
        "tile_size": tile_size,
        "earthengine": config.earthengine.model_dump(mode="json", include={"project", "export"}),
    }

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.model import check_schema
        from lsgh_ee.model.files import read_schema

        schema = read_schema(folder)
        factor_schema = json.loads((run / SCHEMA_JSON).read_text(encoding="utf-8"))
        check_schema(schema, factor_schema)
        start = time.perf_counter()
        stats = predict_hosted(config, schema, factor_schema, out, endpoint=endpoint,
                               codes_asset=codes_asset, tile_size=tile_size,
                               tile_dir=run / ".ee_tiles",
                               tags={"model": variant, "bundle": str(folder),
                                     "endpoint": endpoint})  # fmt: skip
        stats["seconds"] = round(time.perf_counter() - start, 3)
        return [out], stats

    def work_in_ee() -> tuple[list[Path], dict]:
        from lsgh_ee.earthengine.assets import map_asset_id, write_assets_json
        from lsgh_ee.earthengine.connect import connect
        from lsgh_ee.model import check_schema
        from lsgh_ee.model.files import read_schema

        schema = read_schema(folder)
        factor_schema = json.loads((run / SCHEMA_JSON).read_text(encoding="utf-8"))
        check_schema(schema, factor_schema)
        session, settings = connect(config)
        project = session.project
        asset_id = map_asset_id(settings.asset_root, config.name, variant, "susceptibility")
        start = time.perf_counter()
        stats = predict_hosted(config, schema, factor_schema, out, endpoint=endpoint,
                               codes_asset=codes_asset, tile_size=tile_size,
                               to_asset=asset_id, overwrite=force)  # fmt: skip
        stats["seconds"] = round(time.perf_counter() - start, 3)
        entry = {"model": variant, "layer": "susceptibility", "asset_id": asset_id,
                 "band": "susceptibility"}  # fmt: skip
        return [write_assets_json(run, project, [entry])], stats

    if to_asset:
        return _run_stage(f"predict-ee:{variant}", run, params,
                          [run / SCHEMA_JSON, *model_files], work_in_ee, force)  # fmt: skip
    return _run_stage(f"predict:{variant}", run, params, [run / SCHEMA_JSON, *model_files],
                      work, force)  # fmt: skip


def mapped_models(run: Path) -> list[str]:
    """Models with a susceptibility map in the run folder (Table 4 order, then others)."""
    from lsgh_ee.config import MODEL_VARIANTS

    found = sorted(p.parent.name for p in (run / MAPS_DIR).glob(f"*/{SUSCEPTIBILITY_TIF}"))
    return [m for m in MODEL_VARIANTS if m in found] + [m for m in found if m not in MODEL_VARIANTS]


# --- zone ----------------------------------------------------------------------------------


def zone(
    config: RegionConfig | str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``zone``: for every mapped model, Jenks zones (``zones.tif`` with a colour
    table), the equal-interval table (the paper's Tables 5/6) and the zone table; figures
    of all models: maps with landslides, index histograms, landslide density, success-rate
    curves."""
    from lsgh_ee.factors.stack import SCHEMA_JSON

    config = as_config(config)
    run = _run_folder(config, run_dir)
    models = mapped_models(run)
    if not models:
        raise LsghError(f"{run} has no susceptibility map; run 'lsgh-ee predict CONFIG' first")
    maps = [run / MAPS_DIR / m / SUSCEPTIBILITY_TIF for m in models]
    inputs = [*maps, run / SCHEMA_JSON, config.inventory.path]
    params = {"models": models, "seed": config.sampling.seed}

    def work() -> tuple[list[Path], dict]:
        return zone_maps(config, run, models)

    return _run_stage("zone", run, params, inputs, work, force)


def zone_maps(config: RegionConfig, run: Path, models: list[str]) -> tuple[list[Path], dict]:
    """The work of the ``zone`` stage (see :func:`zone`)."""
    import rasterio

    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.rasters import write_geotiff
    from lsgh_ee.region import Region
    from lsgh_ee.report import figures
    from lsgh_ee.zoning import (
        ZONE_COLOURS,
        interval_table,
        jenks_breaks,
        success_rate_curve,
        zone_table,
    )
    from lsgh_ee.zoning import zone as zone_classes

    region = Region.from_config(config)
    inventory = read_inventory(config.inventory, region)
    landslides = inventory.mask(region.grid, "polygon")
    centres = inventory.centroids()
    outputs: list[Path] = []
    summary: dict[str, dict] = {}
    indices, tables, curves = {}, {}, {}
    for model in models:
        folder = run / MAPS_DIR / model
        with rasterio.open(folder / SUSCEPTIBILITY_TIF) as src:
            index = src.read(1)
        breaks, used = jenks_breaks(index, seed=config.sampling.seed)
        zones = zone_classes(index, breaks)
        outputs.append(write_geotiff(
            folder / ZONES_TIF, zones, region.grid, nodata=0, colormap=ZONE_COLOURS,
            descriptions=["susceptibility zone"],
            tags={"classes": "1 very low, 2 low, 3 moderate, 4 high, 5 very high",
                  "jenks_breaks": json.dumps(breaks), "jenks_values": str(used)},
        ))  # fmt: skip
        intervals = interval_table(index, landslides)
        zones_table = zone_table(zones, landslides)
        write_text(folder / "intervals.csv", intervals.table.round(6).to_csv())
        write_text(folder / "intervals.md", intervals.markdown())
        write_text(folder / "zones.csv", zones_table.round(6).to_csv())
        outputs += [folder / "intervals.csv", folder / "intervals.md", folder / "zones.csv"]
        outputs.append(figures.map_figure(index, zones, region.grid, centres,
                                          folder / "map.png", model=model))  # fmt: skip
        curve = success_rate_curve(index, landslides)
        indices[model], tables[model], curves[model] = index, intervals.table, curve
        high = zones_table.loc[["high", "very high"]]
        summary[model] = {
            "jenks_breaks": [round(b, 5) for b in breaks],
            "jenks_values": used,
            "high_very_high_area_share": float(high["area_share"].sum()),
            "high_very_high_landslide_share": float(high["landslide_share"].sum()),
            "success_auc": curve[2],
            "intervals": json.loads(intervals.table.to_json(orient="index")),
        }
    outputs.append(figures.histogram_figure(indices, run / "index_histogram.png"))
    outputs.append(figures.density_figure(tables, run / "landslide_density.png"))
    outputs.append(figures.success_figure(curves, run / "success_rate.png"))
    write_text(run / ZONING_JSON, json.dumps(summary, indent=2))
    outputs.append(run / ZONING_JSON)
    return outputs, {"models": summary}


# --- preview -------------------------------------------------------------------------------


def preview(
    config: RegionConfig | str | os.PathLike,
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
    run = _run_folder(config, run_dir)
    folder = run / MAPS_DIR / model
    inputs = [folder / SUSCEPTIBILITY_TIF, folder / ZONES_TIF, run / INVENTORY_GPKG,
              run / "factors.tif"]  # fmt: skip
    _require(run, [str(p.relative_to(run)) for p in inputs], "run")

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.region import Region
        from lsgh_ee.report.preview import write_preview

        page = write_preview(run, run / PREVIEW_HTML, model=model,
                             aoi=Region.from_config(config).aoi, earth_engine=False)  # fmt: skip
        return [page], {"model": model}

    return _run_stage("preview", run, {"model": model}, inputs, work, force)


# --- upload --------------------------------------------------------------------------------


def upload(
    config: RegionConfig | str | os.PathLike,
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
        progress: called with each poll of an ingestion task (a ``TaskStatus``).
    """
    from lsgh_ee.earthengine.assets import ASSETS_JSON, upload_maps
    from lsgh_ee.earthengine.connect import connect
    from lsgh_ee.earthengine.exports import require_bucket
    from lsgh_ee.factors.stack import SCHEMA_JSON

    config = as_config(config)
    run = _run_folder(config, run_dir)
    folder = run / MAPS_DIR / model
    _require(run, [f"{MAPS_DIR}/{model}/{SUSCEPTIBILITY_TIF}", f"{MAPS_DIR}/{model}/{ZONES_TIF}",
                   SCHEMA_JSON], "run")  # fmt: skip
    ee_settings = config.earthengine
    require_bucket(ee_settings.bucket, "upload")
    inputs = [folder / SUSCEPTIBILITY_TIF, folder / ZONES_TIF, run / SCHEMA_JSON]
    params = {"model": model, "mode": mode, "region": config.name,
              "earthengine": ee_settings.model_dump(mode="json", include={
                  "project", "api_url", "bucket", "asset_folder"})}  # fmt: skip

    def work() -> tuple[list[Path], dict]:
        _, settings = connect(config)
        entries = upload_maps(run, region=config.name, model=model, settings=settings,
                              mode=mode, overwrite=overwrite, progress=progress)  # fmt: skip
        return [run / ASSETS_JSON], {"assets": [e["asset_id"] for e in entries]}

    return _run_stage(f"upload:{model}", run, params, inputs, work, overwrite)


# --- report --------------------------------------------------------------------------------


def report(
    config: RegionConfig | str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> StageResult:
    """Stage ``report``: one self-contained HTML page (``report.html``) with the config,
    the factor report, Table 4, the zoning tables, every figure and the run's timings."""
    config = as_config(config)
    run = _run_folder(config, run_dir)
    _require(run, ["factor_schema.json"], "export-factors")
    inputs = sorted(p for p in run.rglob("*") if p.suffix in (".png", ".md", ".csv")
                    or p.name in ("evaluation.json", ZONING_JSON, PREVIEW_HTML))  # fmt: skip
    if config.source_file is not None:
        inputs.append(config.source_file)

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.report.html import write_report

        path = write_report(config, run)
        return [path], {"report": str(path)}

    return _run_stage("report", run, {"version": 1}, inputs, work, force)


# --- scale study ---------------------------------------------------------------------------


def scale_study(
    config: RegionConfig | str | os.PathLike,
    diameters: list[int],
    *,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    force: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> StageResult:
    """The paper's §4.3: one LSGH-Net per heatmap diameter, all scored on the SAME test
    set — the hard test samples of the run's ``samples.gpkg`` — so their AP values compare.
    Each diameter draws its own training samples (same seed), minus any pixel of the
    shared test set. Writes ``scale_study/table.csv``/``.md`` and ``scale_study/pr_curves.png``.
    """
    from lsgh_ee.factors.stack import CODES_TIF, SCHEMA_JSON

    config = as_config(config)
    run = _run_folder(config, run_dir)
    _require(run, [SAMPLES_GPKG], "sample")
    if not diameters or any(d < 1 for d in diameters):
        raise LsghError(f"--diameters must be positive pixel counts, got {diameters}")
    training = config.training.model_copy(update={"epochs": epochs} if epochs else {})
    params = {"diameters": diameters, "training": training.model_dump(mode="json"),
              "sampling": config.sampling.model_dump(mode="json")}  # fmt: skip
    inputs = [run / SAMPLES_GPKG, run / CODES_TIF, run / SCHEMA_JSON, config.inventory.path]
    folder = run / "scale_study"

    def work() -> tuple[list[Path], dict]:
        import numpy as np

        from lsgh_ee.evaluation import ModelScores, metrics_table, plot_curves, write_table
        from lsgh_ee.factors.stack import FactorStack
        from lsgh_ee.inventory import read_inventory
        from lsgh_ee.model import make_model
        from lsgh_ee.region import Region
        from lsgh_ee.sampling import Samples, draw_samples

        stack = FactorStack.read(run)
        inventory = read_inventory(config.inventory, Region.from_config(config))
        test = Samples.read_gpkg(run / SAMPLES_GPKG).test
        test = test.subset(test.kind != "soft")
        test_pixels = test.rows * stack.grid.width + test.cols
        counts = [len(layer.classes) for layer in stack.layers]
        scores, rows = [], {}
        for diameter in diameters:
            drawn, _ = draw_samples(stack, inventory, config.sampling, diameter,
                                    seed=config.sampling.seed,
                                    date_attribute=config.inventory.date_attribute)  # fmt: skip
            train_set = drawn.train
            pixels = train_set.rows * stack.grid.width + train_set.cols
            train_set = train_set.subset(~np.isin(pixels, test_pixels))
            model = make_model("lsgh", counts, factor_names=stack.names)
            model.fit(train_set.codes, train_set.label, seed=training.seed, on_epoch=on_epoch,
                      **keras_fit_args(training))  # fmt: skip
            name = f"D={diameter}"
            scores.append(ModelScores(name, test.label, model.predict(test.codes)))
            rows[name] = {"training_samples": len(train_set),
                          "soft_samples": int((train_set.kind == "soft").sum())}  # fmt: skip
        table = metrics_table(scores)
        outputs = write_table(table, folder, stem="table")
        outputs += plot_curves(scores, folder, title=f"{config.name}, heatmap diameters")
        summary = {"ap": table["ap"].round(4).to_dict(), "auc": table["auc"].round(4).to_dict(),
                   "training": rows, "test_samples": len(test)}  # fmt: skip
        return outputs, summary

    return _run_stage("scale-study", run, params, inputs, work, force)


def _check_writable(run: Path) -> None:
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LsghError(
            f"cannot create run folder {run}: {exc.strerror}; set 'output.dir' or --out to a "
            "writable folder"
        ) from exc
    if not os.access(run, os.W_OK):
        raise LsghError(
            f"run folder {run} is not writable; set 'output.dir' or --out to a writable folder"
        )
