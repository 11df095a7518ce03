"""Mosaics of what Earth Engine hands back (download tiles, batch-export pieces) written
into one GeoTIFF on the analysis grid block by block: memory of one tile or one band of
rows of a piece, never the whole ``(bands, rows, cols)`` grid.

The file is written through :class:`lsgh_ee.rasters.StripWriter` (atomic, cloud-optimised,
as :func:`lsgh_ee.rasters.write_geotiff`'s), with the transfer's fill value turned back into
NaN block by block.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stripping import strips
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import StripWriter

#: Most bytes of a piece read at once (rows × columns × bands × pixel size; at least one
#: row): one download tile's worth (``computePixels``' 48 MB).
PIECE_READ_BYTES = 48 * 2**20

#: ``(first row, first column, (bands, rows, cols) pixels)``: a block of the grid.
Block = tuple[int, int, np.ndarray]


def write_mosaic(
    out: str | os.PathLike,
    grid: Grid,
    blocks: Iterable[Block],
    *,
    band_names: Sequence[str],
    dtype: str,
    nodata: float | None,
    fill: float | None = None,
) -> Path:
    """Write ``blocks`` into a GeoTIFF of ``grid`` at ``out`` (atomically, cloud-optimised;
    band descriptions ``band_names``; ``nodata``), each block as it comes (a later block
    overwrites an earlier one where they overlap). ``fill``: the float32 sentinel that
    stood for nodata in transit, turned into NaN (float ``dtype`` only; None: none; the
    blocks are changed in place). Memory: one block."""
    with StripWriter(out, grid, len(band_names), dtype, nodata=nodata) as writer:
        for row, col, data in blocks:
            data = data.astype(dtype, copy=False)
            if fill is not None:
                data[data == np.float32(fill)] = np.nan
            for band in range(data.shape[0]):
                writer.write(band + 1, row, data[band], col0=col)
        writer.close(descriptions=list(band_names))
    return Path(out)


class Piece(NamedTuple):
    """An exported GeoTIFF piece and where it lies on the grid (first row and column,
    rows and columns)."""

    path: Path
    row: int
    col: int
    height: int
    width: int


def place_pieces(pieces: Sequence[Path], grid: Grid, bands: int) -> list[Piece]:
    """Where each GeoTIFF piece lies on ``grid``'s pixel lattice (each placed by its own
    transform; headers only), checked to cover the whole grid.

    Raises:
        LsghError: an unreadable piece, a piece off the grid's CRS or lattice or with
            another band count, or pixels no piece covers.
    """
    placed = [_place(path, grid, bands) for path in pieces]
    covered = covered_cells(placed)
    if covered < grid.height * grid.width:
        raise LsghError(
            f"the exported pieces cover {covered / (grid.height * grid.width):.1%} of the "
            "grid; delete the export from the bucket and run again"
        )
    return placed


def _place(path: Path, grid: Grid, bands: int) -> Piece:
    import rasterio
    from rasterio.errors import RasterioError

    try:
        piece = rasterio.open(path)
    except RasterioError:
        raise LsghError(
            f"exported piece {path.name} from Cloud Storage is not a readable GeoTIFF "
            f"({path.stat().st_size} bytes); delete {path} and the export from the "
            "bucket and run again"
        ) from None
    with piece as src:
        col, row = ~grid.transform @ (src.transform.c, src.transform.f)
        aligned = (
            src.crs == grid.crs
            and np.allclose(
                src.transform[:2] + src.transform[3:5], grid.transform[:2] + grid.transform[3:5]
            )  # fmt: skip
            and abs(col - round(col)) < 1e-6
            and abs(row - round(row)) < 1e-6
        )
        r, c = int(round(row)), int(round(col))
        inside = r >= 0 and c >= 0 and r + src.height <= grid.height and c + src.width <= grid.width
        if not aligned or not inside or src.count != bands:
            raise LsghError(
                f"exported piece {path.name} is not on the analysis grid; delete the "
                "export from the bucket and run again"
            )
        return Piece(path, r, c, src.height, src.width)


def covered_cells(pieces: Sequence[Piece]) -> int:
    """Grid cells under at least one piece (the area of the rectangles' union, counted on
    the lattice of their edges: memory of pieces², not of the grid)."""
    if not pieces:
        return 0
    rows = sorted({p.row for p in pieces} | {p.row + p.height for p in pieces})
    cols = sorted({p.col for p in pieces} | {p.col + p.width for p in pieces})
    covered = np.zeros((len(rows) - 1, len(cols) - 1), dtype=bool)
    for p in pieces:
        covered[rows.index(p.row) : rows.index(p.row + p.height),
                cols.index(p.col) : cols.index(p.col + p.width)] = True  # fmt: skip
    area = np.outer(np.diff(rows), np.diff(cols)).astype("int64")
    return int(area[covered].sum())


def piece_blocks(pieces: Sequence[Piece], *, max_bytes: int = PIECE_READ_BYTES) -> Iterable[Block]:
    """The pieces' pixels as blocks of rows, each at most ``max_bytes`` (one row at least),
    piece after piece in the given order."""
    import rasterio
    from rasterio.windows import Window

    from lsgh_ee.rasters import bounded_gdal_cache

    for piece in pieces:
        with rasterio.open(piece.path) as src:
            row_bytes = src.count * src.width * np.dtype(src.dtypes[0]).itemsize
            for row0, row1 in strips(src.height, max(1, max_bytes // max(row_bytes, 1))):
                with bounded_gdal_cache():  # not held across the yield
                    data = src.read(window=Window(0, row0, src.width, row1 - row0))
                yield piece.row + row0, piece.col, data
