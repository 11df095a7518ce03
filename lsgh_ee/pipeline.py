"""Pipeline stages: each reads files, writes files into the run folder and records itself
in the run manifest, so a finished stage is skipped when its inputs did not change."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lsgh_ee.atomic import atomic_path
from lsgh_ee.config import RegionConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.manifest import Manifest, StageRecord, file_digest, fingerprint, now

log = logging.getLogger(__name__)

Backend = Literal["local", "ee"]
INVENTORY_GPKG = "inventory.gpkg"


@dataclass
class StageResult:
    """What a stage call did: its outputs, whether it was skipped as up to date, and a
    short summary for the CLI."""

    stage: str
    run_dir: Path
    outputs: list[Path]
    skipped: bool
    seconds: float
    summary: dict = field(default_factory=dict)


def as_config(config: RegionConfig | str | os.PathLike) -> RegionConfig:
    """A validated config from a config object or a YAML path."""
    return config if isinstance(config, RegionConfig) else load_config(config)


def input_files(config: RegionConfig) -> list[Path]:
    """Every local input file a config names (for fingerprints)."""
    paths = [config.inventory.path, config.aoi.file]
    if config.dem is not None:
        paths.append(config.dem.path)
    for spec in config.factors.values():
        if spec is not None and spec.source == "local":
            paths += [spec.path, spec.red, spec.nir]
    return sorted({Path(p) for p in paths if p is not None})


def export_factors(
    config: RegionConfig | str | os.PathLike,
    *,
    backend: Backend = "local",
    run_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> StageResult:
    """Stage ``export-factors``: factor stack, class-code stack, checked inventory and the
    factor report, written into the run folder.

    Args:
        config: a config object or the path of a region YAML.
        backend: ``local`` computes from local files; ``ee`` needs Earth Engine.
        run_dir: the run folder (default: the config's ``output.dir``).
        force: re-run even when the manifest says the outputs are current.
        progress: called with (factor name, index, number of factors) as each starts.
    """
    from lsgh_ee.factors.local import compute_local_factors
    from lsgh_ee.factors.report import factor_report, write_factor_report
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region

    start = time.perf_counter()
    config = as_config(config)
    run = Path(run_dir) if run_dir is not None else config.run_dir
    if backend == "ee":
        from lsgh_ee.earthengine.session import require_credentials

        require_credentials()
        raise LsghError(
            "the Earth Engine factor backend is not available in this version yet; "
            "use --backend local with local files"
        )
    factors = resolve_factors(config, backend)
    params = config.digest_dict()
    params.pop("output")
    params["backend"] = backend
    inputs = {str(p): file_digest(p) for p in input_files(config)}
    stage_fp = fingerprint(params, inputs)
    manifest = Manifest(run)
    if not force and manifest.is_current("export-factors", stage_fp):
        log.info("export-factors is up to date in %s (use --force to re-run)", run)
        outputs = [run / rel for rel in manifest.stages["export-factors"]["outputs"]]
        return StageResult(
            "export-factors",
            run,
            outputs,
            True,
            time.perf_counter() - start,
            manifest.stages["export-factors"].get("notes", {}),
        )
    _check_writable(run)
    started = now()
    region = Region.from_config(config)
    inventory = read_inventory(config.inventory, region)
    stack = compute_local_factors(region, factors, progress)
    outputs = stack.write(run)
    with atomic_path(run / INVENTORY_GPKG) as tmp:
        inventory.landslides.to_file(tmp, driver="GPKG", layer="landslides")
    outputs.append(run / INVENTORY_GPKG)
    report = factor_report(
        stack,
        inventory.mask(region.grid, "polygon"),
        n_samples=config.sampling.importance_samples,
        seed=config.sampling.seed,
    )
    outputs += write_factor_report(report, run)
    summary = {
        "grid": region.grid.to_dict(),
        "factors": stack.names,
        "inventory": inventory.report.as_dict(),
        "collinear_pairs": report.collinear_pairs(),
        "importance_rank": list(report.importance.index),
    }
    seconds = time.perf_counter() - start
    manifest.record(
        "export-factors",
        StageRecord(
            stage_fp,
            params,
            inputs,
            manifest.output_digests(outputs),
            started,
            round(seconds, 3),
            notes=summary,
        ),
    )
    return StageResult("export-factors", run, outputs, False, seconds, summary)


def _check_writable(run: Path) -> None:
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LsghError(
            f"cannot create run folder {run}: {exc.strerror}; set 'output.dir' or --out to a "
            "writable folder"
        ) from exc
    if not os.access(run, os.W_OK):
        raise LsghError(
            f"run folder {run} is not writable; set 'output.dir' or --out to a writable folder"
        )
