"""Reading rasters onto the grid (any CRS) and writing self-describing GeoTIFFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from conftest import ORIGIN, RES, SIZE, UTM, write_raster
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid, as_metric_crs
from lsgh_ee.rasters import read_onto_grid, read_stack, write_geotiff


@pytest.fixture
def grid() -> Grid:
    x0, y0 = ORIGIN
    inner = (x0 + 300, y0 - SIZE * RES + 300, x0 + SIZE * RES - 300, y0 - 300)
    return Grid.from_bounds(inner, as_metric_crs(UTM), RES)


def test_raster_in_another_crs_is_reprojected(tmp_path: Path, grid: Grid) -> None:
    # A linear ramp of easting written in lon/lat must come back as the same ramp in UTM.
    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    x0, y0 = ORIGIN
    west, north = to_lonlat.transform(x0 - 1000, y0 + 1000)
    east, south = to_lonlat.transform(x0 + SIZE * RES + 1000, y0 - SIZE * RES - 1000)
    step = 0.0002
    cols = int((east - west) / step)
    rows = int((north - south) / step)
    lon, lat = np.meshgrid(
        west + (np.arange(cols) + 0.5) * step, north - (np.arange(rows) + 0.5) * step
    )
    to_utm = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    easting, _ = to_utm.transform(lon, lat)
    path = write_raster(
        tmp_path / "ramp.tif",
        easting.astype("float32"),
        crs="EPSG:4326",
        transform=Affine(step, 0, west, 0, -step, north),
    )
    out = read_onto_grid(path, grid)
    x, _ = grid.xy(*np.indices(grid.shape))
    # bilinear on a ~15-20 m lon/lat raster of a linear field: error well under a metre
    assert np.nanmax(np.abs(out - x)) < 1.0
    assert not np.isnan(out).any()


def test_categorical_raster_keeps_its_codes(tmp_path: Path, grid: Grid) -> None:
    codes = (np.indices((SIZE, SIZE)).sum(axis=0) % 3 * 10 + 10).astype("uint8")
    path = write_raster(tmp_path / "cat.tif", codes, nodata=0)
    out = read_onto_grid(path, grid, categorical=True)
    assert set(np.unique(out)) <= {10.0, 20.0, 30.0}


def test_raster_without_crs_is_rejected(tmp_path: Path, grid: Grid) -> None:
    path = write_raster(tmp_path / "nocrs.tif", np.ones((SIZE, SIZE), "float32"), crs=None)
    with pytest.raises(LsghError, match=r"nocrs.tif has no CRS; assign one"):
        read_onto_grid(path, grid)


def test_raster_not_covering_the_region(tmp_path: Path, grid: Grid) -> None:
    half = np.ones((SIZE, SIZE // 2), "float32")
    path = write_raster(tmp_path / "half.tif", half)
    with pytest.raises(LsghError, match=r"covers only \d+\.\d% of the region .*uncovered"):
        read_onto_grid(path, grid)


def test_all_nodata_raster(tmp_path: Path, grid: Grid) -> None:
    path = write_raster(
        tmp_path / "empty.tif", np.full((SIZE, SIZE), -9999, "float32"), nodata=-9999
    )
    with pytest.raises(LsghError, match="all nodata inside the region"):
        read_onto_grid(path, grid)


def test_corrupt_raster(tmp_path: Path, grid: Grid) -> None:
    good = write_raster(tmp_path / "good.tif", np.random.default_rng(0).random((SIZE, SIZE)))
    data = good.read_bytes()
    bad = tmp_path / "truncated.tif"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(LsghError, match="truncated.tif cannot be read"):
        read_onto_grid(bad, grid)
    junk = tmp_path / "junk.tif"
    junk.write_text("this is not a GeoTIFF")
    with pytest.raises(LsghError, match="junk.tif cannot be read"):
        read_onto_grid(junk, grid)


def test_written_geotiff_is_self_describing(tmp_path: Path) -> None:
    grid = Grid.from_bounds((0, 0, 300 * 30, 300 * 30), as_metric_crs(UTM), 30)
    data = np.random.default_rng(1).random((2, *grid.shape)).astype("float32")
    data[0, 0, 0] = np.nan
    path = write_geotiff(
        tmp_path / "out.tif",
        data,
        grid,
        descriptions=["a", "b"],
        band_tags=[{"units": "m"}, {"units": "deg"}],
    )
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32633
        assert src.descriptions == ("a", "b")
        assert np.isnan(src.nodata)
        assert src.tags(1)["units"] == "m"
        assert src.profile["tiled"] and src.profile["compress"] == "deflate"
        assert src.overviews(1) == [2]
    back, back_grid, names = read_stack(path)
    assert names == ["a", "b"] and back_grid == grid
    np.testing.assert_array_equal(back, data)
    assert not list(tmp_path.glob(".*partial*"))  # no temporary file left behind


def test_disk_full_mid_write_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    grid = Grid.from_bounds((0, 0, 600, 600), as_metric_crs(UTM), 30)
    path = write_geotiff(tmp_path / "keep.tif", np.ones(grid.shape, "float32"), grid)
    before = path.read_bytes()

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rasterio.io.DatasetWriter, "write", full_disk)
    with pytest.raises(LsghError, match=r"cannot write .*keep.tif: No space left on device; free"):
        write_geotiff(path, np.zeros(grid.shape, "float32"), grid)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tif"]
