"""What the command line shows: stage results, Table 4 and zone shares, and a live
progress line (factors, Earth Engine tasks, epochs, map windows) on a terminal."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import typer

from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.progress import Progress
from lsgh_ee.stages.runner import StageResult


class TerminalProgress(Progress):
    """A transient rich progress line on stderr (nothing when stderr is not a terminal,
    except Earth Engine task polls, printed as lines); prints each finished stage."""

    def __init__(self, label: str = "lsgh-ee") -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from lsgh_ee.earthengine.tasks import TaskDisplay

        self._bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
            transient=True, disable=not sys.stderr.isatty(),
        )  # fmt: skip
        self._task = self._bar.add_task(label, total=None)
        self._lines = None if sys.stderr.isatty() else TaskDisplay("Earth Engine export")

    def __enter__(self) -> TerminalProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def _show(self, description: str, completed: int | None = None, total: int | None = None):
        self._bar.update(self._task, description=description, completed=completed or 0,
                         total=total)  # fmt: skip

    def factor(self, name: str, index: int, total: int) -> None:
        self._show(f"factor {name}", index, total)

    def task(self, status: Any) -> None:
        if self._lines is not None:
            self._lines(status)
            return
        shown = "" if status.progress is None else f" {status.progress:.0%}"
        self._show(f"Earth Engine export {status.state}{shown}")

    def epoch(self, variant: str, epoch: int, logs: dict) -> None:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if "loss" in k)
        self._show(f"train {variant}: epoch {epoch + 1}  {shown}")
        logging.getLogger("lsgh_ee").debug("%s epoch %d %s", variant, epoch + 1, shown)

    def mapping(self, variant: str, done: int, total: int) -> None:
        self._show(f"map {variant}", done, total)

    def stage_done(self, result: StageResult) -> None:
        print_result(result)


def print_result(result: StageResult) -> None:
    """A stage's outcome: state, outputs and the summary lines a user looks for."""
    state = "up to date" if result.skipped else f"done in {result.seconds:.1f} s"
    typer.echo(f"{result.stage}: {state} -> {result.run_dir}")
    for path in result.outputs:
        typer.echo(f"  {path}")
    summary = result.summary
    if summary.get("counts"):
        for split, kinds in summary["counts"].items():
            typer.echo(f"  {split}: " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
    if summary.get("training_samples"):
        rate = summary.get("samples_per_second")
        typer.echo(
            f"  trained on {summary['training_samples']} samples in "
            f"{summary['seconds']} s" + (f" ({rate:.0f} samples/s)" if rate else "")
        )
    if summary.get("pixels_per_second"):
        vectors = summary.get("distinct_vectors")  # None: a values model predicts every pixel
        detail = f", {vectors} distinct class-code vectors predicted" if vectors is not None else ""
        typer.echo(
            f"  {summary['valid_pixels']} pixels mapped{detail} "
            f"({summary['pixels_per_second']} px/s)"
        )
    if summary.get("inventory"):
        inv = summary["inventory"]
        typer.echo(f"  landslides kept: {inv['kept']} of {inv['read']}")
    if summary.get("importance_rank"):
        typer.echo(f"  importance (best first): {', '.join(summary['importance_rank'])}")
    for a, b, r in summary.get("collinear_pairs", []):
        typer.echo(f"  note: {a} and {b} are correlated (r = {r:.2f})")


def print_table(path: Path) -> None:
    """A Markdown table written by a stage, after a blank line."""
    typer.echo("\n" + path.read_text(encoding="utf-8"))


def print_run_summary(run: RunFolder) -> None:
    """After ``run``: Table 4, each model's high + very-high zone shares, where the report
    and the preview are."""
    print_table(run.table4_md)
    shares = json.loads(run.zoning.read_text(encoding="utf-8"))
    for model, z in shares.items():
        typer.echo(f"{model:12s} high + very high zones: {z['high_very_high_area_share']:6.1%} "
                   f"of the area, {z['high_very_high_landslide_share']:6.1%} of the landslide "
                   f"pixels; success-rate AUC {z['success_auc']:.3f}")  # fmt: skip
    typer.echo(f"\nreport: {run.report}")
    if run.preview.exists():
        typer.echo(f"map preview: {run.preview}")
