"""Commands that take results out of the run folder: preview, upload, export-model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lsgh_ee.cli.core import command
from lsgh_ee.cli.options import ConfigArg, ModelOption, OutOption


@command()
def preview(
    config: ConfigArg,
    out: OutOption = None,
    model: ModelOption = "lsgh",
    html: Annotated[
        Path | None, typer.Option("--html", help="Page to write (default: RUN/preview.html).")
    ] = None,
    self_contained: Annotated[
        bool,
        typer.Option(
            "--self-contained/--cdn",
            help="Inline Leaflet from an installed copy so the page works offline, or load "
            "it and geemap's map controls from their CDNs.",
        ),
    ] = True,
    basemap: Annotated[
        str,
        typer.Option(
            help="Basemap: OpenStreetMap, another geemap basemap (e.g. SATELLITE, TERRAIN) "
            "or none. Its tiles need the internet; the map layers do not."
        ),
    ] = "OpenStreetMap",
    earth_engine: Annotated[
        bool | None,
        typer.Option(
            "--earth-engine/--no-earth-engine",
            help="Add the maps uploaded with 'lsgh-ee upload' (RUN/ee_assets.json) as Earth "
            "Engine layers on top (their tile URLs expire after about a day). Default: when "
            "uploaded and Earth Engine credentials are configured.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write an HTML map of the susceptibility index and zones, the landslides, the AOI
    and the factors (off by default), with a layer control and a legend.

    The rasters are embedded in the page, so it keeps working on its own (open it in a
    browser or a notebook). Needs the predict stage first. Online, the maps uploaded to
    Earth Engine are shown from Earth Engine on top of the embedded ones.
    """
    from lsgh_ee.region import Region
    from lsgh_ee.report.preview import write_preview
    from lsgh_ee.stages.runner import as_config, run_folder

    cfg = as_config(config)
    run = run_folder(cfg, out)
    aoi = Region.from_config(cfg).aoi  # in the grid CRS, as the run's rasters
    written = write_preview(run.path, html if html is not None else run.preview, model=model,
                            aoi=aoi, self_contained=self_contained, basemap=basemap,
                            config=cfg, earth_engine=earth_engine)  # fmt: skip
    typer.echo(f"preview: {written}")


@command()
def upload(
    config: ConfigArg,
    model: ModelOption = "lsgh",
    out: OutOption = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace assets that already exist.")
    ] = False,
    mode: Annotated[
        str,
        typer.Option(
            help="'ingest' copies the maps into Earth Engine (an ingestion task); 'cog' "
            "registers the staged cloud-optimised GeoTIFFs as Cloud GeoTIFF-backed assets."
        ),
    ] = "ingest",
) -> None:
    """Upload a model's susceptibility map and five-class zone map to Earth Engine assets.

    Stages them in the config's Cloud Storage bucket (earthengine.bucket), ingests them as
    <asset_folder>/<name>_<model>_susceptibility and _zones with band names, nodata and
    properties (model, schema hash, run id), waits for the tasks, prints the asset ids and
    records them in RUN/ee_assets.json.
    """
    from lsgh_ee.earthengine.tasks import TaskDisplay
    from lsgh_ee.errors import LsghError
    from lsgh_ee.stages import upload as stage

    if mode not in ("ingest", "cog"):
        raise LsghError(f"--mode must be ingest or cog, got {mode!r}")
    with TaskDisplay(f"upload {model}") as display:
        result = stage(config, model, run_dir=out, mode=mode, overwrite=overwrite,
                       progress=display)  # fmt: skip
    state = "up to date" if result.skipped else f"done in {result.seconds:.1f} s"
    typer.echo(f"{result.stage}: {state} -> {result.run_dir}")
    for asset_id in result.summary.get("assets", []):
        typer.echo(f"  asset {asset_id}")


@command("export-model")
def export_model(
    config: ConfigArg,
    model: ModelOption = "lsgh",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="SavedModel folder (default: <run>/savedmodel/<model>/)."),
    ] = None,
) -> None:
    """Export a trained model as a TensorFlow SavedModel for a Vertex AI endpoint.

    The SavedModel takes the class-code bands the way Earth Engine's predictImage sends
    them; the commands to deploy it and to map with it are printed.
    """
    from lsgh_ee.stages import export_model as stage

    folder = stage(config, model, out=out)
    from lsgh_ee.model.savedmodel import deployment_commands

    typer.echo(f"wrote {folder}")
    typer.echo(deployment_commands(folder, model, str(config)))
