"""Train/test splits of samples: random (stratified), spatial (whole blocks) and temporal
(a cutoff year)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid


def temporal_cutoff(years: np.ndarray, cfg: SamplingConfig) -> int:
    span = f"the landslides span {years.min()}–{years.max()}"
    if cfg.temporal_cutoff is not None:
        cutoff = int(cfg.temporal_cutoff)
        if not (years <= cutoff).any() or (years <= cutoff).all():
            side = "train" if not (years <= cutoff).any() else "test"
            raise LsghError(
                f"sampling.temporal_cutoff {cutoff} leaves no landslide for {side} ({span}); "
                "choose a year from the first up to before the last"
            )
        return cutoff
    distinct = np.unique(years)
    if distinct.size < 2:
        raise LsghError(
            f"every landslide is from {distinct[0]}; a temporal split needs landslides of at "
            "least two years; use sampling.split: random or spatial"
        )
    share = np.array([(years <= y).mean() for y in distinct[:-1]])
    return int(distinct[:-1][np.argmin(np.abs(share - (1.0 - cfg.test_fraction)))])


def random_split(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean 'is test' for ``n`` items: ``round(fraction * n)`` at random (at least one
    on each side when n ≥ 2)."""
    is_test = np.zeros(n, dtype=bool)
    if n == 0:
        return is_test
    n_test = round(fraction * n)
    if n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    is_test[rng.permutation(n)[:n_test]] = True
    return is_test


@dataclass(frozen=True)
class Blocks:
    """Square blocks of ``size`` metres from the grid's upper-left corner; a pixel belongs
    to the block holding its centre."""

    of_row: np.ndarray  # block row of each grid row
    of_col: np.ndarray  # block column of each grid column
    n_cols: int
    count: int

    @classmethod
    def on(cls, grid: Grid, size: float) -> Blocks:
        res = grid.resolution
        if size <= res:
            raise LsghError(
                f"sampling.block_size is {size} m, not larger than a pixel ({res} m); use "
                "blocks of many pixels (default 2000 m)"
            )
        of_row = np.floor((np.arange(grid.height) + 0.5) * res / size).astype(np.int64)
        of_col = np.floor((np.arange(grid.width) + 0.5) * res / size).astype(np.int64)
        n_rows, n_cols = int(of_row[-1]) + 1, int(of_col[-1]) + 1
        if n_rows * n_cols < 2:
            raise LsghError(
                f"sampling.block_size {size} m makes one block of the whole "
                f"{grid.width * res:.0f} x {grid.height * res:.0f} m region; use smaller "
                "blocks or sampling.split: random"
            )
        return cls(of_row, of_col, n_cols, n_rows * n_cols)

    def of(self, flat: np.ndarray, width: int) -> np.ndarray:
        """Block id of flat pixel indices."""
        rows, cols = np.divmod(np.asarray(flat, dtype=np.int64), width)
        return self.of_row[rows] * self.n_cols + self.of_col[cols]

    def mask(self, blocks: np.ndarray, row0: int = 0, row1: int | None = None) -> np.ndarray:
        """Boolean grid mask of the pixels in ``blocks``: rows ``row0 .. row1`` of it
        (default all rows)."""
        chosen = np.zeros(self.count, dtype=bool)
        chosen[blocks] = True
        return chosen.reshape(-1, self.n_cols)[self.of_row[row0:row1]][:, self.of_col]


def held_out_blocks(
    blocks: np.ndarray,
    counts: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    too_few: str,
) -> np.ndarray:
    """Blocks held out (for testing, or for early stopping): blocks with landslides in a
    seeded random order, each taken while it brings the held-out share of landslides closer
    to ``fraction`` (at least one block, never all of them), plus that share of the
    landslide-free blocks (ground for the held-out negatives). Sorted block ids.

    Args:
        blocks: the candidate blocks' ids.
        counts: landslides in each of ``blocks``.
        too_few: the message of the error raised when fewer than 2 blocks hold landslides.
    """
    blocks, counts = np.asarray(blocks), np.asarray(counts)
    with_ls, empty = blocks[counts > 0], blocks[counts == 0]
    if with_ls.size < 2:
        raise LsghError(too_few)
    n = counts[counts > 0]
    target, total, taken = fraction * n.sum(), 0, []
    for i in rng.permutation(with_ls.size):
        if not taken or abs(total + n[i] - target) < abs(total - target):
            taken.append(with_ls[i])
            total += n[i]
    if len(taken) == with_ls.size:
        taken.pop()
    n_empty = round(fraction * empty.size)
    return np.sort(np.concatenate([taken, rng.permutation(empty)[:n_empty]]).astype(np.int64))


def check_positive_split(pos_is_test: np.ndarray, cfg: SamplingConfig) -> None:
    n_test = int(pos_is_test.sum())
    n_train = int(pos_is_test.size - n_test)
    if n_train and n_test:
        return
    side = "train" if not n_train else "test"
    raise LsghError(
        f"the {cfg.split} split leaves no positive sample in {side} ({n_train} train, "
        f"{n_test} test); the inventory needs more landslides with valid factors"
        + (", or choose another sampling.temporal_cutoff" if cfg.split == "temporal" else "")
    )
