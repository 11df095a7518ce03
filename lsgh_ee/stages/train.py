"""Stage ``train``: one model variant fitted on the run's training samples, saved as a
model bundle in ``models/<variant>/``."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsgh_ee.config import MODEL_VARIANTS
from lsgh_ee.errors import LsghError
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage


def train(
    config: ConfigLike,
    variant: str,
    *,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    force: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
    init_from: str | os.PathLike | None = None,
) -> StageResult:
    """Stage ``train:<variant>``: fit one model variant on the training samples and save its
    bundle. Variants that do not use soft samples (``cnn``, ``rf``) see the hard samples
    only. The bundle records the heatmap diameter the samples were drawn with.

    Args:
        epochs, seed: override ``training.epochs`` / ``training.seed``.
        on_epoch: called as ``on_epoch(epoch, logs)`` after each epoch (networks).
        init_from: a model bundle (another region's) to fine-tune: its factor schema must
            match this region's, training starts from its weights and only the head is
            trained (see :func:`lsgh_ee.model.finetune.fine_tune_start`).
    """
    config = as_config(config)
    if variant not in MODEL_VARIANTS:
        raise LsghError(f"unknown model {variant!r}; choose one of {', '.join(MODEL_VARIANTS)}")
    run = run_folder(config, run_dir)
    require(run, [run.samples], "sample")
    training = config.training.model_copy(
        update={k: v for k, v in {"epochs": epochs, "seed": seed}.items() if v is not None}
    )
    if init_from is not None:
        init_from = Path(init_from)
        from lsgh_ee.model.files import require_bundle
        from lsgh_ee.model.variants import keras_variants

        if variant not in keras_variants():
            raise LsghError(f"--init-from fine-tunes a network; {variant} cannot be fine-tuned")

        require_bundle(init_from)
    from lsgh_ee.model.variants import training_params, variant_class

    settings = training_params(variant_class(variant), training)
    params: dict[str, Any] = {"variant": variant, "training": settings}
    inputs = [run.samples, run.factor_schema]
    if init_from is not None:
        params["init_from"] = str(init_from.resolve())
        inputs += sorted(p for p in init_from.iterdir() if p.is_file())
    folder = run.model_dir(variant)

    def work() -> tuple[list[Path], dict]:
        from lsgh_ee.model import make_model, save_bundle
        from lsgh_ee.sampling import Samples
        from lsgh_ee.sampling.patches import model_inputs, run_codes

        samples = Samples.read_gpkg(run.samples).train
        diameter = samples.meta.get("heatmap_diameter")
        if diameter is None:
            raise LsghError(
                f"{run.samples} does not record its heatmap diameter (written by an older "
                "lsgh-ee); re-run 'lsgh-ee sample CONFIG --force'"
            )
        factor_schema = json.loads(run.factor_schema.read_text(encoding="utf-8"))
        if init_from is not None:
            from lsgh_ee.model.finetune import fine_tune_start

            model = fine_tune_start(init_from, variant, factor_schema, training=training,
                                    on_epoch=on_epoch)  # fmt: skip
        else:
            counts = [f["n_classes"] for f in factor_schema["factors"]]
            kinds = [f["kind"] for f in factor_schema["factors"]]
            model = make_model(variant, counts, factor_names=samples.factor_names,
                               factor_kinds=kinds, training=training,
                               on_epoch=on_epoch)  # fmt: skip
        if not model.uses_soft_samples:
            samples = samples.subset(samples.kind != "soft")
        validation = _validation_by_split(samples, variant, training, run, config)
        grid = _run_grid(run)
        # the class codes a patches model reads, strip by strip
        stack = run_codes(model, run.codes, config.output.rows_per_strip(grid.width))
        if validation is not None:
            samples, held_out = validation
            validation = (model_inputs(held_out, model, stack), held_out.label)
        groups = None
        if samples.meta.get("split") == "spatial":  # the forest's grid search: whole blocks
            groups = sample_blocks(samples, grid, float(samples.meta["block_size"]))
        start = time.perf_counter()
        model.fit(model_inputs(samples, model, stack), samples.label, validation=validation,
                  groups=groups)  # fmt: skip
        summary = {
            "variant": variant,
            "training_samples": len(samples),
            "soft_samples": int((samples.kind == "soft").sum()),
            "seconds": round(time.perf_counter() - start, 2),
            "epochs_run": len(model.history_.get("loss", [])) or None,
            "samples_per_second": round(model.samples_per_second_ or 0, 1),
        }
        if validation is not None:
            held = "blocks" if samples.meta.get("split") == "spatial" else "years"
            summary["validation"] = f"{len(validation[1])} hard samples of held-out {held}"
        if init_from is not None:
            summary["fine_tuned_from"] = str(init_from)
        save_bundle(folder, model, factor_schema,
                    heatmap_diameter=int(diameter),
                    training_hash=samples.digest(), extra={"training": summary})  # fmt: skip
        return sorted(p for p in folder.iterdir() if p.is_file()), summary

    return run_stage(f"train:{variant}", run, params, inputs, work, force)


def _validation_by_split(
    samples: Any, variant: str, training: Any, run: RunFolder, config: Any
) -> tuple | None:
    """A network's early-stopping set that follows the split's kind ((fit, validation)
    samples): under a spatial split whole training blocks, as far from its training
    samples as the test blocks are; under a temporal split the latest training years'
    landslides (and a share of the negatives), as a temporal fold does. Otherwise None:
    the network draws its validation share itself (random split), and the forest does
    not stop early."""
    from lsgh_ee.model.variants import keras_variants

    split = samples.meta.get("split")
    if split not in ("spatial", "temporal") or variant not in keras_variants():
        return None
    if not training.validation_fraction:
        return None
    from lsgh_ee.sampling.folds import block_validation, year_validation

    grid = _run_grid(run)
    try:
        if split == "spatial":
            return block_validation(samples, grid, float(samples.meta["block_size"]),
                                    training.validation_fraction, training.seed)  # fmt: skip
        from lsgh_ee.inventory import read_inventory
        from lsgh_ee.region import Region

        inventory = read_inventory(config.inventory, Region.from_config(config))
        return year_validation(samples, inventory, grid, config.inventory.date_attribute,
                               config.sampling.positives, training.validation_fraction,
                               training.seed)  # fmt: skip
    except LsghError as exc:  # too few blocks or years: the network's own random share
        logging.getLogger(__name__).warning("%s; early stopping on a random share instead", exc)
        return None


def _run_grid(run: RunFolder) -> Any:
    """The run's grid: the class-code raster's, or in an Earth Engine-native run (no
    class-code raster) the one the factor schema records."""
    from lsgh_ee.grid import Grid
    from lsgh_ee.rasters import stack_grid

    if run.codes.exists():
        return stack_grid(run.codes)
    return Grid.from_dict(json.loads(run.factor_schema.read_text(encoding="utf-8"))["grid"])


def sample_blocks(samples: Any, grid: Any, block_size: float) -> Any:
    """The block id ``(N,)`` of each sample: the square block of ``block_size`` metres
    (:class:`~lsgh_ee.sampling.splits.Blocks` on ``grid``) holding its pixel; None when
    such blocks do not divide the grid (one block, or blocks not larger than a pixel: a
    temporal cross-validation of a small region), and the forest's grid search then uses
    pixel folds."""
    from lsgh_ee.sampling.splits import Blocks

    try:
        blocks = Blocks.on(grid, block_size)
    except LsghError:
        return None
    return blocks.of(samples.rows * grid.width + samples.cols, grid.width)


def trained_models(run: RunFolder) -> list[str]:
    """Variants with a bundle in the run folder, in the paper's Table 4 order."""
    from lsgh_ee.model.files import is_bundle

    return [v for v in MODEL_VARIANTS if is_bundle(run.model_dir(v))]
