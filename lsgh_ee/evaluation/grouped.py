"""Exact statistics over the distinct values of a column too long to hold: per-value
counts and sums, in increasing order of the value, with memory bounded by a range of rows.

What the whole-array functions get from one ``argsort`` (tie groups of equal scores, their
counts and weight sums, average ranks) comes here from a :class:`Spill`: the valid pixels'
columns appended to flat files on disk, window by window, while a :class:`KeyHistogram`
counts them in 2**20 bins of their float32 order. :func:`grouped` then cuts the bins into
ranges of at most ``range_rows`` pixels and, one range at a time, sweeps the files chunk by
chunk, merging each chunk's distinct values of the range into sorted distinct values with
their counts and sums (``np.unique`` + ``np.bincount``). Ties never straddle two ranges (a
value has one bin), so every group is whole, and ranges come in increasing order.

Memory: one chunk (:data:`CHUNK_ROWS` rows) plus the distinct values of one range, at most
``range_rows`` (a single bin with more pixels than that, of as many distinct values, would
exceed it: a bin spans 1/2048 of a power of two); disk: the columns, 4-8 bytes a pixel.
Counts are exact; sums of floats are added in another order than a whole-array
``np.add.reduceat`` (per chunk, then merged), so they agree to about 1e-12 relatively.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Rows read at a time from a spill file.
CHUNK_ROWS = 1 << 20
#: Pixels per range of :func:`grouped` (the distinct values held at once are at most these).
RANGE_ROWS = 1 << 21
#: Order keys are cut into ``2**(32 - BIN_SHIFT)`` bins.
BIN_SHIFT = 12

Weight = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def order_keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys of float32 ``values`` (no NaN) that sort as the values do; -0.0 gets the
    key of 0.0 (the two are one tie)."""
    bits = (np.asarray(values, dtype=np.float32) + np.float32(0.0)).view(np.uint32)
    negative = (bits >> np.uint32(31)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


class KeyHistogram:
    """Pixels per bin of the float32 order keys (:func:`order_keys` >> :data:`BIN_SHIFT`)."""

    def __init__(self) -> None:
        self.counts = np.zeros(1 << (32 - BIN_SHIFT), dtype=np.int64)

    def add(self, values: np.ndarray) -> None:
        """Count float32 ``values`` (1-D, no NaN)."""
        bins = order_keys(values) >> np.uint32(BIN_SHIFT)
        self.counts += np.bincount(bins, minlength=self.counts.size)

    def ranges(self, range_rows: int | None = None) -> list[tuple[int, int]]:
        """Consecutive bin ranges ``[lo, hi)`` covering every counted pixel, each of at
        most ``range_rows`` (default :data:`RANGE_ROWS`) pixels unless a single bin holds
        more."""
        range_rows = RANGE_ROWS if range_rows is None else range_rows
        out: list[tuple[int, int]] = []
        filled = np.flatnonzero(self.counts)
        lo, held = None, 0
        for b in filled:
            n = int(self.counts[b])
            if lo is not None and held + n > range_rows:
                out.append((lo, int(b)))
                lo, held = None, 0
            if lo is None:
                lo = int(b)
            held += n
        if lo is not None:
            out.append((lo, int(filled[-1]) + 1))
        return out


class Spill:
    """Columns of one row per pixel appended to flat files in ``folder`` (one ``.bin``
    file per column, native byte order), read back chunk by chunk."""

    def __init__(self, folder: str | os.PathLike, columns: Mapping[str, str]):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dtypes = {name: np.dtype(dtype) for name, dtype in columns.items()}
        self.rows = 0
        for name in self.dtypes:
            self.path(name).write_bytes(b"")

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.bin"

    def append(self, **columns: np.ndarray) -> None:
        """Append the same number of rows to every column."""
        sizes = {np.asarray(a).size for a in columns.values()}
        if set(columns) != set(self.dtypes) or len(sizes) != 1:
            raise ValueError(f"append needs {sorted(self.dtypes)} with one length each")
        for name, array in columns.items():
            with open(self.path(name), "ab") as f:
                f.write(np.ascontiguousarray(array, dtype=self.dtypes[name]).tobytes())
        self.rows += sizes.pop()

    def add_column(self, name: str, dtype: str) -> None:
        """A new column of :attr:`rows` zeros, to be filled by :meth:`scatter`."""
        self.dtypes[name] = np.dtype(dtype)
        with open(self.path(name), "wb") as f:
            f.truncate(self.rows * self.dtypes[name].itemsize)

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop`` of column ``name``."""
        dtype = self.dtypes[name]
        return np.fromfile(self.path(name), dtype=dtype, count=stop - start,
                           offset=start * dtype.itemsize)  # fmt: skip

    def scatter(self, name: str, start: int, positions: np.ndarray, values: np.ndarray) -> None:
        """Write ``values`` at rows ``start + positions`` (positions within one chunk)."""
        if positions.size == 0:
            return
        dtype = self.dtypes[name]
        stop = start + int(positions.max()) + 1
        view = np.memmap(self.path(name), dtype=dtype, mode="r+",
                         offset=start * dtype.itemsize, shape=(stop - start,))  # fmt: skip
        view[positions] = values
        view.flush()
        del view

    def chunks(self, names: Sequence[str]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """``(first row, {column: rows})`` of consecutive chunks of :data:`CHUNK_ROWS`."""
        for start in range(0, self.rows, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, self.rows)
            yield start, {name: self.read(name, start, stop) for name in names}


@dataclass
class Groups:
    """The distinct values of one range, increasing, with their pixels and weight sums."""

    values: np.ndarray  # (G,) float64
    counts: np.ndarray  # (G,) int64
    sums: np.ndarray  # (W, G) float64, one row per weight
    bins: tuple[int, int]  # the range's bins [lo, hi)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Index of each of ``values`` (all of them among :attr:`values`)."""
        return np.searchsorted(self.values, np.asarray(values, dtype=np.float64))


def _merge(a: Groups | None, b: Groups) -> Groups:
    if a is None:
        return b
    values, inverse = np.unique(np.concatenate([a.values, b.values]), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate([a.counts, b.counts]),
                         minlength=values.size).astype(np.int64)  # fmt: skip
    sums = np.zeros((a.sums.shape[0], values.size))
    for i in range(a.sums.shape[0]):
        sums[i] = np.bincount(inverse, weights=np.concatenate([a.sums[i], b.sums[i]]),
                              minlength=values.size)  # fmt: skip
    return Groups(values, counts, sums, a.bins)


def in_range(values: np.ndarray, bins: tuple[int, int]) -> np.ndarray:
    """Boolean mask of float32 ``values`` whose bin lies in ``bins`` ``[lo, hi)``."""
    b = order_keys(values) >> np.uint32(BIN_SHIFT)
    return (b >= bins[0]) & (b < bins[1])


def grouped(
    spill: Spill,
    key: str,
    histogram: KeyHistogram,
    weights: Sequence[Weight] = (),
    columns: Sequence[str] = (),
    *,
    range_rows: int | None = None,
) -> Iterator[Groups]:
    """The distinct values of column ``key`` (float32) with their pixel counts and the
    sums of each of ``weights`` (a function of a chunk's ``{column: rows}``, ``key`` and
    ``columns`` read), one range at a time, in increasing order of the value."""
    names = [key, *[c for c in columns if c != key]]
    for bins in histogram.ranges(range_rows):
        held: Groups | None = None
        for _, chunk in spill.chunks(names):
            keep = in_range(chunk[key], bins)
            if not keep.any():
                continue
            values, inverse = np.unique(chunk[key][keep].astype(np.float64) + 0.0,
                                        return_inverse=True)  # fmt: skip
            counts = np.bincount(inverse, minlength=values.size).astype(np.int64)
            sums = np.zeros((len(weights), values.size))
            for i, weight in enumerate(weights):
                sums[i] = np.bincount(inverse, weights=np.asarray(weight(chunk), float)[keep],
                                      minlength=values.size)  # fmt: skip
            held = _merge(held, Groups(values, counts, sums, bins))
        if held is not None:
            yield held
