"""``export-factors`` strip by strip: the factors computed and both stacks written one
strip of rows at a time, so memory stays flat in the region's size for them.

Exactness (the files are bit for bit those of the whole-array computation, checked by
``tests/test_windowed.py`` and ``tests/test_windowed_sources.py`` on strips of a few rows):

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
- fixed class breaks (Table 2, aspect sectors, categorical codes) classify cell by cell;
- NDVI, rasters, polygons and distances from local files, strip by strip
  (:mod:`lsgh_ee.factors.source_strips`; distances by the exact strip-by-strip transform of
  :mod:`lsgh_ee.factors.strip_distance`, equal to SciPy's);
- a DEM or ``source: ee`` factors from Earth Engine (``dem_file`` / ``factor_file``
  given): the downloaded GeoTIFF is on the padded grid (the DEM) or the grid (the
  factors), so a strip (with its halo) is a windowed read of the same rows of the whole
  band (:func:`lsgh_ee.factors.source_strips.file_strips`): the values the whole read
  gave;
- data-driven breaks (``classify: quantile | natural``) from the written values, read back
  strip by strip (:func:`lsgh_ee.factors.strip_breaks.strip_data_breaks`: exact quantiles,
  the same Jenks sample), then the codes rewritten strip by strip.

Memory beyond a strip: the region's AOI mask (bool, one byte per pixel), a whole source
raster's band as read (source pixels, not grid pixels); for a distance factor its burnt
features, one byte per padded grid cell while GDAL burns them, then one bit (see
:mod:`lsgh_ee.factors.source_strips` for why), and one ``int32`` per padded column and
strip.

Kept whole-array (one factor at a time, written and freed before the next): the
hydrology factors (flow_accumulation, twi, spi, distance_to_drainage): an upstream area
needs its whole catchment; when one is asked, all DEM factors come from the whole padded
DEM (:func:`lsgh_ee.factors.dem_layers.terrain_layers`; from Earth Engine's too, read
whole from its file: :func:`lsgh_ee.factors.dem_layers.whole_dem`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np

from lsgh_ee.factors import neighbourhood
from lsgh_ee.factors.catalogue import HYDROLOGY_FACTORS
from lsgh_ee.factors.dem_layers import (
    DemFile,
    coverage_needed,
    dem_factors,
    dem_halo,
    slope_position_values,
    terrain_method,
    whole_dem,
)
from lsgh_ee.factors.local import (
    Progress,
    apply_mask,
    breaks_error,
    categorical_layer,
    check_not_empty,
    layer_of,
    needs_data_breaks,
    set_data_breaks,
    whole_layers,
)
from lsgh_ee.factors.resolve import ResolvedFactor
from lsgh_ee.factors.source_strips import (
    FactorFile,
    file_source,
    file_strips,
    raster_strips,
    source_strips,
)
from lsgh_ee.factors.stack import FactorLayer, FactorStack
from lsgh_ee.factors.strip_breaks import strip_data_breaks
from lsgh_ee.factors.stripping import strip_grid, strips
from lsgh_ee.rasters import SourceRaster, StripWriter
from lsgh_ee.region import Region
from lsgh_ee.runfolder import RunFolder

#: Rows per strip unless the config says otherwise (``output.strip_rows``).
DEFAULT_STRIP_ROWS = 512

__all__ = ["DEFAULT_STRIP_ROWS", "export_local_factors", "strip_grid", "strips", "terrain_strips"]


def export_local_factors(
    region: Region,
    factors: list[ResolvedFactor],
    run_dir: str | os.PathLike,
    *,
    strip_rows: int = DEFAULT_STRIP_ROWS,
    progress: Progress | None = None,
    dem_file: DemFile | None = None,
    factor_file: FactorFile | None = None,
) -> FactorStack:
    """Compute, classify and write ``factors.tif``, ``class_codes.tif`` and
    ``factor_schema.json`` into ``run_dir`` strip by strip, but for the factors kept
    whole (hydrology: one whole factor at a time); see the module's docstring.

    Args: as :func:`lsgh_ee.factors.local.compute_local_factors` (but ``progress``), plus
        ``run_dir`` and ``strip_rows`` (rows per strip; 0 = the whole grid at once);
        ``dem_file``: where given, the DEM comes from the file it gives on the padded grid
        (the Earth Engine backend downloads it) instead of ``dem.path``; ``factor_file``:
        where given, the ``source: ee`` non-terrain factors come from the files it gives.

    Returns:
        The stack's metadata: layers with their schema (name, kind, units, classes,
        breaks, method) and empty ``(0, 0)`` values and codes (they are on disk).
    """
    grid, run = region.grid, RunFolder(run_dir)
    n = len(factors)
    dem_names = [f.name for f in factors if f.recipe == "terrain"]
    by_strips = bool(dem_names) and not set(dem_names) & set(HYDROLOGY_FACTORS)
    read_dem = None if dem_file is None else whole_dem(dem_file)
    band_of = {f.name: i for i, f in enumerate(factors)}
    done: dict[int, FactorLayer] = {}

    def told(name: str, _index: int = 0, _total: int = 0) -> None:
        if progress:
            progress(name, band_of[name], n)

    with (
        StripWriter(run.factors, grid, n, "float32") as values_out,
        StripWriter(run.codes, grid, n, "uint8", nodata=0) as codes_out,
    ):
        out = _Bands(region, values_out, codes_out, strip_rows)
        if by_strips:
            bands = {name: band_of[name] for name in dem_names}
            for name in bands:
                told(name)
            done.update(_write_terrain(region, factors, bands, out, dem_file))
        for factor in factors:
            if factor.recipe != "terrain":
                told(factor.name)
                i = band_of[factor.name]
                done[i] = _write_source(factor, i, out, factor_file)
        whole = [f for f in factors if f.recipe == "terrain" and not by_strips]
        for layer in whole_layers(region, whole, told, read_dem):
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


@dataclass
class _Bands:
    """Where the strips go: the two stacks being written, the region and the strip size."""

    region: Region
    values: StripWriter
    codes: StripWriter
    strip_rows: int

    def inside(self, row0: int, rows: int) -> np.ndarray:
        return self.region.aoi_rows(row0, rows)


def _write_source(
    factor: ResolvedFactor, i: int, out: _Bands, factor_file: FactorFile | None
) -> FactorLayer:
    """Write a non-terrain factor from a local source, or from ``factor_file`` for a
    ``source: ee`` one, into band ``i + 1`` strip by strip
    (:mod:`lsgh_ee.factors.source_strips`); its metadata layer."""
    grid, rows = out.region.grid, out.strip_rows
    if factor_file is not None and factor.spec.source == "ee":
        source = file_source(factor, grid, rows, factor_file)
    else:
        source = source_strips(factor, grid, rows)
    first, any_valid = None, False
    for row0, values in source.strips:
        if source.classes is None:
            layer = layer_of(factor, values, source.method)
        else:
            layer = categorical_layer(factor, values, source.classes, source.method)
        apply_mask(layer, out.inside(row0, values.shape[0]))
        out.values.write(i + 1, row0, layer.values)
        out.codes.write(i + 1, row0, layer.codes)
        any_valid |= bool(layer.codes.any())
        first = first or _metadata(layer)
    assert first is not None
    return _finish(factor, i, first, any_valid, out)


def _finish(
    factor: ResolvedFactor, i: int, layer: FactorLayer, any_valid: bool, out: _Bands
) -> FactorLayer:
    """Classify band ``i + 1`` by breaks from its written values where they are
    data-driven (strip by strip), check it has a valid pixel; its metadata layer."""
    if needs_data_breaks(factor):
        height, rows = out.region.grid.height, out.strip_rows

        def read() -> Iterator[np.ndarray]:
            for row0, row1 in strips(height, rows):
                yield out.values.read(i + 1, row0, row1 - row0)

        try:
            breaks = strip_data_breaks(read, factor.classify, factor.n_classes,
                                       seed=out.region.config.sampling.seed)  # fmt: skip
        except ValueError as exc:
            raise breaks_error(factor, exc) from exc
        any_valid = False
        for row0, row1 in strips(height, rows):
            part = layer_of(factor, out.values.read(i + 1, row0, row1 - row0), layer.method)
            set_data_breaks(part, factor, breaks)
            out.codes.write(i + 1, row0, part.codes)
            any_valid |= bool(part.codes.any())
        layer = _metadata(part)
    if not any_valid:
        check_not_empty(layer)  # raises: no valid pixel
    return layer


def _write_terrain(
    region: Region,
    factors: list[ResolvedFactor],
    bands: dict[str, int],
    out: _Bands,
    dem_file: DemFile | None,
) -> dict[int, FactorLayer]:
    """Write the DEM factors ``bands`` (name → band index - 1) strip by strip; their
    metadata layers by band index."""
    first: dict[int, FactorLayer] = {}
    any_valid = dict.fromkeys(bands.values(), False)
    for row0, values in terrain_strips(region, list(bands), out.strip_rows, dem_file):
        inside = out.inside(row0, next(iter(values.values())).shape[0])
        for name, i in bands.items():
            factor = factors[i]
            layer = layer_of(factor, values[name], terrain_method(region.config, name))
            apply_mask(layer, inside)
            out.values.write(i + 1, row0, layer.values)
            out.codes.write(i + 1, row0, layer.codes)
            any_valid[i] |= bool(layer.codes.any())
            first.setdefault(i, _metadata(layer))
    return {i: _finish(factors[i], i, first[i], any_valid[i], out) for i in bands.values()}


def terrain_strips(
    region: Region, names: list[str], strip_rows: int, dem_file: DemFile | None = None
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """``(first row, {name: float32 (strip rows, cols) values})`` of the DEM factors
    ``names`` (no hydrology factor) strip by strip, from the local DEM or the file
    ``dem_file`` gives, equal to the same rows of
    :func:`lsgh_ee.factors.dem_layers.terrain_layers` (see the module's docstring).

    A strip is at least twice the halo tall (``strip_rows`` 0 still means the whole grid):
    each strip computes its halo's rows too, so thinner strips, as a wide grid's
    ``output.strip_pixels`` gives, would spend most of their time on the halo (memory:
    ``rows + 2 × halo`` rows either way, at most twice a thin strip's)."""
    grid, settings = region.grid, region.config.terrain
    pad = dem_halo(grid, settings, names)
    if strip_rows:
        strip_rows = max(strip_rows, 2 * pad)
    needed = coverage_needed(grid, pad)
    with ExitStack() as stack:
        if dem_file is None:
            source = stack.enter_context(SourceRaster(region.config.dem.path))

            def read(check: bool = True) -> Iterator[tuple[int, np.ndarray]]:
                return raster_strips(source, grid, pad, strip_rows, needed, check=check)
        else:
            path = dem_file(grid.padded(pad), needed)

            def read(check: bool = True) -> Iterator[tuple[int, np.ndarray]]:
                return file_strips(path, grid, pad, strip_rows)

        moments = None
        if "slope_position" in names:
            parts = [
                neighbourhood.strip_moments(
                    dem_factors(dem, grid.resolution, settings, ["tpi"], pad)["tpi"]
                )
                for _, dem in read()
            ]
            moments = neighbourhood.merge_moments(parts)
        for row0, dem in read(check=moments is None):
            layers = dem_factors(dem, grid.resolution, settings, names, pad)
            if moments is not None:
                tpi = layers.pop("tpi")
                codes = neighbourhood.slope_position(tpi, layers["slope"], moments)
                layers["slope_position"] = slope_position_values(codes)
            yield row0, layers


def _metadata(layer: FactorLayer) -> FactorLayer:
    """The layer without its arrays (they are written)."""
    return FactorLayer(layer.name, layer.kind, layer.units, np.empty((0, 0), "float32"),
                       np.empty((0, 0), "uint8"), layer.classes, layer.breaks,
                       layer.method)  # fmt: skip
