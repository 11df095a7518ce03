"""The run manifest: what each stage read, with which parameters, and what it wrote.

``manifest.json`` in the run folder holds one record per stage: a fingerprint of its
inputs (file hashes, parameters, package versions), the hashes of its outputs and its
timings. A stage whose fingerprint is unchanged and whose outputs are intact is skipped;
anything else re-runs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from lsgh_ee.atomic import write_text
from lsgh_ee.runfolder import RunFolder

MANIFEST = RunFolder.MANIFEST_JSON
_SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".qix", ".aux.xml")


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file (and of a shapefile's sidecar files), hex."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path]
    if path.suffix.lower() == ".shp":
        files += [path.with_suffix(s) for s in _SIDECARS if path.with_suffix(s).exists()]
    for part in files:
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers."""
    out = {"python": platform.python_version()}
    for package in ("lsgh-ee", "numpy", "scipy", "rasterio", "geopandas", "scikit-learn"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def fingerprint(params: dict[str, Any], inputs: dict[str, str]) -> str:
    """One hash of a stage's parameters, input file hashes and package versions."""
    blob = json.dumps(
        {"params": params, "inputs": inputs, "versions": versions()}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class StageRecord:
    """What one stage did."""

    fingerprint: str
    params: dict[str, Any]
    inputs: dict[str, str]
    outputs: dict[str, str]
    started: str
    seconds: float
    versions: dict[str, str] = field(default_factory=versions)
    notes: dict[str, Any] = field(default_factory=dict)


class Manifest:
    """The manifest of one run folder."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / MANIFEST
        self.stages: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self.stages = json.loads(self.path.read_text(encoding="utf-8"))["stages"]
            except (json.JSONDecodeError, KeyError):
                self.stages = {}  # an unreadable manifest only means every stage re-runs

    def is_current(self, stage: str, stage_fingerprint: str) -> bool:
        """True when ``stage`` ran with this fingerprint and its outputs are unchanged."""
        record = self.stages.get(stage)
        if not record or record.get("fingerprint") != stage_fingerprint:
            return False
        for rel, digest in record.get("outputs", {}).items():
            out = self.run_dir / rel
            if not out.exists() or file_digest(out) != digest:
                return False
        return True

    def record(self, stage: str, record: StageRecord) -> None:
        """Store a finished stage and write the manifest atomically."""
        self.stages[stage] = record.__dict__
        body = {"lsgh_ee_manifest": 1, "stages": self.stages}
        write_text(self.path, json.dumps(body, indent=2, default=str))

    def output_digests(self, paths: list[Path]) -> dict[str, str]:
        """Hashes of a stage's outputs, keyed by path relative to the run folder."""
        return {str(Path(p).relative_to(self.run_dir)): file_digest(p) for p in paths}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
