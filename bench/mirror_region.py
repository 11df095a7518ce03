"""A larger region at the same resolution: the embedded demo's inputs mirrored into
``columns × rows`` tiles (bench_scale's ``--grow tile``).

Re-gridding a region finer multiplies its pixels but also the size in cells of every
neighbourhood fixed in metres (TPI, relief: their cost per pixel grows with 1/resolution).
A region that is larger at the same resolution is what a user with a bigger area has; this
builds one from the demo without new data. Every input is first brought to EPSG:4326 and
cut at the demo AOI's east and south edges; tile ``(i, j)`` is that block mirrored ``i``
times about the east edge and ``j`` times about the south edge, so the terrain, the rivers
and the roads stay continuous across the seams (no cliffs that a copy would make). The
rasters reach ``MARGIN`` beyond the AOI on every side so that the region's grid, a UTM
rectangle around a longitude/latitude box, is covered.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import yaml
from rasterio.transform import from_origin
from rasterio.warp import Resampling, reproject
from shapely.affinity import affine_transform
from shapely.geometry import box

STEP = 0.00025  # degrees, ~25 m: finer than every demo raster (30 m, 90 m, ~75 m)
MARGIN = 0.02  # degrees beyond the AOI on the west and north (~2 km)
CATEGORICAL = {"landcover.tif"}


def mirrored_demo(demo: Path, folder: Path, columns: int, rows: int) -> Path:
    """Write the demo mirrored into ``columns × rows`` tiles in ``folder``; the path of its
    config (``region.yaml``, AOI ``columns × rows`` times the demo's). At most 2 × 2: one
    mirror each way keeps every raster's margin outside the AOI."""
    if not (1 <= columns <= 2 and 1 <= rows <= 2):
        raise ValueError(f"tiles must be 1 or 2 each way, got {columns} x {rows}")
    folder.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((demo / "region.yaml").read_text())
    west, south, east, north = config["aoi"]["bbox"]
    for path in sorted(demo.glob("*.tif")):
        _mirror_raster(path, folder / path.name, (west, south, east, north), columns, rows)
    for path in sorted(demo.glob("*.gpkg")):
        _mirror_vector(path, folder / path.name, (west, south, east, north), columns, rows)
    shutil.copy(demo / "README.md", folder / "README.md")
    width, height = east - west, north - south
    config["aoi"]["bbox"] = [west, north - rows * height, west + columns * width, north]
    config["name"] = f"{config['name']}-{columns}x{rows}"
    out = folder / "region.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def _mirror_raster(src_path: Path, out: Path, bbox, columns: int, rows: int) -> None:
    """The raster warped to EPSG:4326 on a ``STEP`` grid ``MARGIN`` beyond the AOI, then
    mirrored into tiles about the AOI's east and south edges (cells past the axis are
    dropped before mirroring, so the mirror's margin is the far side's)."""
    west, south, east, north = bbox
    left, top = west - MARGIN, north + MARGIN
    axis_col, axis_row = round((east - left) / STEP), round((top - south) / STEP)
    width, height = axis_col + round(MARGIN / STEP), axis_row + round(MARGIN / STEP)
    transform = from_origin(left, top, STEP, STEP)
    with rasterio.open(src_path) as src:
        nodata = src.nodata
        block = np.full((height, width), nodata if nodata is not None else 0, src.dtypes[0])
        categorical = src_path.name in CATEGORICAL
        reproject(rasterio.band(src, 1), block, dst_transform=transform, dst_crs="EPSG:4326",
                  dst_nodata=nodata, resampling=Resampling.nearest if categorical
                  else Resampling.bilinear)  # fmt: skip
        profile = src.profile
    if columns == 2:
        block = np.hstack([block[:, :axis_col], block[:, :axis_col][:, ::-1]])
    if rows == 2:
        block = np.vstack([block[:axis_row], block[:axis_row][::-1]])
    profile.update(crs="EPSG:4326", transform=transform, width=block.shape[1],
                   height=block.shape[0], tiled=True, blockxsize=256, blockysize=256,
                   compress="deflate")  # fmt: skip
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(block, 1)


def _mirror_vector(src_path: Path, out: Path, bbox, columns: int, rows: int) -> None:
    """The features in EPSG:4326, cut at the AOI's east and south edges, mirrored."""
    west, south, east, north = bbox
    frame = gpd.read_file(src_path).to_crs("EPSG:4326")
    frame = gpd.clip(
        frame,
        box(
            west - 1,
            south if rows == 2 else south - 1,
            east if columns == 2 else east + 1,
            north + 1,
        ),
    )
    frame = frame[~frame.geometry.is_empty]
    parts = []
    for j in range(rows):
        for i in range(columns):
            sx, dx = _fold(i, west, east)
            sy, dy = _fold_down(j, south, north)
            part = frame.copy()
            part["geometry"] = frame.geometry.apply(
                lambda g, sx=sx, dx=dx, sy=sy, dy=dy: affine_transform(g, [sx, 0, 0, sy, dx, dy])
            )
            parts.append(part)
    tiles = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")
    if "id" in tiles.columns:
        tiles["id"] = np.arange(1, len(tiles) + 1)
    tiles.to_file(out, driver="GPKG")


def _fold(i: int, west: float, east: float) -> tuple[float, float]:
    """``(scale, offset)`` of x in tile column ``i``: even tiles are the block shifted by
    ``i`` widths, odd tiles its mirror about the east edge shifted by ``i - 1`` widths."""
    w = east - west
    if i % 2 == 0:
        return 1.0, i * w
    return -1.0, 2 * east + (i - 1) * w


def _fold_down(j: int, south: float, north: float) -> tuple[float, float]:
    """``(scale, offset)`` of y in tile row ``j`` (downwards), as :func:`_fold`."""
    h = north - south
    if j % 2 == 0:
        return 1.0, -j * h
    return -1.0, 2 * south - (j - 1) * h


if __name__ == "__main__":  # python mirror_region.py DEMO FOLDER COLUMNS ROWS
    import sys

    demo, folder, columns, rows = sys.argv[1:5]
    mirrored_demo(Path(demo), Path(folder), int(columns), int(rows))
