"""Benchmark: slope + aspect of a large DEM, ``gdaldem`` against ``lsgh_ee.factors.terrain``.

Both sides do the same work, GeoTIFF in to two GeoTIFFs out (float32, uncompressed,
GDAL's default striped layout):

* gdaldem: ``gdaldem slope`` then ``gdaldem aspect`` (Horn), two subprocesses;
* ours: read the DEM with rasterio, ``slope_aspect`` (Horn), write both with rasterio.
  It runs in a child process so that its peak RSS is its own; its time is measured
  inside that process (read → compute → write, interpreter start-up and imports excluded;
  gdaldem's time includes its process start, a few tens of milliseconds).

Each side runs ``--repeat`` times (default 3) and the best time counts. Prints a table and
writes ``bench/results/terrain.json``.

    .venv/bin/python bench/bench_terrain.py [--size 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from memory import peak_rss_mib, status_mib, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "terrain.json"
CELL = 10.0  # metres
CRS = "EPSG:32633"
TARGET_RATIO = 1.5


def _gdaldem_cmd(mode: str, dem_path: Path, out: Path) -> list[str]:
    return ["gdaldem", mode, "-q", "-of", "GTiff", str(dem_path), str(out)]


def synth_dem(size: int, seed: int = 0) -> np.ndarray:
    """``size × size`` float32 terrain in metres: ridges and valleys, a few massifs, a
    low-lying basin, rough small-scale relief and a little nodata in one corner."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    # Coordinates in km on a 10 m grid.
    y = (np.arange(size, dtype=np.float32) * (CELL / 1000))[:, None]
    x = (np.arange(size, dtype=np.float32) * (CELL / 1000))[None, :]
    z = 800.0 + 120.0 * np.sin(x / 3.1 + 0.4) * np.cos(y / 4.3)
    z += 60.0 * np.sin((x + 0.6 * y) / 1.3)
    span = size * CELL / 1000
    for _ in range(6):
        cx, cy = rng.uniform(0, span, 2)
        h, r = rng.uniform(150, 500), rng.uniform(2, 8)
        z += h * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    noise = rng.standard_normal((size, size), dtype=np.float32)
    z += 400.0 * ndimage.gaussian_filter(noise, sigma=6.0)
    z += 2.0 * ndimage.gaussian_filter(noise, sigma=1.0)
    dem = z.astype(np.float32)
    dem[: size // 50, : size // 50] = np.nan
    return dem


def write_dem(path: Path, dem: np.ndarray) -> None:
    import rasterio
    from affine import Affine

    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "width": dem.shape[1],
        "height": dem.shape[0],
        "count": 1,
        "crs": CRS,
        "transform": Affine(CELL, 0.0, 500_000.0, 0.0, -CELL, 5_500_000.0),
        "nodata": float("nan"),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dem, 1)


def run_gdaldem(dem_path: Path, out_dir: Path) -> float:
    """Seconds for ``gdaldem slope`` + ``gdaldem aspect`` (GTiff, default options)."""
    outputs = [out_dir / "gdal_slope.tif", out_dir / "gdal_aspect.tif"]
    for p in outputs:
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    for mode, out in zip(("slope", "aspect"), outputs, strict=True):
        subprocess.run(_gdaldem_cmd(mode, dem_path, out), check=True)
    return time.perf_counter() - t0


def gdaldem_peak_rss(dem_path: Path, out_dir: Path) -> float | None:
    """Largest peak RSS (MiB) of ``gdaldem slope`` / ``aspect``, sampled from /proc while
    each runs (an untimed extra run; None where there is no /proc)."""
    peak = None
    for mode in ("slope", "aspect"):
        out = out_dir / f"gdal_{mode}_rss.tif"
        proc = subprocess.Popen(_gdaldem_cmd(mode, dem_path, out))
        while True:
            hwm = status_mib(proc.pid, "VmHWM")
            if hwm is not None:
                peak = max(peak or 0.0, hwm)
            try:
                proc.wait(timeout=0.005)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, proc.args)
        out.unlink(missing_ok=True)
    return peak


def worker(dem_path: Path, out_dir: Path) -> dict:
    """Our path, run in a child process: read, slope_aspect, write two GeoTIFFs."""
    import rasterio

    from lsgh_ee.factors.terrain import slope_aspect

    rss_before = status_mib("self", "VmRSS")
    outputs = [out_dir / "ours_slope.tif", out_dir / "ours_aspect.tif"]
    for p in outputs:
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with rasterio.open(dem_path) as src:
        # Plain read (no masked copy): nodata is NaN already, else turned into NaN in place.
        dem = src.read(1, out_dtype="float32")
        if src.nodata is not None and not np.isnan(src.nodata):
            dem[dem == src.nodata] = np.nan
        cellsize = (src.transform.a, -src.transform.e)
        profile = src.profile
    t_read = time.perf_counter()
    slope_deg, aspect_deg = slope_aspect(dem, cellsize, method="horn")
    t_compute = time.perf_counter()
    profile.update(dtype="float32", nodata=float("nan"), count=1)
    for arr, out in zip((slope_deg, aspect_deg), outputs, strict=True):
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(arr, 1)
    t_end = time.perf_counter()
    return {
        "seconds": t_end - t0,
        "read_s": t_read - t0,
        "compute_s": t_compute - t_read,
        "write_s": t_end - t_compute,
        "rss_after_imports_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_ours(dem_path: Path, out_dir: Path) -> dict:
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", str(dem_path), str(out_dir)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_agreement(out_dir: Path) -> dict:
    """Largest slope / circular aspect difference between the two sides' outputs."""
    import rasterio

    def read(name: str) -> np.ndarray:
        with rasterio.open(out_dir / name) as src:
            return src.read(1, masked=True).filled(np.nan)

    gs, ga = read("gdal_slope.tif"), read("gdal_aspect.tif")
    os_, oa = read("ours_slope.tif"), read("ours_aspect.tif")
    both = ~np.isnan(gs) & ~np.isnan(os_)
    da = np.abs(ga - oa)
    da = np.minimum(da, 360 - da)
    both_a = ~np.isnan(ga) & (oa >= 0)
    return {
        "slope_max_abs_diff_deg": float(np.abs(gs - os_)[both].max()),
        "aspect_max_abs_diff_deg": float(da[both_a].max()),
        "slope_nodata_masks_equal": bool(np.array_equal(np.isnan(gs), np.isnan(os_))),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000, help="DEM side in cells (default 5000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side; best counts")
    ap.add_argument("--worker", nargs=2, metavar=("DEM", "OUT_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), Path(args.worker[1]))))
        return 0
    gdaldem = shutil.which("gdaldem")
    if gdaldem is None:
        print("gdaldem is not on PATH (apt-get install gdal-bin)", file=sys.stderr)
        return 2
    gdal_version = subprocess.run(
        ["gdalinfo", "--version"], capture_output=True, text=True
    ).stdout.strip()

    with tempfile.TemporaryDirectory(prefix="bench_terrain_") as tmp:
        tmp_dir = Path(tmp)
        dem_path = tmp_dir / "dem.tif"
        t0 = time.perf_counter()
        write_dem(dem_path, synth_dem(args.size))
        print(f"synthesised {args.size}×{args.size} DEM in {time.perf_counter() - t0:.1f} s")

        gdal_times = [run_gdaldem(dem_path, tmp_dir) for _ in range(args.repeat)]
        gdal_rss = gdaldem_peak_rss(dem_path, tmp_dir)
        ours_runs = [run_ours(dem_path, tmp_dir) for _ in range(args.repeat)]
        agreement = check_agreement(tmp_dir)

    best_gdal = min(gdal_times)
    best = min(ours_runs, key=lambda r: r["seconds"])
    ratio = best["seconds"] / best_gdal
    result = {
        "benchmark": "slope+aspect (Horn), GeoTIFF in -> 2 GeoTIFFs out",
        "size": [args.size, args.size],
        "cells": args.size * args.size,
        "repeat": args.repeat,
        "gdaldem_s": best_gdal,
        "gdaldem_all_s": gdal_times,
        "gdaldem_peak_rss_mib": gdal_rss,
        "ours_s": best["seconds"],
        "ours_all_s": [r["seconds"] for r in ours_runs],
        "ours_best_breakdown_s": {k: best[k] for k in ("read_s", "compute_s", "write_s")},
        "ours_peak_rss_mib": max(r["peak_rss_mib"] for r in ours_runs),
        "ours_rss_after_imports_mib": best["rss_after_imports_mib"],
        "ratio_ours_over_gdaldem": ratio,
        "target_ratio": TARGET_RATIO,
        "agreement": agreement,
        "gdal": gdal_version,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(f"{'':12}{'best s':>9}{'runs (s)':>28}{'peak RSS MiB':>15}")
    gdal_rss_txt = "n/a" if gdal_rss is None else f"{gdal_rss:.0f}"
    print(
        f"{'gdaldem':12}{best_gdal:9.3f}{' '.join(f'{t:.3f}' for t in gdal_times):>28}"
        f"{gdal_rss_txt:>15}"
    )
    runs = " ".join(f"{r['seconds']:.3f}" for r in ours_runs)
    print(f"{'lsgh_ee':12}{best['seconds']:9.3f}{runs:>28}{result['ours_peak_rss_mib']:15.0f}")
    b = result["ours_best_breakdown_s"]
    base = best["rss_after_imports_mib"]
    print(
        f"ours: read {b['read_s']:.3f} s, compute {b['compute_s']:.3f} s, "
        f"write {b['write_s']:.3f} s; RSS after imports "
        f"{'n/a' if base is None else f'{base:.0f}'} MiB"
    )
    print(
        f"ratio ours/gdaldem = {ratio:.2f} (target <= {TARGET_RATIO}); "
        f"max |Δslope| = {agreement['slope_max_abs_diff_deg']:.2g}°, "
        f"max |Δaspect| = {agreement['aspect_max_abs_diff_deg']:.2g}°"
    )
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
