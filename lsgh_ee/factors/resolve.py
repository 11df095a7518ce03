"""Which factors a run uses: the config's entries checked against the catalogue."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lsgh_ee.config import FactorConfig, RegionConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.catalogue import (
    CATALOGUE,
    LAND_USE_CLASSES,
    Classify,
    FactorDef,
    Kind,
    Recipe,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedFactor:
    """A factor of this run: its catalogue definition merged with the region's settings.

    ``classes`` is empty for categorical factors whose classes come from the data
    (lithology units, unmapped categorical rasters); the recipe fills them in.
    ``classify`` is the classification in force: the config's, or the catalogue's
    default (``quantile`` for the factors Table 2 does not cover) when the config names
    neither ``classify`` nor ``breaks``; ``n_classes`` the classes it asks for (0 for
    ``table2``).
    """

    name: str
    kind: Kind
    units: str
    recipe: Recipe
    spec: FactorConfig
    breaks: tuple[float, ...] = ()
    classes: tuple[str, ...] = ()
    classify: Classify = "table2"
    n_classes: int = 0


def resolve_factors(config: RegionConfig, backend: str = "local") -> list[ResolvedFactor]:
    """The factors a run will compute, in config order.

    A factor without a source is left out with a logged notice, not an error.

    Raises:
        LsghError: a factor that is not in the catalogue and has no ``kind``, a
            continuous custom factor without ``breaks``, a land-use remap to unknown
            classes, or an Earth Engine source with the local backend.
    """
    resolved: list[ResolvedFactor] = []
    for name, spec in config.factors.items():
        key = f"factors.{name}"
        if spec is None:
            log.warning("factor %s has no source in the config; left out", name)
            continue
        if backend == "local" and spec.source == "ee":
            raise LsghError(
                f"key '{key}.source' is 'ee' but the local backend was chosen; "
                "run with --backend ee or give the factor a local file"
            )
        factor = _merge(name, spec, key)
        if backend == "ee" and spec.source == "ee":
            _check_earth_engine_recipe(factor, key)
        if not _has_source(factor, config, backend):
            need = _needs(factor)
            log.warning("factor %s has no local source (needs %s); left out", name, need)
            continue
        resolved.append(factor)
    if not resolved:
        raise LsghError(
            "no factor has a source: give 'dem.path' for terrain factors or a 'path' per factor"
        )
    return resolved


def _merge(name: str, spec: FactorConfig, key: str) -> ResolvedFactor:
    known = CATALOGUE.get(name)
    if known is None:
        if spec.kind is None:
            raise LsghError(
                f"factor '{name}' is not in the catalogue ({', '.join(CATALOGUE)}); "
                f"set '{key}.kind' to continuous, categorical or distance"
            )
        kind, units = spec.kind, spec.units or ""
        recipe: Recipe = (
            "distance"
            if kind == "distance"
            else "polygons"
            if spec.attribute is not None
            else "raster"
        )
        default_breaks: tuple[float, ...] = ()
        default_classes: tuple[str, ...] = ()
        classify: Classify = spec.classify
    else:
        if spec.kind is not None and spec.kind != known.kind:
            raise LsghError(
                f"key '{key}.kind' is {spec.kind!r} but {name} is {known.kind!r}; remove the key"
            )
        if known.classify != "table2" and spec.path is not None:
            # a name that was free before the field's DEM factors joined the catalogue
            raise LsghError(
                f"factor '{name}' is computed from the DEM; remove '{key}.path', or give your "
                f"raster another factor name (e.g. '{name}_map') with 'kind'"
            )
        kind, units, recipe = known.kind, spec.units or known.units, known.recipe
        default_breaks, default_classes = known.breaks, known.classes
        classify = spec.classify
        if classify == "table2" and spec.breaks is None and not known.breaks:
            classify = known.classify  # no Table 2 breaks: the catalogue's data-driven default
    breaks = tuple(spec.breaks) if spec.breaks is not None else default_breaks
    n_classes = 0
    if classify != "table2":
        n_classes = spec.n_classes or _default_n_classes(known)
        if kind == "categorical":
            raise LsghError(
                f"factor '{name}' is categorical; remove '{key}.classify' (its classes are "
                "its categories)"
            )
        breaks = ()  # computed from the region's values by the recipe
    elif kind in ("continuous", "distance") and not breaks:
        raise LsghError(f"factor '{name}' is {kind} and needs class breaks: set '{key}.breaks'")
    if kind == "categorical" and spec.breaks is not None:
        raise LsghError(f"factor '{name}' is categorical; remove '{key}.breaks' (use 'remap')")
    classes = tuple(spec.classes) if spec.classes is not None else default_classes
    if name == "land_use" and (spec.has_local_source or spec.source == "ee"):
        # codes follow LAND_USE_CLASSES whatever the remap lists; Earth Engine has a default
        # table (ESA WorldCover, lsgh_ee/earthengine/data/worldcover_remap.yaml)
        if not spec.remap and spec.source == "local":
            raise LsghError(
                f"set '{key}.remap' to map the raster's values to the classes "
                f"{', '.join(LAND_USE_CLASSES)} (e.g. {{10: woodland, 40: arable}})"
            )
        unknown = sorted(set((spec.remap or {}).values()) - set(LAND_USE_CLASSES))
        if unknown:
            raise LsghError(
                f"key '{key}.remap' maps to unknown classes {unknown}; "
                f"use {', '.join(LAND_USE_CLASSES)}"
            )
    elif spec.remap is not None and spec.classes is None:
        classes = tuple(dict.fromkeys(spec.remap.values()))
    if len(classes) > 255:
        raise LsghError(f"factor '{name}' has {len(classes)} classes; at most 255 fit uint8 codes")
    return ResolvedFactor(name, kind, units, recipe, spec, breaks, classes, classify, n_classes)


def _default_n_classes(known: FactorDef | None) -> int:
    """Classes of a data-driven classification the config leaves unsized: the catalogue's
    number, else as many as Table 2 has, else 5."""
    if known is not None and known.n_classes:
        return known.n_classes
    if known is not None and known.breaks:
        return len(known.breaks) + 1
    return 5


def has_earth_engine_recipe(factor: ResolvedFactor) -> bool:
    """Whether :func:`lsgh_ee.earthengine.recipes.factor_image` can compute ``factor``:
    terrain, NDVI, land use, distance and polygon factors (not arbitrary rasters)."""
    return factor.recipe != "raster" or factor.name == "land_use"


def _check_earth_engine_recipe(factor: ResolvedFactor, key: str) -> None:
    if not has_earth_engine_recipe(factor):
        raise LsghError(
            f"factor '{factor.name}' is a raster with no Earth Engine recipe; give '{key}' "
            "a local file ('source: local' and 'path')"
        )
    if factor.recipe == "polygons" and factor.spec.attribute is None:
        raise LsghError(
            f"set '{key}.attribute' to the property of the polygons holding the classes"
        )


def _has_source(factor: ResolvedFactor, config: RegionConfig, backend: str) -> bool:
    spec = factor.spec
    if backend == "ee" and spec.source == "ee" and factor.recipe != "terrain":
        return True  # the Earth Engine recipe finds its data (or says what it needs)
    if factor.recipe == "terrain":
        if config.dem is not None and config.dem.source == "ee" and backend == "local":
            raise LsghError(
                "'dem.source' is 'ee' but the local backend was chosen; run with "
                "--backend ee, or give 'dem.path' a DEM GeoTIFF"
            )
        return config.dem is not None and (config.dem.path is not None or backend == "ee")
    if factor.recipe == "ndvi":
        return spec.path is not None or (spec.red is not None and spec.nir is not None)
    return spec.path is not None


def _needs(factor: ResolvedFactor) -> str:
    return {
        "terrain": "'dem.path'",
        "ndvi": f"'factors.{factor.name}.red' and '.nir', or '.path'",
    }.get(factor.recipe, f"'factors.{factor.name}.path'")
