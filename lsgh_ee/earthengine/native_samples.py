"""Hard and soft samples drawn in Earth Engine: only the sample table leaves it.

The same rules as :func:`lsgh_ee.sampling.draw.draw_samples`, with the pixels in Earth
Engine and the decisions that need only the samples taken locally:

1. Strata are painted on the grid: 1 = positive (a landslide pixel by
   ``sampling.positives``, valid in every factor), 2 = negative candidate (valid, not a
   landslide pixel, inside the rule ``sampling.negatives``: heatmap 0, farther than
   ``negative_buffer`` from every landslide pixel, or slope below ``negative_max_slope``).
   One histogram reduction counts them; ``Image.stratifiedSample`` then takes every
   positive and ``round(negative_ratio × positives)`` negatives.
2. The split is drawn locally on that table with the local functions (random: per
   sample; spatial: blocks of ``block_size`` m chosen from the hard samples, and the
   heatmap rebuilt in Earth Engine from the landslides whose centre is in a training block).
3. Soft samples: strata 3, 4, 5 = the heatmap intervals (0.2, 0.4], (0.4, 0.6], (0.6, 0.8]
   on valid non-positive ground (spatial: training blocks only), ``soft_per_interval``
   each (default: as many as the [training] positives), drawn by a second
   ``stratifiedSample``; a soft pixel that is also a drawn negative is dropped.

Statistical differences from the local sampler (documented in docs/earth-engine.md):
the positives are the same pixels and every count is the same (unless a soft pixel
coincides with a negative, rare, reported as a notice), but Earth Engine's generator
picks the negatives and soft samples: the same seed gives other (equally uniform) pixels
than NumPy's; the random split then differs too. Temporal splits are not offered here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from lsgh_ee.config import SamplingConfig
from lsgh_ee.earthengine.exports import ExportSettings
from lsgh_ee.earthengine.geometry import crs_code, grid_projection, grid_region
from lsgh_ee.earthengine.native_heatmap import heatmap_image, landslide_image, squared_distance
from lsgh_ee.earthengine.native_tables import collection_to_frame, histogram_counts
from lsgh_ee.earthengine.tables import TableFormat
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.inventory import Inventory
from lsgh_ee.sampling.draw import SOFT_INTERVALS
from lsgh_ee.sampling.samples import Samples
from lsgh_ee.sampling.splits import (
    Blocks,
    check_positive_split,
    held_out_blocks,
    random_split,
)

log = logging.getLogger(__name__)

POSITIVE, NEGATIVE = 1, 2
SOFT_STRATA = (3, 4, 5)  # one per SOFT_INTERVALS entry
STRATUM = "stratum"


@dataclass(frozen=True)
class NativeSources:
    """What the samples are drawn from, all in Earth Engine.

    Attributes:
        codes: uint8 class-code image, one band per factor (0 or masked = nodata).
        factor_names: the bands of ``codes``, in the model's order.
        grid: the analysis grid.
        slope: slope in degrees (the ``low_slope`` rule only).
        area: 1 where samples may be drawn (the AOI: :func:`native_heatmap.area_image`),
            default everywhere on the grid.
    """

    codes: Any
    factor_names: tuple[str, ...]
    grid: Grid
    slope: Any = None
    area: Any = None


def valid_image(codes: Any, names: tuple[str, ...]) -> Any:
    """1 where every factor has a class code (> 0), 0 elsewhere (masked codes included)."""
    valid = None
    for name in names:
        ok = codes.select(name).unmask(0).gt(0)
        valid = ok if valid is None else valid.And(ok)
    if valid is None:
        raise LsghError("no factor to sample; list factors in the config")
    return valid.rename("valid")


def _rule_image(cfg: SamplingConfig, src: NativeSources, heat: Any, slides: Any) -> Any:
    grid = src.grid
    if cfg.negatives == "outside_heatmap":
        return heat.eq(0)
    if cfg.negatives == "outside_buffer":
        reach = int(np.ceil(cfg.negative_buffer / grid.resolution)) + 1
        sq = squared_distance(slides, grid, reach)
        return sq.multiply(grid.resolution**2).gt(cfg.negative_buffer**2)
    if src.slope is None:
        raise LsghError(
            "sampling.negatives is 'low_slope' but no slope image was given; add slope to "
            "'factors' or use sampling.negatives: outside_heatmap"
        )
    return src.slope.lt(cfg.negative_max_slope)


def _strata_table(
    image: Any, strata: Any, counts: dict[int, int], src: NativeSources, seed: int,
    settings: ExportSettings, name: str, extra: tuple[str, ...] = (),
    table_format: TableFormat = "CSV",
) -> Any:  # fmt: skip
    """The stratified sample of ``image`` (+ pixel coordinates, + ``strata``) as a frame."""
    import ee

    projection = grid_projection(src.grid)
    sampled = (
        image.select([*src.factor_names, *extra])
        .addBands(ee.Image.pixelCoordinates(projection))
        .addBands(strata.rename(STRATUM))
        .updateMask(strata.gt(0))
    )
    collection = sampled.stratifiedSample(
        numPoints=0,
        classBand=STRATUM,
        region=grid_region(src.grid),
        projection=projection,
        seed=int(seed),
        classValues=list(counts),
        classPoints=[int(n) for n in counts.values()],
        dropNulls=True,
        geometries=False,
    )
    columns = [*src.factor_names, *extra, "x", "y", STRATUM]
    return collection_to_frame(collection, columns, settings, name, table_format)


def _rowcol(grid: Grid, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (rows, cols) of coordinates that are pixel centres or upper-left corners (the
    quarter-pixel offset makes both land in their own pixel)."""
    cols, rows = ~grid.transform @ (np.asarray(x, "float64"), np.asarray(y, "float64"))
    return np.floor(rows + 0.25).astype(np.int64), np.floor(cols + 0.25).astype(np.int64)


def _blocks_image(blocks: Blocks, chosen: np.ndarray, grid: Grid) -> Any:
    """1 on the pixels of the ``chosen`` blocks, 0 elsewhere (rectangles painted)."""
    import ee

    rects = []
    for block in np.asarray(chosen, dtype=np.int64):
        brow, bcol = divmod(int(block), blocks.n_cols)
        rows = np.flatnonzero(blocks.of_row == brow)
        cols = np.flatnonzero(blocks.of_col == bcol)
        if rows.size and cols.size:
            x0, y0 = grid.transform @ (int(cols[0]), int(rows[0]))
            x1, y1 = grid.transform @ (int(cols[-1]) + 1, int(rows[-1]) + 1)
            rects.append(ee.Feature(ee.Geometry.Rectangle([x0, y1, x1, y0], crs_code(grid),
                                                          False), {}))  # fmt: skip
    blank = ee.Image.constant(0).toUint8()
    if not rects:
        return blank
    from lsgh_ee.earthengine.geometry import on_grid

    return on_grid(blank.paint(ee.FeatureCollection(rects), 1), grid)


def _soft_strata(heat: Any, ground: Any) -> Any:
    """3, 4, 5 on ``ground`` where the heatmap is in the soft intervals, 0 elsewhere; the
    bounds compared as float32, as the local float32 heatmap is."""
    lows = [float(np.float32(low)) for low, _ in SOFT_INTERVALS]
    top = float(np.float32(SOFT_INTERVALS[-1][1]))
    level = heat.gt(lows[0]).add(heat.gt(lows[1])).add(heat.gt(lows[2]))
    inside = heat.gt(lows[0]).And(heat.lte(top)).And(ground)
    return level.add(SOFT_STRATA[0] - 1).multiply(inside).toUint8()


def draw_native_samples(
    src: NativeSources,
    inventory: Inventory,
    cfg: SamplingConfig,
    heatmap_diameter: int,
    settings: ExportSettings,
    *,
    seed: int,
    table_format: TableFormat = "CSV",
) -> tuple[Samples, Any]:
    """Hard and soft samples drawn in Earth Engine (see the module doc), split as
    ``sampling.split`` says.

    Args:
        table_format: how the sample tables leave Earth Engine: ``CSV`` or ``TFRecord``
            (GZIP; read back with TensorFlow); the samples are the same.

    Returns:
        (samples, the heatmap ``ee.Image`` the soft labels were read from).

    Raises:
        LsghError: a temporal split, no valid positive, no negative candidate, an unusable
            split, or an Earth Engine failure (one line).
    """
    if cfg.split == "temporal":
        raise LsghError(
            "sampling.split 'temporal' is not offered by the Earth Engine-native run; use "
            "sampling.split: random or spatial, or the local run"
        )
    grid, rng, notices = src.grid, np.random.default_rng(seed), []
    rows, cols = inventory.centroid_pixels(grid)
    valid = valid_image(src.codes, src.factor_names)
    if src.area is not None:
        valid = valid.And(src.area.unmask(0))
    heat = heatmap_image(rows, cols, grid, heatmap_diameter)
    slides = landslide_image(inventory, grid, "polygon")
    positive = landslide_image(inventory, grid, cfg.positives).And(valid)
    candidate = valid.And(slides.Not()).And(_rule_image(cfg, src, heat, slides))
    hard = positive.multiply(POSITIVE).add(candidate.And(positive.Not()).multiply(NEGATIVE))
    hard = hard.toUint8().rename(STRATUM)
    counts = histogram_counts(hard, grid, 0, 3, 3)[STRATUM]
    n_pos, n_candidates = int(counts[POSITIVE]), int(counts[NEGATIVE])
    if n_pos == 0:
        raise LsghError(
            f"none of the {rows.size} landslides has a valid class code in every factor at "
            "its pixel(s); check the factor rasters cover the landslides"
        )
    if n_candidates == 0:
        raise LsghError(
            f"no pixel qualifies as a negative sample under sampling.negatives = "
            f"'{cfg.negatives}'; relax the rule (negative_buffer, negative_max_slope) or "
            "lower heatmap.diameter"
        )
    n_neg = min(max(1, round(cfg.negative_ratio * n_pos)), n_candidates)
    if n_neg < max(1, round(cfg.negative_ratio * n_pos)):
        notices.append(f"only {n_neg} negative samples available under '{cfg.negatives}'")
    table = _strata_table(src.codes, hard, {POSITIVE: n_pos, NEGATIVE: n_neg}, src, seed,
                          settings, "hard_samples", (), table_format)  # fmt: skip
    hard_rows, hard_cols = _rowcol(grid, table["x"].to_numpy(), table["y"].to_numpy())
    flat = hard_rows * grid.width + hard_cols
    is_pos = table[STRATUM].to_numpy() == POSITIVE
    order = np.lexsort((flat, ~is_pos))  # positives first, each kind by pixel
    table, flat, is_pos = table.iloc[order].reset_index(drop=True), flat[order], is_pos[order]
    n_pos = int(is_pos.sum())

    soft_ground = valid.And(positive.Not())
    meta: dict[str, Any] = {}
    if cfg.split == "random":
        pos_is_test = random_split(n_pos, cfg.test_fraction, rng)
        neg_is_test = random_split(flat.size - n_pos, cfg.test_fraction, rng)
    else:
        blocks = Blocks.on(grid, cfg.block_size)
        hard_blocks = blocks.of(flat, grid.width)
        # test blocks chosen from the landslides' centre blocks, as the local split does
        counts = np.bincount(blocks.of(rows * grid.width + cols, grid.width),
                             minlength=blocks.count)  # fmt: skip
        test_blocks = held_out_blocks(
            np.arange(blocks.count), counts, cfg.test_fraction, rng,
            too_few=(f"the landslides lie in {np.count_nonzero(counts)} block(s) of "
                     f"{cfg.block_size:g} m, too few for a spatial split; use a smaller "
                     "sampling.block_size or sampling.split: random"))  # fmt: skip
        is_test = np.isin(hard_blocks, test_blocks)
        pos_is_test, neg_is_test = is_test[:n_pos], is_test[n_pos:]
        soft_ground = soft_ground.And(_blocks_image(blocks, test_blocks, grid).Not())
        train_centres = ~np.isin(blocks.of(rows * grid.width + cols, grid.width), test_blocks)
        if train_centres.any():
            heat = heatmap_image(rows[train_centres], cols[train_centres], grid,
                                 heatmap_diameter)  # fmt: skip
        meta = {"block_size": cfg.block_size, "test_blocks": int(test_blocks.size)}
    check_positive_split(pos_is_test, cfg)

    n_soft = cfg.soft_count(n_pos if cfg.split == "random" else int((~pos_is_test).sum()))
    soft_table = _strata_table(
        src.codes.addBands(heat), _soft_strata(heat, soft_ground),
        dict.fromkeys(SOFT_STRATA, n_soft), src, seed + 1, settings, "soft_samples",
        ("heatmap",), table_format,
    )  # fmt: skip
    soft_rows, soft_cols = _rowcol(grid, soft_table["x"].to_numpy(), soft_table["y"].to_numpy())
    soft_flat = soft_rows * grid.width + soft_cols
    keep = ~np.isin(soft_flat, flat[n_pos:])
    if not keep.all():
        notices.append(f"{int((~keep).sum())} soft sample(s) dropped: drawn as negatives")
    stratum = soft_table[STRATUM].to_numpy()
    order = np.lexsort((soft_flat, stratum))  # by interval, then by pixel
    order = order[keep[order]]
    soft_table, soft_flat = soft_table.iloc[order].reset_index(drop=True), soft_flat[order]
    for code, (low, high) in zip(SOFT_STRATA, SOFT_INTERVALS, strict=True):
        got = int((soft_table[STRATUM] == code).sum())
        if got < n_soft:
            notices.append(f"only {got} of {n_soft} soft samples available in heatmap "
                           f"interval ({low}, {high}]")  # fmt: skip
    soft_is_test = (
        random_split(soft_flat.size, cfg.test_fraction, rng)
        if cfg.split == "random"
        else np.zeros(soft_flat.size, dtype=bool)
    )
    for message in notices:
        log.warning("sampling (Earth Engine): %s", message)

    all_flat = np.concatenate([flat, soft_flat])
    all_rows, all_cols = np.divmod(all_flat, grid.width)
    x, y = grid.xy(all_rows, all_cols)
    names = list(src.factor_names)
    codes = np.concatenate([table[names].to_numpy(), soft_table[names].to_numpy()])
    label = np.concatenate([is_pos.astype(np.float32),
                            soft_table["heatmap"].to_numpy(np.float32)])  # fmt: skip
    kind = np.concatenate([np.where(is_pos, "positive", "negative"),
                           np.full(soft_flat.size, "soft")])  # fmt: skip
    split = np.where(np.concatenate([pos_is_test, neg_is_test, soft_is_test]), "test", "train")
    samples = Samples(rows=all_rows, cols=all_cols, x=x, y=y, codes=codes, label=label,
                      kind=kind, split=split, factor_names=src.factor_names)  # fmt: skip
    meta = {
        "seed": seed,
        "heatmap_diameter": heatmap_diameter,
        "positives": cfg.positives,
        "negatives": cfg.negatives,
        "split": cfg.split,
        "test_fraction": cfg.test_fraction,
        "soft_per_interval": n_soft,
        "counts": samples.counts(),
        "notices": notices,
        "drawn_in": "earthengine (Image.stratifiedSample)",
        **meta,
    }
    object.__setattr__(samples, "meta", meta)
    return samples, heat
