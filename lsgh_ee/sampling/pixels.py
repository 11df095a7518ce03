"""Drawing pixels from boolean masks: uniformly at random without replacement, and the
pixels far from a mask.

A mask is either a whole array or a :class:`StripMask`, computed strip of rows by strip
on demand (memory: one strip). :func:`choose_in` draws from a strip mask with the same
random calls, and so the same pixels, as :func:`choose_pixels` on the whole array:
``Generator.choice(n_candidates, k)`` picks the same positions as ``choice`` over the
array of the candidates' flat indices, so the candidates are counted per strip in a
first pass, the positions chosen, and mapped back to pixels in a second pass; the
rejection sampler of large dense masks asks the mask at the drawn pixels only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lsgh_ee.grid import Grid

# Above this many pixels, a dense candidate mask is sampled by rejection instead of listing
# every candidate (a 10^8-pixel grid would need an 800 MB index array otherwise).
_REJECTION_MIN_PIXELS = 1 << 22

StripFn = Callable[[int, int], np.ndarray]
"""``(row0, row1) -> bool (row1 - row0, width)``: rows ``row0 .. row1`` of a mask."""


@dataclass
class StripMask:
    """A boolean grid mask of ``shape`` given strip by strip by ``strip`` over the row
    ranges ``bounds`` (consecutive, covering the grid).

    Attributes:
        counts: True pixels per strip, once counted (:meth:`count`), int64.
    """

    shape: tuple[int, int]
    bounds: list[tuple[int, int]]
    strip: StripFn
    counts: np.ndarray | None = None

    @classmethod
    def whole(cls, mask: np.ndarray) -> StripMask:
        """A whole array as a one-strip mask."""
        mask = np.asarray(mask, dtype=bool)
        return cls(mask.shape, [(0, mask.shape[0])], lambda r0, r1: mask[r0:r1])

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def count(self) -> int:
        """True pixels in all (one pass over the strips, remembered)."""
        if self.counts is None:
            self.counts = np.array([np.count_nonzero(self.strip(a, b)) for a, b in self.bounds],
                                   dtype=np.int64)  # fmt: skip
        return int(self.counts.sum())

    def pick(self, positions: np.ndarray) -> np.ndarray:
        """Flat indices of the True pixels at ``positions`` (0-based, row-major order of the
        True pixels), in the order of ``positions``; strips holding none are not computed."""
        self.count()
        positions = np.asarray(positions, dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(self.counts)])
        of = np.searchsorted(first, positions, side="right") - 1
        out = np.zeros(positions.size, dtype=np.int64)
        width = self.shape[1]
        for i in np.unique(of):
            a, b = self.bounds[i]
            sel = of == i
            out[sel] = np.flatnonzero(self.strip(a, b))[positions[sel] - first[i]] + a * width
        return out

    def at(self, flat: np.ndarray) -> np.ndarray:
        """The mask at flat indices ``flat`` (bool, same order); only the strips holding
        them are computed."""
        flat = np.asarray(flat, dtype=np.int64)
        width = self.shape[1]
        starts = np.array([a for a, _ in self.bounds], dtype=np.int64)
        of = np.searchsorted(starts, flat // width, side="right") - 1
        out = np.zeros(flat.size, dtype=bool)
        for i in np.unique(of):
            a, b = self.bounds[i]
            sel = of == i
            out[sel] = self.strip(a, b).reshape(-1)[flat[sel] - a * width]
        return out


def far_from(mask: np.ndarray, metres: float, grid: Grid) -> np.ndarray:
    """Pixels whose centre is farther than ``metres`` from every pixel centre of ``mask``."""
    far = np.ones(mask.shape, dtype=bool)
    rr, cc = np.nonzero(mask)
    if rr.size == 0:
        return far
    pad = far_halo(metres, grid)
    r0, r1 = max(int(rr.min()) - pad, 0), min(int(rr.max()) + pad + 1, mask.shape[0])
    c0, c1 = max(int(cc.min()) - pad, 0), min(int(cc.max()) + pad + 1, mask.shape[1])
    # every pixel outside this window is farther than `metres` from all of `mask`
    dist = ndimage.distance_transform_edt(~mask[r0:r1, c0:c1], sampling=grid.resolution)
    far[r0:r1, c0:c1] = dist > metres
    return far


def far_halo(metres: float, grid: Grid) -> int:
    """Rows (and columns) beyond which every pixel is farther than ``metres``: the halo of
    :func:`far_from` on a strip (its rows ± this many give the strip's rows exactly)."""
    return int(math.ceil(metres / grid.resolution)) + 1


def choose_pixels(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct flat indices drawn uniformly from the True pixels of ``mask`` (all of
    them, sorted, when there are no more than ``n``)."""
    return choose_in(StripMask.whole(mask), n, rng)


def choose_in(mask: StripMask, n: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`choose_pixels` on a strip mask: the same random calls and pixels as on the
    whole array, for any strips."""
    total = mask.count()
    if n <= 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    if n >= total:
        return mask.pick(np.arange(total))
    share = total / mask.size
    if mask.size >= _REJECTION_MIN_PIXELS and share >= 0.05 and n <= total // 4:
        # Uniform draws with replacement, keeping the first occurrence of each accepted
        # pixel: a uniform sample without replacement, without listing every candidate.
        picked = np.zeros(0, dtype=np.int64)
        while picked.size < n:
            draw = rng.integers(0, mask.size, size=int((n - picked.size) / share * 1.25) + 64)
            both = np.concatenate([picked, draw[mask.at(draw)]])
            _, first = np.unique(both, return_index=True)
            picked = both[np.sort(first)]
        return picked[:n]
    return mask.pick(rng.choice(total, size=n, replace=False))
