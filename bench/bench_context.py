"""Benchmark: map prediction of the context variant ``lsgh-ctx`` against today's ``lsgh``.

Same run, same class-code stack, same process: :func:`lsgh_ee.mapping.predict_map`
(streamed 256-row strips, COG written) with

* ``lsgh``: today's path, each distinct class-code vector predicted once;
* ``lsgh-ctx cached``: each distinct ``k × k`` neighbourhood predicted once
  (``patch_cache=True``, strips read with a halo of ``k // 2`` rows);
* ``lsgh-ctx every``: every valid pixel's neighbourhood predicted (``patch_cache=False``).

Both networks have the paper's widths (32, 64, 128, 256); their weights come from one
short fit on random pixels of the stack (speed does not depend on them). Each map runs
``--repeat`` times (default 3) and the median counts. ``--size-factor`` upsamples the
stack by nearest neighbour (as ``bench_mapping.py`` does: the same landscape at a finer
resolution; neighbourhoods then repeat more, which helps the cache).

The stack: the demo's ``class_codes.tif`` (``lsgh-ee export-factors`` on a copy of
``assets/demo/region.yaml`` whose ``output.dir`` is a scratch folder)::

    .venv/bin/python bench/bench_context.py /tmp/demo/run/class_codes.tif [--context 3]

Prints a table and writes ``bench/results/context.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "context.json"


def upsampled(codes_path: Path, factor: int, folder: Path) -> Path:
    """``codes_path`` itself (factor 1), or its nearest-neighbour upsampling by ``factor``."""
    if factor == 1:
        return codes_path
    from lsgh_ee.grid import Grid
    from lsgh_ee.rasters import read_stack, write_geotiff

    codes, grid, names = read_stack(codes_path)
    big = codes.repeat(factor, axis=1).repeat(factor, axis=2)
    t = grid.transform
    fine = Grid(grid.crs, t * t.scale(1 / factor), grid.height * factor, grid.width * factor)
    return write_geotiff(folder / "class_codes_up.tif", big, fine, nodata=0, descriptions=names)


def fitted(variant: str, codes: np.ndarray, counts: list[int], context: int):
    """A ``variant`` model fitted for one epoch on 2000 random pixels of ``codes``."""
    from lsgh_ee.model import make_model
    from lsgh_ee.sampling.patches import gather_patches

    rng = np.random.default_rng(0)
    valid = np.flatnonzero((codes > 0).all(axis=0).ravel())
    pick = rng.choice(valid, 2000, replace=False)
    rows, cols = np.unravel_index(pick, codes.shape[1:])
    labels = (rng.random(2000) < 0.5).astype("float32")
    params = {"epochs": 1, "validation_fraction": 0.0, "seed": 0}
    if variant == "lsgh-ctx":
        model = make_model(variant, counts, context=context, **params)
        x = gather_patches(codes, rows, cols, context)
    else:
        model = make_model(variant, counts, **params)
        x = codes[:, rows, cols].T
    model.fit(x, labels)
    model.predict(x)  # traced
    return model


def timed_map(model, codes_path: Path, out: Path, counts, repeat: int, **kwargs) -> dict:
    from lsgh_ee.mapping import predict_map

    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        stats = predict_map(model, codes_path, out, counts, **kwargs)
        runs.append((time.perf_counter() - t0, stats))
    seconds, stats = sorted(runs, key=lambda r: r[0])[(repeat - 1) // 2]
    return {
        "seconds": round(seconds, 3),
        "seconds_all": [round(r[0], 3) for r in runs],
        "pixels": stats["pixels"],
        "pixels_per_s": round(stats["pixels"] / seconds),
        "predicted": stats["distinct_vectors"] or stats["valid_pixels"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("codes", type=Path, help="class_codes.tif of an exported region")
    parser.add_argument("--context", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size-factor", type=int, default=1)
    args = parser.parse_args()

    from lsgh_ee.rasters import read_stack

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = upsampled(args.codes, args.size_factor, folder)
        codes = read_stack(args.codes)[0]
        schema = args.codes.with_name("factor_schema.json")  # beside an exported stack
        counts = (
            [f["n_classes"] for f in json.loads(schema.read_text())["factors"]]
            if schema.exists()
            else [int(c.max()) for c in codes]
        )
        lsgh = fitted("lsgh", codes, counts, args.context)
        ctx = fitted("lsgh-ctx", codes, counts, args.context)
        out = folder / "s.tif"
        runs = {
            "lsgh": timed_map(lsgh, path, out, counts, args.repeat),
            "lsgh-ctx cached": timed_map(ctx, path, out, counts, args.repeat,
                                         input_kind="patches", patch_cache=True),
            "lsgh-ctx every": timed_map(ctx, path, out, counts, args.repeat,
                                        input_kind="patches", patch_cache=False),
        }  # fmt: skip
    base = runs["lsgh"]["pixels_per_s"]
    for run in runs.values():
        run["vs_lsgh"] = round(run["pixels_per_s"] / base, 3)
    print(f"{args.codes} x{args.size_factor}: {runs['lsgh']['pixels']} px, k = {args.context}")
    print(f"{'map':18} {'seconds':>8} {'pixels/s':>10} {'predicted':>10} {'vs lsgh':>8}")
    for name, run in runs.items():
        print(f"{name:18} {run['seconds']:8.2f} {run['pixels_per_s']:10d} "
              f"{run['predicted']:10d} {run['vs_lsgh']:8.2f}")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    result = {"benchmark": "map prediction, lsgh-ctx (patches) vs lsgh (distinct vectors)",
              "codes": str(args.codes), "size_factor": args.size_factor,
              "context": args.context, "repeat": args.repeat,
              "machine": platform.platform(), "runs": runs}  # fmt: skip
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
