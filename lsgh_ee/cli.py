"""The ``lsgh-ee`` command line: one command per pipeline stage.

User mistakes (:class:`LsghError`) end with one line on stderr and exit code 2; Ctrl-C
with exit code 130. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
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


def _setup_logging(verbose: bool) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    handler = RichHandler(
        console=Console(stderr=True), show_time=False, show_path=False, markup=False
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("lsgh_ee").setLevel(logging.INFO if verbose else logging.WARNING)


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


@app.command("export-factors")
@user_errors
def export_factors_cmd(
    config: ConfigArg,
    backend: Annotated[
        str,
        typer.Option(
            help="Where factors are computed: 'local' (files named in the config) or 'ee' "
            "(Earth Engine; needs credentials)."
        ),
    ] = "local",
    out: OutOption = None,
    force: ForceOption = False,
    export_mode: Annotated[
        str | None,
        typer.Option(
            help="With --backend ee, how pixels leave Earth Engine: 'download' (tiled), "
            "'gcs' (batch export via earthengine.bucket) or 'asset' (batch export to an "
            "asset). Default: the config's earthengine.export.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Compute the factor layers, classify them and write the factor report.

    Writes factors.tif (values), class_codes.tif (uint8 model input), factor_schema.json,
    inventory.gpkg, factor_correlation.csv, factor_importance.csv and factor_report.png
    into the run folder, and records the stage in manifest.json.
    """
    if backend not in ("local", "ee"):
        raise LsghError(f"--backend must be 'local' or 'ee', got {backend!r}")
    result = _run_export(config, backend, out, force, export_mode)
    _print_result(result)


@app.command()
@user_errors
def sample(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Draw the Gaussian heatmap and the hard + soft samples with their train/test split.

    Writes heatmap.tif and samples.gpkg (points with class codes, label, kind, split).
    Needs export-factors first.
    """
    from lsgh_ee.pipeline import sample as sample_stage

    _print_result(sample_stage(config, run_dir=out, force=force))


MODEL_HELP = "Model variant: lsgh, lsgh-noscse, cnn or rf."


@app.command()
@user_errors
def train(
    config: ConfigArg,
    model: Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)] = "lsgh",
    epochs: EpochsOption = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: training.seed).")] = None,
    out: OutOption = None,
    force: ForceOption = False,
    init_from: Annotated[
        Path | None,
        typer.Option(
            "--init-from",
            help="Fine-tune a model bundle trained elsewhere (same factors and breaks): "
            "start from its weights, freeze the convolutional blocks, train the head on "
            "this region's samples.",
        ),
    ] = None,
) -> None:
    """Train one model on the training samples and save its bundle in models/<variant>/.

    lsgh and lsgh-noscse learn from hard and soft samples; cnn (the same network) and rf
    (random forest on the factor vector, GridSearchCV) from hard samples only.
    """
    result = _train(config, model, out, force, epochs=epochs, seed=seed, init_from=init_from)
    _print_result(result)


@app.command()
@user_errors
def evaluate(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Score every trained model on the same held-out hard samples.

    Writes the paper's Table 4 (table4.csv, table4.md), pr_curves.png and roc_curves.png.
    """
    from lsgh_ee.pipeline import evaluate as evaluate_stage

    result = evaluate_stage(config, run_dir=out, force=force)
    _print_result(result)
    if (result.run_dir / "table4.md").exists():
        typer.echo("\n" + (result.run_dir / "table4.md").read_text(encoding="utf-8"))


@app.command()
@user_errors
def predict(
    config: ConfigArg,
    model: Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)] = "lsgh",
    bundle: Annotated[
        Path | None,
        typer.Option(help="A model bundle folder trained elsewhere (its factors must match)."),
    ] = None,
    out: OutOption = None,
    force: ForceOption = False,
    backend: Annotated[
        str,
        typer.Option(
            help="'local' predicts on this machine; 'ee' has Earth Engine predict with the "
            "model deployed on a Vertex AI --endpoint (see export-model)."
        ),
    ] = "local",
    endpoint: Annotated[
        str | None,
        typer.Option(help="Vertex AI endpoint: projects/P/locations/REGION/endpoints/ID."),
    ] = None,
    codes_asset: Annotated[
        str | None,
        typer.Option(
            help="Earth Engine image asset holding the class codes (the uploaded "
            "class_codes.tif); default: computed in Earth Engine."
        ),
    ] = None,
    tile_size: Annotated[
        int | None, typer.Option(help="Pixels per side of the tiles sent to the endpoint (64).")
    ] = None,
    to_asset: Annotated[
        bool,
        typer.Option(
            "--to-asset",
            help="With --backend ee: export the map to the Earth Engine asset "
            "<asset_folder>/<name>_<model>_susceptibility and leave it there (nothing is "
            "downloaded; recorded in ee_assets.json). --force replaces the asset.",
        ),
    ] = False,
) -> None:
    """Map the susceptibility of every pixel with one model.

    Writes maps/<model>/susceptibility.tif (cloud-optimised GeoTIFF, float32 0-1), streaming
    the class-code stack window by window and predicting each distinct class-code vector once;
    with --backend ee the map is computed in Earth Engine by the hosted model and fetched.
    """
    hosted = {"backend": backend, "endpoint": endpoint, "codes_asset": codes_asset,
              "tile_size": tile_size, "to_asset": to_asset}  # fmt: skip
    _print_result(_predict(config, model, out, force, bundle, **hosted))


@app.command("export-model")
@user_errors
def export_model(
    config: ConfigArg,
    model: Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)] = "lsgh",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="SavedModel folder (default: <run>/savedmodel/<model>/)."),
    ] = None,
) -> None:
    """Export a trained model as a TensorFlow SavedModel for a Vertex AI endpoint.

    The SavedModel takes the class-code bands the way Earth Engine's predictImage sends
    them; the commands to deploy it and to map with it are printed.
    """
    from lsgh_ee.earthengine.hosted import check_hostable
    from lsgh_ee.pipeline import MODELS_DIR, as_config

    check_hostable(model)  # before TensorFlow starts: a refusal is immediate
    cfg = as_config(config)
    bundle = cfg.run_dir / MODELS_DIR / model
    if not (bundle / "schema.json").is_file():
        raise LsghError(f"no model bundle in {bundle}; run 'lsgh-ee train CONFIG --model {model}'")
    from lsgh_ee.model.savedmodel import deployment_commands, export_savedmodel

    folder = export_savedmodel(bundle, out or cfg.run_dir / "savedmodel" / model)
    typer.echo(f"wrote {folder}")
    typer.echo(deployment_commands(folder, model, str(config)))


@app.command()
@user_errors
def zone(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Zone every map (Jenks, five classes), tabulate it and draw the figures.

    Writes maps/<model>/zones.tif, intervals.csv/.md (the paper's Tables 5-6), zones.csv,
    map.png, and index_histogram.png, landslide_density.png, success_rate.png.
    """
    from lsgh_ee.pipeline import zone as zone_stage

    _print_result(zone_stage(config, run_dir=out, force=force))


@app.command()
@user_errors
def report(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Write report.html: config, factors, Table 4, zoning tables, figures and timings."""
    from lsgh_ee.pipeline import report as report_stage

    _print_result(report_stage(config, run_dir=out, force=force))


@app.command()
@user_errors
def run(
    config: ConfigArg,
    epochs: EpochsOption = None,
    out: OutOption = None,
    force: ForceOption = False,
) -> None:
    """Run every stage: factors, samples, the models in training.models, evaluation, maps,
    zoning, figures and the report.

    Stages whose inputs did not change are skipped, so a re-run after a crash resumes.
    """
    _run_all(config, out, force, epochs)


@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Run folder for the demo.")] = Path(
        "runs/demo"
    ),
    epochs: EpochsOption = None,
    force: ForceOption = False,
) -> None:
    """Run the whole pipeline on the embedded demo region (Cumberland Mountains, Tennessee)."""
    from lsgh_ee.demo import demo_config_path

    _run_all(demo_config_path(), out, force, epochs)


@app.command(
    "scale-study", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@user_errors
def scale_study_cmd(
    ctx: typer.Context,
    config: ConfigArg,
    diameters: Annotated[
        list[int],
        typer.Option("--diameters", "-d", help="Heatmap diameters in pixels: -d 7 13 19."),
    ] = [7, 13, 19],  # noqa: B006 - typer needs a literal default
    epochs: EpochsOption = None,
    out: OutOption = None,
    force: ForceOption = False,
) -> None:
    """The paper's scale study: one LSGH-Net per heatmap diameter on one shared test set.

    Writes scale_study/table.csv and .md (AP, AUC, ... per diameter) and
    scale_study/pr_curves.png. Needs the sample stage first.
    """
    from lsgh_ee.pipeline import scale_study

    extra = [a for a in ctx.args if not a.isdigit()]
    if extra:
        raise LsghError(
            f"unexpected argument(s) {' '.join(extra)}; see 'lsgh-ee scale-study --help'"
        )
    diameters = [*diameters, *(int(a) for a in ctx.args)]
    result = scale_study(config, diameters, run_dir=out, epochs=epochs, force=force)
    _print_result(result)
    typer.echo("\n" + (result.run_dir / "scale_study" / "table.md").read_text(encoding="utf-8"))


def _run_all(config: Path, out: Path | None, force: bool, epochs: int | None) -> None:
    import json

    from lsgh_ee.config import load_config
    from lsgh_ee.pipeline import evaluate as evaluate_stage
    from lsgh_ee.pipeline import preview as preview_stage
    from lsgh_ee.pipeline import report as report_stage
    from lsgh_ee.pipeline import sample as sample_stage
    from lsgh_ee.pipeline import zone as zone_stage

    cfg = load_config(config)
    _print_result(_run_export(config, "local", out, force))
    _print_result(sample_stage(cfg, run_dir=out, force=force))
    for variant in cfg.training.models:
        _print_result(_train(cfg, variant, out, force, epochs=epochs, seed=None))
    evaluation = evaluate_stage(cfg, run_dir=out, force=force)
    _print_result(evaluation)
    for variant in cfg.training.models:
        _print_result(_predict(cfg, variant, out, force, None))
    zoning = zone_stage(cfg, run_dir=out, force=force)
    _print_result(zoning)
    shown = "lsgh" if "lsgh" in cfg.training.models else cfg.training.models[-1]
    try:
        _print_result(preview_stage(cfg, shown, run_dir=out, force=force))
    except LsghError as exc:  # the map preview is optional: the report still gets written
        logging.getLogger("lsgh_ee").warning("preview skipped: %s", exc)
    result = report_stage(cfg, run_dir=out, force=force)
    _print_result(result)
    run_dir = result.run_dir
    typer.echo("\n" + (run_dir / "table4.md").read_text(encoding="utf-8"))
    shares = json.loads((run_dir / "zoning.json").read_text(encoding="utf-8"))
    for model, z in shares.items():
        typer.echo(f"{model:12s} high + very high zones: {z['high_very_high_area_share']:6.1%} "
                   f"of the area, {z['high_very_high_landslide_share']:6.1%} of the landslide "
                   f"pixels; success-rate AUC {z['success_auc']:.3f}")  # fmt: skip
    typer.echo(f"\nreport: {run_dir / 'report.html'}")
    if (run_dir / "preview.html").exists():
        typer.echo(f"map preview: {run_dir / 'preview.html'}")


def _predict(config, variant: str, out: Path | None, force: bool, bundle: Path | None, **hosted):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lsgh_ee.pipeline import predict as predict_stage

    with Progress(
        TextColumn(f"map {variant}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty(),
    ) as bar:  # fmt: skip
        task = bar.add_task("map", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return predict_stage(config, variant, run_dir=out, bundle=bundle, force=force,
                             progress=progress, **hosted)  # fmt: skip


def _train(config, variant: str, out: Path | None, force: bool, *, epochs, seed,
           init_from: Path | None = None):  # fmt: skip
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    from lsgh_ee.pipeline import train as train_stage

    with Progress(
        TextColumn("{task.description}"), TimeElapsedColumn(),
        transient=True, disable=not sys.stderr.isatty(),
    ) as bar:  # fmt: skip
        task = bar.add_task(f"train {variant}", total=None)

        def on_epoch(epoch: int, logs: dict) -> None:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if "loss" in k)
            bar.update(task, description=f"train {variant}: epoch {epoch + 1}  {shown}")
            logging.getLogger("lsgh_ee").debug("%s epoch %d %s", variant, epoch + 1, shown)

        return train_stage(config, variant, run_dir=out, epochs=epochs, seed=seed, force=force,
                           on_epoch=on_epoch, init_from=init_from)  # fmt: skip


def _run_export(config: Path, backend: str, out: Path | None, force: bool,
                export_mode: str | None = None):  # fmt: skip
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from lsgh_ee.earthengine.tasks import TaskDisplay, TaskStatus
    from lsgh_ee.pipeline import export_factors

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("factors", total=None)

        def step(name: str, index: int, total: int) -> None:
            bar.update(task, description=f"factor {name}", completed=index, total=total)

        lines = None if sys.stderr.isatty() else TaskDisplay("Earth Engine export")

        def on_task(status: TaskStatus) -> None:  # a batch export's polls
            if lines is not None:
                lines(status)
                return
            shown = "" if status.progress is None else f" {status.progress:.0%}"
            bar.update(task, description=f"Earth Engine export {status.state}{shown}")

        return export_factors(config, backend=backend, run_dir=out, force=force, progress=step,
                              export_mode=export_mode, task_progress=on_task)  # fmt: skip


def _print_result(result) -> None:
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
        typer.echo(
            f"  {summary['valid_pixels']} pixels mapped, {summary['distinct_vectors']} "
            f"distinct class-code vectors predicted ({summary['pixels_per_second']} px/s)"
        )
    if summary.get("inventory"):
        inv = summary["inventory"]
        typer.echo(f"  landslides kept: {inv['kept']} of {inv['read']}")
    if summary.get("importance_rank"):
        typer.echo(f"  importance (best first): {', '.join(summary['importance_rank'])}")
    for a, b, r in summary.get("collinear_pairs", []):
        typer.echo(f"  note: {a} and {b} are correlated (r = {r:.2f})")


@app.command()
@user_errors
def preview(
    config: ConfigArg,
    out: OutOption = None,
    model: Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)] = "lsgh",
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
    from lsgh_ee.config import load_config
    from lsgh_ee.region import Region
    from lsgh_ee.report.preview import write_preview

    cfg = load_config(config)
    run_dir = out if out is not None else cfg.run_dir
    page = html if html is not None else run_dir / "preview.html"
    aoi = Region.from_config(cfg).aoi  # in the grid CRS, as the run's rasters
    written = write_preview(run_dir, page, model=model, aoi=aoi,
                            self_contained=self_contained, basemap=basemap, config=cfg,
                            earth_engine=earth_engine)  # fmt: skip
    typer.echo(f"preview: {written}")


@app.command()
@user_errors
def upload(
    config: ConfigArg,
    model: Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)] = "lsgh",
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
    from lsgh_ee.pipeline import upload as upload_stage

    if mode not in ("ingest", "cog"):
        raise LsghError(f"--mode must be ingest or cog, got {mode!r}")
    with TaskDisplay(f"upload {model}") as display:
        result = upload_stage(config, model, run_dir=out, mode=mode, overwrite=overwrite,
                              progress=display)  # fmt: skip
    state = "up to date" if result.skipped else f"done in {result.seconds:.1f} s"
    typer.echo(f"{result.stage}: {state} -> {result.run_dir}")
    for asset_id in result.summary.get("assets", []):
        typer.echo(f"  asset {asset_id}")


@app.command()
@user_errors
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


@app.command()
@user_errors
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


@app.command("transfer-eval")
@user_errors
def transfer_eval_cmd(
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
    from lsgh_ee.transfer import transfer_eval

    result = transfer_eval(train_config, test_config, models=models, epochs=epochs,
                           force=force)  # fmt: skip
    _print_result(result)
    folder = Path(result.summary["folder"])
    typer.echo("\n" + (folder / "table.md").read_text(encoding="utf-8"))
