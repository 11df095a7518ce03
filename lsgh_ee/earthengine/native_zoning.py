"""Zoning statistics of a susceptibility map that stays in Earth Engine: Jenks breaks on a
sample, the zone table, Tables 5/6 and the success-rate curve from histogram reductions;
the tables themselves are :mod:`lsgh_ee.zoning`'s, fed with counts.

What is computed where, and how it compares with the local ``zone`` stage:

* Tables 5/6: each pixel's interval (the count of interval edges ≤ its index, as
  ``searchsorted(side="right")``) is an integer image; one ``fixedHistogram`` over it and
  over it masked to the landslide pixels gives the counts: equal to the local ones.
* Jenks breaks: on every valid pixel's index when there are at most
  :data:`lsgh_ee.zoning.JENKS_SAMPLE` (the same values, hence the same breaks, as locally),
  else on ``Image.sample(numPixels=JENKS_SAMPLE, seed)`` plus the minimum and maximum
  (Earth Engine's sample, not NumPy's: breaks differ within the sampling error).
* Zone table: zones ``1 + #(inner breaks < index)`` (the local rule), counted by histogram:
  equal to the local one for equal breaks.
* Success-rate curve: from a ``fixedHistogram`` of the index in :data:`CURVE_STEPS`
  buckets, ranked from the top bucket down, the values of one bucket taken together; the
  local curve takes only equal values together. The curve is exact at the bucket edges
  and its area differs from the local one by at most half the largest bucket's share of
  the area (:func:`curve_auc_bound`).

Downloaded: a few hundred numbers per histogram and at most ``JENKS_SAMPLE`` index values,
whatever the region's pixel count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lsgh_ee.earthengine.geometry import grid_projection, grid_region
from lsgh_ee.earthengine.native_tables import histogram_counts, reduce_grid
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.zoning import (
    INTERVALS,
    JENKS_SAMPLE,
    IntervalTable,
    Zoning,
    interval_table_from_counts,
    jenks_breaks,
    success_rate_from_counts,
    zone_table_from_counts,
)

#: Buckets of the index histogram the success-rate curve is built from (width 0.001).
CURVE_STEPS = 1000


@dataclass(frozen=True)
class NativeZoning:
    """Zoning statistics of an Earth Engine map.

    Attributes:
        zoning: breaks, zone table and curve (``zoning.zones`` is None: the zone map is
            :attr:`zones_image`, in Earth Engine).
        intervals: Tables 5/6.
        zones_image: uint8 zone codes 1..5 as an ``ee.Image`` (masked where the index is).
        curve_buckets: pixels per curve bucket, from the top bucket down (for the bound).
    """

    zoning: Zoning
    intervals: IntervalTable
    zones_image: Any
    curve_buckets: np.ndarray


def _count_levels(index: Any, thresholds: list[float], strict: bool) -> Any:
    """Number of ``thresholds`` below (``strict``) or at most equal to each pixel's index."""
    import ee

    level = ee.Image.constant(0).toUint8()
    for value in thresholds:
        level = level.add(index.gt(value) if strict else index.gte(value))
    return level.updateMask(index.mask())


def _pair(image: Any, slides: Any) -> Any:
    """Two bands: ``all`` = ``image``, ``slides`` = ``image`` on the landslide pixels."""
    return image.rename("all").addBands(image.updateMask(slides).rename("slides"))


def _index_sample(index: Any, grid: Grid, n_valid: int, seed: int) -> np.ndarray:
    import ee

    band = index.rename("index")
    if n_valid <= JENKS_SAMPLE:
        sampled = band.sample(region=grid_region(grid), projection=grid_projection(grid))
        return np.asarray(sampled.aggregate_array("index").getInfo(), dtype="float64")
    sampled = band.sample(region=grid_region(grid), projection=grid_projection(grid),
                          numPixels=JENKS_SAMPLE, seed=int(seed))  # fmt: skip
    values = np.asarray(sampled.aggregate_array("index").getInfo(), dtype="float64")
    low = reduce_grid(band, ee.Reducer.min(), grid).get("index")
    high = reduce_grid(band, ee.Reducer.max(), grid).get("index")
    return np.concatenate([values, [float(low), float(high)]])


def zoning_statistics(
    index: Any, landslides: Any, grid: Grid, *, seed: int, curve_steps: int = CURVE_STEPS
) -> NativeZoning:
    """Zone an Earth Engine susceptibility map and tabulate it against the landslides.

    Args:
        index: one-band ``ee.Image``, susceptibility in [0, 1], masked = nodata.
        landslides: ``ee.Image``, non-zero on landslide pixels
            (:func:`lsgh_ee.earthengine.native_heatmap.landslide_image`).
        grid: the analysis grid (every reduction runs on its CRS and lattice).
        seed: seed of Earth Engine's Jenks sample (large regions only).
        curve_steps: buckets of the success-rate curve's histogram.

    Raises:
        LsghError: no valid index value on the grid.
    """
    slides = landslides.unmask(0).neq(0)
    edges = list(INTERVALS[1:-1])
    bins = _count_levels(index, edges, strict=False)
    counts = histogram_counts(_pair(bins, slides), grid, 0, len(INTERVALS) - 1,
                              len(INTERVALS) - 1)  # fmt: skip
    n_valid = int(counts["all"].sum())
    if n_valid == 0:
        raise LsghError(
            "the susceptibility map has no valid pixel on the grid; check the prediction "
            "asset covers the region"
        )
    intervals = interval_table_from_counts(counts["all"], counts["slides"])
    values = _index_sample(index, grid, n_valid, seed)
    breaks, used = jenks_breaks(values, sample=max(values.size, 1), seed=seed)
    zones = _count_levels(index, breaks[1:-1], strict=True).add(1).toUint8().rename("zone")
    zone_counts = histogram_counts(_pair(zones, slides), grid, 1, 6, 5)
    table = zone_table_from_counts(zone_counts["all"], zone_counts["slides"])
    width = 1.0 / curve_steps  # one more bucket so that an index of exactly 1 counts
    curve_counts = histogram_counts(_pair(index, slides), grid, 0.0, 1.0 + width,
                                    curve_steps + 1)  # fmt: skip
    top_down = curve_counts["all"][::-1]
    curve = success_rate_from_counts(top_down, curve_counts["slides"][::-1])
    zoning = Zoning(list(breaks), int(used), None, table, curve)
    return NativeZoning(zoning, intervals, zones, top_down)


def curve_auc_bound(buckets: np.ndarray) -> float:
    """Largest difference between the success-rate AUC from histogram buckets and the one
    from every distinct value: half the largest bucket's share of the area."""
    buckets = np.asarray(buckets, dtype="float64")
    return float(buckets.max() / max(buckets.sum(), 1.0) / 2)
