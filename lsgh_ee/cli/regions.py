"""Commands for a new region: init (a ready config) and check (a config and its inputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lsgh_ee.cli.core import command
from lsgh_ee.cli.options import ConfigArg


@command()
def check(config: ConfigArg) -> None:
    """Check a config and its inputs without computing anything.

    Loads the config, builds the grid (CRS, resolution, shape), opens every factor source
    (its CRS and the share of the AOI it has data on; factors without a source are left
    out) and reads the inventory (features, kind, CRS, how many inside the AOI). Prints a
    table; exits 0 when the config is usable, 2 with one line per problem otherwise.
    """
    from lsgh_ee.regions.check import check_config

    report = check_config(config)
    if report.rows:
        typer.echo(report.table())
    if report.grid:
        g = report.grid
        typer.echo(f"\ngrid: {g['crs']}, {g['resolution']:g} m, {g['shape'][0]} x "
                   f"{g['shape'][1]} pixels ({g['aoi_pixels']} inside the AOI)")  # fmt: skip
    for note in report.notices:
        typer.echo(f"note: {note}")
    if not report.ok:
        for error in report.errors:
            typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{config}: usable")


@command()
def init(
    region_dir: Annotated[Path, typer.Argument(help="Folder for the new region's configs.")],
    bbox: Annotated[
        tuple[float, float, float, float] | None,
        typer.Option("--bbox", help="West south east north, degrees (WGS 84)."),
    ] = None,
    aoi: Annotated[
        Path | None, typer.Option("--aoi", help="A vector file outlining the AOI instead.")
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(help="The landslide inventory (referenced by a relative path)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Region name (default: the folder's name).")
    ] = None,
    resolution: Annotated[float, typer.Option(help="Grid resolution in metres.")] = 30.0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing configs.")] = False,
) -> None:
    """Write a ready region config for a bounding box (or AOI file).

    REGION_DIR/region.yaml uses Earth Engine sources (SRTM DEM, Landsat NDVI, WorldCover
    land use, HydroSHEDS rivers); REGION_DIR/region-local.yaml names local files, with a
    comment on what each must be. The UTM zone of the AOI is noted; check the result with
    'lsgh-ee check'.
    """
    from lsgh_ee.regions.init import init_region

    for path in init_region(region_dir, bbox=bbox, aoi=aoi, inventory=inventory, name=name,
                            resolution=resolution, force=force):  # fmt: skip
        typer.echo(f"wrote {path}")
    typer.echo(f"next: lsgh-ee check {Path(region_dir) / 'region.yaml'}")
