"""Exact statistics over the distinct values of a column too long to hold: per-value
counts and sums, in increasing order of the value, with memory bounded by a range of rows.

What the whole-array functions get from one ``argsort`` (tie groups of equal scores, their
counts and weight sums, average ranks) comes here from a bucket sort on disk. The valid
pixels' columns are appended to flat files (a :class:`Spill`), window by window, while a
:class:`KeyHistogram` counts them in 2**20 bins of their float32 order. :class:`Buckets`
then cuts the bins into ranges of at most ``range_rows`` pixels and distributes the rows
into one spill per range, in one pass; each range is read whole in turn
(:meth:`Buckets.ranges`) and :func:`groups_of` gives its distinct values with their
counts and sums (``np.unique`` + ``np.bincount``), and each row's group. Ties never
straddle two ranges (a value has one bin), so every group is whole, and ranges come in
increasing order. Time: linear in the pixels (each row is written and read a fixed number
of times).

Memory: one chunk (:data:`CHUNK_ROWS` rows) or one range, at most ``range_rows`` rows (a
single bin with more pixels than that would exceed it: a bin spans 1/2048 of a power of
two); disk: the columns, a few bytes a pixel, removed with the folder. Counts are exact;
sums of floats are added in another order than a whole-array ``np.add.reduceat``, so they
agree to about 1e-12 relatively.
"""

from __future__ import annotations

import os
import shutil
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

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop`` of column ``name``."""
        dtype = self.dtypes[name]
        return np.fromfile(self.path(name), dtype=dtype, count=stop - start,
                           offset=start * dtype.itemsize)  # fmt: skip

    def chunks(self, names: Sequence[str]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """``(first row, {column: rows})`` of consecutive chunks of :data:`CHUNK_ROWS`."""
        for start in range(0, self.rows, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, self.rows)
            yield start, {name: self.read(name, start, stop) for name in names}


@dataclass
class Groups:
    """The distinct values of one range, increasing, with their pixels and weight sums,
    and the group of each of the range's rows."""

    values: np.ndarray  # (G,) float64
    counts: np.ndarray  # (G,) int64
    sums: np.ndarray  # (W, G) float64, one row per weight
    inverse: np.ndarray  # (rows,) int: each row's group


def groups_of(rows: Mapping[str, np.ndarray], key: str, weights: Sequence[Weight] = ()) -> Groups:
    """The distinct values of column ``key`` of ``rows`` (a range, read whole), with their
    pixel counts and the sums of each of ``weights`` (a function of ``rows``)."""
    values, inverse = np.unique(rows[key].astype(np.float64) + 0.0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=values.size).astype(np.int64)
    sums = np.zeros((len(weights), values.size))
    for i, weight in enumerate(weights):
        sums[i] = np.bincount(inverse, weights=np.asarray(weight(rows), dtype=np.float64),
                              minlength=values.size)  # fmt: skip
    return Groups(values, counts, sums, inverse)


class Buckets:
    """Rows distributed by the value of a float32 column ``key`` into consecutive ranges of
    at most ``range_rows`` (default :data:`RANGE_ROWS`) pixels, counted beforehand in
    ``histogram``; one :class:`Spill` per range under ``folder``."""

    def __init__(
        self,
        folder: str | os.PathLike,
        columns: Mapping[str, str],
        key: str,
        histogram: KeyHistogram,
        range_rows: int | None = None,
    ):
        self.key, self.folder = key, Path(folder)
        bounds = histogram.ranges(range_rows)
        self._ends = np.array([hi for _, hi in bounds], dtype=np.int64)
        self._spills = [Spill(self.folder / str(i), columns) for i in range(len(bounds))]

    def add(self, **columns: np.ndarray) -> None:
        """Append rows, each to its range's spill (every row's bin must have been counted)."""
        bins = (order_keys(columns[self.key]) >> np.uint32(BIN_SHIFT)).astype(np.int64)
        where = np.searchsorted(self._ends, bins, side="right")
        order = np.argsort(where, kind="stable")
        edges = np.searchsorted(where[order], np.arange(len(self._spills) + 1))
        for i, spill in enumerate(self._spills):
            if edges[i + 1] > edges[i]:
                rows = order[edges[i] : edges[i + 1]]
                spill.append(**{name: np.asarray(a)[rows] for name, a in columns.items()})

    def ranges(self) -> Iterator[dict[str, np.ndarray]]:
        """Each range's rows ``{column: rows}``, read whole, in increasing order of
        ``key``; a range's files are removed once read."""
        for spill in self._spills:
            rows = {name: spill.read(name, 0, spill.rows) for name in spill.dtypes}
            shutil.rmtree(spill.folder, ignore_errors=True)
            if next(iter(rows.values())).size:
                yield rows
        shutil.rmtree(self.folder, ignore_errors=True)


def bucketed(
    spill: Spill,
    key: str,
    histogram: KeyHistogram,
    columns: Sequence[str] = (),
    *,
    range_rows: int | None = None,
) -> Buckets:
    """The rows of ``spill`` (columns ``key`` and ``columns``) in :class:`Buckets` by
    ``key``, in a folder beside the spill's (``<spill folder>.<key>``)."""
    names = [key, *[c for c in columns if c != key]]
    folder = spill.folder.with_name(f"{spill.folder.name}.{key}")
    out = Buckets(folder, {n: spill.dtypes[n].str for n in names}, key, histogram, range_rows)
    for _, chunk in spill.chunks(names):
        out.add(**chunk)
    return out


def grouped(
    spill: Spill,
    key: str,
    histogram: KeyHistogram,
    weights: Sequence[Weight] = (),
    columns: Sequence[str] = (),
    *,
    range_rows: int | None = None,
) -> Iterator[Groups]:
    """The distinct values of column ``key`` (float32) of ``spill`` with their pixel
    counts and the sums of each of ``weights`` (a function of a range's ``{column: rows}``,
    ``key`` and ``columns`` read), one range at a time, in increasing order of the value."""
    for rows in bucketed(spill, key, histogram, columns, range_rows=range_rows).ranges():
        yield groups_of(rows, key, weights)
