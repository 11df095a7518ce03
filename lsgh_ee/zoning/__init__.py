"""Susceptibility zoning: Jenks natural-break classes, the paper's equal-interval tables
(Tables 5 and 6: share of area, share of landslides and landslide density per interval),
and the success-rate curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ZONES = ("very low", "low", "moderate", "high", "very high")
#: Zone colours (RGBA) for the class GeoTIFF's colour table and the figures: green → red.
ZONE_COLOURS = {
    1: (26, 150, 65, 255),
    2: (166, 217, 106, 255),
    3: (255, 255, 191, 255),
    4: (253, 174, 97, 255),
    5: (215, 25, 28, 255),
}
INTERVALS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Jenks is quadratic in the number of values: above this many, breaks come from a seeded
#: random sample of this size plus the minimum and maximum (as QGIS does).
JENKS_SAMPLE = 20_000


def jenks_breaks(
    index: np.ndarray, n_classes: int = 5, *, sample: int = JENKS_SAMPLE, seed: int = 0
) -> tuple[list[float], int]:
    """Jenks natural breaks of the valid (finite) values of ``index``.

    Returns:
        (breaks: ``n_classes + 1`` increasing values from the minimum to the maximum,
        number of values they were computed on — all of them when there are at most
        ``sample``, else ``sample`` random values plus the minimum and maximum).
    """
    values = np.asarray(index, dtype="float64")
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("no valid susceptibility value to zone")
    if values.size > sample:
        picked = values[jenks_positions(values.size, sample, seed)]
        values = np.concatenate([picked, [values.min(), values.max()]])
    return natural_breaks(values, n_classes), int(values.size)


def jenks_positions(n: int, sample: int, seed: int) -> np.ndarray:
    """Positions (among ``n`` valid values in row-major order) of the documented Jenks
    sample: ``sample`` of them without replacement, drawn by a seeded NumPy generator
    (``Generator.choice(values, sample)`` picks ``values`` at these positions)."""
    return np.random.default_rng(seed).choice(n, sample, replace=False)


def natural_breaks(values: np.ndarray, n_classes: int = 5) -> list[float]:
    """Jenks natural breaks of ``values`` (float64, no NaN), ``n_classes + 1`` increasing
    values from the minimum to the maximum; evenly spaced when there are at most
    ``n_classes`` distinct values."""
    import jenkspy

    distinct = np.unique(values)
    if distinct.size <= n_classes:  # too few values for natural breaks: one class each
        return list(np.linspace(distinct[0], distinct[-1], n_classes + 1))
    return [float(b) for b in jenkspy.jenks_breaks(values, n_classes=n_classes)]


def zone(index: np.ndarray, breaks: list[float]) -> np.ndarray:
    """uint8 zones 1..len(breaks)-1 (class i holds breaks[i-1] < v ≤ breaks[i]; the lowest
    class includes its lower bound), 0 where ``index`` is NaN."""
    inner = np.asarray(breaks[1:-1], dtype="float64")
    zones = (np.searchsorted(inner, index, side="left") + 1).astype("uint8")
    zones[~np.isfinite(index)] = 0
    return zones


@dataclass(frozen=True)
class IntervalTable:
    """The paper's Tables 5/6 for one model."""

    table: pd.DataFrame

    def markdown(self) -> str:
        lines = ["| Interval | Pixels | Share of area | Landslide pixels | Share of landslides "
                 "| Landslide density |", "|---|---|---|---|---|---|"]  # fmt: skip
        for label, row in self.table.iterrows():
            lines.append(
                f"| {label} | {int(row.pixels)} | {row.area_share:.2%} | "
                f"{int(row.landslide_pixels)} | {row.landslide_share:.2%} | "
                f"{row.density:.4f} |"
            )
        return "\n".join(lines) + "\n"


def interval_table(
    index: np.ndarray, landslides: np.ndarray, edges: tuple[float, ...] = INTERVALS
) -> IntervalTable:
    """Per equal interval of the index (0–0.2 … 0.8–1; the last closed): pixels, share of
    the valid area, landslide pixels, share of the landslide pixels, and landslide
    density = landslide pixels / pixels in the interval.

    Args:
        index: susceptibility in [0, 1], NaN = nodata.
        landslides: boolean mask of landslide pixels, same shape.
    """
    valid = np.isfinite(index)
    pixels, slide_px = interval_counts(index[valid], landslides[valid], edges)
    return interval_table_from_counts(pixels, slide_px, edges)


def interval_counts(
    values: np.ndarray, slides: np.ndarray, edges: tuple[float, ...] = INTERVALS
) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, landslide pixels) per equal interval of valid index ``values`` (1-D, no
    NaN; ``slides`` their landslide flags): int64 arrays of ``len(edges) - 1``, to add up
    window by window (:func:`interval_table_from_counts`)."""
    bins = np.clip(np.searchsorted(np.asarray(edges[1:-1]), values, side="right"), 0,
                   len(edges) - 2)  # fmt: skip
    pixels = np.bincount(bins, minlength=len(edges) - 1)
    slide_px = np.bincount(bins[np.asarray(slides, dtype=bool)], minlength=len(edges) - 1)
    return pixels.astype(np.int64), slide_px.astype(np.int64)


def interval_table_from_counts(
    pixels: np.ndarray, slide_px: np.ndarray, edges: tuple[float, ...] = INTERVALS
) -> IntervalTable:
    """Tables 5/6 from the counts per interval: ``pixels`` and ``slide_px`` (landslide
    pixels), int arrays of ``len(edges) - 1`` (interval i holds ``edges[i] ≤ v <
    edges[i+1]``, the last closed), however they were counted (here, or by an Earth
    Engine histogram)."""
    pixels = np.asarray(pixels, dtype=np.int64)
    slide_px = np.asarray(slide_px, dtype=np.int64)
    labels = [f"{a:g}–{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "pixels": pixels,
                "area_share": pixels / max(pixels.sum(), 1),
                "landslide_pixels": slide_px,
                "landslide_share": slide_px / max(slide_px.sum(), 1),
                "density": np.where(pixels > 0, slide_px / np.maximum(pixels, 1), np.nan),
            },
            index=pd.Index(labels, name="interval"),
        )
    return IntervalTable(table)


def zone_table(zones: np.ndarray, landslides: np.ndarray) -> pd.DataFrame:
    """Per Jenks zone: pixels, share of area, landslide pixels, share of landslides."""
    return zone_table_from_counts(*zone_counts(zones, landslides))


def zone_counts(zones: np.ndarray, landslides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, landslide pixels) of zones 1..5 (int64 arrays of 5) of uint8 ``zones``
    (0 = nodata, not counted) and a landslide mask of the same shape, to add up window
    by window (:func:`zone_table_from_counts`)."""
    valid = zones > 0
    pixels = np.bincount(zones[valid], minlength=6)[1:]
    slide_px = np.bincount(zones[valid & landslides.astype(bool)], minlength=6)[1:]
    return pixels.astype(np.int64), slide_px.astype(np.int64)


def zone_table_from_counts(pixels: np.ndarray, slide_px: np.ndarray) -> pd.DataFrame:
    """The zone table from the pixels and landslide pixels of zones 1..5 (int arrays of 5)."""
    pixels = np.asarray(pixels, dtype=np.int64)
    slide_px = np.asarray(slide_px, dtype=np.int64)
    return pd.DataFrame(
        {
            "pixels": pixels,
            "area_share": pixels / max(pixels.sum(), 1),
            "landslide_pixels": slide_px,
            "landslide_share": slide_px / max(slide_px.sum(), 1),
        },
        index=pd.Index(ZONES, name="zone"),
    )


def success_rate_curve(
    index: np.ndarray, landslides: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Cumulative share of landslide pixels against cumulative share of area, pixels
    ranked from the most to the least susceptible (ties taken together).

    Returns:
        (area share from 0 to 1, landslide share from 0 to 1, area under the curve).
    """
    valid = np.isfinite(index)
    values = index[valid].astype("float64")
    slides = landslides[valid].astype(bool)
    order = np.argsort(-values, kind="mergesort")
    values, slides = values[order], slides[order]
    last = np.r_[np.flatnonzero(np.diff(values)), values.size - 1]
    pixels = np.diff(np.r_[-1, last])
    found = np.diff(np.r_[0, np.cumsum(slides)[last]])
    return success_rate_from_counts(pixels, found)


def success_rate_from_counts(
    pixels: np.ndarray, slide_px: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """The success-rate curve from counts per group of index values taken together
    (distinct values, or histogram buckets), ordered from the most to the least
    susceptible: ``pixels`` and landslide pixels ``slide_px`` per group. Empty groups
    are skipped. Returns (area share, landslide share, area under the curve)."""
    pixels = np.asarray(pixels, dtype=np.int64)
    slide_px = np.asarray(slide_px, dtype=np.int64)
    keep = pixels > 0
    pixels, slide_px = pixels[keep], slide_px[keep]
    cum = np.cumsum(pixels)
    area = np.r_[0.0, cum / max(int(cum[-1]) if cum.size else 0, 1)]
    found = np.r_[0.0, np.cumsum(slide_px) / max(int(slide_px.sum()), 1)]
    auc = float(np.sum(np.diff(area) * (found[1:] + found[:-1]) / 2))
    return area, found, auc


@dataclass
class Zoning:
    """One map zoned and tabulated: what the ``zone`` stage and the studies report.

    Attributes:
        breaks: the Jenks breaks (index units, 0–1); ``used``: values they were computed on.
        zones: int ``(rows, cols)`` zone codes 1..5, 0 where the index is NaN; None when
            the zone map stays in Earth Engine (tables from its histograms).
        zones_table: area and landslide shares per zone (:func:`zone_table`).
        curve: the success-rate curve ``(area share, landslide share, AUC)``.
    """

    breaks: list[float]
    used: int
    zones: np.ndarray | None
    zones_table: pd.DataFrame
    curve: tuple

    @property
    def high_very_high_area_share(self) -> float:
        """Share of the area in the high and very-high zones."""
        return float(self.zones_table.loc[["high", "very high"], "area_share"].sum())

    @property
    def high_very_high_landslide_share(self) -> float:
        """Share of the landslide pixels in the high and very-high zones."""
        return float(self.zones_table.loc[["high", "very high"], "landslide_share"].sum())


def zone_map(index: np.ndarray, landslides: np.ndarray, *, seed: int) -> Zoning:
    """Jenks zones of a susceptibility index ``(rows, cols)`` (NaN = nodata), their table
    against a landslide mask of the same shape, and the success-rate curve; ``seed`` draws
    the documented Jenks sample (see :func:`jenks_breaks`)."""
    breaks, used = jenks_breaks(index, seed=seed)
    zones = zone(index, breaks)
    return Zoning(breaks, used, zones, zone_table(zones, landslides),
                  success_rate_curve(index, landslides))  # fmt: skip


#: Bin edges of the index frequency histogram (the paper's Figure 10): 50 bins of 0.02.
HISTOGRAM_EDGES = np.linspace(0, 1, 51)


def index_histogram(values: np.ndarray) -> np.ndarray:
    """Pixels per bin of :data:`HISTOGRAM_EDGES` of valid index ``values`` (int64 array of
    50), to add up window by window."""
    counts, _ = np.histogram(values, bins=HISTOGRAM_EDGES)
    return counts.astype(np.int64)
