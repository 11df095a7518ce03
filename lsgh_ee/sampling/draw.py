"""Drawing hard and soft samples from the factor stack, the inventory and the Gaussian
heatmap, with their split (see :mod:`lsgh_ee.sampling`)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import gaussian_heatmap
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.pixels import choose_pixels, far_from
from lsgh_ee.sampling.samples import KINDS, Samples
from lsgh_ee.sampling.splits import (
    Blocks,
    check_positive_split,
    random_split,
    spatial_test_blocks,
    temporal_cutoff,
)

log = logging.getLogger(__name__)

SOFT_INTERVALS = ((0.2, 0.4), (0.4, 0.6), (0.6, 0.8))
"""The middle three of the heatmap's five equal intervals, each (low, high]."""


def draw_samples(
    stack: FactorStack,
    inventory: Inventory,
    config_sampling: SamplingConfig,
    heatmap_diameter: int,
    *,
    seed: int,
    date_attribute: str | None = None,
    area: np.ndarray | None = None,
    hold_out: bool = True,
) -> tuple[Samples, np.ndarray]:
    """Draw hard and soft samples on the stack's grid and split them into train and test.

    Args:
        stack: the factor stack (class codes are the samples' features; the ``slope``
            layer's values serve the ``low_slope`` negative rule).
        inventory: the landslides, in the grid CRS.
        config_sampling: the ``sampling`` section of the region config.
        heatmap_diameter: Gaussian heatmap diameter in pixels.
        seed: seed of the one random generator everything is drawn with.
        date_attribute: the inventory's date/year attribute (``inventory.date_attribute``),
            needed by the temporal split.
        area: optional boolean grid mask of the pixels samples may come from (e.g. the
            blocks of one cross-validation fold); positives outside it are dropped. The
            heatmap and the negatives' exclusion zones still come from every landslide of
            ``inventory`` (pass the subset of landslides that may be learnt from).
        hold_out: False draws every sample into ``train`` and splits nothing
            (``sampling.split`` and ``test_fraction`` are ignored): the caller splits, as
            cross-validation does by folds of blocks.

    Returns:
        (samples, heatmap): the heatmap (float32, grid shape) the soft labels were read
        from: built from every landslide in a random split, from the training landslides
        only in a temporal or spatial split (spatial: those whose centre lies in a training
        block; the negatives' rule still sees every landslide there, since the blocks are
        chosen from the hard samples).

    Raises:
        LsghError: nothing valid to sample, an unusable split (no date attribute, blocks
            not larger than a pixel, no positive left in train or test), or no slope layer
            for the ``low_slope`` rule.
    """
    cfg = config_sampling
    grid = stack.grid
    rng = np.random.default_rng(seed)
    codes = stack.codes
    valid = (codes > 0).all(axis=0)
    if not valid.any():
        raise LsghError(
            "no pixel has a valid class code in every factor; check the factor rasters "
            "cover the AOI (see the factor report)"
        )
    notices: list[str] = []
    if area is not None:
        area = np.asarray(area, dtype=bool)
        if area.shape != grid.shape:
            raise ValueError(f"area mask has shape {area.shape}, the grid {grid.shape}")

    positions, centre_rows, centre_cols = _landslides_on_grid(inventory, grid)
    train_ls = np.ones(positions.size, dtype=bool)
    cutoff = None
    if hold_out and cfg.split == "temporal":
        years = _landslide_years(inventory, date_attribute, positions)
        cutoff = temporal_cutoff(years, cfg)
        train_ls = years <= cutoff

    # Positives: per landslide set (train / test), deduplicated pixels, valid codes only.
    pos_train = _landslide_mask(inventory, positions[train_ls], grid, cfg.positives)
    pos_test = _landslide_mask(inventory, positions[~train_ls], grid, cfg.positives)
    pos_test &= ~pos_train  # a pixel of an earlier landslide is a training positive
    any_pos = pos_train | pos_test
    dropped = int(np.count_nonzero(any_pos & ~valid))
    if dropped:
        _notice(notices, f"{dropped} positive pixel(s) dropped: nodata in some factor")
    pos_train &= valid
    pos_test &= valid
    if area is not None:
        outside = int(np.count_nonzero((pos_train | pos_test) & ~area))
        if outside:
            _notice(notices, f"{outside} positive pixel(s) dropped: outside the sampled area")
        valid = valid & area
        pos_train &= area
        pos_test &= area
    positives = np.concatenate([np.flatnonzero(pos_train), np.flatnonzero(pos_test)])
    n_pos_train = int(np.count_nonzero(pos_train))
    if positives.size == 0:
        raise LsghError(
            f"none of the {positions.size} landslides has a valid class code in every factor "
            "at its pixel(s); check the factor rasters cover the landslides"
        )

    heatmap = gaussian_heatmap(
        (centre_rows[train_ls], centre_cols[train_ls]), grid.shape, heatmap_diameter
    )

    # Negatives: non-landslide ground by the chosen rule.
    landslide_px = _landslide_mask(inventory, positions, grid, "polygon")
    allowed = valid & ~landslide_px & ~pos_train & ~pos_test
    rule = _negative_rule(cfg, stack, heatmap, landslide_px, positions, train_ls, inventory)
    n_neg_wanted = max(1, round(cfg.negative_ratio * positives.size))
    negatives = choose_pixels(allowed & rule, n_neg_wanted, rng)
    if negatives.size == 0:
        raise LsghError(
            f"no pixel qualifies as a negative sample under sampling.negatives = "
            f"'{cfg.negatives}'; {_relax_hint(cfg)}"
        )
    if negatives.size < n_neg_wanted:
        _notice(
            notices,
            f"only {negatives.size} of {n_neg_wanted} negative samples available under "
            f"'{cfg.negatives}'",
        )

    # Split of the hard samples (and, for spatial, the blocks soft samples may come from).
    pos_is_test = np.zeros(positives.size, dtype=bool)
    pos_is_test[n_pos_train:] = True
    neg_is_test = np.zeros(negatives.size, dtype=bool)
    soft_region = np.ones(grid.shape, dtype=bool)
    test_blocks = None
    if not hold_out:
        pass  # everything trains; the caller splits
    elif cfg.split == "random":
        pos_is_test = random_split(positives.size, cfg.test_fraction, rng)
        neg_is_test = random_split(negatives.size, cfg.test_fraction, rng)
    elif cfg.split == "temporal":
        neg_is_test = random_split(negatives.size, cfg.test_fraction, rng)
    else:
        blocks = Blocks.on(grid, cfg.block_size)
        hard_blocks = blocks.of(np.concatenate([positives, negatives]), grid.width)
        test_blocks = spatial_test_blocks(hard_blocks, positives.size, blocks.count, cfg, rng)
        is_test = np.isin(hard_blocks, test_blocks)
        pos_is_test, neg_is_test = is_test[: positives.size], is_test[positives.size :]
        soft_region = ~blocks.mask(test_blocks)
        # Soft labels learn from the training landslides only: the heatmap is rebuilt from
        # the landslides whose centre lies in a training block.
        centre_blocks = blocks.of(centre_rows * grid.width + centre_cols, grid.width)
        train_centres = ~np.isin(centre_blocks, test_blocks)
        if train_centres.any():
            heatmap = gaussian_heatmap(
                (centre_rows[train_centres], centre_cols[train_centres]),
                grid.shape,
                heatmap_diameter,
            )
    if hold_out:
        check_positive_split(pos_is_test, cfg)

    # Soft samples from the middle three heatmap intervals (training ground only).
    n_soft = cfg.soft_per_interval
    if n_soft is None:
        n_soft = positives.size if cfg.split == "random" else int((~pos_is_test).sum())
    soft_ground = valid & soft_region & ~pos_train & ~pos_test
    soft_ground.reshape(-1)[negatives] = False
    soft_parts = []
    for low, high in SOFT_INTERVALS:
        band = soft_ground & (heatmap > low) & (heatmap <= high)
        picked = choose_pixels(band, n_soft, rng)
        if picked.size < n_soft:
            _notice(
                notices,
                f"only {picked.size} of {n_soft} soft samples available in heatmap interval "
                f"({low}, {high}]",
            )
        soft_parts.append(picked)
    soft = np.concatenate(soft_parts)
    soft_is_test = (
        random_split(soft.size, cfg.test_fraction, rng)
        if hold_out and cfg.split == "random"
        else np.zeros(soft.size, dtype=bool)
    )

    flat = np.concatenate([positives, negatives, soft])
    rows, cols = np.divmod(flat, grid.width)
    x, y = grid.xy(rows, cols)
    label = np.concatenate(
        [
            np.ones(positives.size, np.float32),
            np.zeros(negatives.size, np.float32),
            heatmap.reshape(-1)[soft],
        ]
    )
    kind = np.repeat(np.array(KINDS), [positives.size, negatives.size, soft.size])
    split = np.where(np.concatenate([pos_is_test, neg_is_test, soft_is_test]), "test", "train")
    samples = Samples(
        rows=rows,
        cols=cols,
        x=x,
        y=y,
        codes=codes[:, rows, cols].T,
        values=np.stack([layer.values[rows, cols] for layer in stack.layers], axis=1),
        label=label,
        kind=kind,
        split=split,
        factor_names=tuple(stack.names),
    )
    meta: dict[str, Any] = {
        "seed": seed,
        "heatmap_diameter": heatmap_diameter,
        "positives": cfg.positives,
        "negatives": cfg.negatives,
        "split": cfg.split if hold_out else "none",
        "test_fraction": cfg.test_fraction,
        "soft_per_interval": n_soft,
        "counts": samples.counts(),
        "notices": notices,
    }
    if cutoff is not None:
        meta["temporal_cutoff"] = int(cutoff)
        meta["landslides_train"] = int(train_ls.sum())
        meta["landslides_test"] = int((~train_ls).sum())
    if test_blocks is not None:
        meta["block_size"] = cfg.block_size
        meta["test_blocks"] = int(test_blocks.size)
    object.__setattr__(samples, "meta", meta)
    return samples, heatmap


def _notice(notices: list[str], message: str) -> None:
    log.warning("sampling: %s", message)
    notices.append(message)


def _landslides_on_grid(inventory: Inventory, grid: Grid) -> tuple[np.ndarray, ...]:
    """Positions (in ``inventory.landslides``) and centre pixels of landslides on the grid."""
    xy = inventory.centroids()
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = grid.contains(rows, cols)
    if not inside.any():
        raise LsghError(
            "no landslide centre lies on the grid; check the inventory covers the region"
        )
    return np.flatnonzero(inside), rows[inside], cols[inside]


def _landslide_mask(
    inventory: Inventory, positions: np.ndarray, grid: Grid, mode: str
) -> np.ndarray:
    if positions.size == 0:
        return np.zeros(grid.shape, dtype=bool)
    subset = dataclasses.replace(
        inventory, landslides=inventory.landslides.iloc[positions].reset_index(drop=True)
    )
    return subset.mask(grid, mode)  # type: ignore[arg-type]


def _landslide_years(
    inventory: Inventory, attribute: str | None, positions: np.ndarray
) -> np.ndarray:
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
    subset = dataclasses.replace(
        inventory, landslides=inventory.landslides.iloc[positions].reset_index(drop=True)
    )
    try:
        return np.asarray(subset.years(attribute), dtype=np.int64)
    except (ValueError, TypeError) as exc:
        raise LsghError(
            f"inventory.date_attribute '{attribute}' holds values that are not dates or "
            f"years ({exc}); use an attribute with dates (YYYY-MM-DD) or years"
        ) from exc


def _negative_rule(
    cfg: SamplingConfig,
    stack: FactorStack,
    heatmap: np.ndarray,
    landslide_px: np.ndarray,
    positions: np.ndarray,
    train_ls: np.ndarray,
    inventory: Inventory,
) -> np.ndarray:
    if cfg.negatives == "outside_heatmap":
        return heatmap == 0
    if cfg.negatives == "outside_buffer":
        if train_ls.all():
            source = landslide_px
        else:  # temporal: the rule sees the training landslides only
            source = _landslide_mask(inventory, positions[train_ls], stack.grid, "polygon")
        return far_from(source, cfg.negative_buffer, stack.grid)
    if "slope" not in stack.names:
        raise LsghError(
            "sampling.negatives is 'low_slope' but the factor stack has no 'slope' factor; "
            "add slope to 'factors' or use sampling.negatives: outside_heatmap"
        )
    slope = stack.layers[stack.names.index("slope")].values
    with np.errstate(invalid="ignore"):
        return slope < cfg.negative_max_slope


def _relax_hint(cfg: SamplingConfig) -> str:
    if cfg.negatives == "outside_buffer":
        return f"lower sampling.negative_buffer ({cfg.negative_buffer} m)"
    if cfg.negatives == "low_slope":
        return f"raise sampling.negative_max_slope ({cfg.negative_max_slope} degrees)"
    return "lower heatmap.diameter or enlarge the region"
