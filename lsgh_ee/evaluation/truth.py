"""A model's agreement with a reference susceptibility, window by window: the numbers of
:func:`lsgh_ee.evaluation.truth_agreement` (the whole-array reference, and the
``output.strip_rows: 0`` path) with memory bounded by a strip of the map.

Each strip of the map is predicted (:func:`lsgh_ee.mapping.predict_strips`) and the truth
read onto the same rows (:class:`lsgh_ee.rasters.SourceRaster`, bit for bit the rows of
the whole-grid read); the pixels valid in both go to a spill on disk (8 bytes a pixel,
then 8 + 16 in buckets; removed afterwards), sorted into ranges of values by
:class:`lsgh_ee.evaluation.grouped.Buckets`, read in increasing order of the value:

- the expected AUC: per distinct score, the sums of p and 1 − p, the negative weight below
  carried from range to range (:func:`lsgh_ee.evaluation.weighted_auc`'s formula);
- the ceiling AUC: the same with the truth as the score;
- Spearman's rho: the Pearson correlation of average ranks. Each pixel's truth rank is
  carried with it into buckets by score; the score's groups sum those ranks, so
  ``Σ (rx − m)(ry − m) = Σ_groups (rx_g − m)(Σ ry − n_g m)`` with ``m = (n + 1) / 2`` the
  mean of either rank.

Equal to the whole-array numbers within 1e-9 (absolute; the sums are added in another
order); the tests check it on strips of a few rows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from lsgh_ee.evaluation.grouped import Buckets, KeyHistogram, Spill, bucketed, groups_of
from lsgh_ee.grid import Grid
from lsgh_ee.mapping import Predictor, predict_strips
from lsgh_ee.rasters import SourceRaster, check_coverage, check_some_data


class _WeightedAuc:
    """:func:`lsgh_ee.evaluation.weighted_auc` accumulated over groups in increasing order."""

    def __init__(self) -> None:
        self.below = self.area = self.pos = self.neg = 0.0

    def add(self, pos: np.ndarray, neg: np.ndarray) -> None:
        below = self.below + np.cumsum(neg) - neg
        self.area += float(np.sum(pos * (below + neg / 2)))
        self.below += float(neg.sum())
        self.pos += float(pos.sum())
        self.neg += float(neg.sum())

    def value(self) -> float:
        total = self.pos * self.neg
        return self.area / total if total else float("nan")


def _average_ranks(counts: np.ndarray, before: int) -> np.ndarray:
    """1-based average ranks of tie groups of ``counts`` pixels after ``before`` pixels."""
    return before + np.cumsum(counts) - counts + (counts + 1) / 2


def agreement_of_strips(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    workdir: str | os.PathLike | None = None,
    *,
    range_rows: int | None = None,
) -> dict[str, float]:
    """:func:`lsgh_ee.evaluation.truth_agreement` of a map given as ``(index, truth)``
    strips (float32 arrays of one shape each, NaN = nodata), spilling to a temporary
    folder in ``workdir`` (default: the system's)."""
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".truth-") as tmp:
        spill = Spill(Path(tmp) / "pixels", {"x": "float32", "y": "float32"})
        hx, hy = KeyHistogram(), KeyHistogram()
        for index, truth in pairs:
            index = np.ravel(index).astype(np.float32, copy=False)
            truth = np.ravel(truth).astype(np.float32, copy=False)
            valid = np.isfinite(index) & np.isfinite(truth)
            x, y = index[valid], truth[valid]
            spill.append(x=x, y=y)
            hx.add(x)
            hy.add(y)
        return _agreement(spill, hx, hy, range_rows)


def _agreement(spill: Spill, hx: KeyHistogram, hy: KeyHistogram, range_rows: int | None) -> dict:
    n = spill.rows
    m = (n + 1) / 2
    columns = {"x": "float32", "y": "float32", "ry": "float64"}
    by_x = Buckets(spill.folder.with_name("by_x"), columns, "x", hx, range_rows)
    p, q = (lambda c: c["y"].astype(np.float64)), (lambda c: 1 - c["y"].astype(np.float64))
    ceiling, before, syy = _WeightedAuc(), 0, 0.0
    for rows in bucketed(spill, "y", hy, ["x"], range_rows=range_rows).ranges():
        g = groups_of(rows, "y", [p, q])
        ceiling.add(g.sums[0], g.sums[1])
        ranks = _average_ranks(g.counts, before)
        syy += float(np.sum(g.counts * (ranks - m) ** 2))
        before += int(g.counts.sum())
        by_x.add(x=rows["x"], y=rows["y"], ry=ranks[g.inverse])  # each pixel's truth rank
    expected, before, sxx, sxy = _WeightedAuc(), 0, 0.0, 0.0
    for rows in by_x.ranges():
        g = groups_of(rows, "x", [p, q, lambda c: c["ry"]])
        expected.add(g.sums[0], g.sums[1])
        ranks = _average_ranks(g.counts, before)
        sxx += float(np.sum(g.counts * (ranks - m) ** 2))
        sxy += float(np.sum((ranks - m) * (g.sums[2] - g.counts * m)))
        before += int(g.counts.sum())
    rho = sxy / np.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")
    return {"expected_auc": expected.value(), "ceiling_auc": ceiling.value(),
            "spearman": float(rho)}  # fmt: skip


def truth_strips(
    truth: str | os.PathLike, grid: Grid, row_strips: Iterable[tuple[int, np.ndarray]]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(index, truth)`` strips: each strip ``(first row, index (rows, cols))`` of a map on
    ``grid`` with the reference ``truth`` read onto the same rows (bilinear, as
    :func:`lsgh_ee.rasters.read_onto_grid`, whose coverage and no-data checks run once the
    last strip is read). The reference's source band is held (its own resolution)."""
    from lsgh_ee.factors.windows import strip_grid

    covered = cells = 0
    some = False
    with SourceRaster(truth) as source:
        for row0, index in row_strips:
            values, footprint = source.onto(strip_grid(grid, row0, index.shape[0]), whole=grid)
            covered += int(footprint.sum(dtype="int64"))
            cells += values.size
            some = some or bool(np.isfinite(values).any())
            yield index, values
    check_coverage(truth, covered, cells, 0.999)
    check_some_data(truth, some)


def model_truth_agreement(
    model: Predictor,
    run_dir: str | os.PathLike,
    truth: str | os.PathLike,
    grid: Grid,
    strip_rows: int,
) -> dict[str, float]:
    """A model's agreement with the reference ``truth`` over a run's grid, strip by strip
    (``strip_rows`` rows; the spill goes in the run folder)."""
    pairs = truth_strips(truth, grid, predict_strips(model, run_dir, strip_rows))
    return agreement_of_strips(pairs, run_dir)
