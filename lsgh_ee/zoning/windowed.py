"""Zoning a susceptibility map window by window: the numbers of
:func:`lsgh_ee.zoning.zone_map` and :func:`lsgh_ee.zoning.interval_table` (the whole-array
reference, and the ``output.strip_rows: 0`` path) with memory bounded by a strip.

One pass reads the map strip by strip with the landslide mask of the same rows and adds
up what is counted per pixel: the equal intervals (Tables 5/6), the figure's histogram,
the minimum and maximum; the valid pixels' index values and landslide flags go to a
:class:`~lsgh_ee.evaluation.grouped.Spill` on disk (5 bytes a pixel, removed afterwards),
in row-major order. Then, from the spill:

- Jenks: the documented sample is ``Generator.choice(values, k)`` over the valid values
  in row-major order, which picks them at ``Generator.choice(n, k)``'s positions
  (:func:`lsgh_ee.zoning.jenks_positions`), gathered chunk by chunk: the same sample,
  hence the same breaks;
- the zone table: zones of the spilled values, counted chunk by chunk;
- the success-rate curve: pixels and landslide pixels per distinct index value, from
  :func:`~lsgh_ee.evaluation.grouped.grouped` (integers: the same curve, bit for bit, while
  the map has at most :data:`MAX_CURVE_POINTS` distinct values, e.g. a codes model's map
  of as many distinct vectors; beyond, as for a values model's map of nearly all distinct
  values, the area is summed on the way, equal within 1e-12, and the curve's points are
  thinned to about :data:`MAX_CURVE_POINTS`: :class:`_StreamedCurve`).

The zone map is written by :func:`zone_strips` strip by strip. Every number equals the
whole-array one exactly (counts are integers; the curve is computed from the same counts),
but for the success-rate curve of a map of many distinct values (above).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from lsgh_ee.evaluation.grouped import KeyHistogram, Spill, grouped
from lsgh_ee.rasters import bounded_gdal_cache, open_raster
from lsgh_ee.zoning import (
    HISTOGRAM_EDGES,
    JENKS_SAMPLE,
    IntervalTable,
    Zoning,
    index_histogram,
    interval_counts,
    interval_table_from_counts,
    jenks_positions,
    natural_breaks,
    success_rate_from_counts,
    zone,
    zone_counts,
    zone_table_from_counts,
)

#: Points of the success-rate curve held exactly (one per distinct value); beyond, the
#: curve is thinned and its area summed on the way (:class:`_StreamedCurve`).
MAX_CURVE_POINTS = 1 << 18

#: ``(first row, rows) -> bool (rows, cols)`` landslide mask of those rows of the grid.
LandslideRows = Callable[[int, int], np.ndarray]


@dataclass
class StripZoning:
    """A map zoned strip by strip: ``zoning`` (its ``zones`` is None: see
    :func:`zone_strips`), the equal-interval table, and ``histogram``, the pixels per bin
    of :data:`lsgh_ee.zoning.HISTOGRAM_EDGES` (:func:`lsgh_ee.zoning.index_histogram`)."""

    zoning: Zoning
    intervals: IntervalTable
    histogram: np.ndarray


def map_strips(path: str | os.PathLike, strip_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, band 1 (rows, cols))`` of a single-band raster, strip by strip
    (``strip_rows`` rows; 0 = the whole raster at once)."""
    with bounded_gdal_cache(), open_raster(path) as src:
        step = strip_rows if strip_rows > 0 else max(src.height, 1)
        for row0 in range(0, src.height, step):
            rows = min(step, src.height - row0)
            yield row0, src.read(1, window=Window(0, row0, src.width, rows))


def zone_strips(
    path: str | os.PathLike, breaks: list[float], strip_rows: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, uint8 zones (rows, cols))`` of the map ``path`` strip by strip
    (:func:`lsgh_ee.zoning.zone`)."""
    for row0, index in map_strips(path, strip_rows):
        yield row0, zone(index, breaks)


def zone_by_strips(
    path: str | os.PathLike,
    landslides: LandslideRows,
    *,
    seed: int,
    strip_rows: int,
    workdir: str | os.PathLike | None = None,
) -> StripZoning:
    """Jenks zones, zone table, success-rate curve, equal-interval table and figure
    histogram of the susceptibility map ``path`` (float32, NaN = nodata) against the
    landslide mask given by rows, strip by strip (``strip_rows``); ``seed`` draws the
    Jenks sample; the spill goes in a temporary folder in ``workdir``.

    Raises:
        ValueError: the map has no valid value (as :func:`lsgh_ee.zoning.jenks_breaks`).
    """
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".zoning-") as tmp:
        spill = Spill(Path(tmp) / "pixels", {"x": "float32", "s": "uint8"})
        keys = KeyHistogram()
        pixels, slide_px = np.zeros(5, np.int64), np.zeros(5, np.int64)
        histogram = np.zeros(len(HISTOGRAM_EDGES) - 1, np.int64)
        low, high = np.inf, -np.inf
        for row0, index in map_strips(path, strip_rows):
            valid = np.isfinite(index)
            values, slides = index[valid], landslides(row0, index.shape[0])[valid]
            counted = interval_counts(values, slides)
            pixels += counted[0]
            slide_px += counted[1]
            histogram += index_histogram(values)
            if values.size:
                low, high = min(low, float(values.min())), max(high, float(values.max()))
            spill.append(x=values, s=slides)
            keys.add(values)
        if spill.rows == 0:
            raise ValueError("no valid susceptibility value to zone")
        sample = _jenks_sample(spill, seed, low, high)
        breaks = natural_breaks(sample)
        table = zone_table_from_counts(*_zone_counts(spill, breaks))
        curve = _success_curve(spill, keys, int(slide_px.sum()))
    zoning = Zoning(breaks, int(sample.size), None, table, curve)
    return StripZoning(zoning, interval_table_from_counts(pixels, slide_px), histogram)


def _jenks_sample(spill: Spill, seed: int, low: float, high: float) -> np.ndarray:
    """:func:`lsgh_ee.zoning.jenks_breaks`' values: every valid value when there are at
    most :data:`JENKS_SAMPLE`, else the seeded sample plus the minimum and maximum."""
    n = spill.rows
    if n <= JENKS_SAMPLE:
        return spill.read("x", 0, n).astype(np.float64)
    positions = jenks_positions(n, JENKS_SAMPLE, seed)
    order = np.argsort(positions)
    ordered = positions[order]
    picked = np.empty(positions.size, dtype=np.float64)
    for start, chunk in spill.chunks(["x"]):
        lo, hi = np.searchsorted(ordered, [start, start + chunk["x"].size])
        picked[order[lo:hi]] = chunk["x"][ordered[lo:hi] - start]
    return np.concatenate([picked, [low, high]])


def _zone_counts(spill: Spill, breaks: list[float]) -> tuple[np.ndarray, np.ndarray]:
    pixels, slide_px = np.zeros(5, np.int64), np.zeros(5, np.int64)
    for _, chunk in spill.chunks(["x", "s"]):
        counted = zone_counts(zone(chunk["x"], breaks), chunk["s"])
        pixels += counted[0]
        slide_px += counted[1]
    return pixels, slide_px


def _success_curve(
    spill: Spill, keys: KeyHistogram, slides_total: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`lsgh_ee.zoning.success_rate_curve` from the pixels and landslide pixels per
    distinct value, most susceptible first: exactly today's curve while the map has at most
    :data:`MAX_CURVE_POINTS` distinct values, else :class:`_StreamedCurve`'s."""
    counts, found, held = [], [], 0
    streamed: _StreamedCurve | None = None
    for g in grouped(spill, "x", keys, [lambda c: c["s"]], ["s"]):
        slides = np.rint(g.sums[0]).astype(np.int64)
        if streamed is None and held + g.counts.size > MAX_CURVE_POINTS:
            streamed = _StreamedCurve(spill.rows, slides_total)
            for c, s in zip(counts, found, strict=True):
                streamed.add(c, s)
        if streamed is not None:
            streamed.add(g.counts, slides)
        else:
            counts.append(g.counts)
            found.append(slides)
            held += g.counts.size
    if streamed is not None:
        return streamed.curve()
    return success_rate_from_counts(np.concatenate(counts)[::-1], np.concatenate(found)[::-1])


class _StreamedCurve:
    """The success-rate curve of more than :data:`MAX_CURVE_POINTS` distinct values, fed
    in increasing order of the value: the area under it from every group (each group's
    trapezoid needs only the landslide pixels below it: ``n_g / N · (2 (S − below_g) −
    s_g) / 2S``; equal to :func:`lsgh_ee.zoning.success_rate_from_counts`' within 1e-12,
    the sums being added in another order), its points thinned to one each time the area
    share crosses a multiple of ``1 / MAX_CURVE_POINTS`` (plus both ends)."""

    def __init__(self, pixels: int, slides: int) -> None:
        self.n, self.s = pixels, slides
        self.below_n = self.below_s = 0
        self.auc = 0.0
        self.area: list[np.ndarray] = []
        self.found: list[np.ndarray] = []

    def add(self, counts: np.ndarray, slides: np.ndarray) -> None:
        below_n = self.below_n + np.cumsum(counts) - counts
        below_s = self.below_s + np.cumsum(slides) - slides
        s = max(self.s, 1)
        self.auc += float(np.sum(counts / self.n * (2 * (self.s - below_s) - slides) / (2 * s)))
        step = self.n / MAX_CURVE_POINTS
        cells = np.floor(below_n / step)
        keep = cells != np.floor((below_n + counts) / step)
        keep[0] |= self.below_n == 0
        keep[-1] = True
        self.area.append((self.n - below_n[keep]) / self.n)
        self.found.append((self.s - below_s[keep]) / s)
        self.below_n += int(counts.sum())
        self.below_s += int(slides.sum())

    def curve(self) -> tuple[np.ndarray, np.ndarray, float]:
        area = np.r_[0.0, np.concatenate(self.area)[::-1]]
        found = np.r_[0.0, np.concatenate(self.found)[::-1]]
        return area, found, self.auc
