"""Cross-validation folds of whole blocks, and each fold's samples drawn without leaks.

**Fold rule** (:func:`block_folds`): the grid is cut into square blocks of
``sampling.block_size`` metres (:class:`~lsgh_ee.sampling.splits.Blocks`); a landslide
belongs to the block of its centre pixel. Blocks holding landslides are taken largest
landslide count first (ties in a seeded random order) and each goes to the fold with the
fewest landslides so far (ties: the fold with fewer blocks, then the lower index) — the
greedy "longest processing time" rule, so fold landslide counts differ by at most the
largest block's count. Blocks without landslides are shuffled and dealt to the fold with
the fewest blocks, so that every fold also has ground for its test negatives. A repeat
reshuffles the ties.

**Buffer**: none by default. ``buffer`` metres (optional) removes training ground within
that distance of the test fold, as blockCV / spatialsample do; with blocks several times
the heatmap radius and the autocorrelation range it is not needed, and it costs training
ground, so it stays opt-in.

**Per fold** (:func:`draw_fold`), everything that learns from landslides sees the training
landslides only:

* the training samples (positives, negatives by the configured rule, soft samples from the
  Gaussian heatmap) are drawn by :func:`~lsgh_ee.sampling.sides.draw_sides` from the
  *fit* landslides only, inside the training blocks minus the validation blocks, so the
  heatmap, the soft labels and the negatives' exclusion zones never see a test landslide;
* early stopping watches **whole held-out training blocks** (:func:`validation_blocks`):
  hard samples drawn there from the landslides of those blocks only;
* the test samples are hard samples drawn inside the test fold by the configured rule from
  the test fold's own landslides (their own heatmap / buffer for the negatives' exclusion).

The sides are drawn in that order by :mod:`lsgh_ee.sampling.sides` (as the single spatial
and temporal splits are): a later side leaves out the pixels an earlier one sampled or
knows as landslide (a training landslide's polygon reaching into the test fold is neither
a test negative nor a test positive).

**Temporal folds** (:func:`year_groups`, :func:`draw_year_fold`, where
``inventory.date_attribute`` is set): the landslides' years are cut into k groups of
consecutive years balanced by landslide count; each group is tested once while the others
train (leave one period out: a susceptibility model is assumed stationary, so later
landslides may teach about earlier ones). Early stopping watches the latest training
years; all sides draw over the whole region with the same exclusions as above.

**The single split's early stopping** (the ``train`` stage): :func:`block_validation`
holds out whole training blocks of a spatial split, :func:`year_validation` the latest
training years of a temporal split (:func:`latest_years`, the rule of a temporal fold).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.draw import landslides_on_grid
from lsgh_ee.sampling.pixels import far_from
from lsgh_ee.sampling.samples import Samples
from lsgh_ee.sampling.sides import Side, draw_sides, subset
from lsgh_ee.sampling.single import landslide_years
from lsgh_ee.sampling.splits import Blocks, held_out_blocks


def block_folds(
    landslide_blocks: np.ndarray, n_blocks: int, n_folds: int, rng: np.random.Generator
) -> np.ndarray:
    """The fold (0..n_folds-1) of every block, by the module's rule.

    Args:
        landslide_blocks: block id of each landslide (its centre pixel's block).
        n_blocks: number of blocks of the grid.
        n_folds: number of folds (≥ 2).
        rng: the seeded generator the ties are shuffled with.

    Raises:
        LsghError: fewer blocks holding landslides than folds.
    """
    if n_folds < 2:
        raise LsghError(f"--folds must be at least 2, got {n_folds}")
    counts = np.bincount(np.asarray(landslide_blocks, dtype=np.int64), minlength=n_blocks)
    with_ls = np.flatnonzero(counts)
    if with_ls.size < n_folds:
        raise LsghError(
            f"the landslides lie in {with_ls.size} block(s) of the grid, fewer than the "
            f"{n_folds} folds; use a smaller sampling.block_size or fewer --folds"
        )
    fold = np.full(n_blocks, -1, dtype=np.int64)
    load = np.zeros(n_folds, dtype=np.int64)
    size = np.zeros(n_folds, dtype=np.int64)
    shuffled = rng.permutation(with_ls)
    order = shuffled[np.argsort(-counts[shuffled], kind="stable")]
    for block in order:
        k = int(np.lexsort((np.arange(n_folds), size, load))[0])
        fold[block] = k
        load[k] += counts[block]
        size[k] += 1
    for block in rng.permutation(np.flatnonzero(counts == 0)):
        k = int(np.lexsort((np.arange(n_folds), load, size))[0])
        fold[block] = k
        size[k] += 1
    return fold


def validation_blocks(
    blocks: np.ndarray, counts: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Training blocks held out for early stopping (:func:`~.splits.held_out_blocks`):
    about ``fraction`` of the training landslides, at least one block, never all.

    Args:
        blocks: the training blocks' ids.
        counts: landslides in each of ``blocks``.
    """
    return held_out_blocks(blocks, counts, fraction, rng, too_few=(
        "a fold's training side has landslides in fewer than 2 blocks, so no whole "
        "block can be held out for early stopping; use a smaller sampling.block_size"))  # fmt: skip


def block_validation(
    samples: Samples, grid: Grid, block_size: float, fraction: float, seed: int
) -> tuple[Samples, Samples]:
    """(fit, validation): the training samples of a spatial split with whole blocks held out
    for early stopping (:func:`validation_blocks`, by the blocks' positives). The validation
    set is the hard samples of those blocks; their soft samples, labelled by the held-out
    landslides' heatmap, are in neither."""
    blocks = Blocks.on(grid, block_size)
    ids = blocks.of(samples.rows * grid.width + samples.cols, grid.width)
    present = np.unique(ids)
    positives = np.bincount(ids[samples.kind == "positive"], minlength=blocks.count)
    held = validation_blocks(present, positives[present], fraction, np.random.default_rng(seed))
    in_val = np.isin(ids, held)
    return samples.subset(~in_val), samples.subset(in_val & (samples.kind != "soft"))


def latest_years(years: np.ndarray, fraction: float, too_few: str) -> int:
    """The first of the latest years holding about ``fraction`` of the landslides of
    ``years`` (at least one year, never all): landslides from it on are held out.

    Raises:
        LsghError: ``too_few``, when every landslide is from one year.
    """
    years = np.asarray(years, dtype=np.int64)
    distinct = np.unique(years)
    if distinct.size < 2:
        raise LsghError(too_few)
    share = np.array([(years >= y).mean() for y in distinct[1:]])
    return int(distinct[1:][np.argmin(np.abs(share - fraction))])


def year_validation(
    samples: Samples,
    inventory: Inventory,
    grid: Grid,
    attribute: str | None,
    positives: str,
    fraction: float,
    seed: int,
) -> tuple[Samples, Samples]:
    """(fit, validation): the training samples of a temporal split with the latest training
    years held out for early stopping (:func:`latest_years`, as a temporal fold does). The
    validation set is the positives on those years' landslides (``positives``: their
    centre pixels or polygons) and ``fraction`` of the training negatives at random;
    the soft samples stay in fit.

    Args:
        samples: the training samples; ``meta["temporal_cutoff"]`` names the last training
            year.
        inventory: the whole inventory; ``attribute`` its date/year attribute.

    Raises:
        LsghError: the training landslides are all from one year.
    """
    positions, _, _ = landslides_on_grid(inventory, grid)
    years = landslide_years(inventory, attribute, positions)
    train = years <= int(samples.meta["temporal_cutoff"])
    first_val = latest_years(years[train], fraction, too_few=(
        "the training landslides are all from one year: no later year can be held out "
        "for early stopping"))  # fmt: skip
    val_ls = subset(inventory, positions[train & (years >= first_val)])
    on_val = val_ls.mask(grid, positives)[samples.rows, samples.cols]  # type: ignore[arg-type]
    in_val = (samples.kind == "positive") & on_val
    negatives = np.flatnonzero(samples.kind == "negative")
    rng = np.random.default_rng(seed)
    in_val[rng.permutation(negatives)[: round(fraction * negatives.size)]] = True
    return samples.subset(~in_val), samples.subset(in_val)


@dataclass(frozen=True)
class FoldPlan:
    """Where the landslides lie and which fold each block belongs to, for one repeat."""

    blocks: Blocks
    landslide_block: np.ndarray  # block of each landslide on the grid
    landslide_index: np.ndarray  # their positions in inventory.landslides
    fold_of_block: np.ndarray

    @property
    def n_folds(self) -> int:
        return int(self.fold_of_block.max()) + 1

    def landslide_fold(self) -> np.ndarray:
        return self.fold_of_block[self.landslide_block]

    def test_area(self, fold: int) -> np.ndarray:
        """Boolean grid mask of the blocks of ``fold``."""
        return self.blocks.mask(np.flatnonzero(self.fold_of_block == fold))


def plan_folds(
    stack: FactorStack,
    inventory: Inventory,
    block_size: float,
    n_folds: int,
    rng: np.random.Generator,
) -> FoldPlan:
    """Blocks of ``block_size`` metres on the stack's grid assigned to ``n_folds`` folds
    (:func:`block_folds`); landslides whose centre is off the grid take no part."""
    grid = stack.grid
    blocks = Blocks.on(grid, block_size)
    xy = inventory.centroids()
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = grid.contains(rows, cols)
    flat = rows[inside] * grid.width + cols[inside]
    landslide_block = blocks.of(flat, grid.width)
    fold = block_folds(landslide_block, blocks.count, n_folds, rng)
    return FoldPlan(blocks, landslide_block, np.flatnonzero(inside), fold)


@dataclass(frozen=True)
class FoldSamples:
    """One fold's samples: ``train`` (hard + soft, drawn from the fit landslides),
    ``validation`` and ``test`` (hard only), the training heatmap and the areas."""

    fold: int
    train: Samples
    validation: Samples
    test: Samples
    heatmap: np.ndarray  # the training samples' heatmap (fit landslides only)
    test_area: np.ndarray
    validation_area: np.ndarray
    fit_landslides: np.ndarray  # positions in inventory.landslides
    validation_landslides: np.ndarray
    test_landslides: np.ndarray


def draw_fold(
    stack: FactorStack,
    inventory: Inventory,
    cfg: SamplingConfig,
    heatmap_diameter: int,
    plan: FoldPlan,
    fold: int,
    *,
    validation_fraction: float,
    seed: int,
    buffer: float = 0.0,
) -> FoldSamples:
    """The samples of fold ``fold`` of ``plan`` (see the module doc for what each side
    learns from). ``seed`` seeds the three draws (train, validation, test) and the choice
    of validation blocks; ``buffer`` metres of training ground around the test fold are
    left out of training and validation."""
    blocks = plan.blocks
    is_test_block = plan.fold_of_block == fold
    test_area = plan.test_area(fold)
    train_area = ~test_area
    if buffer > 0:
        train_area &= far_from(test_area, buffer, stack.grid)
    ls_fold = plan.landslide_fold()
    train_blocks = np.flatnonzero(~is_test_block)
    per_block = np.bincount(plan.landslide_block[ls_fold != fold], minlength=blocks.count)
    rng = np.random.default_rng([seed, fold])
    val_blocks = validation_blocks(train_blocks, per_block[train_blocks], validation_fraction, rng)
    validation_area = blocks.mask(val_blocks) & train_area
    in_val = np.isin(plan.landslide_block, val_blocks)
    fit_ls = plan.landslide_index[(ls_fold != fold) & ~in_val]
    val_ls = plan.landslide_index[(ls_fold != fold) & in_val]
    test_ls = plan.landslide_index[ls_fold == fold]
    return _draw_sides(stack, inventory, cfg, heatmap_diameter, fold, seed,
                       (fit_ls, val_ls, test_ls),
                       (train_area & ~validation_area, validation_area, test_area))  # fmt: skip


def year_groups(years: np.ndarray, n_folds: int) -> np.ndarray:
    """The group (0..n_folds-1) of each landslide: its year's place among ``n_folds``
    groups of consecutive years, cut where the cumulative landslide count is nearest to
    i/n_folds of the total (each group holds at least one year)."""
    years = np.asarray(years, dtype=np.int64)
    distinct, counts = np.unique(years, return_counts=True)
    if n_folds < 2:
        raise LsghError(f"--folds must be at least 2, got {n_folds}")
    if distinct.size < n_folds:
        raise LsghError(
            f"the landslides span {distinct.size} distinct year(s), fewer than the {n_folds} "
            "folds of a temporal cross-validation; use fewer --folds or --kind spatial"
        )
    cum = np.cumsum(counts)
    cuts, lo = [], 0
    for i in range(1, n_folds):
        candidates = np.arange(lo, distinct.size - (n_folds - i))
        j = int(candidates[np.argmin(np.abs(cum[candidates] - i * cum[-1] / n_folds))])
        cuts.append(j)
        lo = j + 1
    group_of_year = np.searchsorted(np.asarray(cuts), np.arange(distinct.size), side="left")
    return group_of_year[np.searchsorted(distinct, years)]


@dataclass(frozen=True)
class YearPlan:
    """The year group (fold) of each landslide on the grid, for temporal folds."""

    landslide_index: np.ndarray  # positions in inventory.landslides
    years: np.ndarray
    group: np.ndarray

    @property
    def n_folds(self) -> int:
        return int(self.group.max()) + 1


def plan_year_folds(
    stack: FactorStack, inventory: Inventory, attribute: str | None, n_folds: int
) -> YearPlan:
    """Landslides grouped into ``n_folds`` folds of consecutive years
    (:func:`year_groups`) by ``inventory.date_attribute``."""
    if attribute is None or attribute not in inventory.landslides.columns:
        raise LsghError(
            "temporal cross-validation needs the landslides' dates: set "
            "inventory.date_attribute (or use --kind spatial)"
        )
    grid = stack.grid
    xy = inventory.centroids()
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    index = np.flatnonzero(grid.contains(rows, cols))
    if inventory.landslides[attribute].iloc[index].isna().any():
        raise LsghError(f"inventory.date_attribute '{attribute}' is empty for some landslides")
    years = np.asarray(subset(inventory, index).years(attribute), dtype=np.int64)
    return YearPlan(index, years, year_groups(years, n_folds))


def draw_year_fold(
    stack: FactorStack,
    inventory: Inventory,
    cfg: SamplingConfig,
    heatmap_diameter: int,
    plan: YearPlan,
    fold: int,
    *,
    validation_fraction: float,
    seed: int,
) -> FoldSamples:
    """Fold ``fold`` of a temporal cross-validation: the landslides of year group ``fold``
    are tested, those of the other groups train (leave one period out). Early stopping
    watches the latest training years holding about ``validation_fraction`` of the training
    landslides (at least one year, never all). Every side draws over the whole region; a
    later side leaves out the pixels sampled by, or of the landslides of, an earlier one."""
    train = plan.group != fold
    first_val = latest_years(plan.years[train], validation_fraction, too_few=(
        f"fold {fold + 1}'s training landslides are all from one year: no later year can be "
        "held out for early stopping; use fewer --folds"))  # fmt: skip
    in_val = train & (plan.years >= first_val)
    fit_ls = plan.landslide_index[train & ~in_val]
    val_ls = plan.landslide_index[in_val]
    test_ls = plan.landslide_index[~train]
    everywhere = np.ones(stack.grid.shape, dtype=bool)
    return _draw_sides(stack, inventory, cfg, heatmap_diameter, fold, seed,
                       (fit_ls, val_ls, test_ls), (everywhere, everywhere, everywhere))  # fmt: skip


def _draw_sides(
    stack: FactorStack,
    inventory: Inventory,
    cfg: SamplingConfig,
    heatmap_diameter: int,
    fold: int,
    seed: int,
    landslides: tuple[np.ndarray, np.ndarray, np.ndarray],
    areas: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> FoldSamples:
    """The fold's training, validation and test sides (:func:`~.sides.draw_sides`)."""
    names = ("training", "validation", "test")
    sides = [
        Side(names[part], landslides[part], areas[part], seed * 1000 + fold * 10 + part,
             soft=part == 0)
        for part in range(3)
    ]  # fmt: skip
    (train, heatmap), (validation, _), (test, _) = draw_sides(
        stack, inventory, cfg, heatmap_diameter, sides, context=f"fold {fold + 1}, "
    )
    return FoldSamples(
        fold=fold,
        train=train,
        validation=validation.subset(validation.kind != "soft"),
        test=test.subset(test.kind != "soft"),
        heatmap=heatmap.array(),
        test_area=areas[2],
        validation_area=areas[1],
        fit_landslides=landslides[0],
        validation_landslides=landslides[1],
        test_landslides=landslides[2],
    )


def with_test_set(part: FoldSamples, test: Samples, width: int) -> FoldSamples:
    """``part`` scored on ``test`` instead of its own test samples (e.g. the same fold's
    test samples drawn with another heatmap diameter), with every pixel of ``test`` left
    out of its training and validation samples; ``width`` is the grid's (flat indices)."""
    held = test.rows.astype(np.int64) * width + test.cols

    def without(samples: Samples) -> Samples:
        return samples.subset(~np.isin(samples.rows.astype(np.int64) * width + samples.cols, held))

    return dataclasses.replace(part, train=without(part.train),
                               validation=without(part.validation), test=test)  # fmt: skip
