"""No training artefact uses a test landslide (issue 13): for the single spatial and
temporal splits and for every cross-validation fold, moving the test landslides leaves the
training side byte-identical (the strong, simple statement: nothing that trains — the
heatmap, the soft labels, the negatives' exclusion zones, the early-stopping set — can
depend on where the test landslides are); the training heatmap is the training
landslides' own; held-out sets are whole training blocks or the latest training years."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import lsgh_ee as lg
from conftest import edit_config, fast_training
from lsgh_ee.config import load_config
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.heatmap import gaussian_heatmap
from lsgh_ee.inventory import Inventory, read_inventory
from lsgh_ee.region import Region
from lsgh_ee.sampling import Samples, draw_samples
from lsgh_ee.sampling.folds import (
    block_validation,
    draw_fold,
    draw_year_fold,
    plan_folds,
    plan_year_folds,
    year_validation,
)
from lsgh_ee.sampling.splits import Blocks

BLOCK = 450.0  # metres: about 5 x 5 blocks on the synthetic region
FOLDS = 3


@pytest.fixture(scope="module")
def region(built_region: Path):
    config = load_config(built_region)
    stack = FactorStack.read(config.run_dir)
    inventory = read_inventory(config.inventory, Region.from_config(config))
    return config, stack, inventory


def _centres(stack: FactorStack, inventory: Inventory) -> tuple[np.ndarray, np.ndarray]:
    xy = inventory.centroids()
    return stack.grid.rowcol(xy[:, 0], xy[:, 1])


def _moved(
    stack: FactorStack,
    inventory: Inventory,
    which: np.ndarray,
    seed: int,
    blocks: Blocks | None = None,
) -> Inventory:
    """The inventory with the landslides at positions ``which`` translated to a random
    pixel centre: inside the block of their centre when ``blocks`` is given (so that a
    plan of blocks chosen from the landslides' centres stays the same), anywhere on the
    grid otherwise."""
    grid = stack.grid
    rng = np.random.default_rng(seed)
    rows, cols = _centres(stack, inventory)
    frame = inventory.landslides.copy()
    geometry = frame.geometry.copy()
    for i in np.asarray(which):
        if blocks is None:
            r, c = rng.integers(0, grid.height), rng.integers(0, grid.width)
        else:
            in_row = np.flatnonzero(blocks.of_row == blocks.of_row[rows[i]])
            in_col = np.flatnonzero(blocks.of_col == blocks.of_col[cols[i]])
            r, c = rng.choice(in_row), rng.choice(in_col)
        x, y = grid.xy(np.array([r]), np.array([c]))
        centre = geometry.iloc[i].centroid
        geometry.iloc[i] = _translate(geometry.iloc[i], x[0] - centre.x, y[0] - centre.y)
    frame = frame.set_geometry(geometry)
    return dataclasses.replace(inventory, landslides=frame)


def _translate(geom, dx: float, dy: float):
    from shapely import affinity

    return affinity.translate(geom, dx, dy)


def _pixels(samples: Samples, width: int) -> set[int]:
    return set((samples.rows * width + samples.cols).tolist())


def _same(a: Samples, b: Samples) -> bool:
    return a.digest() == b.digest()


def _changed(a: Samples, b: Samples) -> bool:
    return a.digest() != b.digest()


# -- the single spatial split -------------------------------------------------------------
def test_the_spatial_split_trains_on_nothing_a_test_landslide_shaped(region) -> None:
    config, stack, inventory = region
    grid, diameter = stack.grid, config.heatmap.diameter
    cfg = config.sampling.model_copy(update={"split": "spatial", "block_size": BLOCK})
    samples, heat = draw_samples(stack, inventory, cfg, diameter, seed=4)
    blocks = Blocks.on(grid, BLOCK)
    rows, cols = _centres(stack, inventory)
    test = samples.test
    test_blocks = np.unique(blocks.of(test.rows * grid.width + test.cols, grid.width))
    is_test = np.isin(blocks.of(rows * grid.width + cols, grid.width), test_blocks)
    assert 0 < is_test.sum() < is_test.size
    # the training heatmap is the training landslides' own
    assert np.array_equal(heat, gaussian_heatmap((rows[~is_test], cols[~is_test]),
                                                 grid.shape, diameter))  # fmt: skip
    # every block holds one side only
    ids = blocks.of(samples.rows * grid.width + samples.cols, grid.width)
    assert not set(ids[samples.split == "train"]) & set(ids[samples.split == "test"])
    # move every test landslide within its block: the plan stays, the training side must
    # not change by a byte, the test side does
    moved = _moved(stack, inventory, np.flatnonzero(is_test), seed=1, blocks=blocks)
    again, heat2 = draw_samples(stack, moved, cfg, diameter, seed=4)
    assert _same(again.train, samples.train) and np.array_equal(heat, heat2)
    assert _changed(again.test, samples.test)
    # the converse: moving training landslides changes the training side
    other = _moved(stack, inventory, np.flatnonzero(~is_test), seed=1, blocks=blocks)
    assert _changed(draw_samples(stack, other, cfg, diameter, seed=4)[0].train, samples.train)


def test_spatial_test_negatives_follow_the_rule_from_the_test_landslides(region) -> None:
    """Test negatives lie where the test landslides' own heatmap is 0 (the default rule),
    so they may come close to a training landslide, but never on one."""
    config, stack, inventory = region
    grid, diameter = stack.grid, config.heatmap.diameter
    cfg = config.sampling.model_copy(
        update={"split": "spatial", "block_size": BLOCK, "negative_ratio": 50.0}
    )
    samples, _ = draw_samples(stack, inventory, cfg, diameter, seed=4)
    blocks = Blocks.on(grid, BLOCK)
    rows, cols = _centres(stack, inventory)
    test = samples.test
    test_blocks = np.unique(blocks.of(test.rows * grid.width + test.cols, grid.width))
    is_test = np.isin(blocks.of(rows * grid.width + cols, grid.width), test_blocks)
    own = gaussian_heatmap((rows[is_test], cols[is_test]), grid.shape, diameter)
    every = gaussian_heatmap((rows, cols), grid.shape, diameter)
    neg = test.subset(test.kind == "negative")
    assert (own[neg.rows, neg.cols] == 0).all()
    assert (every[neg.rows, neg.cols] > 0).any()  # near a training landslide: allowed
    train_ls = inventory.landslides.iloc[np.flatnonzero(~is_test)]
    on_train = dataclasses.replace(inventory, landslides=train_ls).mask(grid, "polygon")
    assert not on_train[neg.rows, neg.cols].any()


def test_a_spatial_split_validates_on_whole_training_blocks(region, tmp_path: Path) -> None:
    config, stack, inventory = region
    grid = stack.grid
    cfg = config.sampling.model_copy(update={"split": "spatial", "block_size": BLOCK})
    samples, _ = draw_samples(stack, inventory, cfg, config.heatmap.diameter, seed=4)
    train = Samples.read_gpkg(samples.write_gpkg(tmp_path / "s.gpkg", grid.crs)).train
    fit, validation = block_validation(train, grid, BLOCK, 0.2, seed=0)
    blocks = Blocks.on(grid, BLOCK)
    val_ids = np.unique(blocks.of(validation.rows * grid.width + validation.cols, grid.width))
    fit_ids = blocks.of(fit.rows * grid.width + fit.cols, grid.width)
    test_ids = blocks.of(samples.test.rows * grid.width + samples.test.cols, grid.width)
    assert val_ids.size and not np.isin(fit_ids, val_ids).any()  # whole blocks held out
    assert not np.isin(test_ids, val_ids).any()  # ... of the training side
    # every hard training sample of a held-out block is in the validation set
    held = np.isin(blocks.of(train.rows * grid.width + train.cols, grid.width), val_ids)
    assert len(validation) == int((held & (train.kind != "soft")).sum())


# -- the single temporal split ------------------------------------------------------------
def test_the_temporal_split_trains_on_nothing_a_later_landslide_shaped(region) -> None:
    config, stack, inventory = region
    grid, diameter = stack.grid, config.heatmap.diameter
    cfg = config.sampling.model_copy(update={"split": "temporal", "temporal_cutoff": 2006})
    samples, heat = draw_samples(stack, inventory, cfg, diameter, seed=4, date_attribute="year")
    rows, cols = _centres(stack, inventory)
    later = inventory.landslides["year"].to_numpy() > 2006
    assert np.array_equal(heat, gaussian_heatmap((rows[~later], cols[~later]),
                                                 grid.shape, diameter))  # fmt: skip
    soft = samples.kind == "soft"
    assert np.array_equal(samples.label[soft], heat[samples.rows[soft], samples.cols[soft]])
    assert set(samples.test.kind) == {"positive", "negative"}
    moved = _moved(stack, inventory, np.flatnonzero(later), seed=2)
    again, heat2 = draw_samples(stack, moved, cfg, diameter, seed=4, date_attribute="year")
    assert _same(again.train, samples.train) and np.array_equal(heat, heat2)
    assert _changed(again.test, samples.test)


def test_a_temporal_split_validates_on_the_latest_training_years(region, tmp_path) -> None:
    config, stack, inventory = region
    grid = stack.grid
    cfg = config.sampling.model_copy(update={"split": "temporal", "temporal_cutoff": 2006})
    samples, _ = draw_samples(stack, inventory, cfg, config.heatmap.diameter, seed=4,
                              date_attribute="year")  # fmt: skip
    train = Samples.read_gpkg(samples.write_gpkg(tmp_path / "t.gpkg", grid.crs)).train
    assert train.meta["split"] == "temporal" and train.meta["temporal_cutoff"] == 2006
    fit, validation = year_validation(train, inventory, grid, "year", cfg.positives, 0.25, 0)
    # years 2000..2006 train (3 landslides a year); the latest years holding about a
    # quarter: 2005-2006 (6 of 21 = 0.29 against 2006 alone, 3/21 = 0.14)
    frame = inventory.landslides
    rows, cols = _centres(stack, inventory)
    latest = frame["year"].between(2005, 2006).to_numpy()
    val_px = set((rows[latest] * grid.width + cols[latest]).tolist())
    assert _pixels(validation.subset(validation.kind == "positive"), grid.width) == val_px
    assert not _pixels(fit.subset(fit.kind == "positive"), grid.width) & val_px
    n_neg = int((train.kind == "negative").sum())
    assert int((validation.kind == "negative").sum()) == round(0.25 * n_neg)
    assert "soft" not in set(validation.kind) and len(fit) + len(validation) == len(train)


# -- cross-validation folds ---------------------------------------------------------------
@pytest.mark.parametrize("fold", range(FOLDS))
def test_moving_a_folds_test_landslides_leaves_its_training_side(region, fold: int) -> None:
    config, stack, inventory = region
    diameter = config.heatmap.diameter
    plan = plan_folds(stack, inventory, BLOCK, FOLDS, np.random.default_rng(0))
    kwargs = {"validation_fraction": 0.2, "seed": 0}
    part = draw_fold(stack, inventory, config.sampling, diameter, plan, fold, **kwargs)
    moved = _moved(stack, inventory, part.test_landslides, seed=fold, blocks=plan.blocks)
    same_plan = plan_folds(stack, moved, BLOCK, FOLDS, np.random.default_rng(0))
    assert np.array_equal(same_plan.fold_of_block, plan.fold_of_block)
    again = draw_fold(stack, moved, config.sampling, diameter, plan, fold, **kwargs)
    assert _same(again.train, part.train) and _same(again.validation, part.validation)
    assert np.array_equal(again.heatmap, part.heatmap)
    assert _changed(again.test, part.test)


@pytest.mark.parametrize("fold", range(FOLDS))
def test_moving_a_temporal_folds_test_landslides_leaves_its_training_side(
    region, fold: int
) -> None:
    config, stack, inventory = region
    diameter = config.heatmap.diameter
    plan = plan_year_folds(stack, inventory, "year", FOLDS)
    kwargs = {"validation_fraction": 0.2, "seed": 0}
    part = draw_year_fold(stack, inventory, config.sampling, diameter, plan, fold, **kwargs)
    moved = _moved(stack, inventory, part.test_landslides, seed=fold)
    again = draw_year_fold(stack, moved, config.sampling, diameter, plan, fold, **kwargs)
    assert _same(again.train, part.train) and _same(again.validation, part.validation)
    assert _changed(again.test, part.test)


# -- data-driven class breaks per fold -----------------------------------------------------
def test_quantile_breaks_of_a_fold_come_from_its_training_area_only(region) -> None:
    from lsgh_ee.factors.classify import classify_breaks, data_breaks
    from lsgh_ee.factors.reclassify import breaks_within

    config, stack, _ = region
    grid = stack.grid
    i = stack.names.index("slope")
    slope = stack.layers[i]
    region_breaks = data_breaks(slope.values, "quantile", 4)
    quantiled = dataclasses.replace(
        slope, breaks=region_breaks, codes=classify_breaks(slope.values, region_breaks),
        method={**slope.method, "classify": "quantile", "n_classes_asked": 4})  # fmt: skip
    layers = list(stack.layers)
    layers[i] = quantiled
    whole = FactorStack(grid=grid, layers=layers)
    plan = plan_folds(whole, region[2], BLOCK, FOLDS, np.random.default_rng(0))
    train_area = ~plan.test_area(0)
    fold, names = breaks_within(whole, train_area, seed=0)
    assert names == ["slope"]
    # independent: the quartiles of the training area's valid slope values
    inside = slope.values[train_area]
    inside = inside[np.isfinite(inside)].astype("float64")
    expected = tuple(float(f"{q:.6g}") for q in np.quantile(inside, [0.25, 0.5, 0.75]))
    got = fold.layers[i]
    assert got.breaks == expected != region_breaks
    valid = np.isfinite(slope.values)
    by_hand = (np.searchsorted(expected, slope.values, side="right") + 1) * valid
    assert np.array_equal(got.codes, by_hand.astype("uint8"))
    untouched = [a is b for a, b in zip(fold.layers, whole.layers, strict=True)]
    assert untouched == [j != i for j in range(len(layers))]  # Table 2 factors as they were
    # no test-fold pixel shapes them: any change of the test fold's values leaves them
    changed = slope.values.copy()
    changed[~train_area] = 1e6
    other = list(layers)
    other[i] = dataclasses.replace(quantiled, values=changed)
    other = FactorStack(grid=grid, layers=other)
    assert breaks_within(other, train_area, seed=0)[0].layers[i].breaks == expected
    # Table 2 only: nothing recomputed
    assert breaks_within(stack, train_area, seed=0)[1] == []


@pytest.mark.slow
def test_cv_records_which_folds_recomputed_their_breaks(built_region: Path, tmp_path: Path) -> None:
    shutil.copytree(built_region.parent, tmp_path / "region")
    path = tmp_path / "region" / built_region.name
    written = yaml.safe_load(path.read_text(encoding="utf-8"))["factors"]
    written["slope"] = {"classify": "quantile", "n_classes": 4}
    edit_config(path, factors=written, training=fast_training(epochs=1),
                sampling={"block_size": BLOCK})  # fmt: skip
    lg.export_factors(path, force=True)
    result = lg.cv(path, folds=FOLDS, models=["rf"])
    details = result.summary["fold_details"]
    assert [d["breaks_recomputed"] for d in details] == [["slope"]] * FOLDS
    temporal = lg.cv(path, folds=FOLDS, models=["rf"], kind="temporal")
    assert [d["breaks_recomputed"] for d in temporal.summary["fold_details"]] == [[]] * FOLDS


@pytest.mark.slow
def test_train_under_a_temporal_split_stops_early_on_the_latest_years(
    built_region: Path, tmp_path: Path
) -> None:
    shutil.copytree(built_region.parent, tmp_path / "region")
    path = tmp_path / "region" / built_region.name
    edit_config(path, sampling={"split": "temporal", "temporal_cutoff": 2006},
                training=fast_training(epochs=2, patience=1))  # fmt: skip
    lg.sample(path)
    result = lg.train(path, "cnn", epochs=2)
    assert "hard samples of held-out years" in result.summary["validation"]
    assert "validation" not in lg.train(path, "rf").summary
