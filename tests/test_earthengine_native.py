"""The Earth Engine-native run (issue 17, points 2 and 3): heatmap, samples and zoning
statistics computed in Earth Engine, only tables and numbers downloaded; through the real
``ee`` client against the loopback fake, each checked against the local NumPy computation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ee
import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from ee_fake import FakeEarthEngine, make_service_account_key
from pyproj import CRS
from scipy import ndimage
from shapely.geometry import Point

from lsgh_ee.earthengine.download import download_image
from lsgh_ee.earthengine.geometry import grid_projection, grid_region
from lsgh_ee.earthengine.native_heatmap import heatmap_image, landslide_image
from lsgh_ee.earthengine.session import EarthEngineSession, open_session
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import gaussian_heatmap
from lsgh_ee.inventory import Inventory, InventoryReport

PROJECT = "lsgh-test"
BUCKET = "lsgh-bucket"
CRS_CODE = "EPSG:32633"
RES = 30.0
ORIGIN = Affine(RES, 0, 300_000.0, 0, -RES, 5_000_000.0)


def make_grid(height: int, width: int) -> Grid:
    return Grid(CRS.from_string(CRS_CODE), ORIGIN, height, width)


GRID = make_grid(40, 50)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEarthEngine]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "LSGH_EE_API_URL", "LSGH_EE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    with FakeEarthEngine(projects={PROJECT: None}) as f:
        f.storage.add_bucket(BUCKET)
        yield f
    ee.Reset()


@pytest.fixture
def session(fake: FakeEarthEngine, tmp_path: Path) -> EarthEngineSession:
    key = make_service_account_key(tmp_path / "key.json", token_uri=fake.token_uri)
    fake.trust_key(key.private_key_id, key.public_key_pem, key.client_email)
    return open_session(PROJECT, key_file=key.path, api_url=fake.url, client_retries=0)


def pixels(image: ee.Image, tmp_path: Path, grid: Grid = GRID) -> np.ndarray:
    """All bands of ``image`` on ``grid`` as float64 ``(bands, rows, cols)``, NaN = masked."""
    names = image.bandNames().getInfo()
    out = download_image(
        image, grid, tmp_path / f"img{len(list(tmp_path.glob('*.tif')))}.tif",
        band_names=names, dtype="float64", workers=1,
    )  # fmt: skip
    with rasterio.open(out) as src:
        return src.read()


def centre_pixels(seed: int, n: int, grid: Grid = GRID) -> tuple[np.ndarray, np.ndarray]:
    """``n`` centre pixels: random, plus the four corners and a pair one pixel apart
    (kernels cut by the edges, overlapping kernels, a tie between two centres)."""
    rng = np.random.default_rng(seed)
    rows = np.r_[rng.integers(0, grid.height, n), 0, 0, grid.height - 1, grid.height - 1, 20, 20]
    cols = np.r_[rng.integers(0, grid.width, n), 0, grid.width - 1, 0, grid.width - 1, 24, 26]
    return rows, cols


def polygon_inventory(grid: Grid, seed: int = 3, n: int = 12) -> Inventory:
    """Square landslide polygons of 1.5–3 pixels half-width inside the grid."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(4, grid.height - 4, n)
    cols = rng.integers(4, grid.width - 4, n)
    x, y = grid.xy(rows, cols)
    half = rng.uniform(1.5, 3.0, n) * RES
    shapes = [Point(a, b).buffer(h, cap_style="square") for a, b, h in zip(x, y, half, strict=True)]
    frame = gpd.GeoDataFrame({"id": np.arange(n)}, geometry=shapes, crs=CRS_CODE)
    return Inventory(frame, "polygon", InventoryReport(read=n, kept=n))


# -- heatmap ------------------------------------------------------------------------------------


@pytest.mark.parametrize("diameter", [7, 13])
def test_heatmap_in_earth_engine_equals_the_local_heatmap(
    session: EarthEngineSession, tmp_path: Path, diameter: int
) -> None:
    rows, cols = centre_pixels(diameter, 15)
    remote = pixels(heatmap_image(rows, cols, GRID, diameter), tmp_path)[0]
    local = gaussian_heatmap((rows, cols), GRID.shape, diameter)
    assert remote.shape == local.shape
    np.testing.assert_array_equal(remote.astype(np.float32), local)
    assert (local == 1).sum() == np.unique(rows * GRID.width + cols).size
    assert (local == 0).any() and ((local > 0) & (local < 0.2)).any()


def test_landslide_image_equals_the_inventory_mask(
    session: EarthEngineSession, tmp_path: Path
) -> None:
    inventory = polygon_inventory(GRID)
    for mode in ("polygon", "centroid"):
        remote = pixels(landslide_image(inventory, GRID, mode), tmp_path)[0]
        np.testing.assert_array_equal(remote.astype(bool), inventory.mask(GRID, mode))


def test_fake_distance_transform_matches_scipy(
    session: EarthEngineSession, tmp_path: Path
) -> None:
    from lsgh_ee.earthengine.native_heatmap import centres_image, squared_distance

    rows, cols = centre_pixels(1, 5)
    mask = np.zeros(GRID.shape, dtype=bool)
    mask[rows, cols] = True
    reach = 6
    remote = pixels(squared_distance(centres_image(rows, cols, GRID), GRID, reach), tmp_path)[0]
    dist = ndimage.distance_transform_edt(~mask)
    expected = np.where(dist <= reach, np.rint(dist**2), reach**2 + 1)
    np.testing.assert_array_equal(remote, expected)
