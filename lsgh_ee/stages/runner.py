"""The stage runner: a stage runs its work unless the run's manifest says its outputs are
current for the same parameters and input files, and records what it did afterwards.

Every stage of :mod:`lsgh_ee.stages` and every study goes through :func:`run_stage`, so a
finished stage is skipped when nothing changed, a crashed run resumes at the first
unfinished stage, and ``manifest.json`` says what produced each output.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsgh_ee.config import RegionConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.manifest import Manifest, StageRecord, file_digest, fingerprint, now
from lsgh_ee.runfolder import RunFolder

log = logging.getLogger(__name__)

ConfigLike = RegionConfig | str | os.PathLike
Work = Callable[[], tuple[list[Path], dict]]


@dataclass
class StageResult:
    """What a stage call did: its outputs, whether it was skipped as up to date, the
    seconds it took and a short summary (also recorded in the manifest)."""

    stage: str
    run_dir: Path
    outputs: list[Path]
    skipped: bool
    seconds: float
    summary: dict = field(default_factory=dict)


def as_config(config: ConfigLike) -> RegionConfig:
    """A validated config from a config object or a YAML path."""
    return config if isinstance(config, RegionConfig) else load_config(config)


def run_folder(config: RegionConfig, run_dir: str | os.PathLike | None) -> RunFolder:
    """The run folder: ``run_dir`` when given, else the config's ``output.dir``."""
    return RunFolder(run_dir if run_dir is not None else config.run_dir)


def input_files(config: RegionConfig) -> list[Path]:
    """Every local input file a config names (for fingerprints)."""
    paths = [*config.inventory.paths, config.aoi.file]
    if config.dem is not None:
        paths.append(config.dem.path)
    for spec in config.factors.values():
        if spec is not None and spec.source == "local":
            paths += [spec.path, spec.red, spec.nir]
    return sorted({Path(p) for p in paths if p is not None})


def require(run: RunFolder, paths: Sequence[Path], command: str) -> None:
    """Fail with the command to run first when any of ``paths`` is missing."""
    missing = [str(Path(p).relative_to(run.path)) for p in paths if not Path(p).exists()]
    if missing:
        raise LsghError(
            f"{run.path} has no {', '.join(missing)}; run 'lsgh-ee {command} CONFIG' first "
            "(or 'lsgh-ee run CONFIG' for every stage)"
        )


def run_stage(
    name: str,
    run: RunFolder,
    params: dict[str, Any],
    inputs: Sequence[Path],
    work: Work,
    force: bool,
) -> StageResult:
    """Run ``work`` unless the manifest says its outputs are current for these parameters
    and input files; record it afterwards.

    Args:
        name: the stage's name in the manifest (``train:lsgh``, ``zone``, ...).
        params: every setting the outputs depend on (JSON-able).
        inputs: every file the outputs depend on (hashed).
        work: computes and writes the outputs; returns (output paths, summary).
        force: run even when the outputs are current.
    """
    start = time.perf_counter()
    digests = {str(p): file_digest(p) for p in inputs}
    stage_fp = fingerprint(params, digests)
    manifest = Manifest(run.path)
    if not force and manifest.is_current(name, stage_fp):
        log.info("%s is up to date in %s (use --force to re-run)", name, run.path)
        record = manifest.stages[name]
        outputs = [run.path / rel for rel in record["outputs"]]
        return StageResult(name, run.path, outputs, True, time.perf_counter() - start,
                           record.get("notes", {}))  # fmt: skip
    _check_writable(run.path)
    started = now()
    from lsgh_ee.rasters import bounded_gdal_cache

    with bounded_gdal_cache():  # the stage's memory stays that of its strips
        outputs, summary = work()
    seconds = time.perf_counter() - start
    record = StageRecord(stage_fp, params, digests, manifest.output_digests(outputs), started,
                         round(seconds, 3), notes=summary)  # fmt: skip
    Manifest(run.path).record(name, record)  # re-read: another stage may have recorded meanwhile
    return StageResult(name, run.path, outputs, False, seconds, summary)


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
