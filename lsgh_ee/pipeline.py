"""Pipeline stages: each reads files, writes files into the run folder and records itself
in the run manifest, so a finished stage is skipped when its inputs did not change.

Stages and their files (all in the run folder):

- ``export-factors``: factors.tif, class_codes.tif, factor_schema.json, inventory.gpkg,
  factor report (CSV + PNG);
- ``sample``: heatmap.tif, samples.gpkg;
- ``train`` (one per model): models/<variant>/ (model bundle);
- ``evaluate``: table4.csv / table4.md, pr_curves.png, roc_curves.png, truth agreement.
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
from lsgh_ee.config import RegionConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.manifest import Manifest, StageRecord, file_digest, fingerprint, now

log = logging.getLogger(__name__)

Backend = Literal["local", "ee"]
INVENTORY_GPKG = "inventory.gpkg"
HEATMAP_TIF = "heatmap.tif"
SAMPLES_GPKG = "samples.gpkg"
MODELS_DIR = "models"
EVALUATION_JSON = "evaluation.json"


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
) -> StageResult:
    """Stage ``export-factors``: factor stack, class-code stack, checked inventory and the
    factor report, written into the run folder.

    Args:
        config: a config object or the path of a region YAML.
        backend: ``local`` computes from local files; ``ee`` needs Earth Engine.
        run_dir: the run folder (default: the config's ``output.dir``).
        force: re-run even when the manifest says the outputs are current.
        progress: called with (factor name, index, number of factors) as each starts.
    """
    from lsgh_ee.factors.local import compute_local_factors
    from lsgh_ee.factors.report import factor_report, write_factor_report
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region

    config = as_config(config)
    run = _run_folder(config, run_dir)
    if backend == "ee":
        from lsgh_ee.earthengine.session import require_credentials

        require_credentials()
        raise LsghError(
            "the Earth Engine factor backend is not available in this version yet; "
            "use --backend local with local files"
        )
    factors = resolve_factors(config, backend)
    params = config.model_dump(
        mode="json", include={"name", "aoi", "crs", "resolution", "inventory", "dem", "terrain",
                              "factors"})  # fmt: skip
    params.update(backend=backend, importance=config.sampling.importance_samples,
                  seed=config.sampling.seed)  # fmt: skip

    def work() -> tuple[list[Path], dict]:
        region = Region.from_config(config)
        inventory = read_inventory(config.inventory, region)
        stack = compute_local_factors(region, factors, progress)
        outputs = stack.write(run)
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
) -> StageResult:
    """Stage ``train``: fit one model variant on the training samples and save its bundle
    in ``models/<variant>/``. Variants that do not use soft samples (``cnn``, ``rf``) are
    trained on the hard samples only."""
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

    def work() -> tuple[list[Path], dict]:
        samples = Samples.read_gpkg(run / SAMPLES_GPKG).train
        factor_schema = json.loads((run / SCHEMA_JSON).read_text(encoding="utf-8"))
        counts = [f["n_classes"] for f in factor_schema["factors"]]
        model = make_model(variant, counts, factor_names=samples.factor_names)
        if not model.uses_soft_samples:
            samples = samples.subset(samples.kind != "soft")
        fit_args: dict[str, Any] = {"seed": training.seed}
        if variant != "rf":
            fit_args.update(epochs=training.epochs, patience=training.patience,
                            batch_size=training.batch_size,
                            validation_fraction=training.validation_fraction,
                            on_epoch=on_epoch)  # fmt: skip
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
        save_bundle(folder, model, factor_schema, heatmap_diameter=config.heatmap.diameter,
                    training_hash=samples.digest(), extra={"training": summary})  # fmt: skip
        return sorted(p for p in folder.iterdir() if p.is_file()), summary

    return _run_stage(f"train:{variant}", run, params, inputs, work, force)


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
        from lsgh_ee.evaluation import ModelScores, metrics_table, plot_curves, write_table
        from lsgh_ee.model import load_bundle
        from lsgh_ee.sampling import Samples

        test = Samples.read_gpkg(run / SAMPLES_GPKG).test
        test = test.subset(test.kind != "soft")
        scores = []
        truth_scores: dict[str, dict] = {}
        for variant in models:
            model, _ = load_bundle(run / MODELS_DIR / variant)
            scores.append(ModelScores(variant, test.label, model.predict(test.codes)))
            if config.evaluation.truth is not None:
                truth_scores[variant] = truth_agreement(model, run, config.evaluation.truth)
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


def truth_agreement(model, run: Path, truth_path: Path) -> dict[str, float]:
    """How well a model's map recovers a reference susceptibility p (0–1) over every valid
    pixel: the expected ROC AUC of the model's index for landslides drawn from p (positives
    weighted by p, negatives by 1 − p; the reference's own value is the ceiling) and the
    Spearman rank correlation."""
    import numpy as np
    from scipy.stats import spearmanr

    from lsgh_ee.factors.stack import FactorStack
    from lsgh_ee.mapping import predict_codes
    from lsgh_ee.rasters import read_onto_grid

    stack = FactorStack.read(run)
    codes = stack.codes.reshape(len(stack.layers), -1).T
    counts = np.array([len(layer.classes) for layer in stack.layers])
    index = predict_codes(model, codes, counts)
    truth = read_onto_grid(truth_path, stack.grid).ravel()
    valid = np.isfinite(index) & np.isfinite(truth)
    return {
        "expected_auc": weighted_auc(index[valid], truth[valid]),
        "ceiling_auc": weighted_auc(truth[valid], truth[valid]),
        "spearman": float(spearmanr(index[valid], truth[valid]).statistic),
    }


def weighted_auc(score, p) -> float:
    """ROC AUC of ``score`` when each pixel is a positive with weight ``p`` and a negative
    with weight ``1 − p`` (ties count half): the AUC expected over inventories drawn from
    ``p``."""
    import numpy as np

    score = np.asarray(score, dtype="float64")
    p = np.asarray(p, dtype="float64")
    order = np.argsort(score, kind="mergesort")
    score, p = score[order], p[order]
    bounds = np.r_[0, np.flatnonzero(np.diff(score)) + 1, score.size]
    pos = np.add.reduceat(p, bounds[:-1])
    neg = np.add.reduceat(1 - p, bounds[:-1])
    below = np.cumsum(neg) - neg  # negative weight strictly below each tie group
    total = pos.sum() * neg.sum()
    return float(np.sum(pos * (below + neg / 2)) / total) if total else float("nan")


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
