"""Where a draw reads the factors: strips of rows of the class codes and of one factor's
values, and both at chosen pixels.

* :class:`StackSource`: an in-memory :class:`~lsgh_ee.factors.stack.FactorStack` (the
  cross-validation's folds, the studies, the tests); one strip = the whole grid unless
  ``strip_rows`` says otherwise.
* :class:`RunSource`: a run folder's ``class_codes.tif`` and ``factors.tif`` read window
  by window (the ``sample`` stage): memory is one strip of the stack, whatever the
  region's size.

Both give the same arrays for the same rows (a window of a GeoTIFF reads the same values
as the whole band).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import numpy as np
from rasterio.windows import Window

from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.factors.windows import strips
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import bounded_gdal_cache, open_raster
from lsgh_ee.runfolder import RunFolder


class PixelSource(Protocol):
    """The factors of a grid as a draw reads them (see the module doc)."""

    grid: Grid
    names: list[str]
    strip_rows: int

    def codes(self, row0: int, row1: int) -> np.ndarray:
        """uint8 ``(F, row1 - row0, width)`` class codes (0 = nodata)."""
        ...

    def values(self, name: str, row0: int, row1: int) -> np.ndarray:
        """float32 ``(row1 - row0, width)`` values of factor ``name`` (NaN = nodata)."""
        ...

    def at(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 codes ``(N, F)``, float32 values ``(N, F)``) at pixels ``(rows, cols)``."""
        ...


def bounds_of(source: PixelSource) -> list[tuple[int, int]]:
    """The ``(first row, end row)`` strips a draw on ``source`` goes through."""
    return list(strips(source.grid.height, source.strip_rows))


class StackSource:
    """A :class:`FactorStack` in memory as a :class:`PixelSource`."""

    def __init__(self, stack: FactorStack, strip_rows: int = 0):
        self.stack, self.grid, self.strip_rows = stack, stack.grid, strip_rows
        self.names = list(stack.names)

    def codes(self, row0: int, row1: int) -> np.ndarray:
        return np.stack([layer.codes[row0:row1] for layer in self.stack.layers])

    def values(self, name: str, row0: int, row1: int) -> np.ndarray:
        return self.stack.layers[self.names.index(name)].values[row0:row1]

    def at(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        layers = self.stack.layers
        codes = np.stack([layer.codes[rows, cols] for layer in layers], axis=1)
        values = np.stack([layer.values[rows, cols] for layer in layers], axis=1)
        return codes.reshape(len(rows), len(layers)), values.reshape(len(rows), len(layers))


class RunSource:
    """A run folder's ``class_codes.tif`` and ``factors.tif`` (names from
    ``factor_schema.json``) read window by window; use as a context manager."""

    def __init__(self, run_dir: str | os.PathLike, strip_rows: int):
        run = RunFolder(Path(run_dir))
        schema = json.loads(run.factor_schema.read_text(encoding="utf-8"))
        self.names = [f["name"] for f in schema["factors"]]
        self.strip_rows = strip_rows
        self._codes = open_raster(run.codes)
        self._values = open_raster(run.factors)
        src = self._codes
        self.grid = Grid(src.crs, src.transform, src.height, src.width)

    def __enter__(self) -> RunSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self._codes.close()
        self._values.close()

    def _window(self, row0: int, row1: int) -> Window:
        return Window(0, row0, self.grid.width, row1 - row0)

    def codes(self, row0: int, row1: int) -> np.ndarray:
        with bounded_gdal_cache():
            return self._codes.read(window=self._window(row0, row1))

    def values(self, name: str, row0: int, row1: int) -> np.ndarray:
        band = self.names.index(name) + 1
        with bounded_gdal_cache():
            return self._values.read(band, window=self._window(row0, row1))

    def at(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        n_factors = len(self.names)
        codes = np.zeros((rows.size, n_factors), dtype=np.uint8)
        values = np.zeros((rows.size, n_factors), dtype=np.float32)
        for row0, row1 in bounds_of(self):
            sel = np.flatnonzero((rows >= row0) & (rows < row1))
            if sel.size == 0:
                continue
            low, high = int(rows[sel].min()), int(rows[sel].max()) + 1
            window = self._window(low, high)
            with bounded_gdal_cache():
                code_part = self._codes.read(window=window)
                value_part = self._values.read(window=window)
            codes[sel] = code_part[:, rows[sel] - low, cols[sel]].T
            values[sel] = value_part[:, rows[sel] - low, cols[sel]].T
        return codes, values


def as_source(stack: FactorStack | PixelSource) -> PixelSource:
    """A :class:`FactorStack` as a one-strip :class:`StackSource`; a source as it is."""
    return StackSource(stack) if isinstance(stack, FactorStack) else stack
