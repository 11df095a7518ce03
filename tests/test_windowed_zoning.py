"""Zoning strip by strip (lsgh_ee.zoning.windowed, the zone stage with output.strip_rows):
the numbers and files of the whole-array zoning, on strips of a few rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

from lsgh_ee.evaluation import grouped as grouped_mod
from lsgh_ee.grid import Grid, as_metric_crs
from lsgh_ee.rasters import write_geotiff
from lsgh_ee.zoning import index_histogram, interval_table, zone_map
from lsgh_ee.zoning.windowed import zone_by_strips, zone_strips

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo"


def _map(tmp_path: Path, index: np.ndarray) -> Path:
    from affine import Affine

    grid = Grid(as_metric_crs("EPSG:32616"), Affine(30, 0, 500000, 0, -30, 4000000), *index.shape)
    return write_geotiff(tmp_path / "susceptibility.tif", index, grid)


def _case(kind: str, shape: tuple[int, int] = (190, 170)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    if kind == "continuous":  # more than JENKS_SAMPLE valid values: the sample is drawn
        index = rng.beta(2, 5, shape).astype(np.float32)
    elif kind == "ties":  # few distinct values, many ties
        index = (rng.integers(0, 300, shape) / 299).astype(np.float32)
    else:  # fewer than five distinct values: evenly spaced breaks
        index = rng.choice([0.1, 0.35, 0.9], shape).astype(np.float32)
    index[rng.random(shape) < 0.15] = np.nan
    index[:4, :] = np.nan  # a strip of nodata only
    slides = rng.random(shape) < 0.04
    return index, slides


@pytest.mark.parametrize(("kind", "rows"), [("continuous", 3), ("ties", 7), ("few", 5),
                                            ("continuous", 0)])  # fmt: skip
def test_strips_give_the_whole_array_zoning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, rows: int
) -> None:
    monkeypatch.setattr(grouped_mod, "CHUNK_ROWS", 997)  # many chunks and ranges
    monkeypatch.setattr(grouped_mod, "RANGE_ROWS", 1500)
    index, slides = _case(kind)
    path = _map(tmp_path, index)
    want = zone_map(index, slides, seed=11)
    got = zone_by_strips(path, lambda r, n: slides[r : r + n], seed=11, strip_rows=rows,
                         workdir=tmp_path / "work")  # fmt: skip
    assert got.zoning.breaks == want.breaks
    assert got.zoning.used == want.used
    pd.testing.assert_frame_equal(got.zoning.zones_table, want.zones_table)
    for a, b in zip(got.zoning.curve, want.curve, strict=True):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(got.intervals.table, interval_table(index, slides).table)
    np.testing.assert_array_equal(got.histogram, index_histogram(index[np.isfinite(index)]))
    zones = np.concatenate([z for _, z in zone_strips(path, got.zoning.breaks, rows)])
    np.testing.assert_array_equal(zones, want.zones)
    assert list((tmp_path / "work").iterdir()) == []  # the spill is removed
    if kind == "continuous":
        assert want.used == 20_002  # the documented sample plus the minimum and maximum


@pytest.mark.parametrize("kind", ["continuous", "ties"])
def test_a_curve_of_many_distinct_values_is_summed_on_the_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from lsgh_ee.zoning import windowed

    monkeypatch.setattr(grouped_mod, "RANGE_ROWS", 2000)
    monkeypatch.setattr(windowed, "MAX_CURVE_POINTS", 100)
    index, slides = _case(kind)
    want_area, want_found, want_auc = zone_map(index, slides, seed=2).curve
    got = zone_by_strips(_map(tmp_path, index), lambda r, n: slides[r : r + n], seed=2,
                         strip_rows=9)  # fmt: skip
    area, found, auc = got.zoning.curve
    assert auc == pytest.approx(want_auc, rel=1e-12)
    assert 100 <= area.size <= 250 < want_area.size  # thinned
    assert (area[0], found[0], area[-1], found[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(area) > 0) and np.all(np.diff(found) >= 0)
    vertex = np.searchsorted(want_area, area)  # every point is one of today's vertices
    np.testing.assert_allclose(want_area[vertex], area, rtol=1e-12)
    np.testing.assert_allclose(want_found[vertex], found, rtol=1e-12, atol=1e-15)


def test_an_empty_map_is_refused_as_today(tmp_path: Path) -> None:
    index = np.full((6, 5), np.nan, np.float32)
    with pytest.raises(ValueError, match="no valid susceptibility value"):
        zone_by_strips(_map(tmp_path, index), lambda r, n: np.zeros((n, 5), bool), seed=0,
                       strip_rows=2)  # fmt: skip


class SumModel:
    """A deterministic non-trivial function of every factor's class code."""

    def predict(self, rows: np.ndarray) -> np.ndarray:
        c = rows.astype(float)
        weights = np.sin(np.arange(1, c.shape[1] + 1) * 0.7)
        return 1 / (1 + np.exp(-np.sin(c @ weights / 3)))


@pytest.fixture(scope="module")
def demo_mapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with its factors and one model's map (no training)."""
    from lsgh_ee.config import load_config
    from lsgh_ee.factors.local import compute_local_factors
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.mapping import predict_map
    from lsgh_ee.region import Region
    from lsgh_ee.runfolder import RunFolder

    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO, folder, dirs_exist_ok=True)
    config = load_config(folder / "region.yaml")
    stack = compute_local_factors(Region.from_config(config), resolve_factors(config, "local"))
    stack.write(config.run_dir)
    run = RunFolder(config.run_dir)
    counts = [len(layer.classes) for layer in stack.layers]
    predict_map(SumModel(), run.codes, run.susceptibility("lsgh"), counts)
    return folder / "region.yaml"


def _zone_with(config_path: Path, folder: Path, rows: int) -> Path:
    """The zone stage on a copy of the demo run, with ``output.strip_rows: rows``."""
    from lsgh_ee.stages import zone

    raw = yaml.safe_load(config_path.read_text())
    run = folder / "run"
    shutil.copytree(config_path.parent / raw["output"]["dir"], run)
    raw["output"] = {"dir": str(run), "strip_rows": rows}
    for key in ("inventory", "dem", "evaluation"):
        for name, value in raw[key].items():
            if name in ("path", "truth"):
                raw[key][name] = str(config_path.parent / value)
    for spec in raw["factors"].values():
        for name in ("path", "red", "nir"):
            if name in spec:
                spec[name] = str(config_path.parent / spec[name])
    config = folder / "region.yaml"
    config.write_text(yaml.safe_dump(raw))
    zone(config)
    return run


def test_the_zone_stage_by_strips_writes_the_whole_arrays_files(
    demo_mapped: Path, tmp_path: Path
) -> None:
    whole = _zone_with(demo_mapped, tmp_path / "whole", 0)
    strips = _zone_with(demo_mapped, tmp_path / "strips", 4)
    for name in ("zoning.json", "maps/lsgh/intervals.csv", "maps/lsgh/intervals.md",
                 "maps/lsgh/zones.csv"):  # fmt: skip
        assert (strips / name).read_bytes() == (whole / name).read_bytes(), name
    summary = json.loads((strips / "zoning.json").read_text())["lsgh"]
    assert summary["jenks_values"] > 20_000 and 0 < summary["success_auc"] < 1
    for png in sorted(p.relative_to(whole) for p in whole.rglob("*.png")):
        assert (strips / png).read_bytes() == (whole / png).read_bytes(), png
    with rasterio.open(whole / "maps/lsgh/zones.tif") as a, \
         rasterio.open(strips / "maps/lsgh/zones.tif") as b:  # fmt: skip
        assert a.profile == b.profile
        assert a.tags() == b.tags() and a.descriptions == b.descriptions
        assert a.colormap(1) == b.colormap(1)
        np.testing.assert_array_equal(a.read(), b.read())
        assert a.read(1).max() == 5 and (a.read(1) == 0).any()
    assert not list(strips.glob(".zoning-*"))


@pytest.mark.parametrize("rows", [3, 7])
def test_the_landslide_mask_by_strips_is_the_whole_mask(demo_mapped: Path, rows: int) -> None:
    from lsgh_ee.config import load_config
    from lsgh_ee.factors.windows import strip_grid, strips
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.region import Region

    config = load_config(demo_mapped)
    region = Region.from_config(config)
    inventory = read_inventory(config.inventory, region)
    whole = inventory.mask(region.grid, "polygon")
    parts = [inventory.mask(strip_grid(region.grid, r0, r1 - r0), "polygon")
             for r0, r1 in strips(region.grid.height, rows)]  # fmt: skip
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert whole.sum() > 100
