"""Commands over the studies: cv, compare-cv, scale-study and transfer-eval."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lsgh_ee.cli.core import command
from lsgh_ee.cli.display import TerminalProgress, print_result, print_table
from lsgh_ee.cli.options import ConfigArg, EpochsOption, ForceOption, ModelsOption, OutOption
from lsgh_ee.runfolder import RunFolder


def model_names(values: list[str] | None) -> list[str] | None:
    """The models of ``-m rf -m lsgh`` or ``-m rf,lsgh`` (None when none was given)."""
    return [m for value in values for m in value.split(",") if m] if values else None


@command("scale-study", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def scale_study(
    ctx: typer.Context,
    config: ConfigArg,
    diameters: Annotated[
        list[int],
        typer.Option("--diameters", "-d", help="Heatmap diameters in pixels: -d 7 13 19."),
    ] = [7, 13, 19],  # noqa: B006 - typer needs a literal default
    epochs: EpochsOption = None,
    cv_folds: Annotated[
        int | None,
        typer.Option(
            "--cv",
            help="Cross-validate each diameter with this many spatial folds instead "
            "(needs export-factors only).",
        ),
    ] = None,
    out: OutOption = None,
    force: ForceOption = False,
) -> None:
    """The paper's scale study: one LSGH-Net per heatmap diameter on one shared test set.

    Writes scale_study/table.csv and .md (AP, AUC, ... per diameter) and
    scale_study/pr_curves.png. Needs the sample stage first. With --cv K: a K-fold
    spatially blocked cross-validation per diameter (scale_study/cv-D<d>/) and
    scale_study/cv_table.csv and .md (AUC and AP with 95% intervals, and each diameter's
    fold-paired AUC difference from the config's diameter).
    """
    from lsgh_ee.errors import LsghError
    from lsgh_ee.stages import scale_study as study

    extra = [a for a in ctx.args if not a.isdigit()]
    if extra:
        raise LsghError(
            f"unexpected argument(s) {' '.join(extra)}; see 'lsgh-ee scale-study --help'"
        )
    diameters = [*diameters, *(int(a) for a in ctx.args)]
    with TerminalProgress("scale study") as show:
        result = study(config, diameters, run_dir=out, epochs=epochs, folds=cv_folds,
                       force=force,
                       on_epoch=lambda e, logs: show.epoch("lsgh", e, logs))  # fmt: skip
    print_result(result)
    run = RunFolder(result.run_dir)
    if cv_folds is None:
        print_table(run.study_table(run.scale_study))
    else:
        print_table(result.outputs[-1])


@command("transfer-eval")
def transfer_eval(
    train_config: Annotated[
        Path, typer.Option("--train", help="Config of the region the models learn from.")
    ],
    test_config: Annotated[
        Path, typer.Option("--test", help="Config of the region they are scored on.")
    ],
    models: Annotated[
        list[str] | None,
        typer.Option("--models", "-m", help="Variants (default: the training config's)."),
    ] = None,
    epochs: EpochsOption = None,
    force: ForceOption = False,
) -> None:
    """Train on region A, score on region B: how well the method transfers.

    Runs A's stages as needed (export-factors, sample, train), B's export-factors and
    sample, then scores every model on all of B's hard samples (AUC, AP) and maps B
    (success-rate AUC, high + very-high zone shares). Writes
    <A run>/transfer/<A>_to_<B>/table.csv, table.md, zones_<model>.csv, success_rate.png.
    """
    from lsgh_ee.stages import transfer_eval as study

    result = study(train_config, test_config, models=models, epochs=epochs, force=force)
    print_result(result)
    print_table(RunFolder(result.run_dir).study_table(Path(result.summary["folder"])))


@command("cv")
def cv(
    config: ConfigArg,
    folds: Annotated[int, typer.Option("--folds", "-k", help="Number of folds.")] = 5,
    repeats: Annotated[
        int, typer.Option("--repeats", help="Repeats of the k-fold (ties reshuffled).")
    ] = 1,
    models: ModelsOption = None,
    buffer: Annotated[
        float,
        typer.Option("--buffer", help="Metres of training ground left out around each test fold."),
    ] = 0.0,
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="spatial (folds of whole blocks) or temporal (folds of year groups)."
        ),
    ] = "spatial",
    ensemble: Annotated[
        str | None,
        typer.Option(
            "--ensemble",
            help="Comma-separated models whose scores are averaged into one more model, "
            "'ensemble' (e.g. rf-raw,lsgh).",
        ),
    ] = None,
    epochs: EpochsOption = None,
    out: OutOption = None,
    force: ForceOption = False,
) -> None:
    """Spatially blocked k-fold cross-validation: Table 4 as mean ± 95% CI per model.

    Folds are whole blocks of sampling.block_size metres, balanced by landslide count;
    each fold's heatmap, soft samples, negatives and early-stopping blocks come from its
    training landslides only. Writes cv/folds.csv, cv/table4_cv.csv and .md,
    cv/paired.csv and .md (model differences), cv/fold_auc.png and cv/cv.json.
    --kind temporal: folds of consecutive years (inventory.date_attribute), each tested
    once. Needs export-factors first.
    """
    from lsgh_ee.stages import cv as study

    models = model_names(models)

    with TerminalProgress("cross-validation") as show:
        result = study(config, folds=folds, repeats=repeats, models=models, run_dir=out,
                       epochs=epochs, buffer=buffer, kind=kind, force=force,
                       ensemble=[m for m in (ensemble or "").split(",") if m],
                       on_epoch=lambda label, e, logs: show.epoch(label, e, logs))  # fmt: skip
    print_result(result)
    run = RunFolder(result.run_dir)
    print_table(run.cv_file(run.CV_TABLE_MD))
    print_table(run.cv_file(run.CV_PAIRS_MD))


@command("compare-cv")
def compare_cv(
    base: Annotated[
        str,
        typer.Argument(
            help="The base run: a run folder with cv/ (or LABEL=FOLDER).", show_default=False
        ),
    ],
    others: Annotated[
        list[str],
        typer.Argument(help="Runs compared with it, same forms.", show_default=False),
    ],
    models: ModelsOption = None,
    versus: Annotated[
        str | None,
        typer.Option(
            "--versus", help="Compare every model with this model of the base run (e.g. rf-raw)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Markdown file for the table (a .csv of it next to it)."),
    ] = None,
) -> None:
    """An ablation: each model's fold-paired difference between cv runs (AUC, AP, Brier).

    Run 'lsgh-ee cv' once per setting (one config each, its own output.dir), then compare:
    lsgh-ee compare-cv paper=runs/paper more-factors=runs/plus8 -m lsgh -m rf-raw.
    The runs must have cut the same folds (same inventory, block size and seed); this is
    checked fold by fold.
    """
    from lsgh_ee.stages import compare_cv as study

    models = model_names(models)
    result = study(base, others, models=models, versus=versus, out=out)
    typer.echo(result.summary["markdown"])
    for path in result.outputs:
        typer.echo(f"  {path}")
