"""Spatially blocked cross-validation: folds of whole blocks balanced by landslides, no
training artefact of a fold that uses a test-fold landslide, intervals that cover, and the
``cv`` study / command writing its files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

import lsgh_ee as lg
from conftest import edit_config, fast_training, run_cli
from lsgh_ee.config import load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.evaluation.crossval import (
    correction_for,
    paired_differences,
    summary_table,
    t_interval,
)
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.heatmap import gaussian_heatmap
from lsgh_ee.inventory import read_inventory
from lsgh_ee.region import Region
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.sampling import draw_samples
from lsgh_ee.sampling.folds import (
    block_folds,
    block_validation,
    draw_fold,
    draw_year_fold,
    plan_folds,
    plan_year_folds,
    validation_blocks,
    year_groups,
)

BLOCK = 450.0  # metres: about 5 x 5 blocks on the synthetic region
FOLDS = 3


# -- fold assignment (pure NumPy) ---------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_block_folds_hold_whole_blocks_and_balance_landslides(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_blocks = 40
    ls_blocks = rng.choice(25, size=120, p=np.r_[np.full(5, 0.1), np.full(20, 0.025)])
    fold = block_folds(ls_blocks, n_blocks, 4, np.random.default_rng(seed))
    assert fold.shape == (n_blocks,) and set(fold) == {0, 1, 2, 3}  # every block, one fold
    per_fold = np.bincount(fold[ls_blocks], minlength=4)
    largest = np.bincount(ls_blocks).max()
    assert per_fold.sum() == 120
    assert per_fold.max() - per_fold.min() <= largest  # the greedy rule's guarantee
    empty_blocks = np.setdiff1d(np.arange(n_blocks), ls_blocks)
    sizes = np.bincount(fold, minlength=4)
    assert sizes.min() >= len(empty_blocks) // 4  # landslide-free ground is dealt out too
    again = block_folds(ls_blocks, n_blocks, 4, np.random.default_rng(seed))
    assert np.array_equal(fold, again)  # seeded


def test_block_folds_needs_enough_blocks() -> None:
    with pytest.raises(lg.LsghError, match="fewer than the 3 folds"):
        block_folds(np.array([0, 0, 1]), 4, 3, np.random.default_rng(0))


def test_validation_blocks_hold_out_about_the_fraction() -> None:
    rng = np.random.default_rng(1)
    blocks = np.arange(30)
    counts = rng.integers(0, 4, size=30)
    held = validation_blocks(blocks, counts, 0.2, rng)
    share = counts[held].sum() / counts.sum()
    assert 0.1 <= share <= 0.3
    assert 0 < np.isin(blocks[counts > 0], held).sum() < (counts > 0).sum()


def test_year_groups_are_consecutive_years_balanced_by_count() -> None:
    years = np.repeat(np.arange(2000, 2012), [5, 1, 1, 9, 2, 2, 2, 6, 1, 1, 4, 6])
    group = year_groups(years, 4)
    assert set(group) == {0, 1, 2, 3}
    for g in range(3):  # consecutive: every year of group g precedes every year of g + 1
        assert years[group == g].max() < years[group == g + 1].min()
    assert np.bincount(group).max() - np.bincount(group).min() <= 9
    with pytest.raises(lg.LsghError, match="distinct year"):
        year_groups(np.array([2000, 2000, 2001]), 3)


# -- intervals (pure NumPy simulation) ----------------------------------------------------
def test_t_interval_covers_the_mean_about_95_percent() -> None:
    rng = np.random.default_rng(2)
    draws = rng.normal(0.8, 0.05, size=(4000, 5))  # 4,000 five-fold experiments
    bounds = np.array([t_interval(row)[1:] for row in draws])
    coverage = np.mean((bounds[:, 0] <= 0.8) & (bounds[:, 1] >= 0.8))
    assert 0.935 <= coverage <= 0.965
    # the repeats correction only widens
    mean, low, high = t_interval(draws[0], correction=correction_for(5, 3))
    assert high - low > t_interval(draws[0])[2] - t_interval(draws[0])[1]
    assert np.isnan(t_interval([0.7])[1])


def test_paired_differences_are_fold_paired() -> None:
    # model a is b + 0.02 on every fold, while folds differ by far more: the paired
    # interval is a point, the unpaired spread would not exclude 0
    base = np.array([0.6, 0.7, 0.8, 0.9])
    rows = [{"repeat": 1, "fold": i + 1, "model": m, "auc": v + d, "ap": v, "n_test": 10,
             "n_test_positive": 5} for m, d in (("a", 0.02), ("b", 0.0))
            for i, v in enumerate(base)]  # fmt: skip
    per_fold = pd.DataFrame(rows)
    pairs = paired_differences(per_fold)
    row = pairs.iloc[0]
    assert (row.model_a, row.model_b) == ("a", "b")
    assert row.auc_diff == pytest.approx(0.02)
    assert row.auc_low == pytest.approx(0.02) and row.auc_high == pytest.approx(0.02)
    assert row.a_wins_auc == "4/4"
    table = summary_table(per_fold)
    assert table.loc["a", "auc_low"] < 0.02 + base.mean() - 0.05  # unpaired: wide


# -- folds on the synthetic region --------------------------------------------------------
@pytest.fixture(scope="module")
def region(built_region: Path):
    config = load_config(built_region)
    stack = FactorStack.read(config.run_dir)
    inventory = read_inventory(config.inventory, Region.from_config(config))
    return config, stack, inventory


def test_draw_samples_area_and_hold_out_defaults_change_nothing(region) -> None:
    config, stack, inventory = region
    kwargs = {"seed": 3, "date_attribute": "year"}
    plain, heat = draw_samples(stack, inventory, config.sampling, 7, **kwargs)
    everywhere, heat2 = draw_samples(stack, inventory, config.sampling, 7,
                                     area=np.ones(stack.grid.shape, bool), **kwargs)  # fmt: skip
    assert plain.digest() == everywhere.digest() and np.array_equal(heat, heat2)
    unsplit, _ = draw_samples(stack, inventory, config.sampling, 7, hold_out=False, **kwargs)
    assert set(unsplit.split) == {"train"}


def test_no_training_artefact_of_a_fold_uses_a_test_landslide(region) -> None:
    config, stack, inventory = region
    grid = stack.grid
    diameter = config.heatmap.diameter
    plan = plan_folds(stack, inventory, BLOCK, FOLDS, np.random.default_rng(0))
    xy = inventory.centroids()
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    all_heat = gaussian_heatmap((rows[plan.landslide_index], cols[plan.landslide_index]),
                                grid.shape, diameter)  # fmt: skip
    seen_test = []
    for k in range(FOLDS):
        part = draw_fold(stack, inventory, config.sampling, diameter, plan, k,
                         validation_fraction=0.2, seed=0)  # fmt: skip
        fit, val, test = part.fit_landslides, part.validation_landslides, part.test_landslides
        assert not set(fit) & set(test) and not set(val) & set(test) and not set(fit) & set(val)
        seen_test += list(test)
        # the heatmap (so every soft label and the negatives' exclusion) is the fit
        # landslides' alone: 0 wherever only a test landslide reaches
        heat = gaussian_heatmap((rows[fit], cols[fit]), grid.shape, diameter)
        assert np.array_equal(part.heatmap, heat)
        only_test = (all_heat > 0) & (heat == 0)
        assert only_test.any()  # the test landslides' reach is really left out
        assert (part.heatmap[rows[test], cols[test]] < all_heat[rows[test], cols[test]]).all()
        # no training sample in a test or validation block, and soft labels read from it
        train = part.train
        assert not part.test_area[train.rows, train.cols].any()
        assert not part.validation_area[train.rows, train.cols].any()
        soft = train.kind == "soft"
        assert soft.any()
        assert np.array_equal(train.label[soft], heat[train.rows[soft], train.cols[soft]])
        # positives: pixels of fit landslides only
        fit_px = set(rows[fit] * grid.width + cols[fit])
        pos = train.kind == "positive"
        assert set(train.rows[pos] * grid.width + train.cols[pos]) <= fit_px
        # validation: whole training blocks; test: inside the fold, hard samples only
        assert part.validation_area[part.validation.rows, part.validation.cols].all()
        assert part.test_area[part.test.rows, part.test.cols].all()
        assert set(part.test.kind) == {"positive", "negative"}
        assert set(part.validation.kind) == {"positive", "negative"}
        # the test area is a union of whole blocks
        ids = plan.blocks.of(np.flatnonzero(part.test_area), grid.width)
        assert np.array_equal(np.unique(ids), np.flatnonzero(plan.fold_of_block == k))
    assert sorted(seen_test) == sorted(plan.landslide_index)  # each landslide tested once


def test_temporal_folds_train_on_other_years_only(region) -> None:
    config, stack, inventory = region
    grid, diameter = stack.grid, config.heatmap.diameter
    plan = plan_year_folds(stack, inventory, "year", FOLDS)
    xy = inventory.centroids()
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    for k in range(FOLDS):
        part = draw_year_fold(stack, inventory, config.sampling, diameter, plan, k,
                              validation_fraction=0.2, seed=0)  # fmt: skip
        test_years = plan.years[plan.group == k]
        index = list(plan.landslide_index)
        fit_years = plan.years[[index.index(i) for i in part.fit_landslides]]
        val_years = plan.years[[index.index(i) for i in part.validation_landslides]]
        assert not np.isin(fit_years, test_years).any()
        assert not np.isin(val_years, test_years).any()
        assert val_years.min() > fit_years.max()  # early stopping watches the latest years
        fit = part.fit_landslides
        heat = gaussian_heatmap((rows[fit], cols[fit]), grid.shape, diameter)
        assert np.array_equal(part.heatmap, heat)
        # no test sample on a pixel a training sample took
        train_px = set(part.train.rows * grid.width + part.train.cols)
        assert not train_px & set(part.test.rows * grid.width + part.test.cols)
        assert (part.test.label == 1).any() and (part.test.label == 0).any()


def test_the_spatial_split_labels_soft_samples_from_training_landslides_only(region) -> None:
    from lsgh_ee.sampling.splits import Blocks

    config, stack, inventory = region
    grid, diameter = stack.grid, config.heatmap.diameter
    cfg = config.sampling.model_copy(update={"split": "spatial", "block_size": BLOCK})
    samples, heat = draw_samples(stack, inventory, cfg, diameter, seed=0)
    blocks = Blocks.on(grid, BLOCK)
    test = samples.test
    test_blocks = np.unique(blocks.of(test.rows * grid.width + test.cols, grid.width))
    xy = inventory.centroids()
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = grid.contains(rows, cols)
    rows, cols = rows[inside], cols[inside]
    in_test = np.isin(blocks.of(rows * grid.width + cols, grid.width), test_blocks)
    assert in_test.any() and not in_test.all()
    assert np.array_equal(heat, gaussian_heatmap((rows[~in_test], cols[~in_test]),
                                                 grid.shape, diameter))  # fmt: skip
    soft = samples.kind == "soft"
    assert np.array_equal(samples.label[soft], heat[samples.rows[soft], samples.cols[soft]])
    everyone = gaussian_heatmap((rows, cols), grid.shape, diameter)
    assert ((everyone > 0) & (heat == 0)).any()  # test landslides' reach is left out


def test_a_spatial_split_holds_out_whole_training_blocks_for_early_stopping(
    region, tmp_path: Path
) -> None:
    from lsgh_ee.sampling import Samples
    from lsgh_ee.sampling.splits import Blocks

    config, stack, inventory = region
    grid = stack.grid
    cfg = config.sampling.model_copy(update={"split": "spatial", "block_size": BLOCK})
    samples, _ = draw_samples(stack, inventory, cfg, config.heatmap.diameter, seed=0)
    path = samples.write_gpkg(tmp_path / "samples.gpkg", grid.crs)
    back = Samples.read_gpkg(path).train
    assert back.meta["split"] == "spatial" and back.meta["block_size"] == BLOCK
    fit, validation = block_validation(back, grid, BLOCK, 0.2, seed=0)
    blocks = Blocks.on(grid, BLOCK)
    fit_ids = set(blocks.of(fit.rows * grid.width + fit.cols, grid.width))
    val_ids = set(blocks.of(validation.rows * grid.width + validation.cols, grid.width))
    assert val_ids and not fit_ids & val_ids
    assert set(validation.kind) == {"positive", "negative"}
    assert len(fit) + len(validation) <= len(back)
    # the random split's file keeps no split keys: its bytes do not change
    plain, _ = draw_samples(stack, inventory, config.sampling, config.heatmap.diameter, seed=0)
    again = Samples.read_gpkg(plain.write_gpkg(tmp_path / "plain.gpkg", grid.crs))
    assert set(again.meta) == {"heatmap_diameter"}


# -- the study and the command ------------------------------------------------------------
def _cv_region(built_region: Path, folder: Path) -> Path:
    """A copy of the built region whose config uses small blocks and tiny training."""
    shutil.copytree(built_region.parent, folder)
    config = folder / built_region.name
    sampling = yaml.safe_load(config.read_text(encoding="utf-8")).get("sampling") or {}
    return edit_config(config, sampling={**sampling, "block_size": BLOCK},
                       training=fast_training(epochs=2, patience=1))  # fmt: skip


def test_cv_study_writes_its_files_and_skips_a_rerun(built_region: Path, tmp_path: Path) -> None:
    config = _cv_region(built_region, tmp_path / "region")
    result = lg.cv(config, folds=FOLDS, models=["rf"])
    run = RunFolder(result.run_dir)
    for name in (run.CV_FOLDS_CSV, run.CV_TABLE_CSV, run.CV_TABLE_MD, run.CV_PAIRS_CSV,
                 run.CV_PAIRS_MD, run.CV_AUC_PNG, run.CV_JSON):  # fmt: skip
        assert run.cv_file(name).is_file(), name
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    assert list(per_fold["fold"]) == [1, 2, 3] and (per_fold["n_test"] > 0).all()
    assert per_fold["auc"].between(0, 1).all()
    summary = json.loads(run.cv_file(run.CV_JSON).read_text(encoding="utf-8"))
    assert summary["folds"] == FOLDS and "rf" in summary["table"]
    assert "95% CI" in run.cv_file(run.CV_TABLE_MD).read_text(encoding="utf-8")
    assert lg.cv(config, folds=FOLDS, models=["rf"]).skipped
    temporal = lg.cv(config, folds=FOLDS, models=["rf"], kind="temporal")
    assert not temporal.skipped and temporal.summary["kind"] == "temporal"
    spans = [f["test_years"] for f in temporal.summary["fold_details"]]
    assert spans == sorted(spans) and spans[0][0] == 2000 and spans[-1][1] == 2009


def test_cv_refuses_a_grid_whose_arrays_would_not_fit(
    built_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cv holds whole-grid arrays: with too little memory it says so up front, in one line
    with the grid, the need and the way out, and writes nothing."""
    from lsgh_ee import headroom
    from lsgh_ee.stages.cv import cv_memory

    config = _cv_region(built_region, tmp_path / "region")
    run = RunFolder(load_config(config).run_dir)
    with rasterio.open(run.codes) as src:
        pixels, bands = src.height * src.width, src.count
    need = cv_memory(pixels, bands, ["rf", "rf-raw"], False)
    assert need == pixels * (6 * bands + 4 + 2 * 20 + 4 * bands + 4) * 5 // 4  # rf-raw's copy
    monkeypatch.setattr(headroom, "available_memory", lambda: need - 1)
    with pytest.raises(LsghError, match=r"cv of a .* grid .* needs about .* GB of memory, "
                       r".* GB are available; cross-validate on a smaller AOI"):  # fmt: skip
        lg.cv(config, folds=FOLDS, models=["rf", "rf-raw"])
    assert not run.cv.exists()
    monkeypatch.setattr(headroom, "available_memory", lambda: need)
    assert not lg.cv(config, folds=FOLDS, models=["rf", "rf-raw"]).skipped


@pytest.mark.slow
def test_cv_command_prints_the_table(built_region: Path, tmp_path: Path) -> None:
    config = _cv_region(built_region, tmp_path / "region")
    proc = run_cli("cv", str(config), "--folds", str(FOLDS), "-m", "rf", "-m", "lsgh",
                   "--epochs", "2")  # fmt: skip
    assert "| rf |" in proc.stdout and "| lsgh |" in proc.stdout
    assert "rf − lsgh" in proc.stdout
    run = RunFolder(load_config(config).run_dir)
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    assert sorted(set(per_fold["model"])) == ["lsgh", "rf"] and len(per_fold) == 2 * FOLDS
    assert run.cv_file(run.CV_AUC_PNG).stat().st_size > 0


@pytest.mark.slow
def test_train_under_a_spatial_split_stops_early_on_held_out_blocks(
    built_region: Path, tmp_path: Path
) -> None:
    config = _cv_region(built_region, tmp_path / "region")
    sampling = yaml.safe_load(config.read_text(encoding="utf-8"))["sampling"]
    edit_config(config, sampling={**sampling, "split": "spatial"})
    lg.sample(config)
    result = lg.train(config, "cnn", epochs=2)
    assert "held-out blocks" in result.summary["validation"]
    assert "validation" not in lg.train(config, "rf").summary


@pytest.mark.slow
def test_a_network_stops_early_on_the_validation_it_is_given() -> None:
    from lsgh_ee.model import make_model

    rng = np.random.default_rng(0)
    codes = rng.integers(1, 4, size=(200, 3)).astype("uint8")
    labels = (codes[:, 0] == 1).astype("float32")
    val_codes = rng.integers(1, 4, size=(37, 3)).astype("uint8")
    val_labels = (val_codes[:, 0] == 1).astype("float32")
    model = make_model("cnn", [3, 3, 3], epochs=2, patience=1, filters=(8, 16))
    model.fit(codes, labels, validation=(val_codes, val_labels))
    assert model.fit_info_["n_train"] == 200 and model.fit_info_["n_validation"] == 37


@pytest.mark.slow
def test_the_report_shows_the_cv_study_and_which_split_each_number_comes_from(
    built_region: Path, tmp_path: Path
) -> None:
    from scipy import stats

    report = lg.report

    config = _cv_region(built_region, tmp_path / "region")
    run = RunFolder(load_config(config).run_dir)
    first = report(config)
    page = run.report.read_text(encoding="utf-8")
    assert "<h2>Cross-validation</h2>" not in page and not first.skipped
    lg.cv(config, folds=FOLDS, models=["rf", "lsgh"], epochs=1)
    again = report(config)
    assert not again.skipped  # the cv run is one of the report's inputs
    page = run.report.read_text(encoding="utf-8")
    section = page[page.index("<h2>Cross-validation</h2>") :]
    assert "3-fold spatially blocked cross-validation: folds of whole blocks of 450 m" in section
    assert "<code>sampling.split: random</code>" not in section  # no Table 4 yet
    assert "data:image/png;base64," in section  # the per-fold AUC figure
    # each model's AUC mean and t interval, recomputed from the per-fold file
    per_fold = pd.read_csv(run.cv_file(run.CV_FOLDS_CSV))
    tables = _html_tables(section)
    cv_table = tables[0].set_index(tables[0].columns[0])
    for model, group in per_fold.groupby("model"):
        auc = group["auc"].to_numpy()
        half = stats.t.ppf(0.975, auc.size - 1) * auc.std(ddof=1) / np.sqrt(auc.size)
        mean = auc.mean()
        expected = f"{mean:.4f} ± {half:.4f} [{mean - half:.4f}, {mean + half:.4f}]"
        assert cv_table.loc[model, "AUC (95% CI)"] == expected
    pairs = tables[1].set_index(tables[1].columns[0])
    wide = per_fold.pivot_table(index="fold", columns="model", values="auc")
    name = next(iter(pairs.index))
    a, b = name.split(" − ")
    diff = (wide[a] - wide[b]).to_numpy()
    assert pairs.loc[name, "ΔAUC (95% CI)"].startswith(f"{diff.mean():.4f} ± ")
    folds = tables[2]
    assert list(folds["test landslides"]) == [
        str(d["landslides"]["test"])
        for d in json.loads(run.cv_file(run.CV_JSON).read_text(encoding="utf-8"))["fold_details"]
    ]
    # with Table 4 present, the single split is named and a random one called optimistic
    run.table4_csv.write_text("model,auc\nrf,0.9\n", encoding="utf-8")
    report(config)
    page = run.report.read_text(encoding="utf-8")
    section = page[page.index("<h2>Cross-validation</h2>") :]
    assert "<b>Table 4</b> comes from the single split named in the config" in section
    assert "<code>sampling.split: random</code>" in section
    assert "optimistic under spatial autocorrelation" in section


def _html_tables(page: str) -> list[pd.DataFrame]:
    """The ``<table>`` elements of an HTML page as frames (header row = columns, cells as
    text; pandas' index-name row dropped), with the standard library's parser (no lxml)."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tables: list[list[list[str]]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs) -> None:
            if tag == "table":
                self.tables.append([])
            elif tag == "tr":
                self.tables[-1].append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.cell is not None:
                self.tables[-1][-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    parser = Tables()
    parser.feed(page)
    frames = []
    for table in parser.tables:
        header, body = table[0], [r for r in table[1:] if any(r[1:])]
        frames.append(pd.DataFrame(body, columns=header))
    return frames


@pytest.mark.slow
def test_the_scale_study_runs_on_the_cross_validation(built_region: Path, tmp_path: Path) -> None:
    config = _cv_region(built_region, tmp_path / "region")
    result = lg.scale_study(config, [3, 9], folds=FOLDS, epochs=2)
    run = RunFolder(result.run_dir)
    folds = {d: pd.read_csv(run.scale_study / f"cv-D{d}" / run.CV_FOLDS_CSV) for d in (3, 9)}
    details = {d: json.loads((run.scale_study / f"cv-D{d}" / run.CV_JSON).read_text())
               for d in (3, 9)}  # fmt: skip
    # the same folds for both diameters, but other training samples (the heatmap differs)
    assert [f["test_landslides"] for f in details[3]["fold_details"]] == [
        f["test_landslides"] for f in details[9]["fold_details"]
    ]
    assert [f["samples"]["train"] for f in details[3]["fold_details"]] != [
        f["samples"]["train"] for f in details[9]["fold_details"]
    ]
    # and every diameter is scored on the same test samples: those of D = 3 (the base),
    # whereas a plain cv with D = 9 draws its test negatives outside larger zones
    assert [f["test_samples"] for f in details[3]["fold_details"]] == [
        f["test_samples"] for f in details[9]["fold_details"]
    ]
    table = pd.read_csv(run.scale_study / "cv_table.csv", index_col="diameter")
    assert list(table.index) == [3, 9] and result.summary["base"] == 3  # 13 is not listed
    assert table.loc[9, "auc_mean"] == pytest.approx(folds[9].auc.mean(), abs=1e-6)
    diff = folds[9].auc.to_numpy() - folds[3].auc.to_numpy()
    assert table.loc[9, "auc_diff"] == pytest.approx(diff.mean(), abs=1e-6)
    assert table.loc[3, "auc_diff"] == 0
    text = (run.scale_study / "cv_table.md").read_text(encoding="utf-8")
    assert "ΔAUC vs D = 3" in text and "| 9 | 270 |" in text
    assert lg.scale_study(config, [3, 9], folds=FOLDS, epochs=2).skipped
    # a plain cv with D = 9 draws its own test negatives
    plain = lg.cv(edit_config(config, heatmap={"diameter": 9}), folds=FOLDS, models=["rf"])
    assert [f["test_samples"] for f in plain.summary["fold_details"]] != [
        f["test_samples"] for f in details[3]["fold_details"]
    ]
