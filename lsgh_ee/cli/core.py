"""The ``lsgh-ee`` typer application, its global options and the rule for errors: user
mistakes (:class:`LsghError`) end with one line on stderr and their exit code (2); Ctrl-C
with 130. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any

import typer

from lsgh_ee import __version__
from lsgh_ee.errors import LsghError

app = typer.Typer(
    name="lsgh-ee",
    help="Landslide susceptibility mapping with Gaussian-heatmap samples (LSGH-Net) "
    "and Google Earth Engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user mistakes into one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LsghError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: finished outputs are kept; re-run to resume", err=True)
            raise typer.Exit(130) from None

    return wrapper


def command(name: str | None = None, **settings: Any) -> Callable[..., Any]:
    """Register a command on :data:`app` with the error rule applied."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        return app.command(name, **settings)(user_errors(func))

    return register


def _setup_logging(verbose: bool) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    handler = RichHandler(
        console=Console(stderr=True), show_time=False, show_path=False, markup=False
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("lsgh_ee").setLevel(logging.INFO if verbose else logging.WARNING)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lsgh-ee {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show progress notes.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Landslide susceptibility maps from a region config."""
    _setup_logging(verbose)
