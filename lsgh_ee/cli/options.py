"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lsgh_ee.config import MODEL_VARIANTS

ConfigArg = Annotated[
    Path, typer.Argument(help="Region config (YAML); paths inside are relative to it.")
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Run folder (default: the config's output.dir)."),
]
EpochsOption = Annotated[
    int | None, typer.Option(help="Maximum epochs (default: training.epochs, 200).")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Re-run even when the outputs are up to date.")
]
ModelOption = Annotated[
    str,
    typer.Option("--model", "-m", help=f"Model variant: {', '.join(reversed(MODEL_VARIANTS))}."),
]
ModelsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--models",
        "-m",
        help="Variants, repeat the option: -m rf -m lsgh (default: training.models).",
    ),
]
