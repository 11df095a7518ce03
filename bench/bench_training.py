"""Benchmark: training speed of every model variant, by batch size, with its cost per sample.

Training dominates a run's time (the three networks took 9.3 of the 10.6 minutes of
``lsgh-ee run`` on a 660k-pixel region with 3,500 landslides), so this makes the cost
visible. All variants train in this one process on the same synthetic samples: class codes
with the embedded demo's class counts (9 factors: 11, 9, 12, 10, 12, 8, 13, 11, 7 classes,
``--samples`` of them, default 2,000, labels from a noisy rule on two factors).

For each Keras variant (``lsgh``, ``lsgh-noscse``, ``cnn`` — the cnn is the scSE network
trained on hard samples, so its per-sample cost equals lsgh's) and each batch size it
trains ``--epochs`` epochs without validation and reports the training samples per second
over the epochs after the first (graph tracing excluded; ``samples_per_second_`` of the
estimator). The baseline of the same run is lsgh at the paper's batch size 32: every rate
is also given as a ratio to it, since these machines are noisy. The random forest's fit
(default grid search) is timed on the same hard samples.

Cost per sample: the forward pass's multiply-accumulates and FLOPs counted from the layer
shapes (:func:`lsgh_ee.model.network.network_cost`); training is counted as three forward
passes (forward plus a backward of about twice the work), so ``GFLOP/s`` is
``samples/s × 3 × forward FLOPs``.

Prints a table and writes ``bench/results/training.json``. About 3 minutes on 2 cores with
the defaults; ``--quick`` (batch 32 and 256, 2 epochs after tracing) about 1 minute.

    .venv/bin/python bench/bench_training.py [--samples 2000] [--epochs 4] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from memory import peak_rss_mib, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "training.json"
DEMO_CLASS_COUNTS = (11, 9, 12, 10, 12, 8, 13, 11, 7)
NETWORKS = ("lsgh", "lsgh-noscse", "cnn")
BATCH_SIZES = (32, 64, 128, 256)
BASELINE = ("lsgh", 32)
SEED = 0


def synthetic_samples(n: int, counts: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class codes ``(n, F)`` uint8 uniform in 1..k per factor and labels ``(n,)`` in {0, 1}
    that depend on the first two factors (so the networks have something to learn)."""
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(1, c + 1, n) for c in counts], axis=1).astype("uint8")
    signal = codes[:, 0] / counts[0] + codes[:, 1] / counts[1] + rng.normal(0, 0.3, n)
    return codes, (signal > np.median(signal)).astype("float32")


def time_network(variant: str, batch: int, codes, labels, epochs: int) -> dict:
    """Train one variant ``epochs`` epochs at ``batch``; samples/s after the first epoch."""
    from lsgh_ee.model import make_model
    from lsgh_ee.model.network import network_cost

    model = make_model(variant, list(DEMO_CLASS_COUNTS), epochs=epochs, batch_size=batch,
                       validation_fraction=0.0, seed=SEED)  # fmt: skip
    start = time.perf_counter()
    model.fit(codes, labels)
    cost = network_cost(model.model_)
    return {
        "variant": variant,
        "batch_size": batch,
        "samples_per_second": model.samples_per_second_,
        "wall_seconds": time.perf_counter() - start,
        "forward_flops_per_sample": cost["flops_per_vector"],
        "training_flops_per_sample": 3 * cost["flops_per_vector"],
        "params": cost["params"],
    }


def time_forest(codes, labels) -> dict:
    """The random forest's fit (default grid search) on the same samples."""
    from lsgh_ee.model import make_model

    model = make_model("rf", list(DEMO_CLASS_COUNTS), seed=SEED)
    start = time.perf_counter()
    model.fit(codes, labels)
    seconds = time.perf_counter() - start
    return {"variant": "rf", "batch_size": None, "wall_seconds": seconds,
            "samples_per_second": len(labels) / seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=4, help="epochs per fit (first excluded)")
    ap.add_argument("--quick", action="store_true", help="batch 32 and 256, 3 epochs")
    args = ap.parse_args(argv)
    batches = (32, 256) if args.quick else BATCH_SIZES
    epochs = 3 if args.quick else args.epochs
    codes, labels = synthetic_samples(args.samples, DEMO_CLASS_COUNTS, SEED)

    rows = [time_network(v, b, codes, labels, epochs) for v in NETWORKS for b in batches]
    base = next(r for r in rows if (r["variant"], r["batch_size"]) == BASELINE)
    for r in rows:
        r["ratio_to_baseline"] = r["samples_per_second"] / base["samples_per_second"]
        r["gflops_per_second"] = r["samples_per_second"] * r["training_flops_per_sample"] / 1e9
    forest = time_forest(codes, labels)

    print(f"training speed, {args.samples} synthetic samples, {epochs} epochs "
          f"(first excluded); baseline: {BASELINE[0]} at batch {BASELINE[1]}")  # fmt: skip
    print(f"{'variant':<12} {'batch':>5} {'samples/s':>10} {'× base':>7} "
          f"{'MFLOP/sample':>13} {'GFLOP/s':>8}")  # fmt: skip
    for r in rows:
        print(f"{r['variant']:<12} {r['batch_size']:>5} {r['samples_per_second']:>10.0f} "
              f"{r['ratio_to_baseline']:>7.2f} {r['training_flops_per_sample'] / 1e6:>13.2f} "
              f"{r['gflops_per_second']:>8.2f}")  # fmt: skip
    print(f"rf (grid search) fit: {forest['wall_seconds']:.1f} s "
          f"= {forest['samples_per_second']:.0f} samples/s")  # fmt: skip
    write_results(RESULTS, {
        "samples": args.samples, "epochs": epochs, "baseline": list(BASELINE),
        "networks": rows, "forest": forest, "peak_rss_mib": peak_rss_mib(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
