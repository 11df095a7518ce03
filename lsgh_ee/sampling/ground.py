"""The masks one draw samples from, strip of rows by strip (see :mod:`.draw`): valid
ground, positives, landslide pixels, negatives by the configured rule and the soft
samples' heatmap intervals, each computed for rows ``row0 .. row1`` only, equal to the
same rows of the whole-grid mask:

* class codes, values and the side's area are read or computed for the strip;
* landslide pixels: the centre pixels in the strip, plus the polygons whose bounds reach
  it burnt onto the strip's grid (GDAL tests each pixel centre on its own; the strip's
  transform is the whole grid's moved by whole rows);
* the heatmap: :meth:`lsgh_ee.heatmap.Heatmap.rows` (centres within ``floor(R)`` rows);
* ``outside_buffer``: :func:`~.pixels.far_from` on the strip's landslide pixels with a
  halo of the buffer (:func:`~.pixels.far_halo` rows), cropped.

The last strip's masks are kept, so the masks of one pass share one computation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.factors.windows import strip_grid
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import Heatmap
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.pixels import StripFn, far_from, far_halo
from lsgh_ee.sampling.source import PixelSource
from lsgh_ee.vectors import burn


class LandslideRows:
    """An inventory's landslide mask (:meth:`Inventory.mask`) rows by rows."""

    def __init__(self, inventory: Inventory, grid: Grid):
        self.grid = grid
        self.rows, self.cols = inventory.centroid_pixels(grid)
        self.polygons = inventory.landslides if inventory.kind == "polygon" else None
        if self.polygons is not None:
            self.bounds = self.polygons.geometry.bounds.to_numpy()  # minx, miny, maxx, maxy

    def mask(self, row0: int, row1: int, mode: str) -> np.ndarray:
        """bool ``(row1 - row0, width)``: rows ``row0 .. row1`` of ``inventory.mask(grid,
        mode)`` (the centre pixels, or those plus every pixel whose centre lies in a
        polygon)."""
        if mode not in ("centroid", "polygon"):
            raise ValueError(f"mode must be 'centroid' or 'polygon', got {mode!r}")
        out = np.zeros((row1 - row0, self.grid.width), dtype=bool)
        if mode == "polygon" and self.polygons is not None and len(self.polygons):
            strip = strip_grid(self.grid, row0, row1 - row0)
            _, bottom, _, top = strip.bounds
            near = (self.bounds[:, 1] <= top) & (self.bounds[:, 3] >= bottom)
            if near.any():
                out |= burn(self.polygons[near], strip).astype(bool)
        inside = (self.rows >= row0) & (self.rows < row1)
        out[self.rows[inside] - row0, self.cols[inside]] = True
        return out


class Ground:
    """The masks of one draw (see the module doc) as strip functions.

    Args:
        source: the factors.
        landslides: the landslides the draw learns from (their centres on the grid).
        cfg: the sampling config (``positives``, ``negatives`` and its parameters).
        area: the side's area strip by strip, or None for the whole grid.
    """

    def __init__(self, source: PixelSource, landslides: Inventory, cfg: SamplingConfig,
                 area: StripFn | None):  # fmt: skip
        self.source, self.cfg, self.area = source, cfg, area
        self.grid = source.grid
        self.landslides = LandslideRows(landslides, self.grid)
        self.heatmap: Heatmap | None = None
        self.negatives = np.zeros(0, dtype=np.int64)  # sorted, once drawn
        self._key: tuple[int, int] | None = None
        self._cache: dict[str, np.ndarray] = {}

    def _get(self, row0: int, row1: int, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if self._key != (row0, row1):
            self._key, self._cache = (row0, row1), {}
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def valid(self, row0: int, row1: int) -> np.ndarray:
        """Pixels with a valid class code in every factor."""
        return self._get(row0, row1, "valid",
                         lambda: (self.source.codes(row0, row1) > 0).all(axis=0))  # fmt: skip

    def in_area(self, row0: int, row1: int) -> np.ndarray:
        """The side's area (all True without one)."""
        if self.area is None:
            return np.ones((row1 - row0, self.grid.width), dtype=bool)
        return self._get(row0, row1, "area", lambda: np.asarray(self.area(row0, row1), bool))

    def ground(self, row0: int, row1: int) -> np.ndarray:
        """Valid pixels in the area: where every sample comes from."""
        return self._get(row0, row1, "ground",
                         lambda: self.valid(row0, row1) & self.in_area(row0, row1))  # fmt: skip

    def landslide_px(self, row0: int, row1: int) -> np.ndarray:
        """Every landslide pixel (polygons and centres)."""
        return self._get(row0, row1, "landslide",
                         lambda: self.landslides.mask(row0, row1, "polygon"))  # fmt: skip

    def positive_raw(self, row0: int, row1: int) -> np.ndarray:
        """The positives' pixels by ``sampling.positives``, before validity and area."""
        if self.cfg.positives == "polygon":
            return self.landslide_px(row0, row1)
        return self._get(row0, row1, "centres",
                         lambda: self.landslides.mask(row0, row1, "centroid"))  # fmt: skip

    def positive(self, row0: int, row1: int) -> np.ndarray:
        """The positives: valid pixels in the area."""
        return self._get(
            row0, row1, "positive", lambda: self.positive_raw(row0, row1) & self.ground(row0, row1)
        )

    def heat(self, row0: int, row1: int) -> np.ndarray:
        assert self.heatmap is not None, "the heatmap is set before the negatives are drawn"
        return self._get(row0, row1, "heat", lambda: self.heatmap.rows(row0, row1))

    def rule(self, row0: int, row1: int) -> np.ndarray:
        """The negative rule's pixels (``sampling.negatives``)."""
        cfg = self.cfg
        if cfg.negatives == "outside_heatmap":
            return self.heat(row0, row1) == 0
        if cfg.negatives == "outside_buffer":
            halo = far_halo(cfg.negative_buffer, self.grid)
            a, b = max(row0 - halo, 0), min(row1 + halo, self.grid.height)
            around = self.landslides.mask(a, b, "polygon")
            return far_from(around, cfg.negative_buffer, self.grid)[row0 - a : row1 - a]
        slope = self.source.values("slope", row0, row1)
        with np.errstate(invalid="ignore"):
            return slope < cfg.negative_max_slope

    def negative(self, row0: int, row1: int) -> np.ndarray:
        """Where negatives may be drawn: valid ground in the area, no landslide pixel, no
        positive, and the rule."""
        allowed = self.ground(row0, row1) & ~self.landslide_px(row0, row1)
        return allowed & ~self.positive(row0, row1) & self.rule(row0, row1)

    def soft_ground(self, row0: int, row1: int) -> np.ndarray:
        """Where soft samples may be drawn: valid ground in the area, no positive, no
        negative drawn."""

        def make() -> np.ndarray:
            out = self.ground(row0, row1) & ~self.positive(row0, row1)
            width = self.grid.width
            lo, hi = np.searchsorted(self.negatives, [row0 * width, row1 * width])
            out.reshape(-1)[self.negatives[lo:hi] - row0 * width] = False
            return out

        return self._get(row0, row1, "soft", make)

    def band(self, low: float, high: float) -> StripFn:
        """The soft ground where the heatmap is in ``(low, high]``."""

        def strip(row0: int, row1: int) -> np.ndarray:
            heat = self.heat(row0, row1)
            return self.soft_ground(row0, row1) & (heat > low) & (heat <= high)

        return strip
