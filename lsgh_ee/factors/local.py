"""Local factor recipes: every factor computed on the region's grid from local files.

Terrain factors come from one DEM read onto a padded grid (so neighbourhood operators see
real terrain beyond the AOI edge), NDVI from red + NIR rasters, categorical factors from
rasters (nearest-neighbour resampling, remap table) or polygon layers (attribute → class),
distance factors from line/point layers (Euclidean distance in metres on the grid).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator

import geopandas as gpd
import numpy as np
from scipy.ndimage import distance_transform_edt

from lsgh_ee.errors import LsghError
from lsgh_ee.factors.catalogue import interval_labels
from lsgh_ee.factors.classify import classify_aspect, classify_breaks, codes_from_float
from lsgh_ee.factors.dem_layers import DemReader, terrain_layers, terrain_method
from lsgh_ee.factors.resolve import ResolvedFactor
from lsgh_ee.factors.stack import FactorLayer, FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_onto_grid
from lsgh_ee.region import Region
from lsgh_ee.vectors import burn, read_vector, to_grid_crs

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

#: Distance factors look this far beyond the AOI for features (metres, capped in cells):
#: features farther out than the last class break cannot change a class.
_MAX_DISTANCE_PAD_CELLS = 1000


#: ``read_factor(factor) -> (values, classes, method)``: a factor's raw values on the region's
#: grid (float32 ``(rows, cols)``, NaN nodata; class codes 1..k for categorical factors), its
#: class names in code order (categorical) and how it was computed.
FactorReader = Callable[[ResolvedFactor], tuple[np.ndarray, tuple[str, ...], dict]]


def compute_local_factors(
    region: Region,
    factors: list[ResolvedFactor],
    progress: Progress | None = None,
    read_dem: DemReader | None = None,
    read_factor: FactorReader | None = None,
) -> FactorStack:
    """Compute and classify every factor on the region's grid.

    Args:
        region: the region (grid + AOI).
        factors: from :func:`lsgh_ee.factors.resolve.resolve_factors`.
        progress: called with (factor name, index, number of factors) as each starts.
        read_dem: ``read_dem(grid, min_coverage) -> elevations`` on ``grid`` (float32, NaN
            nodata); default: the config's ``dem.path`` resampled bilinearly. The Earth
            Engine backend passes a downloader, so terrain factors have the same definitions
            whichever backend delivers the DEM.
        read_factor: where given, the non-terrain factors with ``source: ee`` take their raw
            values from it (the Earth Engine backend downloads them); their classification
            is the same code as for local sources.

    Returns:
        The stack, NaN / code 0 outside the AOI and wherever a source is nodata.
    """
    layers = list(whole_layers(region, factors, progress, read_dem, read_factor))
    return FactorStack(grid=region.grid, layers=layers)


def whole_layers(
    region: Region,
    factors: list[ResolvedFactor],
    progress: Progress | None = None,
    read_dem: DemReader | None = None,
    read_factor: FactorReader | None = None,
) -> Iterator[FactorLayer]:
    """The finished layers of ``factors`` in order, each computed on the whole grid as it
    is asked for (the DEM factors all at once on the first; each handed over and dropped
    from the cache): see :func:`compute_local_factors`."""
    terrain_cache: dict[str, np.ndarray] = {}
    for index, factor in enumerate(factors):
        if progress:
            progress(factor.name, index, len(factors))
        if factor.recipe == "terrain":
            if not terrain_cache:
                dem_names = [f.name for f in factors if f.recipe == "terrain"]
                reader = read_dem or _local_dem(region)
                terrain_cache.update(terrain_layers(region, reader, dem_names))
            values = terrain_cache.pop(factor.name)
            layer = layer_of(factor, values, method=terrain_method(region.config, factor.name))
        else:
            layer = source_layer(region, factor, read_factor)
        finish_layer(layer, factor, region)
        yield layer


def source_layer(
    region: Region, factor: ResolvedFactor, read_factor: FactorReader | None = None
) -> FactorLayer:
    """A non-terrain factor on the whole grid, classified where its breaks are fixed (see
    :func:`compute_local_factors` for ``read_factor``); :func:`finish_layer` completes it."""
    if read_factor is not None and factor.spec.source == "ee":
        return _read_layer(factor, read_factor)
    if factor.recipe == "ndvi":
        return layer_of(factor, _ndvi(factor, region.grid), method={"recipe": "ndvi"})
    if factor.recipe == "distance":
        return layer_of(factor, _distance(factor, region.grid), method=distance_method(factor))
    if factor.recipe == "raster":
        return _raster_layer(factor, region.grid)
    return _polygon_layer(factor, region.grid)


def finish_layer(layer: FactorLayer, factor: ResolvedFactor, region: Region) -> None:
    """Mask a whole-grid layer to the AOI, classify it from its data where its breaks are
    not fixed, and check it has a valid pixel."""
    apply_mask(layer, region.aoi_mask)
    if needs_data_breaks(factor):
        classify_from_data(layer, factor, seed=region.config.sampling.seed)
    check_not_empty(layer)


def needs_data_breaks(factor: ResolvedFactor) -> bool:
    """Whether the factor's breaks come from its own values (``classify: quantile |
    natural``), known only once all its values are."""
    return factor.classify != "table2" and factor.kind != "categorical"


# --- terrain -------------------------------------------------------------------------------


def _local_dem(region: Region) -> DemReader:
    def read(grid: Grid, min_coverage: float) -> np.ndarray:
        return read_onto_grid(region.config.dem.path, grid, min_coverage=min_coverage)

    return read


# --- NDVI, rasters, polygons, distances ----------------------------------------------------


def _ndvi(factor: ResolvedFactor, grid: Grid) -> np.ndarray:
    spec = factor.spec
    if spec.path is not None:
        return read_onto_grid(spec.path, grid, band=spec.band)
    return ndvi_of(read_onto_grid(spec.red, grid), read_onto_grid(spec.nir, grid))


def ndvi_of(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """float32 NDVI ``(nir - red) / (nir + red)`` (NaN where the sum is 0) of float32
    reflectances of any shape."""
    red, nir = red.astype("float64"), nir.astype("float64")
    total = nir + red
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = np.where(total != 0, (nir - red) / total, np.nan)
    return ndvi.astype("float32")


def _read_layer(factor: ResolvedFactor, read_factor: FactorReader) -> FactorLayer:
    values, classes, method = read_factor(factor)
    if factor.kind == "categorical":
        return categorical_layer(factor, values, classes, method)
    return layer_of(factor, values, method=method)


def _raster_layer(factor: ResolvedFactor, grid: Grid) -> FactorLayer:
    spec = factor.spec
    categorical = factor.kind == "categorical"
    values = read_onto_grid(spec.path, grid, categorical=categorical, band=spec.band)
    method = raster_method(factor)
    if not categorical:
        return layer_of(factor, values, method=method)
    lookup, classes = remap_lookup(factor, np.unique(values[~np.isnan(values)]))
    return categorical_layer(factor, apply_lookup(values, lookup), classes, method)


def raster_method(factor: ResolvedFactor) -> dict:
    return {"recipe": "raster", "source": str(factor.spec.path), "band": factor.spec.band}


def remap_lookup(
    factor: ResolvedFactor, present: np.ndarray
) -> tuple[dict[float, int], tuple[str, ...]]:
    """``({raster value: code 1..k}, class names)`` by the remap table (warning about the
    ``present`` values it lacks), or by the sorted distinct ``present`` values."""
    spec = factor.spec
    if spec.remap:
        classes = factor.classes
        lookup = {float(k): classes.index(v) + 1 for k, v in spec.remap.items() if _numeric(k)}
        unmapped = [v for v in present if float(v) not in lookup]
        if unmapped:
            shown = ", ".join(f"{v:g}" for v in unmapped[:10])
            log.warning(
                "factor %s: raster values %s are not in the remap table; those pixels are "
                "nodata (add them to factors.%s.remap)",
                factor.name,
                shown,
                factor.name,
            )
    else:
        classes = factor.classes or tuple(f"{v:g}" for v in present)
        lookup = {float(v): i + 1 for i, v in enumerate(present)}
    return lookup, classes


def apply_lookup(values: np.ndarray, lookup: dict[float, int]) -> np.ndarray:
    """float32 codes of raster ``values`` by ``lookup`` (NaN where a value has none)."""
    codes = np.full(values.shape, np.nan, dtype="float32")
    for value, code in lookup.items():
        codes[values == value] = code
    return codes


def _numeric(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _polygon_layer(factor: ResolvedFactor, grid: Grid) -> FactorLayer:
    frame, values, classes, method = polygon_shapes(factor, grid)
    raster = burn(frame, grid, values)
    codes = np.where(raster > 0, raster, np.nan).astype("float32")
    return categorical_layer(factor, codes, classes, method)


def polygon_shapes(
    factor: ResolvedFactor, grid: Grid
) -> tuple[gpd.GeoDataFrame, np.ndarray, tuple[str, ...], dict]:
    """A polygon factor's polygons in the grid's CRS, their uint8 codes (1..k), the class
    names and the method, checked against the config."""
    spec = factor.spec
    key = f"factors.{factor.name}"
    frame = read_vector(spec.path, layer=spec.layer, what=f"{factor.name} layer")
    if spec.attribute is None:
        raise LsghError(f"set '{key}.attribute' to the column of {spec.path} holding the classes")
    if spec.attribute not in frame.columns:
        cols = ", ".join(c for c in frame.columns if c != "geometry")
        raise LsghError(f"'{key}.attribute' is {spec.attribute!r} but {spec.path} has only: {cols}")
    frame = to_grid_crs(frame[frame.geometry.notna()], grid)
    labels = frame[spec.attribute].astype(str)
    if spec.remap:
        labels = labels.map(lambda v: spec.remap.get(v, v))
    classes = factor.classes or tuple(sorted(labels.unique()))
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise LsghError(f"'{key}.classes' does not list {unknown}; add them or remove the key")
    code_of = {name: i + 1 for i, name in enumerate(classes)}
    method = {"recipe": "polygons", "source": str(spec.path), "attribute": spec.attribute}
    return frame, labels.map(code_of).to_numpy().astype("uint8"), classes, method


def _distance(factor: ResolvedFactor, grid: Grid) -> np.ndarray:
    frame, pad = distance_features(factor, grid)
    features = burn(frame, grid.padded(pad), all_touched=True).astype(bool)
    if not features.any():
        return np.full(grid.shape, far_distance(factor, grid, pad), dtype="float32")
    distance = distance_transform_edt(~features, sampling=(grid.resolution, grid.resolution))
    return distance[pad:-pad, pad:-pad].astype("float32")


def distance_method(factor: ResolvedFactor) -> dict:
    return {"recipe": "euclidean distance to rasterised features (pixel centres)",
            "source": str(factor.spec.path)}  # fmt: skip


def distance_features(factor: ResolvedFactor, grid: Grid) -> tuple[gpd.GeoDataFrame, int]:
    """A distance factor's features in the grid's CRS and the cells the grid is padded
    by (features up to that far beyond the AOI count) for the transform."""
    spec = factor.spec
    frame = read_vector(spec.path, layer=spec.layer, what=f"{factor.name} layer")
    frame = to_grid_crs(frame[frame.geometry.notna() & ~frame.geometry.is_empty], grid)
    # data-driven breaks (classify: quantile / natural) are not known yet: look one region
    # size beyond the AOI
    reach = max(factor.breaks) if factor.breaks else max(grid.shape) * grid.resolution
    pad = min(int(math.ceil(grid.cells_for(reach))) + 1, _MAX_DISTANCE_PAD_CELLS)
    return frame, pad


def far_distance(factor: ResolvedFactor, grid: Grid, pad: int) -> float:
    """The distance every pixel gets when no feature lies within ``pad`` cells (a lower
    bound), with a warning."""
    lower_bound = pad * grid.resolution
    log.warning(
        "factor %s: no feature of %s within %.0f m of the region; every pixel gets the "
        "farthest class (distance set to %.0f m, a lower bound)",
        factor.name,
        factor.spec.path,
        lower_bound,
        lower_bound,
    )
    return lower_bound


# --- classification ------------------------------------------------------------------------


def layer_of(factor: ResolvedFactor, values: np.ndarray, method: dict) -> FactorLayer:
    values = values.astype("float32", copy=False)
    if factor.name == "aspect":
        return FactorLayer(
            factor.name,
            factor.kind,
            "degrees (-1 = flat)",
            values,
            classify_aspect(values),
            factor.classes,
            method=method,
        )
    if factor.kind == "categorical":
        return categorical_layer(factor, values, factor.classes, method)
    if not factor.breaks:  # classify: quantile / natural, classified after the AOI mask
        return FactorLayer(factor.name, factor.kind, factor.units, values,
                           np.zeros(values.shape, "uint8"), (), (), method)  # fmt: skip
    return FactorLayer(
        factor.name,
        factor.kind,
        factor.units,
        values,
        classify_breaks(values, factor.breaks),
        interval_labels(factor.breaks),
        factor.breaks,
        method,
    )


def classify_from_data(layer: FactorLayer, factor: ResolvedFactor, *, seed: int) -> None:
    """Classify a layer with breaks computed on its own values inside the AOI
    (``classify: quantile | natural``); the breaks go into the schema like Table 2's."""
    from lsgh_ee.factors.classify import data_breaks

    try:
        breaks = data_breaks(layer.values, factor.classify, factor.n_classes, seed=seed)
    except ValueError as exc:
        raise breaks_error(factor, exc) from exc
    set_data_breaks(layer, factor, breaks)


def breaks_error(factor: ResolvedFactor, exc: ValueError) -> LsghError:
    """The user's error when a factor's data-driven breaks cannot be computed."""
    return LsghError(
        f"factor {factor.name}: cannot compute {factor.classify} class breaks ({exc}); "
        f"set 'factors.{factor.name}.breaks' instead"
    )


def set_data_breaks(layer: FactorLayer, factor: ResolvedFactor, breaks: tuple[float, ...]) -> None:
    """Classify ``layer`` (whole or a strip) by its data-driven ``breaks`` and record them."""
    layer.breaks = breaks
    layer.classes = interval_labels(breaks)
    layer.codes = classify_breaks(layer.values, breaks)
    layer.method = {**layer.method, "classify": factor.classify,
                    "n_classes_asked": factor.n_classes,
                    "breaks_from": "this region's values inside the AOI"}  # fmt: skip


def categorical_layer(
    factor: ResolvedFactor, codes: np.ndarray, classes: tuple[str, ...], method: dict
) -> FactorLayer:
    return FactorLayer(
        factor.name,
        "categorical",
        "class",
        codes.astype("float32"),
        codes_from_float(codes),
        tuple(classes),
        method=method,
    )


def apply_mask(layer: FactorLayer, inside: np.ndarray) -> None:
    layer.values[~inside] = np.nan
    layer.codes[~inside] = 0


def check_not_empty(layer: FactorLayer) -> None:
    if not layer.codes.any():
        source = layer.method.get("source") or layer.method.get("dem")
        where = f" ({source})" if source else ""
        raise LsghError(
            f"factor {layer.name}{where} has no valid pixel inside the region; check its source "
            "covers the AOI and its nodata value"
        )
