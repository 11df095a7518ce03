"""``export-factors`` strip by strip: the DEM factors computed and both stacks written one
strip of rows at a time, so memory stays flat in the region's size for them.

Exactness (the files are bit for bit those of the whole-array computation, checked by
``tests/test_windowed.py`` on strips of a few rows):

- the DEM of a strip is the whole padded grid's rows ``r0 - halo .. r1 + halo``, every
  column: GDAL resamples each destination cell on its own, from the same whole source band
  (:class:`lsgh_ee.rasters.SourceRaster`), so a strip gets the whole DEM's values;
- every DEM factor but the hydrology ones is local: slope, aspect and curvatures need 1
  cell around, TPI and local relief their radius; the halo (:func:`dem_halo`) is the
  largest plus one, so a strip's inner rows see the same neighbourhood as in the whole
  array, and the operators add in an order fixed per row
  (:func:`lsgh_ee.factors.neighbourhood.topographic_position_index`);
- slope position classes TPI against the whole region's mean and standard deviation: a
  first pass over the strips sums TPI row by row, the row sums exactly rounded with
  ``math.fsum`` (:func:`lsgh_ee.factors.neighbourhood.merge_moments`), the same numbers
  as over the whole array;
- fixed class breaks (Table 2, aspect sectors, categorical codes) classify cell by cell.

Kept whole-array (one factor at a time, written and freed before the next):

- the hydrology factors (flow_accumulation, twi, spi, distance_to_drainage): an upstream
  area needs its whole catchment; when one is asked, all DEM factors come from the whole
  padded DEM (:func:`lsgh_ee.factors.dem_layers.terrain_layers`);
- a DEM from Earth Engine (``read_dem`` given) is downloaded for the whole grid;
- NDVI, rasters, polygons and distances (:func:`lsgh_ee.factors.local.source_layer`);
- data-driven breaks (``classify: quantile | natural``): the factor's values are read
  back whole from the plain stack for :func:`lsgh_ee.factors.classify.data_breaks`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
from affine import Affine

from lsgh_ee.factors import neighbourhood
from lsgh_ee.factors.catalogue import HYDROLOGY_FACTORS
from lsgh_ee.factors.dem_layers import (
    DemReader,
    coverage_needed,
    dem_factors,
    dem_halo,
    slope_position_values,
    terrain_method,
)
from lsgh_ee.factors.local import (
    FactorReader,
    Progress,
    apply_mask,
    check_not_empty,
    classify_from_data,
    layer_of,
    needs_data_breaks,
    whole_layers,
)
from lsgh_ee.factors.resolve import ResolvedFactor
from lsgh_ee.factors.stack import FactorLayer, FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import (
    SourceRaster,
    StripWriter,
    check_coverage,
    check_some_data,
)
from lsgh_ee.region import Region
from lsgh_ee.runfolder import RunFolder

#: Rows per strip unless the config says otherwise (``output.strip_rows``).
DEFAULT_STRIP_ROWS = 512


def strips(height: int, rows: int) -> Iterator[tuple[int, int]]:
    """``(first row, end row)`` of consecutive strips of ``rows`` rows (0 = one strip)."""
    step = rows if rows > 0 else max(height, 1)
    for row0 in range(0, height, step):
        yield row0, min(row0 + step, height)


def strip_grid(grid: Grid, row0: int, rows: int) -> Grid:
    """Rows ``row0 .. row0 + rows`` of ``grid``, every column."""
    return Grid(grid.crs, grid.transform @ Affine.translation(0, row0), rows, grid.width)


def export_local_factors(
    region: Region,
    factors: list[ResolvedFactor],
    run_dir: str | os.PathLike,
    *,
    strip_rows: int = DEFAULT_STRIP_ROWS,
    progress: Progress | None = None,
    read_dem: DemReader | None = None,
    read_factor: FactorReader | None = None,
) -> FactorStack:
    """Compute, classify and write ``factors.tif``, ``class_codes.tif`` and
    ``factor_schema.json`` into ``run_dir``, the DEM factors strip by strip (see the
    module's docstring), the others one whole factor at a time.

    Args: as :func:`lsgh_ee.factors.local.compute_local_factors`, plus ``run_dir`` and
        ``strip_rows`` (rows per strip; 0 = the whole grid at once).

    Returns:
        The stack's metadata: layers with their schema (name, kind, units, classes,
        breaks, method) and empty ``(0, 0)`` values and codes (they are on disk).
    """
    grid, run = region.grid, RunFolder(run_dir)
    n = len(factors)
    dem_names = [f.name for f in factors if f.recipe == "terrain"]
    by_strips = read_dem is None and bool(dem_names) and not set(dem_names) & set(HYDROLOGY_FACTORS)
    done: dict[int, FactorLayer] = {}
    with (
        StripWriter(run.factors, grid, n, "float32") as values_out,
        StripWriter(run.codes, grid, n, "uint8", nodata=0) as codes_out,
    ):
        if by_strips:
            bands = {f.name: i for i, f in enumerate(factors) if f.recipe == "terrain"}
            for name, i in bands.items():
                if progress:
                    progress(name, i, n)
            done.update(_write_terrain(region, factors, bands, values_out, codes_out, strip_rows))
        rest = [f for f in factors if not (by_strips and f.recipe == "terrain")]
        band_of = {f.name: i for i, f in enumerate(factors)}

        def told(name: str, _index: int, _total: int) -> None:
            if progress:
                progress(name, band_of[name], n)

        for layer in whole_layers(region, rest, told, read_dem, read_factor):
            i = band_of[layer.name]
            for row0, row1 in strips(grid.height, strip_rows):
                values_out.write(i + 1, row0, layer.values[row0:row1])
                codes_out.write(i + 1, row0, layer.codes[row0:row1])
            done[i] = _metadata(layer)
        stack = FactorStack(grid=grid, layers=[done[i] for i in range(n)])
        value_tags, code_tags = stack.band_tags()
        values_out.close(descriptions=stack.names, band_tags=value_tags, tags=stack.VALUE_TAGS)
        codes_out.close(descriptions=stack.names, band_tags=code_tags, tags=stack.CODE_TAGS)
    stack.write_schema(run_dir)
    return stack


def _write_terrain(
    region: Region,
    factors: list[ResolvedFactor],
    bands: dict[str, int],
    values_out: StripWriter,
    codes_out: StripWriter,
    strip_rows: int,
) -> dict[int, FactorLayer]:
    """Write the DEM factors ``bands`` (name → band index - 1) strip by strip; their
    metadata layers by band index."""
    grid = region.grid
    first: dict[int, FactorLayer] = {}
    any_valid = dict.fromkeys(bands.values(), False)
    for row0, values in terrain_strips(region, list(bands), strip_rows):
        inside = region.aoi_mask[row0 : row0 + next(iter(values.values())).shape[0]]
        for name, i in bands.items():
            factor = factors[i]
            layer = layer_of(factor, values[name], terrain_method(region.config, name))
            apply_mask(layer, inside)
            values_out.write(i + 1, row0, layer.values)
            codes_out.write(i + 1, row0, layer.codes)
            any_valid[i] |= bool(layer.codes.any())
            first.setdefault(i, _metadata(layer))
    for i in bands.values():
        layer = first[i]
        if needs_data_breaks(factors[i]):
            values = values_out.read(i + 1, 0, grid.height)
            whole = layer_of(factors[i], values, layer.method)
            classify_from_data(whole, factors[i], seed=region.config.sampling.seed)
            codes_out.write(i + 1, 0, whole.codes)
            any_valid[i] = bool(whole.codes.any())
            layer = first[i] = _metadata(whole)
        if not any_valid[i]:
            check_not_empty(layer)  # raises: no valid pixel
    return first


def terrain_strips(
    region: Region, names: list[str], strip_rows: int
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """``(first row, {name: float32 (strip rows, cols) values})`` of the local DEM's
    factors ``names`` (no hydrology factor) strip by strip, equal to the same rows of
    :func:`lsgh_ee.factors.dem_layers.terrain_layers` (see the module's docstring)."""
    grid, settings = region.grid, region.config.terrain
    pad = dem_halo(grid, settings, names)
    path = region.config.dem.path
    with SourceRaster(path) as source:
        moments = None
        if "slope_position" in names:
            parts = [
                neighbourhood.strip_moments(
                    dem_factors(dem, grid.resolution, settings, ["tpi"], pad)["tpi"]
                )
                for _, dem in _dem_strips(source, grid, pad, strip_rows)
            ]
            moments = neighbourhood.merge_moments(parts)
        for row0, dem in _dem_strips(source, grid, pad, strip_rows, check=moments is None):
            layers = dem_factors(dem, grid.resolution, settings, names, pad)
            if moments is not None:
                tpi = layers.pop("tpi")
                codes = neighbourhood.slope_position(tpi, layers["slope"], moments)
                layers["slope_position"] = slope_position_values(codes)
            yield row0, layers


def _dem_strips(
    source: SourceRaster, grid: Grid, pad: int, strip_rows: int, *, check: bool = True
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, DEM of the strip with a halo of pad cells)``; after the last strip,
    with ``check``, the coverage and nodata checks of the whole padded DEM (each padded
    row counted once)."""
    padded = grid.padded(pad)
    covered, some_data = 0, False
    for row0, row1 in strips(grid.height, strip_rows):
        rows = row1 - row0 + 2 * pad
        dem, footprint = source.onto(strip_grid(padded, row0, rows), padded)
        own = slice(0 if row0 == 0 else pad, rows if row1 == grid.height else rows - pad)
        covered += int(footprint[own].sum(dtype="int64"))
        some_data = some_data or not np.isnan(dem[own]).all()
        yield row0, dem
    if check:
        check_coverage(source.path, covered, padded.height * padded.width,
                       coverage_needed(grid, pad))  # fmt: skip
        check_some_data(source.path, some_data)


def _metadata(layer: FactorLayer) -> FactorLayer:
    """The layer without its arrays (they are written)."""
    return FactorLayer(layer.name, layer.kind, layer.units, np.empty((0, 0), "float32"),
                       np.empty((0, 0), "uint8"), layer.classes, layer.breaks,
                       layer.method)  # fmt: skip
