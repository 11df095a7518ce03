"""Benchmark: ``export-factors`` (local backend) whole-array against strip by strip.

The region: the embedded demo (``assets/demo``, 9 factors) re-gridded finer, as issue 17
measured it (same inputs, ``resolution`` changed): ``--resolution`` (default 8.8 m → 10.2 M px)
is 1×; 2× and 4× divide it by √2 and 2
(twice and four times the pixels). Note that the TPI and relief radii (450 m) then span
more cells (51 at 1×, 102 at 4×), so the neighbourhood work per pixel grows with the scale too.

The demo's factors include two distances (roads, rivers), NDVI, a remapped raster and
polygons besides the DEM factors. ``--small`` runs the same at 45 m (0.4 M px) in seconds.

Modes, each in its own child process (peak RSS = ``VmHWM`` from /proc, its own):

* ``whole``: the previous path, :func:`lsgh_ee.factors.local.compute_local_factors` then
  ``FactorStack.write`` and the factor report on the in-memory stack;
* ``strips``: :func:`lsgh_ee.factors.windows.export_local_factors` (``--strip-rows``,
  default 512) and the report from ``class_codes.tif``;
* ``stage``: the ``export-factors`` stage itself (:func:`lsgh_ee.stages.factors.export_factors`,
  the config's ``output.strip_rows`` set to ``--strip-rows``): what ``lsgh-ee
  export-factors`` runs, inventory and report included. ``--repo`` runs it from another
  checkout (e.g. main, for a before / after comparison).

``whole`` and ``strips`` write the same files (``tests/test_windowed.py`` and
``tests/test_windowed_sources.py`` check them byte for byte). Times are measured inside
the child (imports excluded; compute + write + report, the inventory checks too). Prints a
table and writes ``bench/results/export.json``.

    .venv/bin/python bench/bench_export.py [--scales 1 2 4] [--modes whole strips stage]
        [--small] [--repo PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from memory import peak_rss_mib, write_results

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "demo"
RESULTS = Path(__file__).resolve().parent / "results" / "export.json"


def worker(mode: str, config_path: str, out: str, strip_rows: int) -> dict:
    """One export in this process; returns times (s) and peak RSS (MiB)."""
    from lsgh_ee.config import load_config
    from lsgh_ee.factors.local import compute_local_factors
    from lsgh_ee.factors.report import factor_report, factor_report_from_file
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.factors.windows import export_local_factors
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region

    import_mib = peak_rss_mib()
    if mode == "stage":
        return _stage(config_path, out, import_mib)
    t0 = time.perf_counter()
    config = load_config(config_path)
    region = Region.from_config(config)
    factors = resolve_factors(config, "local")
    inventory = read_inventory(config.inventory, region)
    mask = inventory.mask(region.grid, "polygon")
    samples, seed = config.sampling.importance_samples, config.sampling.seed
    if mode == "whole":
        stack = compute_local_factors(region, factors)
        stack.write(out)
        t1 = time.perf_counter()
        factor_report(stack, mask, n_samples=samples, seed=seed)
    else:
        stack = export_local_factors(region, factors, out, strip_rows=strip_rows)
        t1 = time.perf_counter()
        factor_report_from_file(Path(out) / "class_codes.tif", stack.names, mask,
                                n_samples=samples, seed=seed, strip_rows=strip_rows)  # fmt: skip
    t2 = time.perf_counter()
    rows, cols = region.grid.shape
    return {"mode": mode, "rows": rows, "cols": cols, "mpx": rows * cols / 1e6,
            "factors_s": round(t1 - t0, 1), "report_s": round(t2 - t1, 1),
            "total_s": round(t2 - t0, 1), "peak_mib": round(peak_rss_mib()),
            "import_mib": round(import_mib)}  # fmt: skip


def _stage(config_path: str, out: str, import_mib: float) -> dict:
    """The ``export-factors`` stage in this process: time (s) and peak RSS (MiB)."""
    import rasterio

    from lsgh_ee.stages.factors import export_factors

    t0 = time.perf_counter()
    export_factors(config_path, run_dir=out, force=True)
    total = time.perf_counter() - t0
    with rasterio.open(Path(out) / "factors.tif") as src:
        rows, cols = src.height, src.width
    return {"mode": "stage", "rows": rows, "cols": cols, "mpx": rows * cols / 1e6,
            "factors_s": round(total, 1), "report_s": 0.0, "total_s": round(total, 1),
            "peak_mib": round(peak_rss_mib()), "import_mib": round(import_mib),
            "cpu_s": round(_cpu_s(), 1)}  # fmt: skip


def _cpu_s() -> float:
    """User + system CPU seconds of this process so far (imports included): the machine
    may be shared, so wall time alone can mislead."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def region_at(folder: Path, resolution: float, strip_rows: int) -> Path:
    """The demo's inputs in ``folder`` with its config re-gridded to ``resolution`` m."""
    shutil.copytree(DEMO, folder, dirs_exist_ok=True)
    config = yaml.safe_load((DEMO / "region.yaml").read_text())
    config["resolution"] = resolution
    config["output"] = {"dir": "run", "strip_rows": strip_rows}
    config.pop("evaluation", None)
    path = folder / f"region-{resolution:g}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_child(repo: Path, *args: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--worker", *args],
                          capture_output=True, text=True, env=env)  # fmt: skip
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=8.8, help="1× resolution (m)")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--modes", nargs="+", default=["whole", "strips"])
    parser.add_argument("--strip-rows", type=int, default=512)
    parser.add_argument("--scale-strips", action="store_true",
                        help="strip rows / sqrt(scale) at each scale: strips of as many pixels "
                        "(the grid's width grows by sqrt(scale))")  # fmt: skip
    parser.add_argument("--small", action="store_true", help="1x at 45 m (0.4 M px): quick")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout the children import")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "CONFIG", "OUT", "ROWS"))
    args = parser.parse_args()
    if args.worker:
        mode, config, out, rows = args.worker
        print(json.dumps(worker(mode, config, out, int(rows))))
        return
    if args.small:
        args.resolution = 45.0
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for scale in args.scales:
            resolution = args.resolution / math.sqrt(scale)
            rows = (
                round(args.strip_rows / math.sqrt(scale)) if args.scale_strips else args.strip_rows
            )
            config = region_at(Path(tmp), resolution, rows)
            for mode in args.modes:
                out = Path(tmp) / f"run-{scale}-{mode}"
                result = run_child(args.repo, mode, str(config), str(out), str(rows))
                result.update(scale=scale, resolution=round(resolution, 3), repo=str(args.repo),
                              strip_rows=rows)  # fmt: skip
                results.append(result)
                print(f"{scale}x {resolution:6.2f} m {result['mpx']:6.1f} Mpx {mode:6s} "
                      f"{result['total_s']:7.1f} s (factors {result['factors_s']:.1f} s, "
                      f"report {result['report_s']:.1f} s)  peak {result['peak_mib']:6d} MiB "
                      f"(imports {result['import_mib']} MiB) cpu {result.get('cpu_s', '-')} s "
                      f"strips of {rows} rows", flush=True)  # fmt: skip
                shutil.rmtree(out, ignore_errors=True)
    write_results(RESULTS, {"strip_rows": args.strip_rows, "runs": results})


if __name__ == "__main__":
    main()
