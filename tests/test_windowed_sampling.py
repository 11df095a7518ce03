"""The ``sample`` stage strip by strip (lsgh_ee.sampling.draw.draw_set_in, .ground,
.pixels.choose_in, lsgh_ee.heatmap.Heatmap): the same samples and heatmap as the
whole-grid draw, on strips of a few rows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from conftest import edit_config, make_region
from lsgh_ee.config import SamplingConfig, load_config
from lsgh_ee.factors.local import compute_local_factors
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import Heatmap, gaussian_heatmap, write_heatmap, write_heatmap_strips
from lsgh_ee.inventory import Inventory, read_inventory
from lsgh_ee.region import Region
from lsgh_ee.sampling import Samples, draw_samples
from lsgh_ee.sampling.ground import LandslideRows
from lsgh_ee.sampling.pixels import StripMask, choose_in, choose_pixels, far_from
from lsgh_ee.sampling.single import draw_samples_in
from lsgh_ee.sampling.source import RunSource, StackSource

DIAMETER = 13


def _reference_choice(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """The whole-array rule, written out with NumPy: all candidates when n covers them,
    rejection sampling of large dense masks, else ``choice`` over the candidates."""
    flat = mask.reshape(-1)
    total = int(np.count_nonzero(flat))
    if n <= 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    if n >= total:
        return np.flatnonzero(flat)
    share = total / flat.size
    if flat.size >= 1 << 22 and share >= 0.05 and n <= total // 4:
        picked = np.zeros(0, dtype=np.int64)
        while picked.size < n:
            draw = rng.integers(0, flat.size, size=int((n - picked.size) / share * 1.25) + 64)
            both = np.concatenate([picked, draw[flat[draw]]])
            _, first = np.unique(both, return_index=True)
            picked = both[np.sort(first)]
        return picked[:n]
    return rng.choice(np.flatnonzero(flat), size=n, replace=False)


def _strips(height: int, rows: int) -> list[tuple[int, int]]:
    return [(a, min(a + rows, height)) for a in range(0, height, rows)]


@pytest.mark.parametrize(
    ("shape", "share", "n"),
    [((50, 40), 0.3, 10), ((50, 40), 0.01, 5), ((50, 40), 0.3, 1000), ((30, 30), 0.9, 800),
     ((2100, 2100), 0.3, 5000), ((2100, 2100), 0.01, 3000)],
)  # fmt: skip
def test_choose_in_strips_picks_what_the_whole_array_picks(shape, share, n):
    mask = np.random.default_rng(0).random(shape) < share
    expected_rng, rng = np.random.default_rng(5), np.random.default_rng(5)
    expected = _reference_choice(mask, n, expected_rng)
    for rows in (1, 7, shape[0]):
        rng = np.random.default_rng(5)
        got = choose_in(StripMask(shape, _strips(shape[0], rows), lambda a, b: mask[a:b]), n, rng)
        assert got.dtype == np.int64
        assert np.array_equal(got, expected), rows
        assert rng.integers(0, 1 << 40) == expected_rng.integers(0, 1 << 40)  # same calls
        expected_rng = np.random.default_rng(5)
        _reference_choice(mask, n, expected_rng)
    assert np.array_equal(choose_pixels(mask, n, np.random.default_rng(5)), expected)
    assert mask.reshape(-1)[expected].all() and np.unique(expected).size == expected.size


def test_strip_mask_at_and_pick_read_only_the_strips_they_need():
    mask = np.random.default_rng(1).random((40, 9)) < 0.4
    computed: list[tuple[int, int]] = []

    def strip(a: int, b: int) -> np.ndarray:
        computed.append((a, b))
        return mask[a:b]

    sm = StripMask(mask.shape, _strips(40, 4), strip)
    assert sm.count() == np.count_nonzero(mask)
    computed.clear()
    flat = np.array([5, 359, 9, 200])  # rows 0, 39, 1, 22: strips (0, 4), (36, 40), (20, 24)
    assert np.array_equal(sm.at(flat), mask.reshape(-1)[flat])
    assert sorted(set(computed)) == [(0, 4), (20, 24), (36, 40)]
    positions = np.array([7, 0, np.count_nonzero(mask) - 1])
    assert np.array_equal(sm.pick(positions), np.flatnonzero(mask)[positions])


@pytest.mark.parametrize("method", ["stamp", "edt"])
def test_heatmap_rows_and_points_equal_the_whole_heatmap(method):
    rng = np.random.default_rng(3)
    for shape, n, diameter in [((97, 83), 40, 13), ((60, 200), 500, 7), ((50, 50), 3, 19)]:
        rows, cols = rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)
        whole = gaussian_heatmap((rows, cols), shape, diameter, method=method)
        heat = Heatmap((rows, cols), shape, diameter)
        for step in (1, 3, 7):
            parts = [heat.rows(a, b) for a, b in _strips(shape[0], step)]
            assert np.concatenate(parts).tobytes() == whole.tobytes(), (shape, step)
        rr, cc = np.divmod(np.arange(whole.size), shape[1])
        assert heat.at(rr, cc).tobytes() == whole.reshape(-1).tobytes()


def test_heatmap_written_by_strips_equals_the_whole_file(tmp_path):
    grid = Grid("EPSG:32616", Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 4000000.0), 70, 90)
    centres = (np.array([0, 10, 35, 69, 69]), np.array([0, 45, 20, 89, 3]))
    whole = write_heatmap(tmp_path / "whole.tif", gaussian_heatmap(centres, grid.shape, 13),
                          grid, diameter=13)  # fmt: skip
    strips = write_heatmap_strips(tmp_path / "strips.tif", Heatmap(centres, grid.shape, 13),
                                  grid, strip_rows=4)  # fmt: skip
    with rasterio.open(whole) as a, rasterio.open(strips) as b:
        assert a.read().tobytes() == b.read().tobytes()
        assert a.tags() == b.tags() and a.descriptions == b.descriptions == ("gaussian_heatmap",)
        assert a.overviews(1) == b.overviews(1)
        assert a.read(out_shape=(1, 17, 22)).tobytes() == b.read(out_shape=(1, 17, 22)).tobytes()
    assert not list(tmp_path.glob("*.plain*"))


@dataclasses.dataclass
class Built:
    stack: FactorStack
    inventory: Inventory
    base: SamplingConfig
    run_dir: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    config = load_config(make_region(tmp_path_factory.mktemp("windowed_sampling") / "region"))
    region = Region.from_config(config)
    compute_local_factors(region, resolve_factors(config, "local")).write(config.run_dir)
    stack = FactorStack.read(config.run_dir)
    return Built(stack, read_inventory(config.inventory, region), config.sampling, config.run_dir)


def test_landslide_rows_equal_the_whole_mask(built):
    grid = built.stack.grid
    rows = LandslideRows(built.inventory, grid)
    for mode in ("centroid", "polygon"):
        whole = built.inventory.mask(grid, mode)
        for step in (1, 2, 5):
            parts = [rows.mask(a, b, mode) for a, b in _strips(grid.height, step)]
            assert np.array_equal(np.concatenate(parts), whole), (mode, step)
    assert built.inventory.mask(grid, "polygon").sum() > 3 * len(built.inventory)


CASES = {
    "random": {},
    "spatial": {"split": "spatial", "block_size": 900.0},
    "temporal": {"split": "temporal"},
    "outside_buffer": {"negatives": "outside_buffer", "negative_buffer": 95.0},
    "low_slope": {"negatives": "low_slope", "negative_max_slope": 8.0},
    "polygon": {"positives": "polygon", "negative_ratio": 3.0},
    "no_soft": {"soft_per_interval": 0},
    "scarce": {"negative_ratio": 400.0, "soft_per_interval": 200},
}


def _same(a: Samples, b: Samples) -> None:
    assert a.digest() == b.digest()
    assert a.meta == b.meta
    if a.values is None:  # a split's joined sides carry codes only
        assert b.values is None
    else:
        assert np.array_equal(a.values, b.values, equal_nan=True)


@pytest.mark.parametrize("case", list(CASES))
def test_draw_by_strips_gives_the_whole_grid_draw(built, case):
    cfg = SamplingConfig(**{**built.base.model_dump(), **CASES[case]})
    kwargs = {"seed": 11, "date_attribute": "year"}
    whole, heat = draw_samples(built.stack, built.inventory, cfg, DIAMETER, **kwargs)
    assert len(whole) > 30
    for rows in (1, 3, 8):
        source = StackSource(built.stack, strip_rows=rows)
        samples, heatmap = draw_samples_in(source, built.inventory, cfg, DIAMETER, **kwargs)
        _same(samples, whole)
        assert heatmap.array().tobytes() == heat.tobytes()
    with RunSource(built.run_dir, 5) as source:  # the files, window by window
        samples, _ = draw_samples_in(source, built.inventory, cfg, DIAMETER, **kwargs)
    _same(samples, whole)


def test_draw_by_strips_within_an_area(built):
    cfg = built.base
    grid = built.stack.grid
    area = np.zeros(grid.shape, dtype=bool)
    area[: grid.height // 2 + 3, 5:] = True
    whole, _ = draw_samples(built.stack, built.inventory, cfg, DIAMETER, seed=2, area=area,
                            hold_out=False)  # fmt: skip
    samples, _ = draw_samples_in(StackSource(built.stack, 4), built.inventory, cfg, DIAMETER,
                                 seed=2, area=lambda a, b: area[a:b], hold_out=False)  # fmt: skip
    _same(samples, whole)
    assert area[samples.rows, samples.cols].all()
    assert any("outside the side's area" in n for n in samples.meta["notices"])


def test_far_from_on_strips_with_its_halo_equals_the_whole(built):
    from lsgh_ee.sampling.pixels import far_halo

    grid = built.stack.grid
    mask = built.inventory.mask(grid, "polygon")
    for metres in (30.0, 95.0, 400.0):
        whole = far_from(mask, metres, grid)
        halo = far_halo(metres, grid)
        parts = []
        for a, b in _strips(grid.height, 3):
            lo, hi = max(a - halo, 0), min(b + halo, grid.height)
            parts.append(far_from(mask[lo:hi], metres, grid)[a - lo : b - lo])
        assert np.array_equal(np.concatenate(parts), whole), metres
        assert 0 < whole.sum() < whole.size


def test_sample_stage_by_strips_writes_the_whole_grid_files(built, tmp_path):
    from lsgh_ee.stages.sample import sample

    config_path = Path(built.run_dir).parent / "region.yaml"
    outputs = {}
    for rows in (0, 6):
        run = tmp_path / f"run{rows}"
        run.mkdir()
        for name in ("factors.tif", "class_codes.tif", "factor_schema.json"):
            (run / name).write_bytes((Path(built.run_dir) / name).read_bytes())
        config = config_path.parent / f"region_strips{rows}.yaml"  # beside its inputs
        config.write_text(config_path.read_text())
        edit_config(config, output={"dir": str(run), "strip_rows": rows})
        outputs[rows] = (run, sample(str(config), run_dir=run))
    (a, ra), (b, rb) = outputs[0], outputs[6]
    assert ra.summary["digest"] == rb.summary["digest"]
    assert (
        Samples.read_gpkg(a / "samples.gpkg").digest()
        == Samples.read_gpkg(b / "samples.gpkg").digest()
    )
    with rasterio.open(a / "heatmap.tif") as x, rasterio.open(b / "heatmap.tif") as y:
        assert x.read().tobytes() == y.read().tobytes() and x.tags() == y.tags()
        assert float(x.read().max()) == 1.0
    assert (a / "heatmap.tif").read_bytes() == (b / "heatmap.tif").read_bytes()
    assert json.loads(json.dumps(ra.summary["counts"]))["train"]["soft"] > 0
