"""Drawing one set of hard and soft samples from the factor stack, the landslides it may
learn from and their Gaussian heatmap, split at random or not at all (see
:mod:`lsgh_ee.sampling`; the spatial and temporal splits draw their sides with
:mod:`.sides`), strip of rows by strip (:func:`draw_set_in`, masks from :mod:`.ground`):
the same samples for any strip height, the whole grid (``output.strip_rows: 0``, and
:func:`draw_set` on an in-memory stack) included."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import Heatmap
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.ground import Ground
from lsgh_ee.sampling.pixels import StripFn, StripMask, choose_in
from lsgh_ee.sampling.samples import KINDS, Samples
from lsgh_ee.sampling.source import PixelSource, StackSource, as_source, bounds_of
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
    it at random (the paper's 7:3, stratified by kind) or not at all: :func:`draw_set_in`
    on the whole in-memory stack.

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
    samples, heatmap = draw_set_in(StackSource(stack), inventory, config_sampling,
                                   heatmap_diameter, seed=seed, area=area_strips(area, stack.grid),
                                   split_at_random=split_at_random)  # fmt: skip
    return samples, heatmap.array()


def area_strips(area: np.ndarray | StripFn | None, grid: Grid) -> StripFn | None:
    """An area given as a whole boolean grid mask, or rows by rows, as rows by rows."""
    if area is None or callable(area):
        return area
    mask = np.asarray(area, dtype=bool)
    if mask.shape != grid.shape:
        raise ValueError(f"area mask has shape {mask.shape}, the grid {grid.shape}")
    return lambda row0, row1: mask[row0:row1]


def draw_set_in(
    source: PixelSource,
    inventory: Inventory,
    config_sampling: SamplingConfig,
    heatmap_diameter: int,
    *,
    seed: int,
    area: StripFn | None = None,
    split_at_random: bool = False,
) -> tuple[Samples, Heatmap]:
    """:func:`draw_set` strip of rows by strip of ``source`` (``source.strip_rows``; see
    :mod:`.ground`): the same random calls on the same candidates, so the same samples
    for any strips. Memory: one strip of the stack and of each mask, plus the samples.

    Passes over the strips: positives and valid ground; the negatives' candidates
    counted, then the chosen positions found (or, for the rejection sampler, the drawn
    pixels checked); the three soft intervals counted together, then each one's chosen
    positions found; the codes and values read at the samples.

    Args: as :func:`draw_set`, with ``area`` rows by rows (:func:`area_strips`).

    Returns:
        (samples, heatmap): the :class:`~lsgh_ee.heatmap.Heatmap` of the landslides'
        centres the soft labels were read from.
    """
    cfg = config_sampling
    grid = source.grid
    rng = np.random.default_rng(seed)
    bounds = bounds_of(source)
    notices: list[str] = []
    try:
        positions, centre_rows, centre_cols = landslides_on_grid(inventory, grid)
    except LsghError as exc:
        off_grid: LsghError | None = exc
        positions = centre_rows = centre_cols = np.zeros(0, dtype=np.int64)
    else:
        off_grid = None
    ground = Ground(source, _subset(inventory, positions), cfg, area)
    any_valid, dropped, outside, parts = False, 0, 0, []
    for row0, row1 in bounds:
        valid = ground.valid(row0, row1)
        any_valid = any_valid or bool(valid.any())
        raw = ground.positive_raw(row0, row1) & valid
        dropped += int(np.count_nonzero(ground.positive_raw(row0, row1) & ~valid))
        outside += int(np.count_nonzero(raw & ~ground.in_area(row0, row1)))
        parts.append(np.flatnonzero(ground.positive(row0, row1)) + row0 * grid.width)
    if not any_valid:
        raise LsghError(
            "no pixel has a valid class code in every factor; check the factor rasters "
            "cover the AOI (see the factor report)"
        )
    if off_grid is not None:
        raise off_grid
    if dropped:
        _notice(notices, f"{dropped} positive pixel(s) dropped: nodata in some factor")
    if area is not None and outside:
        _notice(
            notices,
            f"{outside} positive pixel(s) dropped: outside the side's area "
            "or on an earlier side's samples or landslides",
        )
    positives = np.concatenate(parts).astype(np.int64)
    if positives.size == 0:
        raise LsghError(
            f"none of the {positions.size} landslides has a valid class code in every factor "
            "at its pixel(s); check the factor rasters cover the landslides"
        )

    heatmap = Heatmap((centre_rows, centre_cols), grid.shape, heatmap_diameter)
    ground.heatmap = heatmap
    if cfg.negatives == "low_slope" and "slope" not in source.names:
        raise LsghError(
            "sampling.negatives is 'low_slope' but the factor stack has no 'slope' factor; "
            "add slope to 'factors' or use sampling.negatives: outside_heatmap"
        )

    # Negatives: non-landslide ground by the chosen rule.
    n_neg_wanted = max(1, round(cfg.negative_ratio * positives.size))
    negatives = choose_in(StripMask(grid.shape, bounds, ground.negative), n_neg_wanted, rng)
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
    ground.negatives = np.sort(negatives)

    pos_is_test = np.zeros(positives.size, dtype=bool)
    neg_is_test = np.zeros(negatives.size, dtype=bool)
    if split_at_random:
        pos_is_test = random_split(positives.size, cfg.test_fraction, rng)
        neg_is_test = random_split(negatives.size, cfg.test_fraction, rng)
        check_positive_split(pos_is_test, cfg)

    # Soft samples from the middle three heatmap intervals (counted in one pass).
    n_soft = cfg.soft_count(positives.size)
    bands = [StripMask(grid.shape, bounds, ground.band(low, high)) for low, high in SOFT_INTERVALS]
    if n_soft > 0:
        for i, (row0, row1) in enumerate(bounds):
            for band in bands:
                if band.counts is None:
                    band.counts = np.zeros(len(bounds), dtype=np.int64)
                band.counts[i] = np.count_nonzero(band.strip(row0, row1))
    soft_parts = []
    for band, (low, high) in zip(bands, SOFT_INTERVALS, strict=True):
        picked = choose_in(band, n_soft, rng) if n_soft > 0 else np.zeros(0, dtype=np.int64)
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
    soft_rows, soft_cols = np.divmod(soft, grid.width)
    label = np.concatenate(
        [
            np.ones(positives.size, np.float32),
            np.zeros(negatives.size, np.float32),
            heatmap.at(soft_rows, soft_cols),
        ]
    )
    kind = np.repeat(np.array(KINDS), [positives.size, negatives.size, soft.size])
    split = np.where(np.concatenate([pos_is_test, neg_is_test, soft_is_test]), "test", "train")
    samples = pixel_samples(source, flat, label, kind, split)
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
    source: FactorStack | PixelSource,
    flat: np.ndarray,
    label: np.ndarray,
    kind: np.ndarray,
    split: np.ndarray,
) -> Samples:
    """Samples at flat pixel indices ``flat`` of the source's grid, with their class codes
    and factor values."""
    source = as_source(source)
    grid = source.grid
    rows, cols = np.divmod(flat, grid.width)
    x, y = grid.xy(rows, cols)
    codes, values = source.at(rows, cols)
    return Samples(rows=rows, cols=cols, x=x, y=y, codes=codes, values=values, label=label,
                   kind=kind, split=split, factor_names=tuple(source.names))  # fmt: skip


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


def _subset(inventory: Inventory, positions: np.ndarray) -> Inventory:
    rows = inventory.landslides.iloc[np.asarray(positions, dtype=np.int64)]
    return dataclasses.replace(inventory, landslides=rows.reset_index(drop=True))


def _relax_hint(cfg: SamplingConfig) -> str:
    if cfg.negatives == "outside_buffer":
        return f"lower sampling.negative_buffer ({cfg.negative_buffer} m)"
    if cfg.negatives == "low_slope":
        return f"raise sampling.negative_max_slope ({cfg.negative_max_slope} degrees)"
    return "lower heatmap.diameter or enlarge the region"
