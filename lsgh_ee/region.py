"""A region: its validated config, its analysis grid and its AOI outline on that grid."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from rasterio.features import geometry_mask
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from lsgh_ee.config import RegionConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid, as_metric_crs, utm_crs_for
from lsgh_ee.vectors import read_vector

#: The largest grid (pixels) whose factor stack ``export-factors`` makes (and
#: ``check-region`` rasterises): its stages stream, but the run folder (~35 bytes per
#: pixel) and the whole-grid parts left (hydrology factors, the cross-validation's stack)
#: make larger regions a job for the Earth Engine-native run, which has no such limit.
MAX_LOCAL_PIXELS = 400_000_000


@dataclass(frozen=True)
class Region:
    """A region ready for work.

    Attributes:
        config: the validated config (absolute paths).
        grid: the analysis grid covering the AOI.
        aoi: the AOI outline in the grid CRS (the lon/lat box becomes a slightly curved
            quadrilateral in UTM; pixels outside it are nodata in every output).
    """

    config: RegionConfig
    grid: Grid
    aoi: BaseGeometry

    @classmethod
    def from_config(cls, config: RegionConfig, *, max_pixels: int | None = None) -> Region:
        """Build the grid from the AOI (bbox or vector file) and the target CRS.

        Raises:
            LsghError: the grid has more than ``max_pixels`` pixels (None: no limit; the
                grid is only a header until a stage makes pixels on it, and
                ``export-factors`` passes :data:`MAX_LOCAL_PIXELS`).
        """
        if config.aoi.bbox is not None:
            lonlat = gpd.GeoSeries([box(*config.aoi.bbox)], crs="EPSG:4326")
        else:
            frame = read_vector(config.aoi.file, what="AOI file")
            if frame.empty:
                raise LsghError(f"AOI file {config.aoi.file} has no features; draw the AOI")
            lonlat = gpd.GeoSeries([shapely.union_all(frame.geometry.values)], crs=frame.crs)
            lonlat = lonlat.to_crs("EPSG:4326")
        crs = _target_crs(config.crs, lonlat)
        # Densify so a lon/lat box keeps its curved edges after projection.
        outline = lonlat.segmentize(0.01).to_crs(crs).iloc[0]
        grid = Grid.from_bounds(outline.bounds, crs, config.resolution, _dem_anchor(config, crs))
        if max_pixels is not None and grid.height * grid.width > max_pixels:
            raise LsghError(
                f"region {config.name} would be a {grid.height} x {grid.width} grid "
                f"({grid.height * grid.width / 1e6:.0f} M pixels, more than the "
                f"{max_pixels / 1e6:.0f} M a local run takes); raise 'resolution', shrink "
                "the AOI, or run it in Earth Engine (lsgh-ee run CONFIG --backend ee)"
            )
        return cls(config=config, grid=grid, aoi=outline)

    def aoi_rows(self, row0: int, rows: int) -> np.ndarray:
        """Boolean ``(rows, width)``: rows ``row0 .. row0 + rows`` of :attr:`aoi_mask`,
        rasterised on their own (memory of the strip)."""
        strip = self.grid.strip(row0, rows)
        return geometry_mask(
            [self.aoi], out_shape=strip.shape, transform=strip.transform, invert=True
        )

    @cached_property
    def aoi_mask(self) -> np.ndarray:
        """Boolean ``grid.shape`` array, True for pixels whose centre is inside the AOI."""
        return geometry_mask(
            [self.aoi], out_shape=self.grid.shape, transform=self.grid.transform, invert=True
        )


def _dem_anchor(config: RegionConfig, crs: CRS) -> tuple[float, float]:
    """The DEM's pixel corner when the DEM is already in the target CRS at the target
    resolution (so terrain factors use its pixels as they are), else the origin."""
    dem = config.dem
    if dem is None or dem.path is None:
        return (0.0, 0.0)
    from lsgh_ee.rasters import open_raster

    with open_raster(dem.path) as src:
        t = src.transform
        same_res = abs(t.a - config.resolution) < 1e-6 and abs(-t.e - config.resolution) < 1e-6
        if src.crs is not None and CRS.from_user_input(src.crs) == crs and same_res:
            return (t.c, t.f)
    return (0.0, 0.0)


def _target_crs(setting: str, lonlat: gpd.GeoSeries) -> CRS:
    if setting.lower() == "auto":
        centre = lonlat.union_all().centroid
        return utm_crs_for(centre.x, centre.y)
    return as_metric_crs(setting)
