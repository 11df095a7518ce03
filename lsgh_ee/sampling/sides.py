"""The sides of a split (training, validation, test) drawn each from its own landslides in
its own area: the one owner of "draw the sides of a split", for the single spatial and
temporal splits (:mod:`.single`) and for every cross-validation fold (:mod:`.folds`).

Each side is a full draw (:func:`~lsgh_ee.sampling.draw.draw_set`, nothing split): its
positives, its negatives by the configured rule and its soft samples come from that side's
landslides only (their heatmap, their exclusion zones), inside that side's area. The sides
are drawn in order and a later side leaves out the pixels an earlier one sampled or knows
as landslide (a training landslide's polygon reaching into the test area is neither a test
negative nor a test positive). So the first side never sees a later side's landslides:
removing them from the inventory leaves it byte-identical.

Strip by strip (:func:`~lsgh_ee.sampling.draw.draw_set_in`): what an earlier side took is
kept as its sample pixels and its landslides (burnt rows by rows), not as a grid mask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.heatmap import Heatmap
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.draw import area_strips, draw_set_in
from lsgh_ee.sampling.ground import LandslideRows
from lsgh_ee.sampling.pixels import StripFn
from lsgh_ee.sampling.samples import Samples
from lsgh_ee.sampling.source import PixelSource, as_source


@dataclass(frozen=True)
class Side:
    """One side of a split: its name (for messages), the positions (in
    ``inventory.landslides``) of the landslides it learns from, the pixels it may sample
    (a boolean grid mask, or rows by rows: ``area(row0, row1)``), the seed of its draw,
    and whether it draws soft samples (held-out sides are hard samples only; their hard
    samples do not depend on it)."""

    name: str
    landslides: np.ndarray
    area: np.ndarray | StripFn
    seed: int
    soft: bool = True


def draw_sides(
    stack: FactorStack | PixelSource,
    inventory: Inventory,
    cfg: SamplingConfig,
    heatmap_diameter: int,
    sides: Sequence[Side],
    *,
    context: str = "",
) -> list[tuple[Samples, Heatmap]]:
    """Draw ``sides`` in order, each from its own landslides in its area minus what an
    earlier side sampled or knows as landslide, strip by strip of the source.

    Args:
        stack: the factors (an in-memory stack, or a :mod:`.source` read by strips).
        context: prefix of the messages (e.g. ``"fold 2, "``).

    Returns:
        (samples, heatmap) per side: every sample of the side marked ``train`` (the caller
        names the split), and the :class:`~lsgh_ee.heatmap.Heatmap` of the side's
        landslides.

    Raises:
        LsghError: a side has nothing to sample; the message names the side.
    """
    source = as_source(stack)
    grid = source.grid
    taken_pixels = np.zeros(0, dtype=np.int64)  # sorted flat indices sampled so far
    taken_landslides: list[LandslideRows] = []
    drawn = []
    for side in sides:
        own = subset(inventory, side.landslides)
        side_cfg = cfg if side.soft else cfg.without_soft()
        area = _minus(area_strips(side.area, grid), taken_pixels, list(taken_landslides),
                      grid.width)  # fmt: skip
        try:
            samples, heatmap = draw_set_in(source, own, side_cfg, heatmap_diameter,
                                           seed=side.seed, area=area)  # fmt: skip
        except LsghError as exc:
            raise LsghError(f"{context}{side.name} side: {exc}") from exc
        flat = samples.rows * grid.width + samples.cols
        taken_pixels = np.union1d(taken_pixels, flat)
        taken_landslides.append(LandslideRows(own, grid))
        drawn.append((samples, heatmap))
    return drawn


def _minus(area: StripFn | None, pixels: np.ndarray, landslides: list[LandslideRows],
           width: int) -> StripFn:  # fmt: skip
    """``area`` (everywhere when None) without the flat ``pixels`` (sorted) and every pixel
    of ``landslides``, rows by rows."""

    def strip(row0: int, row1: int) -> np.ndarray:
        out = np.ones((row1 - row0, width), dtype=bool) if area is None else area(row0, row1)
        out = np.array(out, dtype=bool)  # a copy: the area's own rows stay as they are
        for rows in landslides:
            out &= ~rows.mask(row0, row1, "polygon")
        lo, hi = np.searchsorted(pixels, [row0 * width, row1 * width])
        out.reshape(-1)[pixels[lo:hi] - row0 * width] = False
        return out

    return strip


def subset(inventory: Inventory, positions: np.ndarray) -> Inventory:
    """The inventory with only the landslides at ``positions`` (of ``landslides``)."""
    rows = inventory.landslides.iloc[np.asarray(positions, dtype=np.int64)]
    return dataclasses.replace(inventory, landslides=rows.reset_index(drop=True))
