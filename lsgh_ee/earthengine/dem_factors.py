"""Earth Engine recipes of the field's DEM factors (beyond the paper's): elevation, plan and
profile curvature, TRI, and the hydrology factors from MERIT Hydro.

==================  ===========================================  ===================================
factor              local (:mod:`lsgh_ee.factors`)               Earth Engine (here)
==================  ===========================================  ===================================
elevation           the DEM on the grid                          ``dem.ee_asset`` on the grid
plan_curvature,     SAGA's forms from Zevenbergen-Thorne         the same five derivatives (p, q, r,
profile_curvature   derivatives (1/m, + = convex)                t, s) as 3×3 ``Kernel.fixed``
                                                                 convolutions, the same formulas
tri                 sqrt Σ (z_i - z_0)² over the 8 neighbours    8 one-neighbour-minus-centre
                                                                 kernels, squared and summed
flow_accumulation   D8 upstream area (m²) on the filled DEM      MERIT Hydro ``upa`` (km² → m²),
                    (pyflwdir)                                   nearest cell on the grid
twi, spi            ln(a / tan β), a · tan β; a = area / cell    the same with MERIT's area; tan β
                    size, β floored at ``terrain.min_slope``     from the DEM by the kernel gradient
distance_to_        Euclidean distance (m) to cells with area    ``fastDistanceTransform`` of MERIT
drainage            >= ``terrain.drainage_area`` km²             ``upa`` >= the same threshold
==================  ===========================================  ===================================

Why MERIT Hydro (Yamazaki et al. 2019, ``MERIT/Hydro/v1_0_1``) and not HydroSHEDS
(``WWF/HydroSHEDS/15ACC``): MERIT is 3″ (~90 m) against HydroSHEDS' 15″ (~450 m) for its
accumulation, covers the globe (HydroSHEDS stops at 60° N), was routed on a DEM with
vegetation and stripe noise removed, and gives the upstream area directly in km² (15ACC
counts cells, whose area varies with latitude). Its flow network is MERIT's, not the
region's DEM's: on a DEM finer than 90 m the channels sit within about one MERIT cell of
the DEM's valleys, and hillslope cells carry at least one MERIT cell's area (~8,000 m²),
where the local recipe starts at one grid cell. The Earth Engine backend of
``export-factors`` downloads the DEM and computes every DEM factor locally (the same
numbers as a local DEM); these recipes serve the hosted pipeline (``factor_image``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lsgh_ee.earthengine import kernels
from lsgh_ee.earthengine.geometry import on_grid
from lsgh_ee.grid import Grid

if TYPE_CHECKING:
    from lsgh_ee.config import TerrainConfig

MERIT_HYDRO = "MERIT/Hydro/v1_0_1"
#: MERIT Hydro's upstream drainage area band, km².
MERIT_UPSTREAM_AREA = "upa"
#: Pixels searched for the nearest channel (``fastDistanceTransform``'s default); farther
#: cells get this distance, a lower bound, as the local distance recipes cap theirs.
DISTANCE_NEIGHBOURHOOD = 256


def plan_profile_curvature_images(dem: Any, grid: Grid) -> tuple[Any, Any]:
    """``(plan, profile)`` curvature in 1/m, float32, as
    :func:`lsgh_ee.factors.terrain.plan_profile_curvature` (0 where the gradient is 0:
    Earth Engine's ``divide`` answers 0 for a zero divisor)."""
    res = grid.resolution
    h, c = 1.0 / (2.0 * res), 1.0 / (res * res)
    zero = [0, 0, 0]
    p = dem.convolve(kernels.fixed([zero, [-h, 0, h], zero]))
    q = dem.convolve(kernels.fixed([[0, h, 0], zero, [0, -h, 0]]))
    r = dem.convolve(kernels.fixed([zero, [c, -2 * c, c], zero]))
    t = dem.convolve(kernels.fixed([[0, c, 0], [0, -2 * c, 0], [0, c, 0]]))
    d = c / 4.0
    s = dem.convolve(kernels.fixed([[-d, 0, d], zero, [d, 0, -d]]))
    p2, q2, pq = p.multiply(p), q.multiply(q), p.multiply(q)
    g2 = p2.add(q2)
    twice_spq = s.multiply(pq).multiply(2.0)
    profile = (
        r.multiply(p2).add(t.multiply(q2)).add(twice_spq)
        .divide(g2.multiply(g2.add(1.0).pow(1.5))).multiply(-1.0)
    )  # fmt: skip
    plan = t.multiply(p2).add(r.multiply(q2)).subtract(twice_spq).divide(g2.pow(1.5))
    plan = plan.multiply(-1.0)
    return (plan.toFloat().rename(["plan_curvature"]),
            profile.toFloat().rename(["profile_curvature"]))  # fmt: skip


def tri_image(dem: Any) -> Any:
    """Terrain ruggedness index (m), float32, as
    :func:`lsgh_ee.factors.terrain.terrain_ruggedness_index`."""
    total = None
    for dy in range(3):
        for dx in range(3):
            if (dy, dx) == (1, 1):
                continue
            weights = [[0.0] * 3 for _ in range(3)]
            weights[dy][dx] = 1.0
            weights[1][1] = -1.0
            diff = dem.convolve(kernels.fixed(weights))
            square = diff.multiply(diff)
            total = square if total is None else total.add(square)
    return total.sqrt().toFloat().rename(["tri"])


def upstream_area_image(grid: Grid) -> Any:
    """MERIT Hydro's upstream area in m² on the grid (nearest MERIT cell), float64."""
    import ee

    upa = ee.Image(MERIT_HYDRO).select([MERIT_UPSTREAM_AREA])
    return on_grid(upa.multiply(1.0e6).rename(["flow_accumulation"]), grid)


def hydrology_image(name: str, dem: Any, grid: Grid, settings: TerrainConfig) -> Any:
    """One hydrology factor (``flow_accumulation``, ``twi``, ``spi``,
    ``distance_to_drainage``) on the grid, float32 band ``name``; see the module table."""
    area = upstream_area_image(grid)
    if name == "flow_accumulation":
        return area.toFloat()
    if name == "distance_to_drainage":
        channels = area.gte(settings.drainage_area * 1.0e6)
        squared = channels.fastDistanceTransform(DISTANCE_NEIGHBOURHOOD, "pixels",
                                                 "squared_euclidean")  # fmt: skip
        cap = DISTANCE_NEIGHBOURHOOD * grid.resolution
        distance = squared.sqrt().multiply(grid.resolution).unmask(cap)
        return distance.updateMask(area.mask()).toFloat().rename([name])
    gx, gy = kernels.gradient(dem, grid, settings.method)
    tan_beta = gx.hypot(gy).max(math.tan(math.radians(settings.min_slope)))
    specific = area.divide(grid.resolution)
    if name == "twi":
        return specific.divide(tan_beta).log().toFloat().rename([name])
    if name == "spi":
        return specific.multiply(tan_beta).toFloat().rename([name])
    raise ValueError(f"{name!r} is not a hydrology factor")
