"""Hard and soft samples and the splits, on the synthetic region after export-factors."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from rasterio.features import rasterize
from scipy.spatial.distance import cdist

from conftest import make_region
from lsgh_ee.config import SamplingConfig, load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.local import compute_local_factors
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.heatmap import gaussian_heatmap
from lsgh_ee.inventory import Inventory, read_inventory
from lsgh_ee.region import Region
from lsgh_ee.sampling import KINDS, SOFT_INTERVALS, Samples, draw_samples

DIAMETER = 13


@dataclasses.dataclass
class Built:
    stack: FactorStack
    inventory: Inventory
    base: SamplingConfig

    def draw(
        self, seed: int = 7, diameter: int = DIAMETER, **changes
    ) -> tuple[Samples, np.ndarray]:
        cfg = SamplingConfig(**{**self.base.model_dump(), **changes})
        return draw_samples(
            self.stack, self.inventory, cfg, diameter, seed=seed, date_attribute="year"
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The synthetic region's factor stack, computed and written in this process as
    export-factors does (without its factor report, which sampling does not read): a tenth
    of a second instead of the CLI's seconds, so that the module stays fast enough to run
    once per mutant under ``make mutation``. The CLI stage itself is tested elsewhere."""
    config = load_config(make_region(tmp_path_factory.mktemp("sampling") / "region"))
    region = Region.from_config(config)
    computed = compute_local_factors(region, resolve_factors(config, "local"))
    computed.write(config.run_dir)
    stack = FactorStack.read(config.run_dir)  # what the sample stage reads
    inventory = read_inventory(config.inventory, region)
    return Built(stack, inventory, config.sampling)


@pytest.fixture(scope="module")
def default_draw(built: Built) -> tuple[Samples, np.ndarray]:
    return built.draw()


def _centre_pixels(built: Built, which: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) centre pixels (row, col) of landslides, computed from the geometries."""
    frame = built.inventory.landslides
    if which is not None:
        frame = frame[which]
    grid = built.stack.grid
    c = frame.geometry.centroid
    cols = np.floor((c.x.to_numpy() - grid.transform.c) / grid.resolution).astype(int)
    rows = np.floor((grid.transform.f - c.y.to_numpy()) / grid.resolution).astype(int)
    return np.column_stack([rows, cols])


def _valid(built: Built) -> np.ndarray:
    return (built.stack.codes > 0).all(axis=0)


def _pairs(samples: Samples) -> set[tuple[int, int]]:
    return set(zip(samples.rows.tolist(), samples.cols.tolist(), strict=True))


def _check_common(built: Built, samples: Samples, heat: np.ndarray) -> None:
    """Invariants of every draw."""
    grid = built.stack.grid
    assert len(_pairs(samples)) == len(samples), "a pixel was sampled twice"
    assert (samples.codes > 0).all()
    assert np.array_equal(samples.codes, built.stack.codes[:, samples.rows, samples.cols].T)
    assert samples.factor_names == tuple(built.stack.names)
    x, y = grid.xy(samples.rows, samples.cols)
    assert np.array_equal(samples.x, x) and np.array_equal(samples.y, y)
    kind, label = samples.kind, samples.label
    assert (label[kind == "positive"] == 1).all()
    assert (label[kind == "negative"] == 0).all()
    soft = kind == "soft"
    assert np.array_equal(label[soft], heat[samples.rows[soft], samples.cols[soft]])
    assert ((label[soft] > 0.2) & (label[soft] <= 0.8)).all()
    assert samples.label.dtype == np.float32 and samples.codes.dtype == np.uint8


def test_default_draw(built: Built, default_draw: tuple[Samples, np.ndarray]) -> None:
    samples, heat = default_draw
    _check_common(built, samples, heat)
    valid = _valid(built)
    centres = {tuple(p) for p in _centre_pixels(built).tolist()}
    centres_valid = {p for p in centres if valid[p]}
    pos = samples.subset(samples.kind == "positive")
    assert _pairs(pos) == centres_valid
    n_pos = len(centres_valid)
    assert np.count_nonzero(samples.kind == "negative") == n_pos  # negative_ratio 1.0
    neg = samples.subset(samples.kind == "negative")
    assert (heat[neg.rows, neg.cols] == 0).all()  # outside_heatmap
    # soft: as many per interval as positives (when the interval has enough pixels)
    soft = samples.label[samples.kind == "soft"]
    for low, high in SOFT_INTERVALS:
        in_band = (soft > low) & (soft <= high)
        available = np.count_nonzero(valid & (heat > low) & (heat <= high)) - sum(
            1 for p in centres_valid if low < heat[p] <= high
        )
        assert np.count_nonzero(in_band) == min(n_pos, available)
    # the heatmap is every landslide's
    rows, cols = _centre_pixels(built).T
    assert np.array_equal(heat, gaussian_heatmap((rows, cols), built.stack.grid.shape, DIAMETER))
    assert samples.meta["counts"] == samples.counts()


def test_random_split_is_stratified(default_draw: tuple[Samples, np.ndarray]) -> None:
    samples, _ = default_draw
    for kind in ("positive", "negative", "soft"):
        of_kind = samples.kind == kind
        n_test = np.count_nonzero(of_kind & (samples.split == "test"))
        assert n_test == round(0.3 * np.count_nonzero(of_kind)), kind
    assert len(samples.train) + len(samples.test) == len(samples)
    assert (samples.train.split == "train").all() and (samples.test.split == "test").all()


def test_reproducible(built: Built, default_draw: tuple[Samples, np.ndarray]) -> None:
    samples, heat = default_draw
    again, heat2 = built.draw()
    for name in ("rows", "cols", "x", "y", "codes", "label", "kind", "split"):
        assert np.array_equal(getattr(samples, name), getattr(again, name)), name
    assert np.array_equal(heat, heat2)
    assert samples.digest() == again.digest()
    other, _ = built.draw(seed=8)
    assert other.digest() != samples.digest()
    assert not np.array_equal(other.rows, samples.rows) or not np.array_equal(
        other.split, samples.split
    )


def test_gpkg_round_trip(tmp_path: Path, built: Built, default_draw) -> None:
    samples, _ = default_draw
    crs = built.stack.grid.crs
    path = samples.write_gpkg(tmp_path / "samples.gpkg", crs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.gpkg"]
    frame = gpd.read_file(path)
    assert list(frame.columns) == [
        "label",
        "kind",
        "split",
        "row",
        "col",
        *built.stack.names,
        *(f"value_{name}" for name in built.stack.names),
        "geometry",
    ]
    assert frame.crs == crs
    assert len(frame) == len(samples)
    assert frame["kind"].value_counts().to_dict() == {
        k: int(np.count_nonzero(samples.kind == k)) for k in ("positive", "negative", "soft")
    }
    assert (frame.geometry.geom_type == "Point").all()
    back = Samples.read_gpkg(path)
    for name in ("rows", "cols", "x", "y", "codes", "values", "label", "kind", "split"):
        assert np.array_equal(getattr(back, name), getattr(samples, name)), name
        assert getattr(back, name).dtype == getattr(samples, name).dtype, name
    assert back.factor_names == samples.factor_names
    assert back.digest() == samples.digest()
    with pytest.raises(LsghError, match="does not exist"):
        Samples.read_gpkg(tmp_path / "missing.gpkg")


def test_subset_and_validation(default_draw) -> None:
    samples, _ = default_draw
    first = samples.subset(np.arange(3))
    assert len(first) == 3 and np.array_equal(first.rows, samples.rows[:3])
    with pytest.raises(ValueError, match="codes"):
        dataclasses.replace(samples, codes=samples.codes[:, :2])
    with pytest.raises(ValueError, match="kind"):
        dataclasses.replace(samples, kind=np.full(len(samples), "maybe"))


def test_negatives_outside_buffer(built: Built) -> None:
    samples, heat = built.draw(negatives="outside_buffer", negative_buffer=200.0)
    _check_common(built, samples, heat)
    grid = built.stack.grid
    frame = built.inventory.landslides
    burned = rasterize(
        ((g, 1) for g in frame.geometry), out_shape=grid.shape, transform=grid.transform
    ).astype(bool)
    burned[tuple(_centre_pixels(built).T)] = True
    slide_xy = np.column_stack(grid.xy(*np.nonzero(burned)))
    neg = samples.subset(samples.kind == "negative")
    dist = cdist(np.column_stack([neg.x, neg.y]), slide_xy).min(axis=1)
    assert (dist > 200.0).all()
    assert len(neg) == np.count_nonzero(samples.kind == "positive")


def test_negatives_low_slope(built: Built, caplog: pytest.LogCaptureFixture) -> None:
    samples, heat = built.draw(negatives="low_slope", negative_max_slope=5.0)
    _check_common(built, samples, heat)
    slope = built.stack.layers[built.stack.names.index("slope")].values
    neg = samples.subset(samples.kind == "negative")
    assert len(neg) > 0 and (slope[neg.rows, neg.cols] < 5.0).all()
    no_slope = FactorStack(
        built.stack.grid, [ly for ly in built.stack.layers if ly.name != "slope"]
    )
    cfg = SamplingConfig(negatives="low_slope")
    with pytest.raises(LsghError, match="no 'slope' factor"):
        draw_samples(no_slope, built.inventory, cfg, DIAMETER, seed=1)
    with caplog.at_level(logging.WARNING), pytest.raises(LsghError, match="negative_max_slope"):
        built.draw(negatives="low_slope", negative_max_slope=1e-6)


def test_positives_polygon(built: Built) -> None:
    samples, heat = built.draw(positives="polygon")
    _check_common(built, samples, heat)
    grid = built.stack.grid
    burned = rasterize(
        ((g, 1) for g in built.inventory.landslides.geometry),
        out_shape=grid.shape,
        transform=grid.transform,
    ).astype(bool)
    burned[tuple(_centre_pixels(built).T)] = True
    expected = {tuple(p) for p in np.argwhere(burned & _valid(built)).tolist()}
    assert _pairs(samples.subset(samples.kind == "positive")) == expected
    assert len(expected) > 3 * len(built.inventory)  # 40 m discs span several pixels
    others = samples.subset(samples.kind != "positive")
    assert not burned[others.rows, others.cols].any()


def test_nodata_pixels_are_never_sampled(built: Built, caplog) -> None:
    stack = built.stack
    codes = stack.layers[0].codes.copy()
    r, c = _centre_pixels(built)[0]
    codes[r - 8 : r + 9, c - 8 : c + 9] = 0  # a hole around one landslide
    layers = [dataclasses.replace(stack.layers[0], codes=codes), *stack.layers[1:]]
    holed = FactorStack(stack.grid, layers)
    with caplog.at_level(logging.WARNING, logger="lsgh_ee.sampling"):
        samples, heat = draw_samples(holed, built.inventory, built.base, DIAMETER, seed=3)
    assert (codes[samples.rows, samples.cols] > 0).all()
    assert (r, c) not in _pairs(samples)
    assert heat[r, c] == 1.0  # the heatmap still knows the landslide
    centres = {tuple(p) for p in _centre_pixels(built).tolist()}
    dropped = sum(1 for p in centres if codes[p] == 0)
    assert dropped >= 1
    notice = f"{dropped} positive pixel(s) dropped: nodata in some factor"
    assert notice in caplog.text and notice in samples.meta["notices"]


def test_soft_shortage_is_a_notice(built: Built, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lsgh_ee.sampling"):
        samples, _ = built.draw(soft_per_interval=100_000)
    assert "soft samples available" in caplog.text
    assert 0 < np.count_nonzero(samples.kind == "soft") < 300_000
    none, _ = built.draw(soft_per_interval=0)
    assert np.count_nonzero(none.kind == "soft") == 0


def test_spatial_split_keeps_blocks_whole(built: Built) -> None:
    block = 600.0
    samples, heat = built.draw(split="spatial", block_size=block)
    _check_common(built, samples, heat)
    left, _, _, top = built.stack.grid.bounds
    bx = np.floor((samples.x - left) / block).astype(int)
    by = np.floor((top - samples.y) / block).astype(int)
    splits_per_block: dict[tuple[int, int], set[str]] = {}
    for key, split in zip(zip(bx.tolist(), by.tolist(), strict=True), samples.split, strict=True):
        splits_per_block.setdefault(key, set()).add(str(split))
    assert all(len(s) == 1 for s in splits_per_block.values())
    assert {"train", "test"} == set().union(*splits_per_block.values())
    test = samples.test
    assert (test.kind != "soft").all()  # soft samples are for training only
    assert np.count_nonzero(test.kind == "positive") > 0
    hard = samples.kind != "soft"
    share = np.count_nonzero(hard & (samples.split == "test")) / np.count_nonzero(hard)
    assert 0.1 < share < 0.5
    # soft count follows the training positives
    n_train_pos = np.count_nonzero((samples.kind == "positive") & (samples.split == "train"))
    assert np.count_nonzero(samples.kind == "soft") <= 3 * n_train_pos


def test_spatial_split_errors(built: Built) -> None:
    with pytest.raises(LsghError, match="not larger than a pixel"):
        built.draw(split="spatial", block_size=30.0)
    with pytest.raises(LsghError, match="one block of the whole"):
        built.draw(split="spatial", block_size=50_000.0)


def test_temporal_split(built: Built) -> None:
    samples, heat = built.draw(split="temporal")
    _check_common(built, samples, heat)
    years = built.inventory.landslides["year"].to_numpy()
    share = {y: np.mean(years <= y) for y in np.unique(years)[:-1]}
    cutoff = min(share, key=lambda y: abs(share[y] - 0.7))
    assert samples.meta["temporal_cutoff"] == cutoff
    centres = _centre_pixels(built)
    year_at: dict[tuple[int, int], list[int]] = {}
    for p, y in zip(map(tuple, centres.tolist()), years.tolist(), strict=True):
        year_at.setdefault(p, []).append(y)
    pos = samples.subset(samples.kind == "positive")
    for p, split in zip(_pairs_list(pos), pos.split, strict=True):
        if split == "train":
            assert min(year_at[p]) <= cutoff
        else:
            assert min(year_at[p]) > cutoff
    assert {"train", "test"} == set(pos.split.tolist())
    assert (samples.test.kind != "soft").all()
    # the heatmap is built from training landslides only
    train_rc = centres[years <= cutoff]
    assert np.array_equal(heat, gaussian_heatmap(tuple(train_rc.T), heat.shape, DIAMETER))
    test_rc = centres[years > cutoff]
    far = cdist(test_rc, train_rc).min(axis=1) > DIAMETER / 2
    assert far.any()
    assert (heat[tuple(test_rc[far].T)] == 0).all()
    # negatives never sit on a landslide, test ones included
    neg = samples.subset(samples.kind == "negative")
    assert not ({tuple(p) for p in centres.tolist()} & _pairs(neg))


def _pairs_list(samples: Samples) -> list[tuple[int, int]]:
    return list(zip(samples.rows.tolist(), samples.cols.tolist(), strict=True))


def test_temporal_cutoff_and_errors(built: Built) -> None:
    samples, _ = built.draw(split="temporal", temporal_cutoff=2002)
    assert samples.meta["temporal_cutoff"] == 2002
    assert samples.meta["landslides_train"] == 9  # 2000-2002, three each
    with pytest.raises(LsghError, match="temporal_cutoff 1999 leaves no landslide for train"):
        built.draw(split="temporal", temporal_cutoff=1999)
    with pytest.raises(LsghError, match="temporal_cutoff 2009 leaves no landslide for test"):
        built.draw(split="temporal", temporal_cutoff=2009)
    cfg = SamplingConfig(split="temporal")
    with pytest.raises(LsghError, match="inventory.date_attribute"):
        draw_samples(built.stack, built.inventory, cfg, DIAMETER, seed=1)
    one_year = dataclasses.replace(
        built.inventory, landslides=built.inventory.landslides.assign(year=2010)
    )
    with pytest.raises(LsghError, match="at least two years"):
        draw_samples(built.stack, one_year, cfg, DIAMETER, seed=1, date_attribute="year")


def test_too_few_positives_for_a_split(built: Built) -> None:
    one = dataclasses.replace(built.inventory, landslides=built.inventory.landslides.iloc[:1])
    # one positive, 30 % of 1 rounds to 0: nothing left for test
    with pytest.raises(
        LsghError, match=r"random split leaves no positive sample in test \(1 train, 0 test\)"
    ):
        draw_samples(built.stack, one, SamplingConfig(), DIAMETER, seed=1)


def test_no_qualifying_negative_names_the_setting_to_relax(built: Built) -> None:
    with pytest.raises(LsghError, match=r"lower sampling\.negative_buffer \(100000\.0 m\)"):
        built.draw(negatives="outside_buffer", negative_buffer=100_000.0)
    with pytest.raises(LsghError, match=r"lower heatmap\.diameter or enlarge the region"):
        built.draw(diameter=69)  # radius 34.5 pixels around 25 landslides covers the 70 x 70 grid


def test_rejection_sampler_path(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    from lsgh_ee.sampling import pixels

    monkeypatch.setattr(pixels, "_REJECTION_MIN_PIXELS", 1)
    samples, heat = built.draw(soft_per_interval=5)
    _check_common(built, samples, heat)
    neg = samples.subset(samples.kind == "negative")
    assert (heat[neg.rows, neg.cols] == 0).all()
    assert samples.digest() == built.draw(soft_per_interval=5)[0].digest()


def test_sampling_config_validation() -> None:
    cfg = SamplingConfig()
    assert (cfg.positives, cfg.negatives, cfg.split) == ("centroid", "outside_heatmap", "random")
    assert cfg.test_fraction == 0.3 and cfg.block_size == 2000.0 and cfg.negative_ratio == 1.0
    assert cfg.soft_per_interval is None and cfg.temporal_cutoff is None
    for bad in (
        {"test_fraction": 0.0},
        {"test_fraction": 1.0},
        {"block_size": 0},
        {"negative_ratio": -1},
        {"split": "kfold"},
        {"negatives": "anywhere"},
        {"soft_per_interval": -1},
    ):
        with pytest.raises(ValueError):
            SamplingConfig(**bad)


def test_bad_sampling_key_in_config_file(region_config: Path) -> None:
    import yaml

    raw = yaml.safe_load(region_config.read_text(encoding="utf-8"))
    raw["sampling"] = {"test_fraction": 1.5}
    region_config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(LsghError, match=r"sampling\.test_fraction"):
        load_config(region_config)


def test_digest_changes_with_content(default_draw) -> None:
    """The digest is a function of the content: equal content in other arrays (copies,
    another memory layout, other meta) gives the same digest; one changed value in any
    field, or another factor name, gives another."""
    samples, _ = default_draw
    digest = samples.digest()
    assert len(digest) == 64 and int(digest, 16) >= 0
    same = Samples(
        rows=samples.rows.copy(),
        cols=samples.cols.tolist(),
        x=samples.x.astype(">f8"),  # big-endian: the same numbers
        y=np.asfortranarray(samples.y.copy()),
        codes=np.asfortranarray(samples.codes),
        values=samples.values.astype(">f4"),
        label=samples.label.copy(),
        kind=samples.kind.tolist(),
        split=samples.split.tolist(),
        factor_names=list(samples.factor_names),
        meta={"notices": ["other meta"]},
    )
    assert same.digest() == digest
    i = len(samples) // 2
    changes: dict[str, object] = {}
    for name in ("rows", "cols", "x", "y", "label", "values"):
        values = getattr(samples, name).copy()
        values[i] += 1
        changes[name] = values
    codes = samples.codes.copy()
    codes[i, -1] = codes[i, -1] % 2 + 1
    changes["codes"] = codes
    kind = samples.kind.copy()
    kind[i] = "soft" if kind[i] != "soft" else "negative"
    changes["kind"] = kind
    split = samples.split.copy()
    split[i] = "test" if split[i] == "train" else "train"
    changes["split"] = split
    changes["factor_names"] = (*samples.factor_names[:-1], "other")
    for name, value in changes.items():
        assert dataclasses.replace(samples, **{name: value}).digest() != digest, name
    # the same values in another order are other samples
    order = np.r_[1, 0, 2 : len(samples)]
    assert samples.subset(order).digest() != digest


# --- draws and splits must be random over the region, not its first pixels --------------------


def _moments(values: np.ndarray) -> tuple[float, float, float]:
    centred = values - values.mean()
    return float(values.mean()), float(np.mean(centred**2)), float(np.mean(centred**4))


def assert_drawn_at_random(
    drawn: np.ndarray, population: np.ndarray, what: str, z: float = 4.0
) -> None:
    """``drawn`` ((n, d) values, e.g. row and column) looks like n values drawn uniformly
    without replacement from ``population`` ((N, d)): in every column, its mean and its
    variance are within ``z`` standard errors of the population's.

    Standard errors, for a simple random sample without replacement with the finite
    population correction c = (N - n) / (N - 1): mean σ·sqrt(c / n); variance
    sqrt((μ4 − σ⁴) · c / n) (the large-sample variance of a sample variance). With z = 4 a
    truly random draw fails a given statistic with probability about 6e-5 (normal tails);
    the seeds are fixed, so a passing test stays passing. A draw confined to one part of the
    region (the first n qualifying pixels, the first n samples as the test set) misses by
    tens of standard errors.
    """
    drawn = np.asarray(drawn, dtype=np.float64).reshape(len(drawn), -1)
    population = np.asarray(population, dtype=np.float64).reshape(len(population), -1)
    n, big_n = len(drawn), len(population)
    assert 2 <= n < big_n, f"{what}: {n} drawn from {big_n}"
    c = (big_n - n) / (big_n - 1)
    for j in range(population.shape[1]):
        mean, var, mu4 = _moments(population[:, j])
        got_mean, got_var = drawn[:, j].mean(), drawn[:, j].var(ddof=1)
        se_mean = math.sqrt(var * c / n)
        se_var = math.sqrt(max(mu4 - var**2, 0.0) * c / n)
        assert abs(got_mean - mean) <= z * se_mean, (
            f"{what}, column {j}: mean {got_mean:.3f}, population {mean:.3f} ± {se_mean:.3f}"
        )
        assert abs(got_var - var) <= z * se_var, (
            f"{what}, column {j}: variance {got_var:.3f}, population {var:.3f} ± {se_var:.3f}"
        )


def _burned(built: Built, frame: gpd.GeoDataFrame | None = None) -> np.ndarray:
    """Landslide pixels: the polygons rasterised (pixel centre inside) plus the centres."""
    grid = built.stack.grid
    frame = built.inventory.landslides if frame is None else frame
    burned = rasterize(
        ((g, 1) for g in frame.geometry), out_shape=grid.shape, transform=grid.transform
    ).astype(bool)
    burned[tuple(_centre_pixels(built).T)] = True
    return burned


def _rc(samples: Samples) -> np.ndarray:
    return np.column_stack([samples.rows, samples.cols])


@pytest.mark.parametrize("path", ["listing", "rejection"])
def test_negatives_and_soft_samples_spread_like_their_ground(
    built: Built, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negatives are drawn uniformly from the pixels the rule allows, soft samples from
    their heatmap interval: their rows and columns spread like those pixels' (mutant: the
    first n qualifying pixels, i.e. the top rows of the region)."""
    if path == "rejection":  # the sampler for huge grids: uniform draws, rejected if not allowed
        from lsgh_ee.sampling import pixels

        monkeypatch.setattr(pixels, "_REJECTION_MIN_PIXELS", 1)
    samples, heat = built.draw(negative_ratio=5.0)
    _check_common(built, samples, heat)
    valid = _valid(built)
    positive = np.zeros(heat.shape, dtype=bool)
    positive[samples.rows[samples.kind == "positive"], samples.cols[samples.kind == "positive"]] = (
        True
    )
    ground = valid & (heat == 0) & ~_burned(built) & ~positive  # outside_heatmap
    neg = samples.subset(samples.kind == "negative")
    assert len(neg) == 5 * np.count_nonzero(samples.kind == "positive")
    assert ground[neg.rows, neg.cols].all()
    assert_drawn_at_random(_rc(neg), np.argwhere(ground), "negatives")
    soft = samples.subset(samples.kind == "soft")
    for low, high in SOFT_INTERVALS:
        band = valid & (heat > low) & (heat <= high) & ~positive
        in_band = (soft.label > low) & (soft.label <= high)
        assert band[soft.rows[in_band], soft.cols[in_band]].all()
        assert_drawn_at_random(
            _rc(soft.subset(in_band)), np.argwhere(band), f"soft samples in ({low}, {high}]"
        )


@pytest.mark.parametrize("seed", [7, 8])
def test_random_split_test_set_spreads_like_each_kind(built: Built, seed: int) -> None:
    """The random split's test set is a random 30 % of each kind: test positives (every
    landslide pixel, listed row by row) spread over the region like all positives, and test
    soft samples (listed interval by interval) have the labels of all soft samples (mutant:
    the first n samples of each kind as the test set)."""
    samples, _ = built.draw(seed=seed, positives="polygon", negative_ratio=2.0)
    for kind in KINDS:
        of_kind = samples.subset(samples.kind == kind)
        test = of_kind.split == "test"
        assert np.count_nonzero(test) == round(0.3 * len(of_kind)), kind
        assert_drawn_at_random(_rc(of_kind)[test], _rc(of_kind), f"test {kind} samples")
    soft = samples.subset(samples.kind == "soft")
    is_test = soft.split == "test"
    assert_drawn_at_random(soft.label[is_test], soft.label, "test soft labels")


@pytest.mark.parametrize("positives", ["centroid", "polygon"])
def test_temporal_split_never_puts_a_landslide_pixel_on_both_sides(
    built: Built, positives: str
) -> None:
    """A later landslide on the ground of an earlier one (a reactivation) is a test
    landslide, but the pixels it shares with a training landslide stay training positives,
    and the test side leaves out every pixel of a training landslide's polygon and every
    training sample: no pixel is a positive of both sets, and none is sampled twice."""
    frame = built.inventory.landslides
    early = frame[frame["year"] == 2000]
    # reactivations in 2009: the same ground, shifted by a pixel, and exactly the same ground
    again = early.assign(year=2009, geometry=early.geometry.translate(xoff=30.0))
    same = early.iloc[:1].assign(year=2009)
    inventory = dataclasses.replace(
        built.inventory,
        landslides=gpd.GeoDataFrame(
            pd.concat([frame, again, same], ignore_index=True), crs=frame.crs
        ),
    )
    cfg = SamplingConfig(
        **{**built.base.model_dump(), "split": "temporal", "temporal_cutoff": 2006,
           "positives": positives}
    )  # fmt: skip
    samples, heat = draw_samples(
        built.stack, inventory, cfg, DIAMETER, seed=5, date_attribute="year"
    )
    assert len(_pairs(samples)) == len(samples), "a pixel was sampled twice"
    pos = samples.subset(samples.kind == "positive")
    train, test = _pairs(pos.subset(pos.split == "train")), _pairs(pos.subset(pos.split == "test"))
    assert not (train & test)
    landslides = inventory.landslides
    valid = _valid(built)
    early = _landslide_pixels(built, landslides[landslides["year"] <= 2006], positives) & valid
    late = _landslide_pixels(built, landslides[landslides["year"] > 2006], positives) & valid
    assert (early & late).any(), "the reactivations should share pixels with earlier ones"
    assert train == {tuple(p) for p in np.argwhere(early).tolist()}
    early_ground = _landslide_pixels(built, landslides[landslides["year"] <= 2006], "polygon")
    trained = np.zeros_like(early_ground)
    trained[samples.train.rows, samples.train.cols] = True
    expected = late & ~early_ground & ~trained
    assert (late & early_ground & ~early).any() or positives == "polygon"
    assert test == {tuple(p) for p in np.argwhere(expected).tolist()}


def _landslide_pixels(built: Built, frame: gpd.GeoDataFrame, positives: str) -> np.ndarray:
    """Positive pixels of some landslides, from their geometries: the pixel holding each
    centroid, plus every pixel whose centre lies in a polygon for ``polygon``."""
    grid = built.stack.grid
    out = np.zeros(grid.shape, dtype=bool)
    if positives == "polygon":
        out |= rasterize(
            ((g, 1) for g in frame.geometry), out_shape=grid.shape, transform=grid.transform
        ).astype(bool)
    c = frame.geometry.centroid
    cols = np.floor((c.x.to_numpy() - grid.transform.c) / grid.resolution).astype(int)
    rows = np.floor((grid.transform.f - c.y.to_numpy()) / grid.resolution).astype(int)
    out[rows, cols] = True
    return out


# --- every qualifying pixel, exactly; what the draw records; small splits --------------------


def _grid_distance_to(mask: np.ndarray, built: Built) -> np.ndarray:
    """Distance (metres) from each pixel centre to the nearest pixel centre of ``mask``."""
    grid = built.stack.grid
    targets = np.argwhere(mask) * grid.resolution
    everything = np.argwhere(np.ones(mask.shape, dtype=bool)) * grid.resolution
    return cdist(everything, targets).min(axis=1).reshape(mask.shape)


@pytest.mark.parametrize("rule", ["outside_heatmap", "outside_buffer", "low_slope"])
def test_all_qualifying_pixels_when_more_are_wanted(built: Built, rule: str) -> None:
    """Asking for more negatives than qualify returns exactly the pixels the rule allows,
    computed here from the definitions: valid codes, not a landslide pixel and heatmap 0 /
    farther than the buffer (a whole number of pixels: distances equal to it are not
    farther) from every landslide pixel / slope below the limit (a value that occurs: equal
    slopes do not qualify). Soft samples never take a negative's pixel."""
    valid = _valid(built)
    landslide = _burned(built)
    slope = built.stack.layers[built.stack.names.index("slope")].values
    changes: dict[str, object] = {"negatives": rule, "negative_ratio": 1000.0}
    if rule == "outside_buffer":
        changes["negative_buffer"] = 10 * built.stack.grid.resolution  # 300 m
    if rule == "low_slope":
        ground = slope[valid & ~landslide]
        changes["negative_max_slope"] = float(np.sort(ground)[ground.size // 3])
    samples, heat = built.draw(**changes)
    _check_common(built, samples, heat)
    if rule == "outside_heatmap":
        allowed = heat == 0
    elif rule == "outside_buffer":
        allowed = _grid_distance_to(landslide, built) > 300.0
    else:
        allowed = slope < changes["negative_max_slope"]
    expected = valid & ~landslide & allowed
    neg = samples.subset(samples.kind == "negative")
    assert _pairs(neg) == {tuple(p) for p in np.argwhere(expected).tolist()}
    soft = samples.subset(samples.kind == "soft")
    assert not expected[soft.rows, soft.cols].any()
    n_wanted = round(1000.0 * np.count_nonzero(samples.kind == "positive"))
    assert (
        f"only {len(neg)} of {n_wanted} negative samples available under '{rule}'"
        in (samples.meta["notices"])
    )


def test_a_single_qualifying_pixel_and_a_single_wanted_negative(built: Built) -> None:
    valid = _valid(built)
    slope = built.stack.layers[built.stack.names.index("slope")].values
    ground = np.where(valid & ~_burned(built), slope, np.inf)
    lowest = np.unravel_index(np.argmin(ground), ground.shape)
    limit = float(np.sort(ground, axis=None)[1])  # only the lowest slope is below it
    samples, _ = built.draw(negatives="low_slope", negative_max_slope=limit)
    neg = samples.subset(samples.kind == "negative")
    assert _pairs(neg) == {(int(lowest[0]), int(lowest[1]))}
    samples, _ = built.draw(negative_ratio=1e-3)  # 0.02 negatives wanted: one, at least
    assert np.count_nonzero(samples.kind == "negative") == 1


def test_temporal_split_negatives_outside_the_buffer_of_each_sides_landslides(
    built: Built,
) -> None:
    """In a temporal split each side's buffer rule sees its own landslides only: training
    negatives lie farther than the buffer from every training landslide (they may lie on
    ground that slid later: the training side does not know the later landslides); test
    negatives farther than the buffer from every test landslide, and off the training
    landslides and the training samples."""
    samples, _ = built.draw(
        split="temporal", negatives="outside_buffer", negative_buffer=300.0, negative_ratio=1000.0
    )
    frame = built.inventory.landslides
    cutoff = samples.meta["temporal_cutoff"]
    train_px = _landslide_pixels(built, frame[frame["year"] <= cutoff], "polygon")
    test_px = _landslide_pixels(built, frame[frame["year"] > cutoff], "polygon")
    valid = _valid(built)
    expected = valid & ~train_px & (_grid_distance_to(train_px, built) > 300.0)
    neg = samples.subset(samples.kind == "negative")
    assert _pairs(neg.train) == {tuple(p) for p in np.argwhere(expected).tolist()}
    assert (expected & test_px).any(), "some training negatives lie on later landslides"
    trained = np.zeros_like(valid)
    trained[samples.train.rows, samples.train.cols] = True
    expected = valid & ~test_px & (_grid_distance_to(test_px, built) > 300.0) & ~train_px & ~trained
    assert _pairs(neg.test) == {tuple(p) for p in np.argwhere(expected).tolist()}


def _block_of(samples: Samples, built: Built, block: float) -> np.ndarray:
    left, _, _, top = built.stack.grid.bounds
    bx = np.floor((samples.x - left) / block).astype(int)
    by = np.floor((top - samples.y) / block).astype(int)
    return by * 1000 + bx


@pytest.mark.parametrize("split", ["random", "spatial", "temporal"])
def test_what_the_draw_records(built: Built, split: str) -> None:
    """``meta`` records how the samples were drawn, each value recomputed here."""
    block = 600.0
    samples, heat = built.draw(split=split, block_size=block, seed=11)
    meta = samples.meta
    pos = samples.kind == "positive"
    n_train_pos = int(np.count_nonzero(pos & (samples.split == "train")))
    n_soft = int(pos.sum()) if split == "random" else n_train_pos
    expected: dict[str, object] = {
        "seed": 11,
        "heatmap_diameter": DIAMETER,
        "positives": "centroid",
        "negatives": "outside_heatmap",
        "split": split,
        "test_fraction": 0.3,
        "soft_per_interval": n_soft,
        "counts": {
            s: {k: int(np.count_nonzero((samples.split == s) & (samples.kind == k))) for k in KINDS}
            for s in ("train", "test")
        },
    }
    years = built.inventory.landslides["year"].to_numpy()
    if split == "temporal":
        cutoff = meta["temporal_cutoff"]
        expected |= {
            "temporal_cutoff": cutoff,
            "landslides_train": int((years <= cutoff).sum()),
            "landslides_test": int((years > cutoff).sum()),
        }
    if split == "spatial":
        hard_test = samples.subset((samples.kind != "soft") & (samples.split == "test"))
        expected |= {
            "block_size": block,
            "test_blocks": len(np.unique(_block_of(hard_test, built, block))),
        }
    assert {k: v for k, v in meta.items() if k != "notices"} == expected
    # soft samples: as many per interval as wanted, where the training ground has them
    valid = _valid(built)
    ground = valid & ~_landslide_pixels(built, built.inventory.landslides, "centroid")
    if split == "spatial":
        test_blocks = set(_block_of(samples.subset(samples.split == "test"), built, block))
        rr, cc = np.indices(heat.shape)
        grid = built.stack.grid
        x, y = grid.xy(rr.ravel(), cc.ravel())
        left, _, _, top = grid.bounds
        pixel_block = (np.floor((top - y) / block) * 1000 + np.floor((x - left) / block)).astype(
            int
        )
        ground &= ~np.isin(pixel_block, list(test_blocks)).reshape(heat.shape)
    soft = samples.label[samples.kind == "soft"]
    notices = []
    for low, high in SOFT_INTERVALS:
        available = int(np.count_nonzero(ground & (heat > low) & (heat <= high)))
        got = int(np.count_nonzero((soft > low) & (soft <= high)))
        assert got == min(n_soft, available) > 0, (low, high)
        if available < n_soft:
            notices.append(
                f"only {available} of {n_soft} soft samples available in heatmap interval "
                f"({low}, {high}]"
            )
    dropped = [n for n in meta["notices"] if n.startswith("test side: ")]
    assert meta["notices"] == notices + dropped
    # the test side's positives on an earlier side's ground are dropped with a notice
    assert all("positive pixel(s) dropped: outside the side's area" in n for n in dropped)


@pytest.mark.parametrize(
    ("fraction", "n_neg", "n_soft", "neg_test", "soft_test"),
    [(0.1, 2, 1, 1, 1), (0.9, 2, 1, 1, 2), (0.3, 1, 0, 0, 0)],
)
def test_random_split_of_few_samples(
    built: Built, fraction: float, n_neg: int, n_soft: int, neg_test: int, soft_test: int
) -> None:
    """round(fraction · n) test samples of each kind, but at least one on each side when
    there are two or more (by hand: 2 negatives at 0.1 → 0.2 → 1; at 0.9 → 1.8 → 2 → 1; 3
    soft samples at 0.1 → 0.3 → 1, at 0.9 → 2.7 → 3 → 2; 1 negative at 0.3 → 0)."""
    n_pos = len(_centre_pixels(built))
    samples, _ = built.draw(
        test_fraction=fraction, negative_ratio=n_neg / n_pos, soft_per_interval=n_soft
    )
    for kind, n, n_test in (("negative", n_neg, neg_test), ("soft", 3 * n_soft, soft_test)):
        of_kind = samples.kind == kind
        assert np.count_nonzero(of_kind) == n, kind
        assert np.count_nonzero(of_kind & (samples.split == "test")) == n_test, kind


def test_temporal_cutoffs_at_the_ends(built: Built) -> None:
    """The first year is a valid cutoff; the automatic cutoff may be the year before the
    last; two years are enough; a one-year inventory with that year as cutoff leaves no test
    landslide; an empty year is an error."""
    samples, _ = built.draw(split="temporal", temporal_cutoff=2000)
    assert samples.meta["landslides_train"] == 3  # years 2000 + i % 10 for i < 25
    # shares of years <= y: 2007 → 21/25 = 0.84, 2008 → 23/25 = 0.92: 0.9 wants 2008
    samples, _ = built.draw(split="temporal", test_fraction=0.1)
    assert samples.meta["temporal_cutoff"] == 2008
    frame = built.inventory.landslides
    two = dataclasses.replace(
        built.inventory, landslides=frame.assign(year=np.where(frame["year"] < 2005, 2001, 2002))
    )
    cfg = SamplingConfig(split="temporal")
    samples, _ = draw_samples(built.stack, two, cfg, DIAMETER, seed=1, date_attribute="year")
    assert samples.meta["temporal_cutoff"] == 2001
    one = dataclasses.replace(built.inventory, landslides=frame.assign(year=2010))
    cfg = SamplingConfig(split="temporal", temporal_cutoff=2010)
    with pytest.raises(
        LsghError,
        match=r"cutoff 2010 leaves no landslide for test \(the landslides span 2010–2010\)",
    ):
        draw_samples(built.stack, one, cfg, DIAMETER, seed=1, date_attribute="year")
    gap = dataclasses.replace(
        built.inventory, landslides=frame.assign(year=frame["year"].where(frame.index != 3))
    )
    with pytest.raises(LsghError, match="is empty for 1 landslide"):
        draw_samples(
            built.stack, gap, SamplingConfig(split="temporal"), DIAMETER, seed=1,
            date_attribute="year",
        )  # fmt: skip


def test_samples_container_edges(tmp_path: Path, built: Built, default_draw) -> None:
    """Subsets keep the meta; factor names become a tuple; a factor named like a fixed
    column is refused; samples without factors, a file lacking a column and a file that is
    not a GeoPackage are handled."""
    samples, _ = default_draw
    part = samples.subset(samples.kind == "positive")
    assert part.meta == samples.meta and part.meta is not samples.meta
    listed = dataclasses.replace(samples, factor_names=list(samples.factor_names))
    assert isinstance(listed.factor_names, tuple)
    for name in ("kind", "geometry"):
        clash = dataclasses.replace(samples, factor_names=(name, *samples.factor_names[1:]))
        with pytest.raises(
            ValueError, match=rf"factor names \['{name}'\] clash with sample columns"
        ):
            clash.to_geodataframe(built.stack.grid.crs)
    bare = dataclasses.replace(samples, codes=np.zeros((len(samples), 0)),
                               values=np.zeros((len(samples), 0)), factor_names=())  # fmt: skip
    back = Samples.read_gpkg(bare.write_gpkg(tmp_path / "bare.gpkg", built.stack.grid.crs))
    assert back.codes.shape == back.values.shape == (len(samples), 0)
    assert back.factor_names == ()
    frame = samples.to_geodataframe(built.stack.grid.crs).drop(columns=["split"])
    frame.to_file(tmp_path / "lacking.gpkg", layer="samples", driver="GPKG")
    with pytest.raises(LsghError, match="lacks columns split"):
        Samples.read_gpkg(tmp_path / "lacking.gpkg")
    (tmp_path / "junk.gpkg").write_text("not a geopackage\nsecond line", encoding="utf-8")
    # the first line of GDAL's own message, not a placeholder
    with pytest.raises(LsghError, match=r"junk\.gpkg cannot be read: .*not recognized") as info:
        Samples.read_gpkg(tmp_path / "junk.gpkg")
    assert "\n" not in str(info.value)
