"""Earth Engine as a source of factor layers for ``export-factors``: the DEM and the
non-terrain ``source: ee`` factors, brought onto the grid as GeoTIFFs in the run folder by
the configured export mode (tiled download, or a batch export through Cloud Storage or an
asset; resumable), then read strip by strip like local rasters (nothing of the whole grid
held in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lsgh_ee.config import RegionConfig
from lsgh_ee.earthengine.connect import export_settings_for, session_for
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.dem_layers import DemFile
from lsgh_ee.factors.resolve import ResolvedFactor
from lsgh_ee.factors.source_strips import FactorFile, file_strips
from lsgh_ee.grid import Grid
from lsgh_ee.runfolder import RunFolder


def image_fetcher(
    config: RegionConfig,
    run: Path,
    export_mode: str | None,
    task_progress: Callable[[Any], None] | None,
) -> Callable[..., Path]:
    """``fetch(image, grid, path, band_names)``: an Earth Engine image onto the grid as a
    GeoTIFF by the export mode (``export_mode`` else ``earthengine.export``): tiled
    download, or a batch export through Cloud Storage or an asset (resumable)."""
    from lsgh_ee.earthengine.exports import ExportSettings, fetch_image, require_bucket

    ee_settings = config.earthengine
    mode = export_mode or ee_settings.export
    if mode == "drive":
        raise LsghError(
            "export-factors cannot use export mode drive: Drive files cannot be read back "
            "into the run folder; use gcs or asset (or download)"
        )
    if mode not in ("download", "gcs", "asset"):
        raise LsghError(f"unknown export mode {mode!r}; use download, gcs or asset")
    if mode == "gcs":
        require_bucket(ee_settings.bucket, "export mode gcs")
    settings: list[ExportSettings] = []

    def fetch(image: Any, grid: Any, path: Path, band_names: list[str]) -> Path:
        if not settings:
            settings.append(export_settings_for(config, session_for(config, reuse=True)))
        return fetch_image(image, grid, path, band_names=band_names, dtype="float32",
                           mode=mode, settings=settings[0], work_dir=RunFolder(run).ee_tiles,
                           progress=task_progress)  # fmt: skip

    return fetch


def dem_file(config: RegionConfig, run: Path, downloaded: list[Path],
             fetch: Callable[..., Path]) -> DemFile:  # fmt: skip
    """A DEM file for the terrain recipes that downloads ``dem.ee_asset`` from Earth Engine
    onto the (padded) grid as ``dem_ee.tif`` (tiled under the request limits, retried,
    resumable from ``.ee_tiles/``) and checks its nodata share strip by strip. The
    derivatives are then computed by the same code as for a local DEM, strip by strip
    (:func:`lsgh_ee.factors.windows.terrain_strips`)."""
    from lsgh_ee.earthengine.recipes import dem_image

    def path_of(grid: Grid, min_coverage: float) -> Path:
        session_for(config, reuse=True)  # building an ee.Image needs the initialised client
        image = dem_image(config.dem.ee_asset, grid, config.dem.ee_band)
        path = fetch(image, grid, RunFolder(run) / RunFolder.DEM_EE_TIF, ["elevation"])
        downloaded.append(path)
        rows = config.output.rows_per_strip(grid.width)
        missing = sum(int(np.isnan(dem).sum()) for _, dem in file_strips(path, grid, 0, rows))
        share = missing / (grid.height * grid.width)
        if share > 1 - min_coverage:
            raise LsghError(
                f"Earth Engine DEM {config.dem.ee_asset} has no data over {share:.1%} of the "
                "region; choose a DEM that covers it"
            )
        return path

    return path_of


def factor_files(config: RegionConfig, grid: Grid, factors: list[ResolvedFactor], run: Path,
                 downloaded: list[Path], ee_fetch: Callable[..., Path]) -> FactorFile:  # fmt: skip
    """Where the non-terrain ``source: ee`` factors are (see
    :func:`lsgh_ee.factors.windows.export_local_factors`): on first use, every one of them
    is downloaded in one multi-band request series (``factors_ee.tif``; tiled, retried,
    resumable from ``.ee_tiles/``) from the recipes of
    :func:`lsgh_ee.earthengine.recipes.factor_image`; each is then read band by band, strip
    by strip, and classified locally. (Terrain factors keep the DEM download: one DEM gives
    all five with the local definitions, at the cost of one band.)"""
    from lsgh_ee.earthengine.recipes import factor_image_with_classes

    found: dict[str, tuple[Path, int, tuple[str, ...], dict]] = {}

    def fetch() -> None:
        session_for(config, reuse=True)  # the recipes build images (and may query) before fetching
        images, classes = None, {}
        for factor in factors:
            image, classes[factor.name] = factor_image_with_classes(factor, grid, config)
            images = image if images is None else images.addBands(image)
        names = [f.name for f in factors]
        path = ee_fetch(images, grid, RunFolder(run) / RunFolder.FACTORS_EE_TIF, names)
        downloaded.append(path)
        for band, factor in enumerate(factors, start=1):
            spec = factor.spec
            source = spec.asset or spec.dataset or (str(spec.path) if spec.path else "catalogue")
            method = {"recipe": f"earthengine {factor.recipe}", "source": source}
            found[factor.name] = (path, band, tuple(classes[factor.name]), method)

    def factor_file(factor: ResolvedFactor) -> tuple[Path, int, tuple[str, ...], dict]:
        if not found:
            fetch()
        return found[factor.name]

    return factor_file
