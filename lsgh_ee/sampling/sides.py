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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.draw import draw_set
from lsgh_ee.sampling.samples import Samples


@dataclass(frozen=True)
class Side:
    """One side of a split: its name (for messages), the positions (in
    ``inventory.landslides``) of the landslides it learns from, the boolean grid mask of
    the pixels it may sample, the seed of its draw, and whether it draws soft samples
    (held-out sides are hard samples only; their hard samples do not depend on it)."""

    name: str
    landslides: np.ndarray
    area: np.ndarray
    seed: int
    soft: bool = True


def draw_sides(
    stack: FactorStack,
    inventory: Inventory,
    cfg: SamplingConfig,
    heatmap_diameter: int,
    sides: Sequence[Side],
    *,
    context: str = "",
) -> list[tuple[Samples, np.ndarray]]:
    """Draw ``sides`` in order, each from its own landslides in its area minus what an
    earlier side sampled or knows as landslide.

    Args:
        context: prefix of the messages (e.g. ``"fold 2, "``).

    Returns:
        (samples, heatmap) per side: every sample of the side marked ``train`` (the caller
        names the split), and the heatmap (float32, grid shape) of the side's landslides.

    Raises:
        LsghError: a side has nothing to sample; the message names the side.
    """
    grid = stack.grid
    taken = np.zeros(grid.shape, dtype=bool)
    drawn = []
    for side in sides:
        own = subset(inventory, side.landslides)
        side_cfg = cfg if side.soft else cfg.without_soft()
        try:
            samples, heatmap = draw_set(stack, own, side_cfg, heatmap_diameter, seed=side.seed,
                                        area=side.area & ~taken)  # fmt: skip
        except LsghError as exc:
            raise LsghError(f"{context}{side.name} side: {exc}") from exc
        taken[samples.rows, samples.cols] = True
        taken |= own.mask(grid, "polygon")
        drawn.append((samples, heatmap))
    return drawn


def subset(inventory: Inventory, positions: np.ndarray) -> Inventory:
    """The inventory with only the landslides at ``positions`` (of ``landslides``)."""
    rows = inventory.landslides.iloc[np.asarray(positions, dtype=np.int64)]
    return dataclasses.replace(inventory, landslides=rows.reset_index(drop=True))
