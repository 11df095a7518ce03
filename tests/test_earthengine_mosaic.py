"""Mosaics of Earth Engine pieces written block by block (lsgh_ee.earthengine.mosaic): the
same file as :func:`lsgh_ee.rasters.write_geotiff` of the whole mosaic assembled in NumPy,
the coverage check's message, and memory of a block, not of the grid."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from lsgh_ee.earthengine.mosaic import (
    Piece,
    covered_cells,
    piece_blocks,
    place_pieces,
    write_mosaic,
)
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import write_geotiff

RES = 30.0
GRID = Grid(CRS.from_string("EPSG:32633"), Affine(RES, 0, 300_000.0, 0, -RES, 5_000_000.0), 45, 70)
FILL = float(np.finfo(np.float32).min)


def _write_piece(path: Path, data: np.ndarray, row: int, col: int, grid: Grid = GRID) -> Path:
    """A GeoTIFF piece of ``data`` (bands, rows, cols) at (row, col) of ``grid``."""
    transform = grid.transform @ Affine.translation(col, row)
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype.name, crs=grid.crs,
                       transform=transform) as dst:  # fmt: skip
        dst.write(data)
    return path


def _values(shape: tuple[int, ...], seed: int) -> np.ndarray:
    data = np.random.default_rng(seed).normal(500, 50, shape).astype("float32")
    data[:, 3:5, 2:6] = FILL  # nodata in transit
    return data


#: (row, col, rows, cols) of each piece: overlapping, uneven, in no particular order
LAYOUT = [(20, 0, 25, 40), (0, 0, 24, 40), (0, 35, 45, 35), (10, 30, 10, 12)]


def _pieces(folder: Path, layout=LAYOUT) -> tuple[list[Path], np.ndarray]:
    """Pieces on GRID and the mosaic NumPy assembles from them (later pieces on top)."""
    mosaic = np.zeros((2, *GRID.shape), dtype="float32")
    paths = []
    for i, (r, c, h, w) in enumerate(layout):
        data = _values((2, h, w), i)
        paths.append(_write_piece(folder / f"piece{i}.tif", data, r, c))
        mosaic[:, r : r + h, c : c + w] = data
    mosaic[mosaic == np.float32(FILL)] = np.nan
    return paths, mosaic


@pytest.mark.parametrize("max_bytes", [1, 2 * 4 * 40 * 3 + 1, 10**9])
def test_pieces_written_block_by_block_give_the_whole_mosaic_file(
    tmp_path: Path, max_bytes: int
) -> None:
    paths, mosaic = _pieces(tmp_path)
    placed = place_pieces(paths, GRID, 2)
    write_mosaic(tmp_path / "streamed.tif", GRID, piece_blocks(placed, max_bytes=max_bytes),
                 band_names=["a", "b"], dtype="float32", nodata=float("nan"),
                 fill=FILL)  # fmt: skip
    write_geotiff(tmp_path / "whole.tif", mosaic, GRID, descriptions=["a", "b"])

    assert (tmp_path / "streamed.tif").read_bytes() == (tmp_path / "whole.tif").read_bytes()
    with rasterio.open(tmp_path / "streamed.tif") as src:
        assert np.isnan(src.read(1)[3:5, 2:6]).all() and src.descriptions == ("a", "b")
    assert not list(tmp_path.glob(".streamed*"))  # no partial file left


def test_pieces_that_leave_a_gap_are_refused_with_the_covered_share(tmp_path: Path) -> None:
    layout = LAYOUT[:2] + [(0, 35, 30, 35)]  # the south-east corner is missing
    paths, _ = _pieces(tmp_path, layout)
    covered = np.zeros(GRID.shape, dtype=bool)
    for r, c, h, w in layout:
        covered[r : r + h, c : c + w] = True
    with pytest.raises(LsghError) as info:
        place_pieces(paths, GRID, 2)
    assert str(info.value) == (
        f"the exported pieces cover {covered.mean():.1%} of the grid; delete the export "
        "from the bucket and run again"
    )


def test_covered_cells_is_the_area_of_the_union(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        layout = []
        covered = np.zeros(GRID.shape, dtype=bool)
        for _ in range(rng.integers(1, 6)):
            r, c = int(rng.integers(0, 40)), int(rng.integers(0, 60))
            h, w = int(rng.integers(1, 46 - r)), int(rng.integers(1, 71 - c))
            layout.append((r, c, h, w))
            covered[r : r + h, c : c + w] = True
        pieces = [Piece(tmp_path, *rect) for rect in layout]
        assert covered_cells(pieces) == int(covered.sum())
    assert covered_cells([]) == 0


@pytest.mark.parametrize(
    ("row", "col", "bands", "crs"),
    [
        (-1, 0, 2, "EPSG:32633"),
        (40, 0, 2, "EPSG:32633"),
        (0, 0, 1, "EPSG:32633"),
        (0, 0, 2, "EPSG:32634"),
    ],  # fmt: skip
)
def test_a_piece_off_the_grid_is_refused(
    tmp_path: Path, row: int, col: int, bands: int, crs: str
) -> None:
    grid = Grid(CRS.from_string(crs), GRID.transform, GRID.height, GRID.width)
    path = _write_piece(tmp_path / "off.tif", _values((bands, 10, 10), 0), row, col, grid)
    with pytest.raises(LsghError, match="exported piece off.tif is not on the analysis grid"):
        place_pieces([path], GRID, 2)


def test_an_unreadable_piece_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.tif").write_bytes(b"II*\x00 truncated")
    with pytest.raises(LsghError, match="exported piece bad.tif from Cloud Storage is not a "
                       "readable GeoTIFF \\(14 bytes\\)"):  # fmt: skip
        place_pieces([tmp_path / "bad.tif"], GRID, 2)


def test_the_mosaic_holds_a_block_not_the_grid(tmp_path: Path) -> None:
    """A 3-band 1 200 x 1 000 float32 grid (14.4 MB whole) from 4 x 5 pieces, read 64 KB
    at a time: the Python-side peak (NumPy's buffers) stays far below the whole mosaic."""
    grid = Grid(GRID.crs, GRID.transform, 1200, 1000)
    paths = []
    for i, r in enumerate(range(0, 1200, 300)):
        for j, c in enumerate(range(0, 1000, 200)):
            data = np.full((3, 300, 200), i * 10 + j, dtype="float32")
            paths.append(_write_piece(tmp_path / f"p{i}_{j}.tif", data, r, c, grid))
    whole = 3 * grid.height * grid.width * 4
    placed = place_pieces(paths, grid, 3)
    tracemalloc.start()
    try:
        write_mosaic(tmp_path / "big.tif", grid, piece_blocks(placed, max_bytes=64 * 2**10),
                     band_names=["a", "b", "c"], dtype="float32", nodata=float("nan"),
                     fill=FILL)  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < whole / 10, f"peak {peak} bytes for a {whole}-byte mosaic"
    with rasterio.open(tmp_path / "big.tif") as src:
        assert src.read(3, window=((900, 901), (800, 801)))[0, 0] == 34
