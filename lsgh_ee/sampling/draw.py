"""Drawing one set of hard and soft samples from the factor stack, the landslides it may
learn from and their Gaussian heatmap, split at random or not at all (see
:mod:`lsgh_ee.sampling`; the spatial and temporal splits draw their sides with
:mod:`.sides`)."""

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
from lsgh_ee.sampling.splits import check_positive_split, random_split

log = logging.getLogger(__name__)

SOFT_INTERVALS = ((0.2, 0.4), (0.4, 0.6), (0.6, 0.8))
"""The middle three of the heatmap's five equal intervals, each (low, high]."""


def draw_set(
    stack: FactorStack,
    inventory: Inventory,
    config_sampling: SamplingConfig,
    heatmap_diameter: int,
    *,
    seed: int,
    area: np.ndarray | None = None,
    split_at_random: bool = False,
) -> tuple[Samples, np.ndarray]:
    """Draw one set of hard and soft samples from every landslide of ``inventory``; split
    it at random (the paper's 7:3, stratified by kind) or not at all.

    Args:
        stack: the factor stack (class codes are the samples' features; the ``slope``
            layer's values serve the ``low_slope`` negative rule).
        inventory: the landslides, in the grid CRS: everything drawn learns from all of
            them (the heatmap, the soft labels, the negatives' exclusion zones), so pass
            only the landslides the set may learn from.
        config_sampling: the ``sampling`` section of the region config
            (``split`` is not read here).
        heatmap_diameter: Gaussian heatmap diameter in pixels.
        seed: seed of the one random generator everything is drawn with.
        area: optional boolean grid mask of the pixels samples may come from (e.g. the
            training blocks); positives outside it are dropped.
        split_at_random: True splits every kind at random by ``test_fraction`` (the random
            split, soft samples included); False marks every sample ``train``.

    Returns:
        (samples, heatmap): the heatmap (float32, grid shape) of the landslides' centres
        the soft labels were read from.

    Raises:
        LsghError: nothing valid to sample, no positive left on a side of a random split,
            or no slope layer for the ``low_slope`` rule.
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

    positions, centre_rows, centre_cols = landslides_on_grid(inventory, grid)
    # Positives: deduplicated pixels, valid codes only.
    pos = _landslide_mask(inventory, positions, grid, cfg.positives)
    dropped = int(np.count_nonzero(pos & ~valid))
    if dropped:
        _notice(notices, f"{dropped} positive pixel(s) dropped: nodata in some factor")
    pos &= valid
    if area is not None:
        outside = int(np.count_nonzero(pos & ~area))
        if outside:
            _notice(
                notices,
                f"{outside} positive pixel(s) dropped: outside the side's area "
                "or on an earlier side's samples or landslides",
            )
        valid = valid & area
        pos &= area
    positives = np.flatnonzero(pos)
    if positives.size == 0:
        raise LsghError(
            f"none of the {positions.size} landslides has a valid class code in every factor "
            "at its pixel(s); check the factor rasters cover the landslides"
        )

    heatmap = gaussian_heatmap((centre_rows, centre_cols), grid.shape, heatmap_diameter)

    # Negatives: non-landslide ground by the chosen rule.
    landslide_px = _landslide_mask(inventory, positions, grid, "polygon")
    allowed = valid & ~landslide_px & ~pos
    rule = _negative_rule(cfg, stack, heatmap, landslide_px)
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

    pos_is_test = np.zeros(positives.size, dtype=bool)
    neg_is_test = np.zeros(negatives.size, dtype=bool)
    if split_at_random:
        pos_is_test = random_split(positives.size, cfg.test_fraction, rng)
        neg_is_test = random_split(negatives.size, cfg.test_fraction, rng)
        check_positive_split(pos_is_test, cfg)

    # Soft samples from the middle three heatmap intervals.
    n_soft = cfg.soft_count(positives.size)
    soft_ground = valid & ~pos
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
        if split_at_random
        else np.zeros(soft.size, dtype=bool)
    )

    flat = np.concatenate([positives, negatives, soft])
    label = np.concatenate(
        [
            np.ones(positives.size, np.float32),
            np.zeros(negatives.size, np.float32),
            heatmap.reshape(-1)[soft],
        ]
    )
    kind = np.repeat(np.array(KINDS), [positives.size, negatives.size, soft.size])
    split = np.where(np.concatenate([pos_is_test, neg_is_test, soft_is_test]), "test", "train")
    samples = pixel_samples(stack, flat, label, kind, split)
    meta: dict[str, Any] = {
        "seed": seed,
        "heatmap_diameter": heatmap_diameter,
        "positives": cfg.positives,
        "negatives": cfg.negatives,
        "split": "random" if split_at_random else "none",
        "test_fraction": cfg.test_fraction,
        "soft_per_interval": n_soft,
        "counts": samples.counts(),
        "notices": notices,
    }
    object.__setattr__(samples, "meta", meta)
    return samples, heatmap


def pixel_samples(
    stack: FactorStack, flat: np.ndarray, label: np.ndarray, kind: np.ndarray, split: np.ndarray
) -> Samples:
    """Samples at flat pixel indices ``flat`` of the stack's grid, with their class codes
    and factor values."""
    grid = stack.grid
    rows, cols = np.divmod(flat, grid.width)
    x, y = grid.xy(rows, cols)
    values = np.stack([layer.values[rows, cols] for layer in stack.layers], axis=1)
    return Samples(rows=rows, cols=cols, x=x, y=y, codes=stack.codes[:, rows, cols].T,
                   values=values, label=label, kind=kind, split=split,
                   factor_names=tuple(stack.names))  # fmt: skip


def _notice(notices: list[str], message: str) -> None:
    log.warning("sampling: %s", message)
    notices.append(message)


def landslides_on_grid(inventory: Inventory, grid: Grid) -> tuple[np.ndarray, ...]:
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


def _negative_rule(
    cfg: SamplingConfig,
    stack: FactorStack,
    heatmap: np.ndarray,
    landslide_px: np.ndarray,
) -> np.ndarray:
    if cfg.negatives == "outside_heatmap":
        return heatmap == 0
    if cfg.negatives == "outside_buffer":
        return far_from(landslide_px, cfg.negative_buffer, stack.grid)
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
