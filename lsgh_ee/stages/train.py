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
        if variant == "rf":
            raise LsghError("--init-from fine-tunes a network; rf cannot be fine-tuned")
        from lsgh_ee.model.files import require_bundle

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
            model = make_model(variant, counts, factor_names=samples.factor_names,
                               training=training, on_epoch=on_epoch)  # fmt: skip
        if not model.uses_soft_samples:
            samples = samples.subset(samples.kind != "soft")
        validation = _validation_by_split(samples, variant, training, run)
        if validation is not None:
            samples, held_out = validation
            validation = (held_out.codes, held_out.label)
        groups = None
        if samples.meta.get("split") == "spatial":  # the forest's grid search: whole blocks
            from lsgh_ee.rasters import read_stack

            grid = read_stack(run.codes)[1]
            groups = sample_blocks(samples, grid, float(samples.meta["block_size"]))
        start = time.perf_counter()
        model.fit(samples.codes, samples.label, validation=validation, groups=groups)
        summary = {
            "variant": variant,
            "training_samples": len(samples),
            "soft_samples": int((samples.kind == "soft").sum()),
            "seconds": round(time.perf_counter() - start, 2),
            "epochs_run": len(model.history_.get("loss", [])) or None,
            "samples_per_second": round(model.samples_per_second_ or 0, 1),
        }
        if validation is not None:
            summary["validation"] = f"{len(validation[1])} hard samples of held-out blocks"
        if init_from is not None:
            summary["fine_tuned_from"] = str(init_from)
        save_bundle(folder, model, factor_schema,
                    heatmap_diameter=int(diameter),
                    training_hash=samples.digest(), extra={"training": summary})  # fmt: skip
        return sorted(p for p in folder.iterdir() if p.is_file()), summary

    return run_stage(f"train:{variant}", run, params, inputs, work, force)


def _validation_by_split(samples: Any, variant: str, training: Any, run: RunFolder) -> tuple | None:
    """Under a spatial split a network's early-stopping set is whole training blocks, as
    far from its training samples as the test blocks are ((fit, validation) samples);
    otherwise None: the network draws its validation share itself (random split), and the
    forest does not stop early."""
    from lsgh_ee.model.variants import keras_variants

    meta = samples.meta
    if meta.get("split") != "spatial" or variant not in keras_variants():
        return None
    if not training.validation_fraction:
        return None
    from lsgh_ee.rasters import read_stack
    from lsgh_ee.sampling.folds import block_validation

    _, grid, _ = read_stack(run.codes)
    try:
        return block_validation(samples, grid, float(meta["block_size"]),
                                training.validation_fraction, training.seed)  # fmt: skip
    except LsghError as exc:  # too few blocks: the network's own random validation share
        logging.getLogger(__name__).warning("%s; early stopping on a random share instead", exc)
        return None


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
