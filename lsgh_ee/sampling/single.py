"""The single train/test split the ``sample`` stage writes (``sampling.split``).

* ``random`` (the paper's 7:3, the default for comparability): one draw from every
  landslide, each kind split at random (:func:`~lsgh_ee.sampling.draw.draw_set`). Leaky by
  design: soft samples around a test landslide are labelled by its heatmap, and its
  neighbours train. A random pixel split is optimistic under spatial autocorrelation.
* ``spatial``: test blocks of ``block_size`` metres chosen from the landslides' centre
  blocks, about ``test_fraction`` of the landslides, plus that share of the landslide-free
  blocks (:func:`~lsgh_ee.sampling.splits.held_out_blocks`); then the two sides are drawn
  like a cross-validation fold (:func:`~lsgh_ee.sampling.sides.draw_sides`): training
  samples in the training blocks from the training landslides only (their heatmap, soft
  samples and exclusion zones), test hard samples in the test blocks with negatives by the
  configured rule from the test landslides only.
* ``temporal``: landslides up to the cutoff year train, later ones test; both sides drawn
  over the whole region, each from its own landslides (the test side leaves out what the
  training side sampled or knows as landslide).

In the spatial and temporal splits the returned heatmap is the training side's, and the
test set is hard samples only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.heatmap import Heatmap
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.draw import area_strips, draw_set_in, landslides_on_grid
from lsgh_ee.sampling.pixels import StripFn
from lsgh_ee.sampling.samples import Samples
from lsgh_ee.sampling.sides import Side, draw_sides, subset
from lsgh_ee.sampling.source import PixelSource, as_source
from lsgh_ee.sampling.splits import Blocks, held_out_blocks, temporal_cutoff


def draw_samples(
    stack: FactorStack | PixelSource,
    inventory: Inventory,
    config_sampling: SamplingConfig,
    heatmap_diameter: int,
    *,
    seed: int,
    date_attribute: str | None = None,
    area: np.ndarray | None = None,
    hold_out: bool = True,
) -> tuple[Samples, np.ndarray]:
    """Draw hard and soft samples on the stack's grid and split them into train and test
    by ``sampling.split`` (see the module doc): :func:`draw_samples_in` with the heatmap
    made whole.

    Args:
        stack: the factor stack (class codes are the samples' features).
        inventory: the landslides, in the grid CRS.
        config_sampling: the ``sampling`` section of the region config.
        heatmap_diameter: Gaussian heatmap diameter in pixels.
        seed: seed of every random draw: the same inputs and seed give identical samples.
        date_attribute: the inventory's date/year attribute, needed by the temporal split.
        area: optional boolean grid mask of the pixels samples may come from.
        hold_out: False draws one unsplit set from every landslide (``sampling.split`` is
            ignored): the caller splits.

    Returns:
        (samples, heatmap): the heatmap (float32, grid shape) the training soft labels were
        read from (every landslide in a random split, the training landslides otherwise).

    Raises:
        LsghError: nothing valid to sample, an unusable split (no date attribute, blocks
            not larger than a pixel, landslides in fewer than two blocks, no positive on a
            side), or no slope layer for the ``low_slope`` rule.
    """
    source = as_source(stack)
    samples, heatmap = draw_samples_in(source, inventory, config_sampling, heatmap_diameter,
                                       seed=seed, date_attribute=date_attribute,
                                       area=area_strips(area, source.grid),
                                       hold_out=hold_out)  # fmt: skip
    return samples, heatmap.array()


def draw_samples_in(
    source: PixelSource,
    inventory: Inventory,
    config_sampling: SamplingConfig,
    heatmap_diameter: int,
    *,
    seed: int,
    date_attribute: str | None = None,
    area: StripFn | None = None,
    hold_out: bool = True,
) -> tuple[Samples, Heatmap]:
    """:func:`draw_samples` strip by strip of ``source`` (the ``sample`` stage reads the
    run folder's stacks window by window, :class:`~lsgh_ee.sampling.source.RunSource`):
    the same samples for any strips; the areas of the sides are computed rows by rows.

    Returns:
        (samples, heatmap): the :class:`~lsgh_ee.heatmap.Heatmap` the training soft labels
        were read from (write it with :func:`lsgh_ee.heatmap.write_heatmap_strips`).
    """
    cfg = config_sampling
    if not hold_out or cfg.split == "random":
        return draw_set_in(source, inventory, cfg, heatmap_diameter, seed=seed, area=area,
                           split_at_random=hold_out)  # fmt: skip
    grid = source.grid
    positions, rows, cols = landslides_on_grid(inventory, grid)
    extra: dict[str, Any]
    areas: tuple[StripFn | None, StripFn | None]
    if cfg.split == "temporal":
        years = landslide_years(inventory, date_attribute, positions)
        cutoff = temporal_cutoff(years, cfg)
        is_test = years > cutoff
        areas = (area, area)
        extra = {"temporal_cutoff": int(cutoff), "landslides_train": int((~is_test).sum()),
                 "landslides_test": int(is_test.sum())}  # fmt: skip
    else:
        blocks = Blocks.on(grid, cfg.block_size)
        ls_block = blocks.of(rows * grid.width + cols, grid.width)
        counts = np.bincount(ls_block, minlength=blocks.count)
        test_blocks = held_out_blocks(
            np.arange(blocks.count), counts, cfg.test_fraction, np.random.default_rng([seed, 0]),
            too_few=(f"the landslides lie in {np.count_nonzero(counts)} block(s) of "
                     f"{cfg.block_size:g} m, too few for a spatial split; use a smaller "
                     "sampling.block_size or sampling.split: random"))  # fmt: skip
        is_test = np.isin(ls_block, test_blocks)
        areas = (_blocks_area(blocks, test_blocks, area, inside=False),
                 _blocks_area(blocks, test_blocks, area, inside=True))  # fmt: skip
        extra = {"block_size": cfg.block_size, "test_blocks": int(test_blocks.size)}
    sides = [Side("training", positions[~is_test], areas[0], seed),
             Side("test", positions[is_test], areas[1], seed + 1, soft=False)]  # fmt: skip
    (train, heatmap), (test, _) = draw_sides(source, inventory, cfg, heatmap_diameter, sides)
    test = test.subset(test.kind != "soft")
    test.split[:] = "test"
    notices = list(train.meta["notices"]) + [f"test side: {n}" for n in test.meta["notices"]]
    meta: dict[str, Any] = {**train.meta, "split": cfg.split, "notices": notices, **extra}
    joined = Samples.join([train, test], meta)
    joined.meta["counts"] = joined.counts()
    return joined, heatmap


def _blocks_area(blocks: Blocks, chosen: np.ndarray, area: StripFn | None,
                 *, inside: bool) -> StripFn:  # fmt: skip
    """``area`` (everywhere when None) within (``inside``) or outside the ``chosen``
    blocks, rows by rows."""

    def strip(row0: int, row1: int) -> np.ndarray:
        mask = blocks.mask(chosen, row0, row1)
        mask = mask if inside else ~mask
        return mask if area is None else mask & area(row0, row1)

    return strip


def landslide_years(
    inventory: Inventory, attribute: str | None, positions: np.ndarray
) -> np.ndarray:
    """The year of each landslide at ``positions`` by ``attribute``.

    Raises:
        LsghError: no attribute named, not in the inventory, empty or not a date/year.
    """
    if attribute is None:
        raise LsghError(
            "sampling.split is 'temporal' but the inventory has no date; set "
            "inventory.date_attribute to the landslides' date or year attribute, or use "
            "sampling.split: random"
        )
    if attribute not in inventory.landslides.columns:
        raise LsghError(
            f"inventory has no attribute '{attribute}' (inventory.date_attribute); "
            "name the landslides' date or year attribute"
        )
    values = inventory.landslides[attribute].iloc[positions]
    empty = int(values.isna().sum())
    if empty:
        raise LsghError(
            f"inventory.date_attribute '{attribute}' is empty for {empty} landslide(s); fill "
            "it in or use sampling.split: random"
        )
    try:
        return np.asarray(subset(inventory, positions).years(attribute), dtype=np.int64)
    except (ValueError, TypeError) as exc:
        raise LsghError(
            f"inventory.date_attribute '{attribute}' holds values that are not dates or "
            f"years ({exc}); use an attribute with dates (YYYY-MM-DD) or years"
        ) from exc
