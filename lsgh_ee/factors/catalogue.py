"""The factor catalogue: one entry per causative factor the tool knows.

Each :class:`FactorDef` names the factor's kind, units, default classes (the paper's
Table 2) and the local recipe that computes it. Adding a factor is adding one entry; a
region may also declare factors that are not here (``kind`` + ``path`` in its config).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lsgh_ee.factors.terrain import SLOPE_POSITION_CLASSES

Kind = Literal["continuous", "categorical", "distance"]
Recipe = Literal["terrain", "ndvi", "raster", "polygons", "distance"]

ASPECT_CLASSES = (
    "flat",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
)
LAND_USE_CLASSES = (
    "arable",
    "woodland",
    "grassland",
    "shrubland",
    "wetland",
    "water",
    "impervious",
    "barren",
)


@dataclass(frozen=True)
class FactorDef:
    """A causative factor.

    Attributes:
        name: identifier used in configs, band descriptions and model schemas.
        kind: ``continuous`` (classified by ``breaks``), ``categorical`` (the recipe yields
            class codes 1..k directly) or ``distance`` (metres to the nearest feature,
            classified by ``breaks``).
        units: units of the factor-stack band.
        recipe: which local recipe computes it.
        breaks: default increasing class breaks for continuous / distance factors.
        classes: class names in code order for categorical factors with fixed classes
            (empty when the classes come from the data, e.g. lithology units).
        description: one line for reports and ``--help``.
    """

    name: str
    kind: Kind
    units: str
    recipe: Recipe
    breaks: tuple[float, ...] = ()
    classes: tuple[str, ...] = ()
    description: str = ""


def interval_labels(breaks: Sequence[float]) -> tuple[str, ...]:
    """``[10, 20]`` → ``('<10', '10–20', '>=20')``: the class names of a break list."""
    fmt = [f"{b:g}" for b in breaks]
    middle = [f"{a}–{b}" for a, b in zip(fmt, fmt[1:], strict=False)]
    return (f"<{fmt[0]}", *middle, f">={fmt[-1]}")


CATALOGUE: dict[str, FactorDef] = {
    f.name: f
    for f in (
        FactorDef(
            "slope",
            "continuous",
            "degrees",
            "terrain",
            breaks=(10, 20, 30, 35, 40, 45, 50, 55, 60, 65),
            description="slope angle from the DEM (Horn or Zevenbergen–Thorne)",
        ),
        FactorDef(
            "aspect",
            "categorical",
            "class",
            "terrain",
            classes=ASPECT_CLASSES,
            description="downslope direction: flat (slope below terrain.flat_slope) + 8 sectors",
        ),
        FactorDef(
            "curvature",
            "continuous",
            "1/100 m",
            "terrain",
            breaks=(-3.5, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 2.5),
            description="ArcGIS curvature (Zevenbergen & Thorne); positive = convex",
        ),
        FactorDef(
            "slope_position",
            "categorical",
            "class",
            "terrain",
            classes=SLOPE_POSITION_CLASSES,
            description="slope position from the standardised TPI and slope (Weiss 2001)",
        ),
        FactorDef(
            "local_relief",
            "continuous",
            "m",
            "terrain",
            breaks=(25, 50, 100, 150, 200, 300, 400, 600),
            description="max - min elevation within terrain.relief_radius",
        ),
        FactorDef(
            "ndvi",
            "continuous",
            "NDVI",
            "ndvi",
            breaks=(0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50),
            description="normalised difference vegetation index (NIR - red) / (NIR + red)",
        ),
        FactorDef(
            "land_use",
            "categorical",
            "class",
            "raster",
            classes=LAND_USE_CLASSES,
            description="land use from a categorical raster remapped to the paper's 8 classes",
        ),
        FactorDef(
            "distance_to_roads",
            "distance",
            "m",
            "distance",
            breaks=(500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000),
            description="Euclidean distance to the nearest road",
        ),
        FactorDef(
            "distance_to_rivers",
            "distance",
            "m",
            "distance",
            breaks=(100, 200, 300, 400, 500, 600, 700, 800, 900, 1000),
            description="Euclidean distance to the nearest river",
        ),
        FactorDef(
            "lithology",
            "categorical",
            "class",
            "polygons",
            description="stratigraphic units from a polygon layer (attribute → class)",
        ),
    )
}

TERRAIN_FACTORS = tuple(n for n, f in CATALOGUE.items() if f.recipe == "terrain")
