"""Benchmark: whole-region susceptibility mapping, ``predict_map`` against a plain predict.

Both sides go class-code GeoTIFF in → susceptibility GeoTIFF out (float32, NaN nodata,
deflate, cloud-optimised with overviews), with the same LSGH-Net weights:

* map: :func:`lsgh_ee.mapping.predict_map` — streams the stack in 256-row strips and sends
  each *distinct* class-code vector to the network once (a cache of predicted vectors);
* plain: read the whole stack, ``estimator.predict`` on the code vector of every valid pixel
  (one ``(N, 9)`` array; the estimator runs Keras ``predict_on_batch`` in chunks of 8192,
  which is faster here than ``keras.Model.predict(batch_size=8192)``), then
  :func:`lsgh_ee.rasters.write_geotiff` of the same map.

Every run is its own child process, so its peak memory (``VmHWM`` from /proc) is its own;
times are measured inside the child (model load and imports excluded, read → predict →
write → COG included). The map side is short, so it runs ``--repeat`` times (default 3,
in the same child, each with an empty vector cache) and the median counts; the plain run
is long enough (minutes) to average out a busy machine and runs once.

The stacks: the embedded demo region (``lsgh-ee export-factors assets/demo/region.yaml``,
9 factors, 318 × 308 px at 90 m) upsampled by an integer factor with nearest neighbour
(``--size-factor``, default 8 → 2544 × 2464 = 6.3 M px at 11.25 m). That keeps the
*distinct* vectors of the real demo landscape (64,994) while the pixel count grows —
what mapping the same landscape at a finer resolution does. The doubled region (2×) puts
the upsampled stack next to its mirror image (twice the area, same vectors), once side by
side ("2x", strips twice as long: the worst case for full-width strips) and once one above
the other ("2x_tall", twice as many strips); "4x" is the 2× wide stack above its mirror
(memory only matters there: how peak RSS grows with the region). The harder "perturbed" stacks give
``--perturb`` (5 %) of the valid pixels, drawn at random, a random code in one random
factor, so most of those pixels carry a vector of their own and the distinct vectors grow
with the pixels (≈ 0.27 M at 1×, ≈ 0.45 M at 2× with the defaults).

What bounds the speed is reported too: the network's throughput by batch size (vectors/s),
its cost per vector (MACs/FLOPs counted from the Keras layer shapes), and for each map run
the time spent in the network (distinct vectors) against the rest (read, unique, write,
COG), with the two-term model ``seconds ≈ distinct / R_net + pixels / R_other`` fitted
from the runs. The plain side's cost does not depend on the content (every pixel goes
through the network), so the perturbed ratio uses the plain run's speed unless
``--plain-perturbed``.

Memory: ``predict_map`` caps GDAL's block cache (``lsgh_ee.rasters.GDAL_CACHE_MB``); without
the cap GDAL uses 5 % of RAM and the map runs' peak grew with the region as the strips were
written and the COG built (1305 → 1399 → 1585 MiB at 1× / 2× / 4× before the cap).

Prints a table and writes ``bench/results/mapping.json``. A default run takes about
5 minutes on 2 cores (the plain run is most of it); ``--quick`` (``--size-factor 3``,
0.9 M px) about 1.5 minutes.

    .venv/bin/python bench/bench_mapping.py [--size-factor 8] [--perturb 0.05] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from memory import peak_rss_mib, status_mib, write_results

from lsgh_ee.rasters import GDAL_CACHE_MB

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "mapping.json"
DEMO_CONFIG = REPO / "assets" / "demo" / "region.yaml"
TARGET_RATIO = 5.0
TARGET_PEAK_MIB = 2048.0
BATCH_SIZES = (64, 512, 8192)
SEED = 0


# -- memory -----------------------------------------------------------------------------
def _meminfo_total_mib() -> float | None:
    try:
        return int(Path("/proc/meminfo").read_text().split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None


# -- stacks -----------------------------------------------------------------------------
def export_demo(out_dir: Path) -> None:
    """``lsgh-ee export-factors`` of the embedded demo region into ``out_dir``."""
    subprocess.run(
        [sys.executable, "-m", "lsgh_ee", "export-factors", str(DEMO_CONFIG), "--out",
         str(out_dir)],
        check=True, capture_output=True, text=True, env=_child_env(),
    )  # fmt: skip


def upsample(codes: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upsampling of ``(F, rows, cols)`` by an integer factor."""
    return np.repeat(np.repeat(codes, factor, axis=1), factor, axis=2)


def doubled(codes: np.ndarray, tall: bool = False) -> np.ndarray:
    """The region twice as wide (or tall): the stack next to its mirror image (no seam)."""
    if tall:
        return np.concatenate([codes, codes[:, ::-1, :]], axis=1)
    return np.concatenate([codes, codes[:, :, ::-1]], axis=2)


def perturb(codes: np.ndarray, counts: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A copy where ``share`` of the valid pixels get a random code in one random factor."""
    rng = np.random.default_rng(seed)
    out = codes.copy()
    flat = out.reshape(out.shape[0], -1)  # a view: writes go to ``out``
    valid = np.flatnonzero((flat > 0).all(axis=0))
    chosen = rng.choice(valid, size=int(round(share * valid.size)), replace=False)
    factor = rng.integers(0, flat.shape[0], chosen.size)
    flat[factor, chosen] = (rng.integers(0, 1 << 30, chosen.size) % counts[factor] + 1).astype(
        np.uint8
    )
    return out


def distinct_vectors(codes: np.ndarray, counts: np.ndarray) -> tuple[int, int]:
    """(valid pixels, distinct class-code vectors among them)."""
    from lsgh_ee.mapping import vector_keys

    flat = codes.reshape(codes.shape[0], -1).T
    valid = (flat > 0).all(axis=1)
    return int(valid.sum()), int(np.unique(vector_keys(flat[valid], counts)).size)


def write_stack(path: Path, codes: np.ndarray, profile: dict, factor: int) -> None:
    """Write ``codes`` with the demo stack's profile at ``1 / factor`` of its pixel size."""
    import rasterio
    from affine import Affine

    t = profile["transform"]
    profile = dict(profile, height=codes.shape[1], width=codes.shape[2], BIGTIFF="IF_SAFER",
                   transform=Affine(t.a / factor, 0.0, t.c, 0.0, t.e / factor, t.f))  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(codes)


# -- child processes --------------------------------------------------------------------
def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(*args: str) -> dict:
    """Run this script as ``--worker ARGS...`` in a child; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True, text=True, env=_child_env(),
    )  # fmt: skip
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker_model(codes_path: Path, schema_path: Path, model_dir: Path, quick: bool) -> dict:
    """Fit LSGH-Net for one epoch on demo vectors (random labels), save it, count its cost
    and time the bare network on random valid vectors by batch size."""
    import rasterio

    from lsgh_ee.model import make_model

    counts = [f["n_classes"] for f in json.loads(schema_path.read_text())["factors"]]
    with rasterio.open(codes_path) as src:
        flat = src.read().reshape(src.count, -1).T
    flat = flat[(flat > 0).all(axis=1)]
    rng = np.random.default_rng(SEED)
    train = flat[rng.choice(len(flat), 600, replace=False)]
    labels = (rng.random(len(train)) < 0.5).astype("float32")
    model = make_model("lsgh", counts, epochs=1, validation_fraction=0.2, seed=SEED)
    model.fit(train, labels)
    model.save(model_dir)

    n = 16384 if quick else 49152
    probe = np.stack([rng.integers(1, c + 1, n) for c in counts], axis=1).astype(np.uint8)
    throughput = {}
    for batch in BATCH_SIZES:
        model.predict_batch_size = batch
        model.predict(probe[: 4 * batch])  # warm-up (graph tracing for this shape)
        t0 = time.perf_counter()
        model.predict(probe)
        throughput[str(batch)] = n / (time.perf_counter() - t0)
    from lsgh_ee.model.network import network_cost

    return {"class_counts": counts, "cost": network_cost(model.model_),
            "vectors_per_s_by_batch": throughput}  # fmt: skip


class TimedModel:
    """Wraps an estimator: times and counts what ``predict_map`` sends to the network."""

    def __init__(self, model) -> None:
        self.model = model
        self.seconds = 0.0
        self.rows: list[int] = []

    def predict(self, codes: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.model.predict(codes)
        self.seconds += time.perf_counter() - t0
        self.rows.append(int(codes.shape[0]))
        return out


def _load_model(model_dir: Path) -> tuple[object, dict]:
    """The saved model, warmed up on one full batch (graph traced, TensorFlow's buffers
    for a batch of 8192 allocated), and the RSS (MiB) after the imports and after that."""
    import lsgh_ee.model.keras_estimators  # noqa: F401 - TensorFlow, counted in the import RSS
    from lsgh_ee.mapping import predict_map  # noqa: F401 - counted in the import RSS
    from lsgh_ee.model.base import ModelEstimator
    from lsgh_ee.rasters import write_geotiff  # noqa: F401

    rss = {"rss_after_imports_mib": status_mib("self", "VmRSS")}
    model = ModelEstimator.load(model_dir)
    model.predict(np.ones((model.predict_batch_size, len(model.class_counts)), np.uint8))
    rss["rss_after_load_mib"] = status_mib("self", "VmRSS")
    return model, rss


def worker_map(codes_path: Path, out_path: Path, model_dir: Path, repeat: int = 1) -> dict:
    """Side (a): ``predict_map`` (streamed, distinct vectors) writing the COG, ``repeat``
    times in this process (each run starts with an empty vector cache); the run with the
    median time is reported. Peak RSS is taken after the first run."""
    from lsgh_ee.mapping import predict_map

    model, rss = _load_model(model_dir)
    runs, peak = [], None
    for _ in range(repeat):
        timed = TimedModel(model)
        t0 = time.perf_counter()
        stats = predict_map(timed, codes_path, out_path, model.class_counts)
        runs.append((time.perf_counter() - t0, timed, stats))
        peak = peak if peak is not None else peak_rss_mib()
    seconds, timed, stats = sorted(runs, key=lambda run: run[0])[(len(runs) - 1) // 2]
    rows = np.array(timed.rows or [0])
    return {
        "seconds": seconds,
        "seconds_all": [run[0] for run in runs],
        "pixels": stats["pixels"],
        "valid_pixels": stats["valid_pixels"],
        "distinct_vectors_predicted": stats["distinct_vectors"],
        "network_s": timed.seconds,
        "other_s": seconds - timed.seconds,
        "network_calls": len(timed.rows),
        "rows_per_call": {
            "min": int(rows.min()),
            "median": float(np.median(rows)),
            "max": int(rows.max()),
        },
        **rss,
        "peak_rss_mib": peak,
        "peak_rss_all_runs_mib": peak_rss_mib(),
    }


def worker_plain(codes_path: Path, out_path: Path, model_dir: Path) -> dict:
    """Side (b): the whole stack in memory, the network on every valid pixel, one write."""
    import rasterio

    from lsgh_ee.grid import Grid
    from lsgh_ee.rasters import write_geotiff

    model, rss = _load_model(model_dir)
    t0 = time.perf_counter()
    with rasterio.open(codes_path) as src:
        codes = src.read()
        grid = Grid(src.crs, src.transform, src.height, src.width)
    flat = codes.reshape(codes.shape[0], -1).T
    valid = (flat > 0).all(axis=1)
    x = flat[valid]
    t_read = time.perf_counter()
    values = model.predict(x)
    t_predict = time.perf_counter()
    index = np.full(flat.shape[0], np.nan, np.float32)
    index[valid] = values
    write_geotiff(out_path, index.reshape(grid.shape), grid, descriptions=["susceptibility"])
    t_end = time.perf_counter()
    return {
        "seconds": t_end - t0,
        "pixels": int(flat.shape[0]),
        "valid_pixels": int(valid.sum()),
        "read_s": t_read - t0,
        "network_s": t_predict - t_read,
        "write_s": t_end - t_predict,
        **rss,
        "peak_rss_mib": peak_rss_mib(),
    }


def compare_maps(a: Path, b: Path) -> dict:
    """Largest difference between two susceptibility maps and whether NaNs coincide."""
    import rasterio

    with rasterio.open(a) as fa, rasterio.open(b) as fb:
        x, y = fa.read(1), fb.read(1)
    both = np.isfinite(x) & np.isfinite(y)
    return {
        "max_abs_diff": float(np.abs(x[both] - y[both]).max()) if both.any() else None,
        "nodata_equal": bool(np.array_equal(np.isnan(x), np.isnan(y))),
    }


# -- main -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--size-factor",
        type=int,
        default=None,
        help="nearest-neighbour upsampling of the demo stack (default 8: 6.3 M px)",
    )
    ap.add_argument(
        "--perturb",
        type=float,
        default=0.05,
        help="share of valid pixels given a random code in one factor (0.05)",
    )
    ap.add_argument("--quick", action="store_true", help="--size-factor 3 (0.9 M px), ~1.5 min")
    ap.add_argument(
        "--plain-perturbed",
        action="store_true",
        help="also run the plain side on the perturbed stack (doubles the time)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="map runs per stack, in one process; the median counts (3)",
    )
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # fmt: skip
    args = ap.parse_args(argv)

    if args.worker:
        kind, *paths = args.worker
        if kind == "model":
            result = worker_model(*(Path(p) for p in paths[:3]), quick=paths[3] == "1")
        else:
            codes, out, model = (Path(p) for p in paths[:3])
            if kind == "map":
                result = worker_map(codes, out, model, repeat=int(paths[3]))
            else:
                result = worker_plain(codes, out, model)
        print(json.dumps(result))
        return 0

    factor = args.size_factor or (3 if args.quick else 8)
    if factor < 1 or args.repeat < 1 or not 0.0 <= args.perturb < 1.0:
        ap.error("--size-factor and --repeat must be >= 1, --perturb in [0, 1)")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_mapping_") as tmp:
        tmp_dir = Path(tmp)
        demo = tmp_dir / "demo"
        export_demo(demo)
        import rasterio

        with rasterio.open(demo / "class_codes.tif") as src:
            base, profile = src.read(), src.profile
        counts = np.array(
            [f["n_classes"] for f in json.loads((demo / "factor_schema.json").read_text())
             ["factors"]]
        )  # fmt: skip

        print(f"demo stack {base.shape[1]}×{base.shape[2]} px, {base.shape[0]} factors; "
              f"upsampling ×{factor}; fitting the model…", flush=True)  # fmt: skip
        model_dir = tmp_dir / "model"
        net = run_child("model", str(demo / "class_codes.tif"),
                        str(demo / "factor_schema.json"), str(model_dir),
                        "1" if args.quick else "0")  # fmt: skip

        stacks: dict[str, dict] = {}
        demo_valid, demo_distinct = distinct_vectors(base, counts)
        up = upsample(base, factor)
        variants = (
            *("real_1x", "real_2x", "real_2x_tall", "real_4x"),
            *("perturbed_1x", "perturbed_2x"),
        )
        for name in variants:
            codes = up if name.endswith("1x") else doubled(up, tall=name.endswith("tall"))
            if name.endswith("4x"):
                codes = doubled(codes, tall=True)
            if name.startswith("perturbed"):
                codes = perturb(codes, counts, args.perturb, SEED + len(stacks))
            path = tmp_dir / f"{name}.tif"
            write_stack(path, codes, profile, factor)
            valid, distinct = distinct_vectors(codes, counts)
            stacks[name] = {"path": path, "shape": list(codes.shape[1:]),
                            "pixels": int(codes.shape[1] * codes.shape[2]),
                            "valid_pixels": valid, "distinct_vectors": distinct}  # fmt: skip
            del codes
        del up

        runs: dict[str, dict] = {}
        order = [("map", n) for n in variants] + [("plain", "real_1x")]
        if args.plain_perturbed:
            order.append(("plain", "perturbed_1x"))
        for side, name in order:
            print(f"  {side:5} {name:13} {stacks[name]['pixels'] / 1e6:5.2f} M px…", end="",
                  flush=True)  # fmt: skip
            out = tmp_dir / f"out_{side}_{name}.tif"
            extra = [str(args.repeat)] if side == "map" else []
            r = run_child(side, str(stacks[name]["path"]), str(out), str(model_dir), *extra)
            r["pixels_per_s"] = r["pixels"] / r["seconds"]
            runs[f"{side}_{name}"] = r
            runs_s = " ".join(f"{t:.1f}" for t in r.get("seconds_all", []))
            print(f" {r['seconds']:.1f} s" + (f" (runs: {runs_s})" if runs_s else ""), flush=True)
        agreement = compare_maps(tmp_dir / "out_map_real_1x.tif",
                                 tmp_dir / "out_plain_real_1x.tif")  # fmt: skip

    plain = runs["plain_real_1x"]
    plain_pert = runs.get("plain_perturbed_1x", plain)
    ratios = {
        "real_1x": runs["map_real_1x"]["pixels_per_s"] / plain["pixels_per_s"],
        "perturbed_1x": runs["map_perturbed_1x"]["pixels_per_s"] / plain_pert["pixels_per_s"],
    }
    peak = {k: runs[f"map_real_{k}"]["peak_rss_mib"] for k in ("1x", "2x", "2x_tall", "4x")}
    cost = net["cost"]
    for r in runs.values():
        r["network_vectors_per_s"] = (
            r.get("distinct_vectors_predicted", r["valid_pixels"]) / r["network_s"]
        )
    # Speed model: a map run costs distinct / R_net (the network, at the plain run's rate on
    # full batches) + pixels / R_other (read, keys + unique, write, COG).
    r_net = plain["network_vectors_per_s"]
    maps = {k: r for k, r in runs.items() if k.startswith("map_")}
    r_other = float(np.median([r["pixels"] / r["other_s"] for r in maps.values()]))
    speed_model = {
        "network_vectors_per_s": r_net,
        "other_pixels_per_s": r_other,
        "network_gflops": cost["flops_per_vector"] * r_net / 1e9,
        "map_seconds_predicted_vs_measured": {
            k: [r["distinct_vectors_predicted"] / r_net + r["pixels"] / r_other, r["seconds"]]
            for k, r in maps.items()
        },
    }
    result = {
        "benchmark": "susceptibility map, class codes GeoTIFF -> COG: predict_map vs predict "
        "on every pixel",
        "size_factor": factor,
        "map_repeat": args.repeat,
        "perturb_share": args.perturb,
        "demo": {
            "shape": list(base.shape[1:]),
            "valid_pixels": demo_valid,
            "distinct_vectors": demo_distinct,
        },  # fmt: skip
        "stacks": {k: {kk: vv for kk, vv in v.items() if kk != "path"} for k, v in stacks.items()},
        "network": net,
        "runs": runs,
        "speed_model": speed_model,
        "ratio_map_over_plain": ratios,
        "perturbed_ratio_uses": "plain_perturbed_1x" if args.plain_perturbed else "plain_real_1x",
        "target_ratio": TARGET_RATIO,
        "map_peak_rss_mib": {
            **peak,
            "2x_over_1x": peak["2x"] / peak["1x"],
            "2x_tall_over_1x": peak["2x_tall"] / peak["1x"],
            "4x_over_1x": peak["4x"] / peak["1x"],
        },
        "gdal_cachemax_env": os.environ.get("GDAL_CACHEMAX"),
        "memory_total_mib": _meminfo_total_mib(),
        "target_peak_rss_mib": TARGET_PEAK_MIB,
        "agreement_real_1x": agreement,
        "total_s": time.perf_counter() - start,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print_table(result)
    write_results(RESULTS, result)
    return 0


def print_table(result: dict) -> None:
    stacks, runs = result["stacks"], result["runs"]
    # "net vectors": rows sent to the network (map: distinct vectors; plain: valid pixels).
    print(f"\n{'run':21}{'M px':>6}{'distinct':>10}{'net vectors':>12}{'s':>7}{'px/s':>10}"
          f"{'net s':>7}{'other s':>8}{'RSS imports/loaded/peak MiB':>29}")  # fmt: skip
    for key, r in runs.items():
        side, name = key.split("_", 1)
        sent = r.get("distinct_vectors_predicted", r["valid_pixels"])
        other = r.get("other_s", r["seconds"] - r["network_s"])
        mem = f"{r['rss_after_imports_mib']:.0f} / {r['rss_after_load_mib']:.0f} / "
        print(f"{key:21}{r['pixels'] / 1e6:6.2f}{stacks[name]['distinct_vectors']:10,}"
              f"{sent:12,}{r['seconds']:7.1f}{r['pixels_per_s']:10,.0f}{r['network_s']:7.1f}"
              f"{other:8.1f}{mem + format(r['peak_rss_mib'], '.0f'):>29}")  # fmt: skip
    ratio, peak = result["ratio_map_over_plain"], result["map_peak_rss_mib"]
    cost = result["network"]["cost"]
    rates = ", ".join(f"{b}: {v:,.0f}"
                      for b, v in result["network"]["vectors_per_s_by_batch"].items())  # fmt: skip
    print(
        f"ratio map/plain: real {ratio['real_1x']:.1f}×, perturbed "
        f"{ratio['perturbed_1x']:.1f}× (target >= {result['target_ratio']:.0f}×)"
    )
    print(
        f"map peak RSS: 1× {peak['1x']:.0f} MiB, 2× wide {peak['2x']:.0f} MiB "
        f"({peak['2x_over_1x']:.2f}×), 2× tall {peak['2x_tall']:.0f} MiB "
        f"({peak['2x_tall_over_1x']:.2f}×), 4× {peak['4x']:.0f} MiB "
        f"({peak['4x_over_1x']:.2f}×); "
        f"target flat, < {result['target_peak_rss_mib']:.0f} (GDAL block cache capped at "
        f"{GDAL_CACHE_MB} MB by predict_map)"
    )
    sm = result["speed_model"]
    print(
        f"network: {cost['macs_per_vector'] / 1e6:.2f} M MACs = "
        f"{cost['flops_per_vector'] / 1e6:.2f} MFLOP per vector; "
        f"{sm['network_vectors_per_s']:,.0f} vectors/s in the plain run "
        f"(≈ {sm['network_gflops']:.0f} GFLOP/s); probe by batch size: {rates}"
    )
    fits = ", ".join(f"{k[4:]} {p:.1f}/{m:.1f}"
                     for k, (p, m) in sm["map_seconds_predicted_vs_measured"].items())  # fmt: skip
    print(
        f"map s ≈ distinct / {sm['network_vectors_per_s']:,.0f} + pixels / "
        f"{sm['other_pixels_per_s']:,.0f} (predicted/measured s: {fits})"
    )
    print(
        f"demo region: {result['demo']['distinct_vectors']:,} distinct vectors in "
        f"{result['demo']['valid_pixels']:,} valid px"
    )
    a = result["agreement_real_1x"]
    print(f"map vs plain: max |Δ| = {a['max_abs_diff']:.2g}, nodata equal: {a['nodata_equal']}")


if __name__ == "__main__":
    sys.exit(main())
