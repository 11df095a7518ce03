"""Benchmark: the Gaussian heatmap, ``lsgh_ee.heatmap`` against a per-point brute force.

Both sides run in this one process on the same random centres and must give the same
array (checked):

* ours: ``gaussian_heatmap(..., method="auto")`` (the stamp method at this density), and
  once ``method="edt"`` (scipy's exact EDT over the whole grid) for reference;
* brute force, the natural naive implementation: a Python loop over the points, each
  kernel stamped into its circumscribed square with NumPy slicing and ``np.maximum``.
  Two variants: the kernel precomputed once (the faster, the one the ratio is taken
  against) and the kernel evaluated per point with ``np.exp`` (the paper's recipe read
  literally).

Timed runs alternate between the sides, ``--repeat`` times each; the best run counts (the
first touch of a fresh 400 MB output costs page faults that vary a lot from run to run,
so the median is printed too). Peak memory is measured separately with ``tracemalloc``
(NumPy reports its buffers to it): the peak of traced allocations during one call, the
output array included. Prints a table and writes ``bench/results/heatmap.json``.

    .venv/bin/python bench/bench_heatmap.py [--size 10000] [--points 50000] [--diameter 13]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from memory import peak_rss_mib, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsgh_ee.heatmap import gaussian_heatmap, sigma_for  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "heatmap.json"
TARGET_RATIO = 50.0


def brute_force(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], diameter: int):
    """Per-point loop, kernel precomputed once, np.maximum into its square."""
    radius = diameter / 2
    k = diameter // 2
    sigma2 = sigma_for(diameter) ** 2
    dr, dc = np.mgrid[-k : k + 1, -k : k + 1]
    d2 = dr * dr + dc * dc
    kernel = np.where(d2 <= radius * radius, np.exp(-d2 / (2 * sigma2)), 0).astype(np.float32)
    height, width = shape
    out = np.zeros(shape, dtype=np.float32)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        r0, r1 = max(r - k, 0), min(r + k + 1, height)
        c0, c1 = max(c - k, 0), min(c + k + 1, width)
        view = out[r0:r1, c0:c1]
        np.maximum(view, kernel[r0 - r + k : r1 - r + k, c0 - c + k : c1 - c + k], out=view)
    return out


def brute_force_per_point_kernel(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], diameter: int
):
    """Per-point loop evaluating each point's kernel in its square (the paper literally)."""
    radius = diameter / 2
    sigma2 = sigma_for(diameter) ** 2
    height, width = shape
    out = np.zeros(shape, dtype=np.float32)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        r0, r1 = max(math.ceil(r - radius), 0), min(math.floor(r + radius) + 1, height)
        c0, c1 = max(math.ceil(c - radius), 0), min(math.floor(c + radius) + 1, width)
        rr, cc = np.mgrid[r0:r1, c0:c1]
        d2 = (rr - r) ** 2 + (cc - c) ** 2
        kernel = np.where(d2 <= radius * radius, np.exp(-d2 / (2 * sigma2)), 0.0)
        view = out[r0:r1, c0:c1]
        np.maximum(view, kernel.astype(np.float32), out=view)
    return out


def timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def traced_peak_mib(fn: Callable[[], np.ndarray]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del out
    return peak / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10_000, help="grid side in pixels")
    ap.add_argument("--points", type=int, default=50_000, help="landslide centres")
    ap.add_argument("--diameter", type=int, default=13, help="heatmap diameter (pixels)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per side; best counts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-edt", action="store_true", help="skip the whole-grid EDT reference")
    args = ap.parse_args(argv)

    shape = (args.size, args.size)
    rng = np.random.default_rng(args.seed)
    rows = rng.integers(0, args.size, args.points)
    cols = rng.integers(0, args.size, args.points)
    d = args.diameter

    def ours() -> np.ndarray:
        return gaussian_heatmap((rows, cols), shape, d)

    def brute() -> np.ndarray:
        return brute_force(rows, cols, shape, d)

    def brute_exp() -> np.ndarray:
        return brute_force_per_point_kernel(rows, cols, shape, d)

    def edt() -> np.ndarray:
        return gaussian_heatmap((rows, cols), shape, d, method="edt")

    times: dict[str, list[float]] = {"ours": [], "brute": []}
    max_diff = 0.0
    for _ in range(args.repeat):
        t, a = timed(ours)
        times["ours"].append(t)
        t, b = timed(brute)
        times["brute"].append(t)
        max_diff = max(max_diff, float(np.abs(a - b).max()))
        del a, b
    t_exp, c = timed(brute_exp)
    max_diff_exp = float(np.abs(c - ours()).max())
    del c
    t_edt = None
    edt_equal = None
    if not args.no_edt:
        t_edt, e = timed(edt)
        edt_equal = bool(np.array_equal(e, ours()))
        del e

    peaks = {"ours": traced_peak_mib(ours), "brute": traced_peak_mib(brute)}
    if not args.no_edt:
        peaks["edt"] = traced_peak_mib(edt)
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    ratio = best["brute"] / best["ours"]
    result = {
        "benchmark": "Gaussian heatmap: gaussian_heatmap (auto) vs per-point NumPy loop",
        "size": list(shape),
        "points": args.points,
        "diameter": d,
        "repeat": args.repeat,
        "ours_s": best["ours"],
        "ours_median_s": median["ours"],
        "ours_all_s": times["ours"],
        "brute_s": best["brute"],
        "brute_median_s": median["brute"],
        "brute_all_s": times["brute"],
        "brute_per_point_kernel_s": t_exp,
        "edt_whole_grid_s": t_edt,
        "ratio_brute_over_ours": ratio,
        "ratio_median": median["brute"] / median["ours"],
        "ratio_per_point_kernel_over_ours": t_exp / best["ours"],
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "max_abs_diff_vs_brute": max_diff,
        "max_abs_diff_vs_per_point_kernel": max_diff_exp,
        "edt_equals_ours": edt_equal,
        "traced_peak_mib": peaks,
        "output_mib": shape[0] * shape[1] * 4 / 2**20,
        "process_peak_rss_mib": peak_rss_mib(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(
        f"{args.size}×{args.size} grid, {args.points} points, D={d} "
        f"(output {result['output_mib']:.0f} MiB float32)"
    )
    print(f"{'':30}{'best s':>9}{'median s':>10}{'peak MiB':>10}")
    print(
        f"{'ours (auto → stamp)':30}{best['ours']:9.3f}{median['ours']:10.3f}{peaks['ours']:10.0f}"
    )
    print(
        f"{'brute force, kernel once':30}{best['brute']:9.3f}{median['brute']:10.3f}"
        f"{peaks['brute']:10.0f}"
    )
    print(f"{'brute force, kernel per point':30}{t_exp:9.3f}{'':10}{'':10}")
    if t_edt is not None:
        print(f"{'ours, method=edt':30}{t_edt:9.3f}{'':10}{peaks['edt']:10.0f}")
    print(
        f"ratio brute/ours = {ratio:.1f}× best, {result['ratio_median']:.1f}× median "
        f"(target ≥ {TARGET_RATIO:.0f}×: {'met' if result['target_met'] else 'NOT met'}); "
        f"per-point-kernel brute/ours = {result['ratio_per_point_kernel_over_ours']:.1f}×"
    )
    print(
        f"max |ours − brute| = {max_diff:.2g}, vs per-point kernel {max_diff_exp:.2g}, "
        f"edt == stamp: {edt_equal}; process peak RSS {result['process_peak_rss_mib']:.0f} MiB"
    )
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
