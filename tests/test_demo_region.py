"""The embedded demo region (assets/demo): reproducible, correctly georeferenced, and its
simulated layers behave as documented (rivers in valleys, landslides drawn from the truth)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from matplotlib import cbook
from rasterio.features import rasterize
from scipy import ndimage

from lsgh_ee.config import load_config
from lsgh_ee.demo import build_demo_region
from lsgh_ee.demo.landcover import LAND_COVER
from lsgh_ee.demo.lithology import UNITS
from lsgh_ee.demo.rivers import RIVER_THRESHOLD_KM2, d8_drainage
from lsgh_ee.demo.terrain import BBOX
from lsgh_ee.demo.truth import N_LANDSLIDES, TRUTH_STEP, true_susceptibility, truth_factors
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_onto_grid

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo"
RASTERS = ["dem.tif", "landcover.tif", "red.tif", "nir.tif", "truth.tif"]
VECTORS = ["rivers.gpkg", "roads.gpkg", "geology.gpkg", "landslides.gpkg"]


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid.from_lonlat_bbox(BBOX, "auto", 90)


@pytest.fixture(scope="module")
def dem(grid: Grid) -> np.ndarray:
    return read_onto_grid(DEMO / "dem.tif", grid).astype("float64")


@pytest.fixture(scope="module")
def aoi(grid: Grid) -> shapely.Polygon:
    lonlat = gpd.GeoSeries([shapely.box(*BBOX)], crs="EPSG:4326").segmentize(0.01)
    return lonlat.to_crs(grid.crs).iloc[0]


def _read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        return src.read(), dict(src.profile)


# --- reproducibility and packaging --------------------------------------------------------


def test_regenerating_gives_the_committed_data(tmp_path: Path) -> None:
    config = build_demo_region(tmp_path)
    assert config == tmp_path / "region.yaml"
    assert config.read_text() == (DEMO / "region.yaml").read_text()
    for name in RASTERS:
        new, new_profile = _read(tmp_path / name)
        old, old_profile = _read(DEMO / name)
        for key in ("crs", "transform", "width", "height", "count", "dtype"):
            assert new_profile[key] == old_profile[key], (name, key)
        assert new_profile["nodata"] == old_profile["nodata"] or (
            np.isnan(new_profile["nodata"]) and np.isnan(old_profile["nodata"])
        )
        if name == "truth.tif":
            # p is rounded to TRUTH_STEP; the last-digit drift of newer numpy / scipy
            # builds moves a handful of pixels across a rounding boundary, one step at most
            np.testing.assert_allclose(new, old, rtol=0, atol=TRUTH_STEP * 1.001, equal_nan=True)
            assert np.mean(new[np.isfinite(new)] != old[np.isfinite(old)]) < 1e-3
        elif np.issubdtype(new.dtype, np.floating):
            np.testing.assert_allclose(new, old, rtol=0, atol=1e-6, equal_nan=True)
        else:
            np.testing.assert_array_equal(new, old)
    for name in VECTORS:
        new = gpd.read_file(tmp_path / name)
        old = gpd.read_file(DEMO / name)
        assert new.crs == old.crs, name
        assert list(new.columns) == list(old.columns), name
        attrs = [c for c in new.columns if c != "geometry"]
        assert new[attrs].equals(old[attrs]), name
        same = shapely.equals_exact(new.geometry.values, old.geometry.values, tolerance=1e-7)
        assert same.all(), name


def test_config_loads_and_names_existing_files() -> None:
    config = load_config(DEMO / "region.yaml")
    assert config.name == "jacksboro-demo"
    assert config.aoi.bbox == BBOX
    assert config.resolution == 90
    named = [config.inventory.path, config.dem.path]
    for spec in config.factors.values():
        if spec is not None:
            named += [p for p in (spec.path, spec.red, spec.nir) if p is not None]
    assert len(named) == 8
    for path in named:
        assert path.is_file(), path
    assert config.factors["lithology"].attribute == "unit"
    codes = {int(k) for k in config.factors["land_use"].remap}
    assert codes == set(LAND_COVER)


def test_assets_are_small() -> None:
    total = sum(p.stat().st_size for p in DEMO.iterdir() if p.is_file())  # not runs/
    assert total < 5_000_000, f"assets/demo is {total / 1e6:.2f} MB"
    assert (DEMO / "README.md").is_file()


# --- the real DEM --------------------------------------------------------------------------


def test_dem_is_georeferenced_like_the_source() -> None:
    npz = cbook.get_sample_data("jacksboro_fault_dem.npz")
    with rasterio.open(DEMO / "dem.tif") as src:
        assert src.crs.to_epsg() == 4326
        assert src.tags()["AREA_OR_POINT"] == "Area"
        assert src.nodata == -32768
        b = src.bounds
        z = src.read(1)
        transform = src.transform
    np.testing.assert_array_equal(z, npz["elevation"])
    north, south = max(npz["ymin"], npz["ymax"]), min(npz["ymin"], npz["ymax"])
    assert b.left == pytest.approx(float(npz["xmin"]), abs=1e-9)
    assert b.right == pytest.approx(float(npz["xmax"]), abs=1e-9)
    assert b.top == pytest.approx(float(north), abs=1e-9)
    assert b.bottom == pytest.approx(float(south), abs=1e-9)
    assert (b.left, b.top) == pytest.approx((-84.41375, 36.73291667), abs=1e-7)
    # Orientation: the Powell Valley lowland (lowest 5 %) lies in the south-east, the
    # high Cumberland Mountains (highest 5 %) in the west.
    rows, cols = np.indices(z.shape)
    lon, lat = rasterio.transform.xy(transform, rows.ravel(), cols.ravel())
    lon, lat = np.reshape(lon, z.shape), np.reshape(lat, z.shape)
    low = z <= np.percentile(z, 5)
    high = z >= np.percentile(z, 95)
    mid_lon, mid_lat = (b.left + b.right) / 2, (b.top + b.bottom) / 2
    assert lon[low].mean() > mid_lon + 0.05 and lat[low].mean() < mid_lat - 0.03
    assert lon[high].mean() < mid_lon
    argmin = np.unravel_index(z.argmin(), z.shape)
    assert lon[argmin] > mid_lon and lat[argmin] < mid_lat


# --- simulated layers ---------------------------------------------------------------------


def _d8_accumulation(dem: np.ndarray) -> np.ndarray:
    """Plain D8 flow accumulation on the unfilled DEM (pits just stop): an independent check
    of the generator's pit-filled drainage."""
    rows, cols = dem.shape
    padded = np.pad(dem, 1, constant_values=np.inf)
    offsets = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    drops = np.stack(
        [
            (dem - padded[1 + dr : 1 + dr + rows, 1 + dc : 1 + dc + cols]) / np.hypot(dr, dc)
            for dr, dc in offsets
        ]
    )
    best = drops.argmax(axis=0)
    has_lower = drops.max(axis=0) > 0
    rr, cc = np.indices(dem.shape)
    off = np.array(offsets)
    target = ((rr + off[best, 0]) * cols + cc + off[best, 1]).ravel()
    acc = np.ones(dem.size)
    flat_lower = has_lower.ravel()
    for idx in np.argsort(-dem, axis=None):
        if flat_lower[idx]:
            acc[target[idx]] += acc[idx]
    return acc.reshape(dem.shape)


def test_d8_drainage_fills_pits_and_reaches_the_outlet() -> None:
    # A valley sloping south with a pit in its floor; the outlet is the lowest edge cell.
    rows, cols = np.indices((9, 7)).astype("float64")
    dem = 100.0 - 2.0 * rows + 5.0 * np.abs(cols - 3)
    dem[4, 3] = 50.0  # pit
    dem[-1, 3] = 0.0  # outlet
    result = d8_drainage(dem)
    assert result["filled"][4, 3] > dem[5, 3]  # raised to its spill level
    # The pit now drains on down the valley floor, and the outlet collects the interior.
    receiver = result["receiver"]
    assert receiver[4, 3] == 5 * 7 + 3
    assert result["accumulation"][-1, 3] >= 5 * 7 - 10


def test_rivers_follow_the_drainage(grid: Grid, dem: np.ndarray) -> None:
    rivers = gpd.read_file(DEMO / "rivers.gpkg")
    assert rivers.crs.to_epsg() == 4326  # the pipeline has to reproject them
    assert rivers.geom_type.eq("LineString").all() and rivers.is_valid.all()
    assert {"order", "area_km2"} <= set(rivers.columns)
    assert rivers["order"].min() == 1 and rivers["order"].max() >= 3
    rivers = rivers.to_crs(grid.crs)
    on_river = rasterize(
        [(g, 1) for g in rivers.geometry], out_shape=grid.shape, transform=grid.transform
    ).astype(bool)
    # The generator's own (pit-filled) drainage: river pixels carry large catchments.
    acc = d8_drainage(dem)["accumulation"]
    assert acc[on_river].mean() > 100 * np.median(acc)
    assert (acc[on_river] * 0.0081 >= RIVER_THRESHOLD_KM2).mean() > 0.9
    # An independent, plain D8 on the unfilled DEM (its pits cut flow paths short) agrees.
    plain = _d8_accumulation(dem)
    assert plain[on_river].mean() > 20 * np.median(plain)
    # River pixels sit lower than their surroundings (1 km window).
    surroundings = ndimage.uniform_filter(dem, size=11, mode="nearest")
    below = (surroundings - dem)[on_river]
    assert below.mean() > 20.0 and (below > 0).mean() > 0.9
    # Links run downhill, except short ones across filled pits of the resampled DEM.
    start = [g.coords[0] for g in rivers.geometry]
    end = [g.coords[-1] for g in rivers.geometry]
    r0, c0 = grid.rowcol(*np.array(start).T)
    r1, c1 = grid.rowcol(*np.array(end).T)
    drop = dem[r0, c0] - dem[r1, c1]
    assert (drop >= -1.0).mean() > 0.9 and drop.min() > -20.0


def test_roads_and_geology(grid: Grid, aoi: shapely.Polygon) -> None:
    roads = gpd.read_file(DEMO / "roads.gpkg")
    assert roads.crs == grid.crs
    assert roads.geom_type.eq("LineString").all() and roads.is_valid.all()
    assert set(roads["kind"]) == {"primary", "secondary", "local"}
    geology = gpd.read_file(DEMO / "geology.gpkg")
    assert geology.crs == grid.crs
    assert geology.geom_type.eq("Polygon").all() and geology.is_valid.all()
    assert set(geology["unit"]) == set(UNITS) and 5 <= len(UNITS) <= 7
    union = shapely.union_all(geology.geometry.values)
    assert aoi.difference(union).area < 1.0  # the units tile the AOI
    assert geology.area.sum() - union.area < 1.0  # without overlaps


def test_land_cover_and_ndvi(grid: Grid, aoi: shapely.Polygon) -> None:
    with rasterio.open(DEMO / "landcover.tif") as src:
        assert src.crs.to_epsg() == 5070 and src.res == (30.0, 30.0)
        assert src.nodata == 0 and src.dtypes[0] == "uint8"
        lc = src.read(1)
    with rasterio.open(DEMO / "red.tif") as src:
        assert src.crs.to_epsg() == 5070 and src.dtypes[0] == "float32"
        red = src.read(1).astype("float64")
    with rasterio.open(DEMO / "nir.tif") as src:
        nir = src.read(1).astype("float64")
    assert set(np.unique(lc)) <= {0, *LAND_COVER}
    valid = lc > 0
    assert np.isfinite(red[valid]).all() and np.isfinite(nir[valid]).all()
    assert red[valid].min() > 0 and nir[valid].max() <= 1
    ndvi = (nir - red) / (nir + red)
    means = {code: ndvi[lc == code].mean() for code in LAND_COVER}
    assert means[10] > means[30] > means[40] > means[50] > means[60] > 0 > means[80]
    share = {code: (lc[valid] == code).mean() for code in LAND_COVER}
    assert 0.5 < share[10] < 0.85 and all(share[c] > 0 for c in LAND_COVER)
    # Every AOI pixel of the analysis grid gets a land-cover class and an NDVI.
    inside = rasterio.features.geometry_mask(
        [aoi], out_shape=grid.shape, transform=grid.transform, invert=True
    )
    on_grid = read_onto_grid(DEMO / "landcover.tif", grid, categorical=True)
    assert np.isfinite(on_grid[inside]).all()


def test_truth_is_the_documented_function(grid: Grid, aoi: shapely.Polygon) -> None:
    with rasterio.open(DEMO / "truth.tif") as src:
        assert src.crs == grid.crs and src.transform == grid.transform
        truth = src.read(1)
    inside = rasterio.features.geometry_mask(
        [aoi], out_shape=grid.shape, transform=grid.transform, invert=True
    )
    assert np.isfinite(truth[inside]).all() and np.isnan(truth[~inside]).all()
    assert np.nanmin(truth) > 0 and np.nanmax(truth) < 1
    factors = truth_factors(DEMO, grid)
    expected = true_susceptibility(factors)
    np.testing.assert_allclose(truth[inside], expected[inside], atol=1e-4)
    # Not trivial: no single factor ranks the pixels like the truth does.
    from scipy.stats import spearmanr

    for name, values in factors.items():
        ok = inside & np.isfinite(values)
        rho = spearmanr(values[ok], truth[ok]).statistic
        assert abs(rho) < 0.8, (name, rho)


def test_landslides_are_drawn_from_the_truth(grid: Grid, aoi: shapely.Polygon) -> None:
    slides = gpd.read_file(DEMO / "landslides.gpkg")
    assert len(slides) == N_LANDSLIDES and 250 <= N_LANDSLIDES <= 400
    assert slides.crs == grid.crs
    assert slides.geom_type.eq("Polygon").all()
    assert slides.is_valid.all() and not slides.is_empty.any()
    assert slides.within(aoi).all()
    assert slides["id"].is_unique
    assert slides["year"].between(1995, 2022).all()
    assert set(slides["type"]) == {"slide", "flow"}
    union = shapely.union_all(slides.geometry.values)
    assert slides.area.sum() - union.area < 1.0  # no overlaps
    with rasterio.open(DEMO / "truth.tif") as src:
        truth = src.read(1)
    centroids = slides.centroid
    rows, cols = grid.rowcol(centroids.x.values, centroids.y.values)
    at_slides = truth[rows, cols]
    assert at_slides.mean() > 2.0 * np.nanmean(truth)
    assert np.median(at_slides) > np.nanpercentile(truth, 75)
