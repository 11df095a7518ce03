"""The demo region's frame and its one real layer: the AOI, the analysis grid's
resolution, the default seed, and the DEM matplotlib ships (``jacksboro_fault_dem.npz``).

Row 0 of the npz is the north edge; ``xmin``/``xmax`` and the file's (swapped)
``ymin``/``ymax`` are the outer *edges* of the edge pixels: 403 x dx equals ``xmax - xmin``
and 344 x dy equals ``36.7329 - 36.4463`` exactly, which a pixel-centre reading would not
give. ``dem.tif`` is that grid, EPSG:4326, pixel-is-area, upper-left corner (-84.41375,
36.73291667).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from matplotlib import cbook
from pyproj import CRS
from shapely.geometry import box

from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_onto_grid, write_geotiff

#: Default seed (the paper's year and issue).
SEED = 20221
#: AOI (west, south, east, north), a little inside the DEM (-84.41375 .. -84.07792 E,
#: 36.44625 .. 36.73292 N) so the UTM grid that encloses it is still fully covered.
BBOX = (-84.395, 36.465, -84.095, 36.715)
RESOLUTION = 90.0


def dem_source() -> tuple[np.ndarray, Affine]:
    """The real DEM shipped with matplotlib and its (pixel-is-area) transform, row 0 north."""
    npz = cbook.get_sample_data("jacksboro_fault_dem.npz")
    elevation = np.asarray(npz["elevation"], dtype="int16")
    dx, dy = float(npz["dx"]), float(npz["dy"])
    west = float(npz["xmin"])
    north = max(float(npz["ymin"]), float(npz["ymax"]))  # the file swaps ymin / ymax
    return elevation, Affine(dx, 0.0, west, 0.0, -dy, north)


def write_dem(path: Path) -> Path:
    """Write the matplotlib DEM as an int16 EPSG:4326 GeoTIFF (nodata -32768)."""
    elevation, transform = dem_source()
    # A geographic "grid" only to reuse write_geotiff (atomic, tiled, compressed).
    grid = Grid(CRS.from_epsg(4326), transform, *elevation.shape)
    return write_geotiff(
        path,
        elevation,
        grid,
        nodata=-32768,
        descriptions=["elevation"],
        tags={
            "source": "matplotlib sample data jacksboro_fault_dem.npz (3 arc-second DEM)",
            "units": "m",
        },
        overviews=False,
    )


def aoi_outline(grid: Grid) -> shapely.Polygon:
    """The lon/lat AOI box as a (densified) polygon in the grid CRS."""
    lonlat = gpd.GeoSeries([box(*BBOX)], crs="EPSG:4326").segmentize(0.01)
    return lonlat.to_crs(grid.crs).iloc[0]


def padded_dem(dem_path: Path, grid: Grid, pad: int) -> np.ndarray:
    padded = grid.padded(pad)
    needed = 0.999 * grid.height * grid.width / (padded.height * padded.width)
    return read_onto_grid(dem_path, padded, min_coverage=needed).astype("float64")
