"""Benchmark: the whole local pipeline at 1×, 2× and 4× a region's pixels, each stage in
its own process: wall time and peak memory per stage, and whether memory stays flat and
time linear as the region grows (issue 17).

The region: the embedded demo (``assets/demo``, its 9 factors, its inventory and truth
raster) at ``--resolution`` (default 8.8 m → 10.2 M px) is 1×. ``--grow tile`` (the
default) makes 2× and 4× a larger region at the same resolution: the demo's inputs mirrored
into 2 × 1 and 2 × 2 tiles (``mirror_region.py``), what a user with a bigger area has.
``--grow regrid`` re-grids the demo finer instead (resolution divided by √2 and 2): the
neighbourhoods fixed in metres (TPI, relief: 450 m) then span more cells, so the terrain
factors' cost per pixel grows too, which is not a property of region size.
``output.strip_pixels`` keeps its default. Training is short (``--epochs``, default 3,
one member) for ``--models`` (default one network, ``lsgh``, and ``rf-raw``); the
stages are those of ``lsgh-ee run``: ``export-factors``, ``sample``, ``train`` and
``predict`` per model, ``evaluate``, ``zone``, ``preview`` (of the first model) and
``report``, each run as
``python -m lsgh_ee STAGE CONFIG`` in a child process. Peak memory: the child's
``ru_maxrss`` from ``wait4`` (the bench's own small interpreter at the fork aside);
``baseline`` is a process that only imports TensorFlow and lsgh_ee's model layer, the
floor every training/mapping stage pays.

For each stage: wall seconds, CPU seconds (user + system, from ``wait4``: what a busy
shared machine does not distort) and peak MiB per scale, the ratios 2×/1× and 4×/1× of
CPU time and peak memory, ``flat`` when every peak is within 10 % of the 1× peak,
``linear`` when every CPU-time ratio is at most 1.25 × the pixel ratio (a fixed cost
such as imports makes small stages sub-linear, which passes). Prints a table and writes
``bench/results/scale.json``.

    .venv/bin/python bench/bench_scale.py                 # 10.2, 20.4, 40.8 M px
    .venv/bin/python bench/bench_scale.py --quick         # 0.39, 0.78, 1.56 M px
    .venv/bin/python bench/bench_scale.py --stages export-factors sample \\
        --pythonpath /path/to/other/checkout             # another checkout's code

``--pythonpath`` measures another checkout of lsgh-ee (e.g. main, for before/after);
``--keep DIR`` keeps the regions and run folders there.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from memory import write_results

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "demo"
RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
STAGES = ("export-factors", "sample", "train", "evaluate", "predict", "zone", "preview",
          "report")  # fmt: skip
FLAT = 1.10  # peak memory within 10 % of 1×
LINEAR = 1.25  # time at most 1.25 × the pixel ratio
BASELINE = "import lsgh_ee.model, tensorflow"


TILES = {1: (1, 1), 2: (2, 1), 4: (2, 2)}  # --grow tile: scale → mirrored tiles (cols, rows)


def region_at(folder: Path, resolution: float, epochs: int, models: list[str],
              tiles: tuple[int, int] | None = None) -> Path:  # fmt: skip
    """The demo's inputs (as they are, or mirrored into ``tiles``: see
    ``mirror_region.py``; 1 × 1 is the demo's inputs on the mirrored layout's grid, so all
    scales read the same kind of input) in ``folder`` and a config on a ``resolution`` m
    grid with short training of ``models``."""
    if tiles is None:
        shutil.copytree(DEMO, folder, dirs_exist_ok=True)
    else:  # in a child: GeoPandas and the mirrored arrays stay out of this process
        subprocess.run([sys.executable, str(Path(__file__).with_name("mirror_region.py")),
                        str(DEMO), str(folder), *map(str, tiles)], check=True)  # fmt: skip
    config = yaml.safe_load((folder / "region.yaml").read_text())
    config["resolution"] = resolution
    config["output"] = {"dir": "run"}
    config.setdefault("training", {}).update(epochs=epochs, models=models, members=1)
    path = folder / "region.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def measure(command: list[str], pythonpath: str) -> dict:
    """Run ``command``; its wall seconds, CPU seconds (user + system) and peak RSS (MiB)."""
    env = dict(os.environ, PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    err = proc.stderr.read()  # until the child closes it (it exits)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.stderr.write(err[-4000:])
        raise subprocess.CalledProcessError(proc.returncode, command)
    return {"s": round(seconds, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "mib": round(usage.ru_maxrss / 1024)}  # fmt: skip


def stage_commands(config: Path, stages: list[str], models: list[str]) -> list[tuple[str, list]]:
    """``(label, argv)`` of each stage process, in the order of ``lsgh-ee run``."""
    cli = [sys.executable, "-m", "lsgh_ee"]
    out: list[tuple[str, list]] = []
    for stage in STAGES:
        if stage not in stages:
            continue
        if stage in ("train", "predict"):
            out += [(f"{stage} {m}", [*cli, stage, str(config), "--model", m]) for m in models]
        elif stage == "preview":
            out.append((stage, [*cli, stage, str(config), "--model", models[0]]))
        else:
            out.append((stage, [*cli, stage, str(config)]))
    return out


def summarise(runs: dict[int, dict[str, dict]]) -> dict[str, dict]:
    """Per stage: ratios to 1× and the flat / linear verdicts."""
    scales = sorted(runs)
    base = scales[0]
    out = {}
    for label in list(runs[base]):
        row: dict = {"s": {}, "cpu_s": {}, "mib": {}, "time_ratio": {}, "mib_ratio": {}}
        for scale in scales:
            got = runs[scale].get(label)
            if got is None:
                continue
            row["s"][scale], row["mib"][scale] = got["s"], got["mib"]
            row["cpu_s"][scale] = got["cpu_s"]
            if scale != base:
                cpu = max(runs[base][label]["cpu_s"], 1e-9)
                row["time_ratio"][scale] = round(got["cpu_s"] / cpu, 2)
                row["mib_ratio"][scale] = round(got["mib"] / runs[base][label]["mib"], 2)
        row["flat"] = all(r <= FLAT for r in row["mib_ratio"].values())
        row["linear"] = all(r <= LINEAR * s / base for s, r in row["time_ratio"].items())
        out[label] = row
    return out


def print_table(summary: dict[str, dict], scales: list[int], mpx: dict[int, float]) -> None:
    head = " | ".join(f"{s}x {mpx[s]:.1f} Mpx s / CPU s / MiB" for s in scales)
    ratios = " | ".join(f"{s}x/1x CPU / mem" for s in scales[1:])
    print(f"| stage | {head} | {ratios} | flat | linear |")
    print("|---" * (3 + len(scales) + len(scales[1:])) + "|")
    for label, row in summary.items():
        cells = " | ".join(f"{row['s'].get(s, '-')} / {row['cpu_s'].get(s, '-')} / "
                           f"{row['mib'].get(s, '-')}" for s in scales)  # fmt: skip
        rat = " | ".join(f"{row['time_ratio'].get(s, '-')} / {row['mib_ratio'].get(s, '-')}"
                         for s in scales[1:])  # fmt: skip
        print(
            f"| {label} | {cells} | {rat} | {'yes' if row['flat'] else 'NO'} | "
            f"{'yes' if row['linear'] else 'NO'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=None,
                        help="1x resolution in m (default 8.8; --quick 45)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes (0.4-1.6 M px)")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4], choices=TILES)
    parser.add_argument("--grow", choices=("tile", "regrid"), default="tile",
                        help="a larger region at the same resolution (tile, default) or the "
                        "same region re-gridded finer (regrid)")  # fmt: skip
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--models", nargs="+", default=["lsgh", "rf-raw"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cores", type=int, default=None,
                        help="pin each stage to this many CPUs (default: all); 1 makes CPU "
                        "times comparable across scales on a busy machine")  # fmt: skip
    parser.add_argument("--pythonpath", default=str(REPO), help="the lsgh-ee checkout to run")
    parser.add_argument("--keep", type=Path, help="keep the regions and runs in this folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.cores:  # the stages inherit it: thread pools (TensorFlow, the forests' joblib,
        # BLAS) are as wide at every scale, whatever else the machine runs
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-args.cores :])
    resolution = args.resolution or (45.0 if args.quick else 8.8)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    runs: dict[int, dict[str, dict]] = {}
    mpx: dict[int, float] = {}
    try:
        baseline = measure([sys.executable, "-c", BASELINE], args.pythonpath)
        print(f"baseline ({BASELINE}): {baseline['s']} s, {baseline['mib']} MiB", flush=True)
        for scale in args.scales:
            if args.grow == "tile":
                res = resolution
                config = region_at(folder / f"x{scale}", res, args.epochs, args.models,
                                   TILES[scale])  # fmt: skip
            else:
                res = resolution / math.sqrt(scale)
                config = region_at(folder / f"x{scale}", res, args.epochs, args.models)
            runs[scale] = {}
            mpx[scale] = _mpx(config, args.pythonpath)
            for label, command in stage_commands(config, args.stages, args.models):
                try:
                    runs[scale][label] = got = measure(command, args.pythonpath)
                except subprocess.CalledProcessError:
                    print(f"{scale}x {label} failed; the later stages of this size are skipped")
                    break
                print(f"{scale}x {res:6.2f} m  {label:16s} {got['s']:8.1f} s "
                      f"(CPU {got['cpu_s']:.1f} s) {got['mib']:7d} MiB", flush=True)  # fmt: skip
            if not args.keep:
                shutil.rmtree(config.parent / "run", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    summary = summarise(runs)
    print_table(summary, sorted(runs), mpx)
    write_results(args.out, {"resolution_1x": resolution, "grow": args.grow,
                             "cores": args.cores,
                             "pythonpath": args.pythonpath,
                             "epochs": args.epochs, "models": args.models,
                             "baseline": baseline, "mpx": mpx, "runs": runs,
                             "summary": summary})  # fmt: skip


def _mpx(config: Path, pythonpath: str) -> float:
    """The region's pixels (millions), from its grid in a child process (this process
    stays small: a child's ``ru_maxrss`` counts what it inherits at the fork)."""
    code = ("import sys; from lsgh_ee.config import load_config; from lsgh_ee.region import "
            "Region; g = Region.from_config(load_config(sys.argv[1])).grid; "
            "print(g.height * g.width)")  # fmt: skip
    env = dict(os.environ, PYTHONPATH=pythonpath)
    out = subprocess.run([sys.executable, "-c", code, str(config)], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return round(int(out.split()[-1]) / 1e6, 2)


if __name__ == "__main__":
    main()
