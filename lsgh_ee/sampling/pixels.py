"""Drawing pixels from boolean masks: uniformly at random without replacement, and the
pixels far from a mask."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from lsgh_ee.grid import Grid

# Above this many pixels, a dense candidate mask is sampled by rejection instead of listing
# every candidate (a 10^8-pixel grid would need an 800 MB index array otherwise).
_REJECTION_MIN_PIXELS = 1 << 22


def far_from(mask: np.ndarray, metres: float, grid: Grid) -> np.ndarray:
    """Pixels whose centre is farther than ``metres`` from every pixel centre of ``mask``."""
    far = np.ones(mask.shape, dtype=bool)
    rr, cc = np.nonzero(mask)
    if rr.size == 0:
        return far
    pad = int(math.ceil(metres / grid.resolution)) + 1
    r0, r1 = max(int(rr.min()) - pad, 0), min(int(rr.max()) + pad + 1, mask.shape[0])
    c0, c1 = max(int(cc.min()) - pad, 0), min(int(cc.max()) + pad + 1, mask.shape[1])
    # every pixel outside this window is farther than `metres` from all of `mask`
    dist = ndimage.distance_transform_edt(~mask[r0:r1, c0:c1], sampling=grid.resolution)
    far[r0:r1, c0:c1] = dist > metres
    return far


def choose_pixels(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct flat indices drawn uniformly from the True pixels of ``mask`` (all of
    them, sorted, when there are no more than ``n``)."""
    flat = mask.reshape(-1)
    total = int(np.count_nonzero(flat))
    if n <= 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    if n >= total:
        return np.flatnonzero(flat).astype(np.int64)
    share = total / flat.size
    if flat.size >= _REJECTION_MIN_PIXELS and share >= 0.05 and n <= total // 4:
        # Uniform draws with replacement, keeping the first occurrence of each accepted
        # pixel: a uniform sample without replacement, without listing every candidate.
        picked = np.zeros(0, dtype=np.int64)
        while picked.size < n:
            draw = rng.integers(0, flat.size, size=int((n - picked.size) / share * 1.25) + 64)
            both = np.concatenate([picked, draw[flat[draw]]])
            _, first = np.unique(both, return_index=True)
            picked = both[np.sort(first)]
        return picked[:n]
    return rng.choice(np.flatnonzero(flat), size=n, replace=False).astype(np.int64)
