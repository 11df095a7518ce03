"""The agreement with a reference susceptibility, strip by strip
(lsgh_ee.evaluation.truth): the numbers of the whole-array truth_agreement, on strips of a
few rows, chunks and ranges of a few pixels (many passes, ties across chunks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lsgh_ee.evaluation import grouped as grouped_mod
from lsgh_ee.evaluation import truth_agreement
from lsgh_ee.evaluation.grouped import KeyHistogram, Spill, grouped, order_keys
from lsgh_ee.evaluation.truth import agreement_of_strips, model_truth_agreement

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo"


def _strips(a: np.ndarray, b: np.ndarray, rows: int):
    for r in range(0, a.shape[0], rows):
        yield a[r : r + rows], b[r : r + rows]


def _maps(seed: int = 0, shape: tuple[int, int] = (61, 37)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    index = rng.integers(0, 40, shape).astype(np.float32) / 39  # many ties
    truth = (0.6 * index + 0.4 * rng.random(shape)).astype(np.float32)
    truth[rng.random(shape) < 0.3] = np.round(truth[rng.random(shape) < 0.3][0], 1)  # ties
    index[rng.random(shape) < 0.1] = np.nan
    truth[rng.random(shape) < 0.05] = np.nan
    index[0, :3] = -0.0  # -0.0 and 0.0 are one tie
    index[1, :3] = 0.0
    return index, truth


def test_order_keys_sort_as_the_values() -> None:
    values = np.array([-2.5, -1e-30, -0.0, 0.0, 1e-40, 0.25, 1.0, 3e8], dtype=np.float32)
    keys = order_keys(values)
    assert np.all(np.diff(keys.astype(np.int64)) >= 0)
    assert keys[2] == keys[3]  # -0.0 is 0.0
    assert np.all(np.diff(keys[3:].astype(np.int64)) > 0)


@pytest.mark.parametrize(("rows", "chunk", "range_rows"), [(3, 50, 40), (7, 1 << 20, 1 << 21),
                                                           (1, 13, 1)])  # fmt: skip
def test_strips_give_the_whole_array_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int, chunk: int, range_rows: int
) -> None:
    monkeypatch.setattr(grouped_mod, "CHUNK_ROWS", chunk)
    index, truth = _maps()
    want = truth_agreement(index, truth)
    got = agreement_of_strips(_strips(index, truth, rows), tmp_path, range_rows=range_rows)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9, rel=0), key
    assert list(tmp_path.iterdir()) == []  # the spill is removed


def test_grouped_counts_and_sums_every_distinct_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grouped_mod, "CHUNK_ROWS", 17)
    rng = np.random.default_rng(4)
    x = rng.integers(-5, 30, 500).astype(np.float32) / 7
    w = rng.random(500)
    spill = Spill(tmp_path / "s", {"x": "float32", "w": "float64"})
    hist = KeyHistogram()
    for part in np.array_split(np.arange(500), 9):
        spill.append(x=x[part], w=w[part])
        hist.add(x[part])
    groups = list(grouped(spill, "x", hist, [lambda c: c["w"]], ["w"], range_rows=30))
    assert len(groups) > 5
    values = np.concatenate([g.values for g in groups])
    counts = np.concatenate([g.counts for g in groups])
    sums = np.concatenate([g.sums[0] for g in groups])
    want, inverse = np.unique(x.astype(np.float64), return_inverse=True)
    np.testing.assert_array_equal(values, want)  # increasing, each value once
    np.testing.assert_array_equal(counts, np.bincount(inverse))
    np.testing.assert_allclose(sums, np.bincount(inverse, weights=w), rtol=1e-12)


def test_no_valid_pixel_gives_nan(tmp_path: Path) -> None:
    index = np.full((4, 5), np.nan, np.float32)
    got = agreement_of_strips(_strips(index, index, 2), tmp_path)
    assert all(np.isnan(v) for v in got.values())


class SumModel:
    """A deterministic non-trivial function of every factor's code (or value)."""

    def __init__(self, input_kind: str = "codes") -> None:
        self.input_kind = input_kind

    def predict(self, rows: np.ndarray) -> np.ndarray:
        c = np.nan_to_num(rows.astype(float))
        weights = np.sin(np.arange(1, c.shape[1] + 1) * 0.7)
        return 1 / (1 + np.exp(-np.sin(c @ weights / 3)))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from lsgh_ee.config import load_config
    from lsgh_ee.factors.local import compute_local_factors
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.region import Region

    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO, folder, dirs_exist_ok=True)
    config = load_config(folder / "region.yaml")
    region = Region.from_config(config)
    compute_local_factors(region, resolve_factors(config, "local")).write(config.run_dir)
    return config.run_dir, config.evaluation.truth


@pytest.mark.parametrize(("kind", "rows"), [("codes", 5), ("values", 11), ("codes", 0)])
def test_a_models_agreement_on_the_demo_by_strips(
    demo_run: tuple[Path, Path], kind: str, rows: int
) -> None:
    from lsgh_ee.mapping import predict_stack
    from lsgh_ee.rasters import read_onto_grid, stack_grid

    run_dir, truth = demo_run
    grid = stack_grid(run_dir / "class_codes.tif")
    model = SumModel(kind)
    want = truth_agreement(predict_stack(model, run_dir), read_onto_grid(truth, grid))
    got = model_truth_agreement(model, run_dir, truth, grid, rows)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9, rel=0), key
    assert 0.5 < want["ceiling_auc"] < 1 and np.isfinite(want["spearman"])
    assert not list(run_dir.glob(".truth-*"))


def test_a_truth_that_misses_the_region_is_one_clear_error(
    demo_run: tuple[Path, Path], tmp_path: Path
) -> None:
    import rasterio

    from lsgh_ee.errors import LsghError
    from lsgh_ee.rasters import stack_grid

    run_dir, truth = demo_run
    with rasterio.open(truth) as src:
        profile, data = src.profile, src.read(1)
    half = tmp_path / "half.tif"
    profile.update(height=data.shape[0] // 2)
    with rasterio.open(half, "w", **profile) as dst:
        dst.write(data[: data.shape[0] // 2], 1)
    grid = stack_grid(run_dir / "class_codes.tif")
    with pytest.raises(LsghError, match="covers only .* of the region"):
        model_truth_agreement(SumModel(), run_dir, half, grid, 9)
