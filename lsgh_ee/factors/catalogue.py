"""The factor catalogue: one entry per causative factor the tool knows.

Each :class:`FactorDef` names the factor's kind, units, default classes (the paper's
Table 2) and the local recipe that computes it. Adding a factor is adding one entry; a
region may also declare factors that are not here (``kind`` + ``path`` in its config).

Beyond the paper's ten factors, the catalogue has the DEM factors the field commonly uses
and the paper left out (:data:`FIELD_FACTORS`): elevation, plan and profile curvature,
the terrain ruggedness index and the DEM hydrology (flow accumulation, TWI, SPI, distance
to a drainage network derived from the DEM, so a "distance to rivers" exists without a
river layer). Table 2 has no breaks for them: they are classified by quantiles of the
region's own values by default (``classify: quantile``, :data:`FIELD_CLASSES` classes; a
config may set ``breaks``, ``classify: natural`` or ``n_classes`` instead).
Definitions: :mod:`lsgh_ee.factors.terrain` (curvatures, TRI),
:mod:`lsgh_ee.factors.hydrology` (flow routing and its indices).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lsgh_ee.factors.terrain import SLOPE_POSITION_CLASSES

Kind = Literal["continuous", "categorical", "distance"]
Classify = Literal["table2", "quantile", "natural"]
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
        classify: the default classification when the config gives no ``breaks``:
            ``table2`` (``breaks`` above) or ``quantile`` / ``natural`` (breaks from the
            region's values, for factors Table 2 does not cover).
        n_classes: classes of a ``quantile`` / ``natural`` default (0: not data-driven).
    """

    name: str
    kind: Kind
    units: str
    recipe: Recipe
    breaks: tuple[float, ...] = ()
    classes: tuple[str, ...] = ()
    description: str = ""
    classify: Classify = "table2"
    n_classes: int = 0


#: Classes of the quantile default of :data:`FIELD_FACTORS` (Table 2 gives its factors 9-13).
FIELD_CLASSES = 10


def _field(name: str, units: str, description: str, kind: Kind = "continuous") -> FactorDef:
    """A DEM factor beyond the paper's: no Table 2 breaks, quantile classes by default."""
    return FactorDef(name, kind, units, "terrain", description=description,
                     classify="quantile", n_classes=FIELD_CLASSES)  # fmt: skip


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
        # --- factors the field uses that the paper left out (classified by quantiles) ---
        _field("elevation", "m", "elevation above sea level: the DEM itself (its vertical datum)"),
        _field(
            "plan_curvature",
            "1/m",
            "contour (plan) curvature, Zevenbergen-Thorne derivatives, Evans-Young form as "
            "SAGA; + = convex/divergent (spurs), - = concave/convergent (hollows)",
        ),
        _field(
            "profile_curvature",
            "1/m",
            "curvature along the steepest slope, Zevenbergen-Thorne derivatives, Evans-Young "
            "form as SAGA; + = convex (shoulders), - = concave (footslopes)",
        ),
        _field(
            "tri",
            "m",
            "terrain ruggedness index (Riley et al. 1999): sqrt of the summed squared "
            "elevation differences to the 8 neighbours",
        ),
        _field(
            "flow_accumulation",
            "m²",
            "upstream area draining through the cell (itself included): D8 steepest descent "
            "on the depression-filled DEM (pyflwdir)",
        ),
        _field(
            "twi",
            "ln(m)",
            "topographic wetness index ln(a / tan β), a = upstream area / cell width "
            "(m²/m), β floored at terrain.min_slope",
        ),
        _field(
            "spi",
            "m²/m",
            "stream power index a · tan β, a = upstream area / cell width (m²/m), β "
            "floored at terrain.min_slope",
        ),
        _field(
            "distance_to_drainage",
            "m",
            "Euclidean distance to the DEM's drainage network: cells whose upstream area "
            "is at least terrain.drainage_area km²",
            kind="distance",
        ),
    )
}

TERRAIN_FACTORS = tuple(n for n, f in CATALOGUE.items() if f.recipe == "terrain")
#: DEM factors that need the flow routing (and the DEM's halo, ``terrain.hydrology_halo``).
HYDROLOGY_FACTORS = ("flow_accumulation", "twi", "spi", "distance_to_drainage")
#: The factors the field uses that the paper left out (quantile classes by default).
FIELD_FACTORS = tuple(n for n, f in CATALOGUE.items() if f.classify != "table2")
