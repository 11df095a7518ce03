"""Study ``cv``: spatially blocked k-fold cross-validation of the model variants, with
mean ± 95% intervals and paired differences (DESIGN.md, "Evaluation contract").

Folds are sets of whole blocks balanced by landslide count; per fold the heatmap, the soft
samples, the negatives' exclusion zones and the early-stopping validation set (whole
training blocks) come from the training landslides only, and the test samples are hard
samples drawn in the test fold from its own landslides (see :mod:`lsgh_ee.sampling.folds`).
Factors with data-driven classes (``classify: quantile | natural``) get their breaks
recomputed per spatial fold from the pixels outside the test fold
(:mod:`lsgh_ee.factors.reclassify`; they use no labels, so this is strictness rather than a
leak closed); ``cv.json`` lists them per fold (``breaks_recomputed``). Temporal folds share
the ground of every period and keep the region-wide breaks.
Intervals: :mod:`lsgh_ee.evaluation.crossval`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from lsgh_ee.atomic import write_text
from lsgh_ee.config import MODEL_VARIANTS
from lsgh_ee.errors import LsghError
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config, require, run_folder, run_stage


def cv(
    config: ConfigLike,
    *,
    folds: int = 5,
    repeats: int = 1,
    models: list[str] | None = None,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    buffer: float = 0.0,
    kind: str = "spatial",
    ensemble: list[str] | None = None,
    folder: str | os.PathLike | None = None,
    test_diameter: int | None = None,
    force: bool = False,
    on_epoch: Callable[[str, int, dict], None] | None = None,
) -> StageResult:
    """Spatially blocked (or temporal) ``folds``-fold cross-validation, ``repeats`` times,
    of ``models`` (default: the config's ``training.models``). Needs ``export-factors``.

    Writes into ``cv/``: ``folds.csv`` (repeat, fold, model, AUC, AP, Brier score of the
    scores and, ``brier_raw``, of the uncalibrated ones, test samples),
    ``table4_cv.csv``/``.md`` (mean ± 95% CI per model), ``paired.csv``/``.md`` (every
    model pair's fold-paired difference with its interval), ``fold_auc.png`` and
    ``cv.json``.

    Args:
        folds, repeats: k and the number of k-fold repeats (each reshuffles the ties of
            the fold assignment).
        epochs: override ``training.epochs``.
        buffer: metres of training ground left out around each test fold (default 0;
            spatial folds only).
        kind: ``spatial`` (folds of whole blocks) or ``temporal`` (folds of consecutive
            years, by ``inventory.date_attribute``).
        ensemble: two or more of ``models`` whose (calibrated, when
            ``training.calibration`` is set) scores are averaged into one more model,
            ``ensemble``, scored per fold like the others (its map: the members' mean).
        folder: where the study writes, relative to the run folder (default ``cv``); a
            study in another folder is its own stage in the manifest (``cv <folder>``),
            so several (e.g. the scale study's, one per heatmap diameter) live side by side.
        test_diameter: draw each fold's test samples as a run with this heatmap diameter
            (pixels) would, and leave them out of training: the negatives' exclusion zones
            grow with the diameter, so without it a larger diameter tests on negatives
            farther from landslides, an easier test (the scale study sets it to the base
            diameter, so every diameter is scored on the same samples).
        on_epoch: called as ``on_epoch(label, epoch, logs)``, label ``"<model> r<i> f<k>"``.

    Example::

        import lsgh_ee as lg
        result = lg.cv("region.yaml", folds=5, models=["rf", "lsgh"])
        print(result.summary["table"])
    """
    config = as_config(config)
    run = run_folder(config, run_dir)
    require(run, [run.codes, run.factor_schema], "export-factors")
    models = list(models or config.training.models)
    unknown = [m for m in models if m not in MODEL_VARIANTS]
    if unknown:
        raise LsghError(f"unknown model(s) {', '.join(unknown)}; choose from "
                        f"{', '.join(MODEL_VARIANTS)}")  # fmt: skip
    if folds < 2 or repeats < 1:
        raise LsghError(f"--folds must be >= 2 and --repeats >= 1 (got {folds}, {repeats})")
    if kind not in ("spatial", "temporal"):
        raise LsghError(f"kind must be 'spatial' or 'temporal', got {kind!r}")
    if kind == "temporal" and config.inventory.date_attribute is None:
        raise LsghError(
            "temporal cross-validation needs the landslides' dates: set "
            "inventory.date_attribute, or use --kind spatial"
        )
    if buffer < 0:
        raise LsghError(f"buffer must be >= 0 metres, got {buffer}")
    ensemble = list(dict.fromkeys(ensemble or []))
    if ensemble and (len(ensemble) < 2 or not set(ensemble) <= set(models)):
        raise LsghError(
            f"--ensemble needs two or more of the cross-validated models ({', '.join(models)}),"
            f" got {', '.join(ensemble) or 'none'}; e.g. --ensemble rf-raw,lsgh"
        )
    _require_memory_for(run, models, bool(ensemble))
    training = config.training.model_copy(update={"epochs": epochs} if epochs else {})
    if kind == "temporal":
        repeats = 1  # year groups are fixed: a repeat would give the same folds
    params = {"kind": kind, "folds": folds, "repeats": repeats, "models": models, "buffer": buffer,
              **({"test_diameter": test_diameter} if test_diameter is not None else {}),
              "ensemble": ensemble,
              "training": training.model_dump(mode="json"),
              "sampling": config.sampling.model_dump(mode="json"),
              "heatmap": config.heatmap.model_dump(mode="json"),
              "date_attribute": config.inventory.date_attribute,
              "truth": None if config.evaluation.truth is None
              else str(config.evaluation.truth)}  # fmt: skip
    inputs = [run.codes, run.factors, run.factor_schema, *config.inventory.paths]
    if config.evaluation.truth is not None:
        inputs.append(config.evaluation.truth)
    out = run.cv if folder is None else run.path / folder
    stage = "cv" if folder is None else f"cv {Path(folder).as_posix()}"

    def work() -> tuple[list[Path], dict]:
        import numpy as np
        import pandas as pd

        from lsgh_ee.evaluation import average_precision, roc_auc
        from lsgh_ee.evaluation import crossval as cvs
        from lsgh_ee.evaluation.calibration import brier_score
        from lsgh_ee.evaluation.foldmaps import FoldMaps, truth_auc_in
        from lsgh_ee.factors.reclassify import breaks_within
        from lsgh_ee.factors.stack import FactorStack
        from lsgh_ee.inventory import read_inventory
        from lsgh_ee.mapping import predict_layers
        from lsgh_ee.model import make_model
        from lsgh_ee.region import Region
        from lsgh_ee.sampling.folds import (
            draw_fold,
            draw_year_fold,
            plan_folds,
            plan_year_folds,
            with_test_set,
        )
        from lsgh_ee.sampling.patches import model_inputs
        from lsgh_ee.stages.train import sample_blocks

        start = time.perf_counter()
        stack = FactorStack.read(run.path)
        inventory = read_inventory(config.inventory, Region.from_config(config))
        seed = config.sampling.seed
        rows, fold_info = [], []
        maps = FoldMaps(stack.grid.shape)

        def scored(name: str, score, raw, index) -> dict:
            """The current fold's row of ``name`` (its test scores, their uncalibrated
            values, its whole map); reads the loop's ``r``, ``k``, ``test`` and ``part``."""
            maps.add(name, index)
            row = {"repeat": r + 1, "fold": k + 1, "model": name,
                   "auc": roc_auc(test.label, score),
                   "ap": average_precision(test.label, score),
                   "brier": brier_score(test.label, score),
                   "brier_raw": brier_score(test.label, raw),
                   "n_test": len(test),
                   "n_test_positive": int((test.label == 1).sum())}  # fmt: skip
            if truth is not None:  # over the test fold's pixels
                row["expected_auc"] = truth_auc_in(index, truth, part.test_area)
            return row

        truth = None
        if config.evaluation.truth is not None:
            from lsgh_ee.rasters import read_onto_grid

            truth = read_onto_grid(config.evaluation.truth, stack.grid)
        for r in range(repeats):
            if kind == "temporal":
                years = plan_year_folds(stack, inventory, config.inventory.date_attribute, folds)
            else:
                plan = plan_folds(stack, inventory, config.sampling.block_size, folds,
                                  np.random.default_rng([seed, r]))  # fmt: skip
            for k in range(folds):
                fold_stack, recomputed = stack, []
                if kind == "spatial":  # data-driven breaks from outside the test fold only
                    fold_stack, recomputed = breaks_within(stack, ~plan.test_area(k), seed=seed)
                drawn = []  # the fold's samples, then (test_diameter) its test set's
                for diameter in dict.fromkeys(
                    [config.heatmap_diameter, test_diameter or config.heatmap_diameter]
                ):
                    if kind == "temporal":
                        drawn.append(draw_year_fold(
                            fold_stack, inventory, config.sampling, diameter, years, k,
                            validation_fraction=training.validation_fraction,
                            seed=seed))  # fmt: skip
                    else:
                        drawn.append(draw_fold(
                            fold_stack, inventory, config.sampling, diameter, plan, k,
                            validation_fraction=training.validation_fraction,
                            seed=seed + 7919 * r, buffer=buffer))  # fmt: skip
                part = drawn[0]
                if len(drawn) == 2:
                    part = with_test_set(part, drawn[1].test, stack.grid.width)
                test, val = part.test, part.validation
                fold_info.append({"repeat": r + 1, "fold": k + 1,
                                  "landslides": {"fit": int(part.fit_landslides.size),
                                                 "validation": int(part.validation_landslides.size),
                                                 "test": int(part.test_landslides.size)},
                                  "samples": {"train": len(part.train), "validation": len(val),
                                              "test": len(test)},
                                  "breaks_recomputed": recomputed,
                                  "test_landslides":
                                      landslide_digest(part.test_landslides),
                                  "test_samples": test_digest(test)})  # fmt: skip
                counts = [len(layer.classes) for layer in fold_stack.layers]
                if kind == "temporal":
                    span = years.years[years.group == k]
                    fold_info[-1]["test_years"] = [int(span.min()), int(span.max())]
                member: dict[str, tuple] = {}  # the ensemble members' (test scores, map)
                for variant in models:
                    label = f"{variant} r{r + 1} f{k + 1}"
                    hook = None
                    if on_epoch is not None:
                        hook = lambda e, logs, lb=label: on_epoch(lb, e, logs)  # noqa: E731
                    model = make_model(variant, counts, factor_names=stack.names,
                                       factor_kinds=[layer.kind for layer in stack.layers],
                                       training=training, on_epoch=hook)  # fmt: skip
                    train = part.train
                    if not model.uses_soft_samples:
                        train = train.subset(train.kind != "soft")
                    codes = fold_stack.codes if model.input_kind == "patches" else None
                    groups = sample_blocks(train, stack.grid, config.sampling.block_size)
                    model.fit(model_inputs(train, model, codes), train.label,
                              validation=(model_inputs(val, model, codes), val.label),
                              groups=groups)  # fmt: skip
                    x_test = model_inputs(test, model, codes)  # codes, values or patches
                    score = model.predict(x_test)
                    raw = model.predict(x_test, calibrated=False)
                    index = predict_layers(model, fold_stack)  # the fold model's whole map
                    rows.append(scored(variant, score, raw, index))
                    if variant in ensemble:
                        member[variant] = (score, raw, index)
                if ensemble:  # the members' mean score, map and raw score
                    parts = [member[m] for m in ensemble]
                    rows.append(scored("ensemble", *(np.mean([p[i] for p in parts], axis=0)
                                                     for i in range(3))))  # fmt: skip
        per_fold = pd.DataFrame(rows, columns=list(cvs.FOLD_COLUMNS))
        correction = cvs.correction_for(folds, repeats)
        table = cvs.summary_table(per_fold, correction)
        pairs = cvs.paired_differences(per_fold, correction)
        out.mkdir(parents=True, exist_ok=True)
        if kind == "temporal":
            title = f"{config.name}: {folds}-fold temporal CV (consecutive year groups)"
        else:
            title = (f"{config.name}: {folds}-fold spatially blocked CV"
                     + (f", {repeats} repeats" if repeats > 1 else "")
                     + f" (blocks of {config.sampling.block_size:g} m)")  # fmt: skip
        outputs = []
        write_text(out / run.CV_FOLDS_CSV, per_fold.round(6).to_csv(index=False))
        write_text(out / run.CV_TABLE_CSV, table.round(6).to_csv())
        write_text(out / run.CV_PAIRS_CSV, pairs.round(6).to_csv(index=False))
        outputs += [out / n for n in (run.CV_FOLDS_CSV, run.CV_TABLE_CSV,
                                             run.CV_PAIRS_CSV)]  # fmt: skip
        interval = ("Student t over the fold values" if correction == 0 else
                    "Student t over the fold values, variance corrected by 1/(k-1) "
                    "for repeats (Nadeau-Bengio)")  # fmt: skip
        note = f"95% CI: {interval}. Intervals from {folds * repeats} folds.\n"
        outputs.append(cvs.write_markdown(out / run.CV_TABLE_MD,
                                          cvs.summary_markdown(table, f"## {title}") + "\n"
                                          + note))  # fmt: skip
        outputs.append(cvs.write_markdown(out / run.CV_PAIRS_MD,
                                          cvs.pairs_markdown(pairs)))  # fmt: skip
        outputs.append(maps.write(out / run.CV_MAPS_TIF, stack.grid))
        outputs.append(cvs.plot_fold_auc(per_fold, table, out / run.CV_AUC_PNG,
                                         title=title))  # fmt: skip
        summary = {
            "kind": kind,
            "folds": folds,
            "repeats": repeats,
            "block_size": config.sampling.block_size,
            "buffer": buffer,
            "interval": interval,
            "models": models,
            "table": json.loads(table.to_json(orient="index")),
            "paired": json.loads(pairs.to_json(orient="records")),
            "fold_details": fold_info,
            "seconds": round(time.perf_counter() - start, 1),
        }
        write_text(out / run.CV_JSON, json.dumps(summary, indent=2))
        outputs.append(out / run.CV_JSON)
        return outputs, summary

    return run_stage(stage, run, params, inputs, work, force)


def landslide_digest(indices) -> str:
    """A short digest of a fold's test landslides (inventory row indices, in any order):
    two cv runs cut the same folds when every fold's digest matches
    (:func:`lsgh_ee.stages.compare_cv.compare_cv` checks it)."""
    import hashlib

    import numpy as np

    ordered = np.sort(np.asarray(indices, dtype=np.int64).ravel())
    return hashlib.sha256(ordered.tobytes()).hexdigest()[:16]


def test_digest(test) -> str:
    """A short digest of a fold's test samples' pixels and labels (not their factors): two
    cv runs scored their models on the same test set when every fold's digest matches."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for array in (test.rows, test.cols, test.label):
        h.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _require_memory_for(run, models: list[str], ensemble: bool) -> None:
    """Refuse, in one line, a cross-validation whose whole-grid arrays would not fit."""
    from lsgh_ee.headroom import require_memory
    from lsgh_ee.rasters import open_raster

    with open_raster(run.codes) as src:  # the header only
        rows, cols, bands = src.height, src.width, src.count
    require_memory(
        cv_memory(rows * cols, bands, models, ensemble),
        f"cv of a {rows:,} x {cols:,} grid (it holds the whole factor stack and every "
        "model's fold maps)",
        "cross-validate on a smaller AOI or a coarser 'resolution' (the map stages stream "
        "and have no such limit)",
    )


def cv_memory(pixels: int, n_factors: int, models: list[str], ensemble: bool) -> int:
    """A rough peak (bytes) of :func:`cv` on a grid of ``pixels`` with ``n_factors``: the
    factor stack (float32 values and uint8 codes) and a fold's recomputed codes, 6 B per
    factor; the truth raster, 4 B; per mapped model (the ensemble too) its fold-map sums
    (two float64) and its fold map (float32), 20 B; and the largest whole-map prediction's
    temporaries: class codes (the F-byte vectors, an int64 inverse, the float32 map),
    raw values (a float32 copy) or patches (a 3 × 3 window of codes per factor); plus a
    quarter for what the sum leaves out. Calibrated on the demo (9 factors, ``-m rf -m
    rf-raw``, 2 folds): peak RSS grew by 156 bytes per pixel from 0.1 to 0.88 M pixels,
    where the sum is 138 (so 172 with the quarter)."""
    f = n_factors
    per_model = {"rf-raw": 4 * f + 4, "lsgh-ctx": 9 * f + 4}
    transient = max(per_model.get(m, f + 12) for m in models)
    maps = len(models) + int(ensemble)
    return pixels * (6 * f + 4 + 20 * maps + transient) * 5 // 4
