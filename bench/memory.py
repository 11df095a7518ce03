"""Shared helpers of the benchmarks: peak memory from /proc and writing the results."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def status_mib(pid: int | str, field: str) -> float | None:
    """``VmHWM`` (peak RSS of the current program image) or ``VmRSS`` from /proc, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def peak_rss_mib() -> float:
    """Peak RSS of this process since it started its program.

    /proc's VmHWM where there is one: ``ru_maxrss`` would also count the parent's memory
    that the child inherited at fork, before its exec (Linux keeps the larger).
    """
    hwm = status_mib("self", "VmHWM")
    if hwm is not None:
        return hwm
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ru / (1024 * 1024) if sys.platform == "darwin" else ru / 1024


def write_results(path: Path, result: dict) -> None:
    """Write a benchmark's results as JSON (``bench/results/`` is git-ignored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
