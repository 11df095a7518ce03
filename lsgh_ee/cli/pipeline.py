"""Commands over the pipeline's stages: export-factors, sample, train, evaluate, predict,
zone, report, run and demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lsgh_ee.cli.core import command
from lsgh_ee.cli.display import TerminalProgress, print_result, print_run_summary, print_table
from lsgh_ee.cli.options import ConfigArg, EpochsOption, ForceOption, ModelOption, OutOption
from lsgh_ee.runfolder import RunFolder


@command("export-factors")
def export_factors(
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
    from lsgh_ee.errors import LsghError
    from lsgh_ee.stages import export_factors as stage

    if backend not in ("local", "ee"):
        raise LsghError(f"--backend must be 'local' or 'ee', got {backend!r}")
    with TerminalProgress("factors") as show:
        result = stage(
            config, backend=backend, run_dir=out, force=force, progress=show.factor,
            export_mode=export_mode, task_progress=show.task,
        )  # fmt: skip
    print_result(result)


@command()
def sample(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Draw the Gaussian heatmap and the hard + soft samples with their train/test split.

    Writes heatmap.tif and samples.gpkg (points with class codes, label, kind, split).
    Needs export-factors first.
    """
    from lsgh_ee.stages import sample as stage

    print_result(stage(config, run_dir=out, force=force))


@command()
def train(
    config: ConfigArg,
    model: ModelOption = "lsgh",
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

    lsgh and lsgh-noscse learn from hard and soft samples; cnn (the same network), rf
    (random forest on the factor vector, GridSearchCV) and rf-raw (the reference: a random
    forest on the factors' own values, categorical ones one-hot) from hard samples only.
    """
    from lsgh_ee.stages import train as stage

    with TerminalProgress(f"train {model}") as show:
        result = stage(config, model, run_dir=out, epochs=epochs, seed=seed, force=force,
                       on_epoch=lambda e, logs: show.epoch(model, e, logs),
                       init_from=init_from)  # fmt: skip
    print_result(result)


@command()
def evaluate(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Score every trained model on the same held-out hard samples.

    Writes the paper's Table 4 at threshold 0.5 (table4.csv, table4.md), the metrics at
    each model's Youden threshold (table4_youden.csv/.md), pr_curves.png, roc_curves.png
    and the reliability diagram (reliability.png).
    """
    from lsgh_ee.stages import evaluate as stage

    result = stage(config, run_dir=out, force=force)
    print_result(result)
    run = RunFolder(result.run_dir)
    for table in (run.table4_md, run / run.YOUDEN_MD):
        if table.exists():
            print_table(table)


@command()
def predict(
    config: ConfigArg,
    model: ModelOption = "lsgh",
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
    from lsgh_ee.stages import predict as stage

    with TerminalProgress(f"map {model}") as show:
        result = stage(config, model, run_dir=out, bundle=bundle, force=force,
                       progress=lambda d, t: show.mapping(model, d, t),
                       backend=backend, endpoint=endpoint, codes_asset=codes_asset,
                       tile_size=tile_size, to_asset=to_asset)  # fmt: skip
    print_result(result)


@command()
def zone(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Zone every map (Jenks, five classes), tabulate it and draw the figures.

    Writes maps/<model>/zones.tif, intervals.csv/.md (the paper's Tables 5-6), zones.csv,
    map.png, and index_histogram.png, landslide_density.png, success_rate.png.
    """
    from lsgh_ee.stages import zone as stage

    print_result(stage(config, run_dir=out, force=force))


@command()
def report(config: ConfigArg, out: OutOption = None, force: ForceOption = False) -> None:
    """Write report.html: config, factors, Table 4, zoning tables, figures and timings."""
    from lsgh_ee.stages import report as stage

    print_result(stage(config, run_dir=out, force=force))


def _run_all(
    config: Path,
    out: Path | None,
    force: bool,
    epochs: int | None,
    backend: str = "local",
    endpoint: str | None = None,
) -> None:
    from lsgh_ee.errors import LsghError
    from lsgh_ee.stages import run_all

    if backend not in ("local", "ee"):
        raise LsghError(f"--backend must be 'local' or 'ee', got {backend!r}")
    with TerminalProgress() as show:
        results = run_all(config, run_dir=out, epochs=epochs, force=force, on_progress=show,
                          backend=backend, endpoint=endpoint)  # type: ignore[arg-type]  # fmt: skip
    run = RunFolder(results[-1].run_dir)
    if run.zoning.exists():
        print_run_summary(run)
    else:  # an Earth Engine-native run waiting for its endpoint: Table 4 so far
        print_table(run.table4_md)


@command()
def run(
    config: ConfigArg,
    epochs: EpochsOption = None,
    out: OutOption = None,
    force: ForceOption = False,
    backend: Annotated[
        str,
        typer.Option(
            help="'local' computes everything here from downloaded or local factors; 'ee' "
            "keeps the factors in Earth Engine: samples drawn there (only the table comes "
            "back), training here, the map made by the network deployed on --endpoint into "
            "an asset, zoning by Earth Engine reductions (for regions too large to download; "
            "see docs/earth-engine.md)."
        ),
    ] = "local",
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="With --backend ee: the Vertex AI endpoint serving the network "
            "(projects/P/locations/REGION/endpoints/ID); without it the run stops after "
            "exporting the network for deployment."
        ),
    ] = None,
) -> None:
    """Run every stage: factors, samples, the models in training.models, evaluation, maps,
    zoning, figures and the report.

    Stages whose inputs did not change are skipped, so a re-run after a crash resumes.
    """
    _run_all(config, out, force, epochs, backend, endpoint)


@command()
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
