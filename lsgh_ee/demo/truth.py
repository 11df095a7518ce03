"""The true susceptibility of the demo region and the landslide inventory drawn from it.

True susceptibility
-------------------
On the analysis grid (UTM 16N, 90 m), from the factors *as the pipeline computes them
from the written files* (slope S in degrees, Horn; ArcGIS curvature C; distances d_r,
d_t in metres to the nearest river / road; NDVI N from ``red.tif`` and ``nir.tif``;
lithology weight W_lith of the unit)::

    z = -5.4
        + 3.0 * exp(-((S - 24) / 10)^2)            steep, not cliff-like, slopes
        + 1.2 * tanh(-C / 0.6)                      concave (C < 0) hollows
        + 1.6 * exp(-d_r / 300)                     river undercutting
        + 1.0 * exp(-d_t / 200)                     road cuts
        + W_lith                                    weak rocks
        + 2.5 * (0.55 - N)                          sparse vegetation
    p = 1 / (1 + exp(-z))

with W_lith: Pennsylvanian shale and coal +1.2, Devonian shale +1.4, Silurian sandstone
and shale +0.4, Mississippian limestone -0.2, Ordovician limestone -0.4,
Pennsylvanian sandstone -0.6, Cambrian-Ordovician dolomite -0.8 (see :data:`UNITS`).
``truth.tif`` holds p rounded to a multiple of 1/65536 (float32, NaN outside the AOI).

Inventory: :data:`N_LANDSLIDES` source pixels drawn by weighted sampling without
replacement with weights p (inside the AOI shrunk by 300 m, at least 4 pixels apart),
each drawn as an ellipse centred on its pixel, long axis along the local downslope
aspect: ``slide`` (70 %) 90-225 m long, width 0.4-0.7 of the length; ``flow`` (30 %)
180-360 m long, width 0.2-0.35. ``year`` is uniform in 1995-2022.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from rasterio.features import geometry_mask, rasterize
from shapely import affinity
from shapely.geometry import Point

from lsgh_ee.demo.fields import distance_to
from lsgh_ee.demo.lithology import UNITS
from lsgh_ee.demo.terrain import padded_dem
from lsgh_ee.factors import terrain
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_onto_grid

N_LANDSLIDES = 320
#: truth.tif values are multiples of this (keeps the file small; far below any model error).
TRUTH_STEP = 1.0 / 65536.0

#: Truth coefficients (see the module docstring).
TRUTH = {
    "b0": -5.4,
    "slope": 3.0,
    "slope_peak_deg": 24.0,
    "slope_width_deg": 10.0,
    "curvature": 1.2,
    "curvature_scale": 0.6,
    "river": 1.6,
    "river_scale_m": 300.0,
    "road": 1.0,
    "road_scale_m": 200.0,
    "ndvi": 2.5,
    "ndvi_ref": 0.55,
}


def truth_factors(folder: Path, grid: Grid) -> dict[str, np.ndarray]:
    """The truth's inputs on ``grid``, computed from the files written in ``folder`` the way
    the pipeline computes them (Horn slope and ArcGIS curvature of the DEM read onto the
    grid, all-touched rasterised distances, polygon centres for lithology, NDVI of the
    bilinearly resampled bands)."""
    cellsize = (grid.resolution, grid.resolution)
    dem = padded_dem(folder / "dem.tif", grid, 1)
    inner = (slice(1, -1), slice(1, -1))
    geology = gpd.read_file(folder / "geology.gpkg").to_crs(grid.crs)
    names = list(UNITS)
    codes = rasterize(
        [(g, names.index(u) + 1) for g, u in zip(geology.geometry, geology["unit"], strict=True)],
        out_shape=grid.shape,
        transform=grid.transform,
        dtype="uint8",
    )
    weights = np.array([np.nan, *UNITS.values()])
    red = read_onto_grid(folder / "red.tif", grid).astype("float64")
    nir = read_onto_grid(folder / "nir.tif", grid).astype("float64")
    return {
        "slope": terrain.slope(dem, cellsize, method="horn")[inner].astype("float64"),
        "curvature": terrain.curvature(dem, cellsize)[inner].astype("float64"),
        "d_river": distance_to(gpd.read_file(folder / "rivers.gpkg"), grid),
        "d_road": distance_to(gpd.read_file(folder / "roads.gpkg"), grid),
        "lithology": weights[codes],
        "ndvi": (nir - red) / (nir + red),
    }


def true_susceptibility(factors: dict[str, np.ndarray]) -> np.ndarray:
    """p = sigmoid(z) of the module docstring (float64, NaN where a factor is NaN)."""
    t = TRUTH
    z = (
        t["b0"]
        + t["slope"]
        * np.exp(-(((factors["slope"] - t["slope_peak_deg"]) / t["slope_width_deg"]) ** 2))
        + t["curvature"] * np.tanh(-factors["curvature"] / t["curvature_scale"])
        + t["river"] * np.exp(-factors["d_river"] / t["river_scale_m"])
        + t["road"] * np.exp(-factors["d_road"] / t["road_scale_m"])
        + factors["lithology"]
        + t["ndvi"] * (t["ndvi_ref"] - factors["ndvi"])
    )
    return 1.0 / (1.0 + np.exp(-z))


def simulate_inventory(
    truth: np.ndarray,
    aspect: np.ndarray,
    grid: Grid,
    aoi: shapely.Polygon,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """:data:`N_LANDSLIDES` elliptical landslides whose source pixels are drawn with
    probability proportional to ``truth`` (see the module docstring)."""
    inner = geometry_mask(
        [aoi.buffer(-300.0)], out_shape=grid.shape, transform=grid.transform, invert=True
    )
    candidates = inner & np.isfinite(truth) & (truth > 0)
    weights = np.where(candidates, truth, 0.0).ravel()
    # Weighted sampling without replacement (Efraimidis-Spirakis / Gumbel top-k), skipping
    # pixels closer than 4 pixels to one already taken.
    keys = np.full(weights.size, -np.inf)
    ok = weights > 0
    keys[ok] = np.log(weights[ok]) + rng.gumbel(size=int(ok.sum()))
    spacing = 4
    yy, xx = np.mgrid[-spacing : spacing + 1, -spacing : spacing + 1]
    disk = yy**2 + xx**2 < spacing**2
    taken = np.zeros((grid.height + 2 * spacing, grid.width + 2 * spacing), dtype=bool)
    chosen: list[tuple[int, int]] = []
    for idx in np.argsort(-keys, kind="stable")[: int(ok.sum())]:
        r, c = divmod(int(idx), grid.width)
        if taken[r + spacing, c + spacing]:
            continue
        chosen.append((r, c))
        taken[r : r + 2 * spacing + 1, c : c + 2 * spacing + 1] |= disk
        if len(chosen) == N_LANDSLIDES:
            break
    rows, cols = np.array(chosen).T
    x, y = grid.xy(rows, cols)
    n = len(chosen)
    kind = np.where(rng.random(n) < 0.3, "flow", "slide")
    length = (
        np.where(kind == "flow", rng.uniform(2.0, 4.0, n), rng.uniform(1.0, 2.5, n))
        * grid.resolution
    )
    ratio = np.where(kind == "flow", rng.uniform(0.2, 0.35, n), rng.uniform(0.4, 0.7, n))
    jitter = rng.uniform(-20.0, 20.0, (n, 2))
    random_azimuth = rng.uniform(0.0, 360.0, n)
    azimuth = aspect[rows, cols].astype("float64")
    azimuth = np.where(np.isfinite(azimuth) & (azimuth >= 0), azimuth, random_azimuth)
    years = rng.integers(1995, 2023, n)
    geoms = []
    for i in range(n):
        ellipse = affinity.scale(
            Point(0.0, 0.0).buffer(1.0, quad_segs=4),
            length[i] / 2.0,
            max(length[i] * ratio[i], 30.0) / 2.0,
        )
        # The ellipse's long axis is x (east); turn it to the downslope azimuth.
        ellipse = affinity.rotate(ellipse, 90.0 - azimuth[i], origin=(0.0, 0.0))
        ellipse = affinity.translate(ellipse, x[i] + jitter[i, 0], y[i] + jitter[i, 1])
        geoms.append(shapely.set_precision(ellipse, 0.01))
    return gpd.GeoDataFrame(
        {"id": np.arange(1, n + 1), "year": years.astype("int32"), "type": kind},
        geometry=geoms,
        crs=grid.crs,
    )
