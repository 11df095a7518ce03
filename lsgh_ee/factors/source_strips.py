"""Non-terrain factors from local sources strip by strip: NDVI, rasters, polygons and
distances, each strip equal to the same rows of
:func:`lsgh_ee.factors.local.source_layer`'s whole-grid values.

- rasters (NDVI's bands, continuous and categorical rasters) are resampled strip by strip
  from the whole source band with the whole grid's kernel scale
  (:class:`lsgh_ee.rasters.SourceRaster`), so each strip has the whole grid's values; the
  coverage and nodata checks add the strips up. A categorical raster without a remap table
  names its classes after the distinct values on the grid: a first pass collects them.
- polygons are burnt onto each strip's grid (GDAL burns each cell on its own);
- files already on the grid (the Earth Engine backend's downloads, :data:`FactorFile`) are
  read strip by strip with windowed reads (:func:`file_strips`), no resampling;
- distances: the exact strip-by-strip transform of
  :mod:`lsgh_ee.factors.strip_distance` on the same padded grid. Its features (lines burnt
  with ``all_touched``) are burnt once for the whole padded grid, a transient uint8 raster
  (one byte per padded cell) kept packed at one bit per cell: GDAL's all-touched line
  burner clips a line to the raster's extent and steps along it from there, so a strip's
  burn differs from the whole grid's in cells a line grazes (90 cells of the demo's roads
  on strips of 3 rows, 2 still with a halo of rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from lsgh_ee.errors import LsghError
from lsgh_ee.factors.local import (
    apply_lookup,
    distance_features,
    distance_method,
    far_distance,
    ndvi_of,
    polygon_shapes,
    raster_method,
    remap_lookup,
)
from lsgh_ee.factors.resolve import ResolvedFactor
from lsgh_ee.factors.strip_distance import distance_strips, lower_edges
from lsgh_ee.factors.stripping import strip_grid, strips
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import (
    SourceRaster,
    bounded_gdal_cache,
    check_coverage,
    check_some_data,
    open_raster,
)
from lsgh_ee.vectors import burn

#: Share of the grid a raster source must cover (as :func:`lsgh_ee.rasters.read_onto_grid`).
MIN_COVERAGE = 0.999


@dataclass
class SourceStrips:
    """A factor's ``(first row, float32 (rows, cols))`` strips in row order (values, or
    class codes 1..k with NaN nodata for a categorical factor), how they were computed and,
    for a categorical factor, its class names (known before the first strip)."""

    strips: Iterator[tuple[int, np.ndarray]]
    method: dict
    classes: tuple[str, ...] | None = None


def source_strips(factor: ResolvedFactor, grid: Grid, strip_rows: int) -> SourceStrips:
    """The strips of a non-terrain factor from a local source (see the module's
    docstring); ``strip_rows`` rows each (0 = the whole grid)."""
    spec = factor.spec
    if factor.recipe == "ndvi":
        method = {"recipe": "ndvi"}
        if spec.path is not None:
            return SourceStrips(_raster(spec.path, grid, strip_rows, band=spec.band), method)
        return SourceStrips(_ndvi(spec.red, spec.nir, grid, strip_rows), method)
    if factor.recipe == "distance":
        return SourceStrips(_distances(factor, grid, strip_rows), distance_method(factor))
    if factor.recipe == "raster":
        if factor.kind != "categorical":
            values = _raster(spec.path, grid, strip_rows, band=spec.band)
            return SourceStrips(values, raster_method(factor))
        return _categorical_raster(factor, grid, strip_rows)
    frame, codes, classes, method = polygon_shapes(factor, grid)

    def burnt() -> Iterator[tuple[int, np.ndarray]]:
        for row0, row1 in strips(grid.height, strip_rows):
            raster = burn(frame, strip_grid(grid, row0, row1 - row0), codes)
            yield row0, np.where(raster > 0, raster, np.nan).astype("float32")

    return SourceStrips(burnt(), method, classes)


#: ``factor_file(factor) -> (path, band, classes, method)``: a non-terrain factor's raw
#: values as band ``band`` (1-based) of a GeoTIFF on exactly the region's grid (float32, NaN
#: nodata; class codes 1..k for a categorical factor), its class names in code order
#: (categorical) and how they were computed. The Earth Engine backend downloads them.
FactorFile = Callable[[ResolvedFactor], tuple[Path, int, tuple[str, ...], dict]]


def file_source(
    factor: ResolvedFactor, grid: Grid, strip_rows: int, factor_file: FactorFile
) -> SourceStrips:
    """The strips of a factor that ``factor_file`` gives on the grid (no resampling: the
    rows of the whole band, as :func:`lsgh_ee.factors.local.source_layer` reads them)."""
    path, band, classes, method = factor_file(factor)
    values = file_strips(path, grid, 0, strip_rows, band=band)
    return SourceStrips(values, method, tuple(classes) if factor.kind == "categorical" else None)


def file_strips(
    path: Path, grid: Grid, pad: int, strip_rows: int, *, band: int = 1
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, values of the strip with a halo of pad cells)`` of band ``band`` of a
    GeoTIFF on exactly ``grid`` padded by ``pad`` (float32 as stored), strips of ``grid``'s
    rows: windowed reads, so each strip is the same rows of the whole band.

    Raises:
        LsghError: the file is not of the padded grid's shape.
    """
    padded = grid.padded(pad)
    with open_raster(path) as src:
        if (src.height, src.width) != padded.shape:
            raise LsghError(
                f"raster {path} is {src.height} x {src.width} pixels, not the grid's "
                f"{padded.height} x {padded.width}; delete it and run again"
            )
        for row0, row1 in strips(grid.height, strip_rows):
            window = Window(0, row0, padded.width, row1 - row0 + 2 * pad)
            with bounded_gdal_cache():
                values = src.read(band, window=window)
            yield row0, values


def raster_strips(
    source: SourceRaster,
    grid: Grid,
    pad: int,
    strip_rows: int,
    min_coverage: float,
    *,
    check: bool = True,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, values of the strip with a halo of pad cells)`` of ``source`` on the
    grid padded by ``pad``, strips of ``grid``'s rows; after the last strip, with
    ``check``, the coverage (``min_coverage`` of the padded grid) and nodata checks of the
    whole padded grid (each padded row counted once)."""
    padded = grid.padded(pad)
    covered, some_data = 0, False
    for row0, row1 in strips(grid.height, strip_rows):
        rows = row1 - row0 + 2 * pad
        values, footprint = source.onto(strip_grid(padded, row0, rows), padded)
        own = slice(0 if row0 == 0 else pad, rows if row1 == grid.height else rows - pad)
        covered += int(footprint[own].sum(dtype="int64"))
        some_data = some_data or not np.isnan(values[own]).all()
        yield row0, values
    if check:
        check_coverage(source.path, covered, padded.height * padded.width, min_coverage)
        check_some_data(source.path, some_data)


def _raster(path, grid: Grid, strip_rows: int, *, band: int = 1, categorical: bool = False):
    with SourceRaster(path, categorical=categorical, band=band) as source:
        yield from raster_strips(source, grid, 0, strip_rows, MIN_COVERAGE)


def _ndvi(red_path, nir_path, grid: Grid, strip_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    with SourceRaster(red_path) as red, SourceRaster(nir_path) as nir:
        reds = raster_strips(red, grid, 0, strip_rows, MIN_COVERAGE)
        nirs = raster_strips(nir, grid, 0, strip_rows, MIN_COVERAGE)
        for (row0, r), (_, n) in zip(reds, nirs, strict=True):
            yield row0, ndvi_of(r, n)


def _categorical_raster(factor: ResolvedFactor, grid: Grid, strip_rows: int) -> SourceStrips:
    """Codes by the remap table or the distinct values, which a first pass collects."""
    spec = factor.spec

    def read() -> Iterator[tuple[int, np.ndarray]]:
        return _raster(spec.path, grid, strip_rows, band=spec.band, categorical=True)

    present = np.unique(np.concatenate(
        [np.unique(v[~np.isnan(v)]) for _, v in read()] or [np.empty(0, "float32")]))  # fmt: skip
    lookup, classes = remap_lookup(factor, present)
    codes = ((row0, apply_lookup(values, lookup)) for row0, values in read())
    return SourceStrips(codes, raster_method(factor), classes)


def _distances(
    factor: ResolvedFactor, grid: Grid, strip_rows: int
) -> Iterator[tuple[int, np.ndarray]]:
    frame, pad = distance_features(factor, grid)
    padded = grid.padded(pad)
    # burnt once for the whole padded grid (see the module's docstring), kept at 1 bit a cell
    packed = np.packbits(burn(frame, padded, all_touched=True), axis=1)

    def features(row0: int, rows: int) -> np.ndarray:
        bits = np.unpackbits(packed[row0 : row0 + rows], axis=1, count=padded.width)
        return bits.view(bool)

    below, found = lower_edges(features, padded.shape, strip_rows)
    if not found:
        far = far_distance(factor, grid, pad)
        for row0, row1 in strips(grid.height, strip_rows):
            yield row0, np.full((row1 - row0, grid.width), far, dtype="float32")
        return
    res = grid.resolution
    for row0, values in distance_strips(features, padded.shape, (res, res), strip_rows,
                                        rows=(pad, pad + grid.height),
                                        cols=(pad, pad + grid.width), below=below):  # fmt: skip
        yield row0, values.astype("float32")
