"""Training samples: hard positives and negatives, soft samples from the Gaussian heatmap,
and the train/test split (Xiong et al. 2022, §2.2 and §3.1).

* **Positives** (label 1): the landslide centre pixels (the paper), or every pixel of the
  landslide polygons (``positives: polygon``).
* **Negatives** (label 0): random pixels of non-landslide ground chosen by a named rule:
  where the heatmap is 0 (default), farther than ``negative_buffer`` metres from any
  landslide pixel, or where slope is below ``negative_max_slope`` degrees. No negative is
  ever a pixel of a mapped landslide (of any landslide of the inventory).
* **Soft samples** (label = heatmap value): random pixels from the middle three of the
  heatmap's five equal intervals, (0.2, 0.4], (0.4, 0.6] and (0.6, 0.8]; the hard samples
  cover the outer two, as in the paper.
* Every sample is a distinct pixel whose class code is valid (> 0) in every factor.

Splits: ``random`` (stratified by kind, the paper's 7:3), ``spatial`` (square blocks of
``block_size`` metres wholly in train or test; soft samples only from train blocks) and
``temporal`` (landslides up to ``temporal_cutoff`` train, later ones test; the heatmap and
therefore the soft samples come from the training landslides only, so nothing about the
test landslides leaks into them; negatives split at random). In the spatial and temporal
splits soft samples are for training only: the test set is hard samples only.

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``: the same
inputs and seed give byte-identical samples.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
from scipy import ndimage

from lsgh_ee.atomic import atomic_path
from lsgh_ee.config import SamplingConfig
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stack import FactorStack
from lsgh_ee.grid import Grid
from lsgh_ee.heatmap import gaussian_heatmap
from lsgh_ee.inventory import Inventory

log = logging.getLogger(__name__)

KINDS = ("positive", "negative", "soft")
SPLITS = ("train", "test")
SOFT_INTERVALS = ((0.2, 0.4), (0.4, 0.6), (0.6, 0.8))
"""The middle three of the heatmap's five equal intervals, each (low, high]."""

GPKG_LAYER = "samples"
_FIXED_COLUMNS = ("label", "kind", "split", "row", "col")
_METADATA_KEY = "lsgh_ee_samples"
# Above this many pixels, a dense candidate mask is sampled by rejection instead of listing
# every candidate (a 10^8-pixel grid would need an 800 MB index array otherwise).
_REJECTION_MIN_PIXELS = 1 << 22
_SPATIAL_TRIES = 50


@dataclass(frozen=True, eq=False)
class Samples:
    """Samples, one row per pixel.

    Attributes:
        rows, cols: int64 pixel indices on the grid.
        x, y: float64 pixel-centre coordinates in the grid CRS.
        codes: uint8 ``(N, F)`` class codes (1..k) of the F factors at each sample.
        label: float32 target: 1 positive, 0 negative, the heatmap value for soft samples.
        kind: ``positive`` / ``negative`` / ``soft``.
        split: ``train`` / ``test``.
        factor_names: the F factor names, in the column order of ``codes``.
        meta: how they were drawn (rule, split, cutoff, counts, notices); not part of
            :meth:`digest`.
    """

    rows: np.ndarray
    cols: np.ndarray
    x: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    split: np.ndarray
    factor_names: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        coerce = {
            "rows": np.int64,
            "cols": np.int64,
            "x": np.float64,
            "y": np.float64,
            "codes": np.uint8,
            "label": np.float32,
            "kind": "<U8",
            "split": "<U5",
        }
        for name, dtype in coerce.items():
            object.__setattr__(
                self, name, np.ascontiguousarray(np.asarray(getattr(self, name), dtype=dtype))
            )
        object.__setattr__(self, "factor_names", tuple(self.factor_names))
        n = self.rows.shape[0]
        if self.codes.ndim != 2 or self.codes.shape != (n, len(self.factor_names)):
            raise ValueError(
                f"codes must be (N={n}, F={len(self.factor_names)}), got {self.codes.shape}"
            )
        for name in ("cols", "x", "y", "label", "kind", "split"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected ({n},)")
        if not np.isin(self.kind, KINDS).all():
            raise ValueError(f"kind must be one of {KINDS}")
        if not np.isin(self.split, SPLITS).all():
            raise ValueError(f"split must be one of {SPLITS}")

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def subset(self, mask: np.ndarray) -> Samples:
        """The samples selected by a boolean mask or an index array."""
        pick = np.asarray(mask)
        return dataclasses.replace(
            self,
            rows=self.rows[pick],
            cols=self.cols[pick],
            x=self.x[pick],
            y=self.y[pick],
            codes=self.codes[pick],
            label=self.label[pick],
            kind=self.kind[pick],
            split=self.split[pick],
            meta=dict(self.meta),
        )

    @property
    def train(self) -> Samples:
        return self.subset(self.split == "train")

    @property
    def test(self) -> Samples:
        return self.subset(self.split == "test")

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {kind: n}}`` for reports and manifests."""
        return {
            s: {k: int(np.count_nonzero((self.split == s) & (self.kind == k))) for k in KINDS}
            for s in SPLITS
        }

    def digest(self) -> str:
        """sha256 (hex) of the sample arrays and factor names: the training-data hash of a
        model bundle. Equal samples give equal digests on any machine."""
        h = hashlib.sha256(b"lsgh-ee samples v1\0")
        h.update(json.dumps(list(self.factor_names)).encode("utf-8"))
        for name in ("rows", "cols", "x", "y", "codes", "label", "kind", "split"):
            arr = getattr(self, name)
            little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
            h.update(f"\0{name}:{little.dtype.str}:{arr.shape}\0".encode())
            h.update(np.ascontiguousarray(little).tobytes())
        return h.hexdigest()

    def to_geodataframe(self, crs: Any) -> gpd.GeoDataFrame:
        """One point per sample (pixel centre) with columns label, kind, split, row, col and
        one class-code column per factor (named after the factor)."""
        clash = set(self.factor_names) & {*_FIXED_COLUMNS, "geometry"}
        if clash:
            raise ValueError(f"factor names {sorted(clash)} clash with sample columns")
        columns: dict[str, Any] = {
            "label": self.label,
            "kind": self.kind.astype(object),
            "split": self.split.astype(object),
            "row": self.rows,
            "col": self.cols,
        }
        for i, name in enumerate(self.factor_names):
            columns[name] = self.codes[:, i]
        return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(self.x, self.y), crs=crs)

    def write_gpkg(self, path: str | os.PathLike, crs: Any) -> Path:
        """Write the samples as a GeoPackage point layer ``samples`` (atomically)."""
        frame = self.to_geodataframe(crs)
        metadata = {_METADATA_KEY: json.dumps({"factor_names": list(self.factor_names)})}
        with atomic_path(path) as tmp:
            pyogrio.write_dataframe(
                frame, tmp, layer=GPKG_LAYER, driver="GPKG", layer_metadata=metadata
            )
        return Path(path)

    @classmethod
    def read_gpkg(cls, path: str | os.PathLike) -> Samples:
        """Read samples written by :meth:`write_gpkg`."""
        path = Path(path)
        if not path.exists():
            raise LsghError(f"samples file {path} does not exist; run the 'sample' stage first")
        try:
            frame = gpd.read_file(path, layer=GPKG_LAYER, engine="pyogrio")
            info = pyogrio.read_info(path, layer=GPKG_LAYER)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LsghError(
                f"samples file {path} cannot be read: {first}; re-run the 'sample' stage"
            ) from exc
        stored = (info.get("layer_metadata") or {}).get(_METADATA_KEY)
        names = (
            json.loads(stored)["factor_names"]
            if stored
            else [c for c in frame.columns if c not in (*_FIXED_COLUMNS, "geometry")]
        )
        missing = [c for c in (*_FIXED_COLUMNS, *names) if c not in frame.columns]
        if missing:
            raise LsghError(
                f"samples file {path} lacks columns {', '.join(missing)}; re-run the 'sample' stage"
            )
        points = frame.geometry
        codes = (
            np.column_stack([frame[n].to_numpy() for n in names])
            if names
            else np.zeros((len(frame), 0))
        )
        return cls(
            rows=frame["row"].to_numpy(),
            cols=frame["col"].to_numpy(),
            x=points.x.to_numpy(),
            y=points.y.to_numpy(),
            codes=codes,
            label=frame["label"].to_numpy(),
            kind=frame["kind"].to_numpy().astype(str),
            split=frame["split"].to_numpy().astype(str),
            factor_names=tuple(names),
        )


# --- drawing -------------------------------------------------------------------------------


def draw_samples(
    stack: FactorStack,
    inventory: Inventory,
    config_sampling: SamplingConfig,
    heatmap_diameter: int,
    *,
    seed: int,
    date_attribute: str | None = None,
) -> tuple[Samples, np.ndarray]:
    """Draw hard and soft samples on the stack's grid and split them into train and test.

    Args:
        stack: the factor stack (class codes are the samples' features; the ``slope``
            layer's values serve the ``low_slope`` negative rule).
        inventory: the landslides, in the grid CRS.
        config_sampling: the ``sampling`` section of the region config.
        heatmap_diameter: Gaussian heatmap diameter in pixels.
        seed: seed of the one random generator everything is drawn with.
        date_attribute: the inventory's date/year attribute (``inventory.date_attribute``),
            needed by the temporal split.

    Returns:
        (samples, heatmap): the heatmap (float32, grid shape) the soft labels were read
        from: built from every landslide, or from the training landslides only in a
        temporal split.

    Raises:
        LsghError: nothing valid to sample, an unusable split (no date attribute, blocks
            not larger than a pixel, no positive left in train or test), or no slope layer
            for the ``low_slope`` rule.
    """
    cfg = config_sampling
    grid = stack.grid
    rng = np.random.default_rng(seed)
    codes = stack.codes
    valid = (codes > 0).all(axis=0)
    if not valid.any():
        raise LsghError(
            "no pixel has a valid class code in every factor; check the factor rasters "
            "cover the AOI (see the factor report)"
        )
    notices: list[str] = []

    positions, centre_rows, centre_cols = _landslides_on_grid(inventory, grid)
    train_ls = np.ones(positions.size, dtype=bool)
    cutoff = None
    if cfg.split == "temporal":
        years = _landslide_years(inventory, date_attribute, positions)
        cutoff = _temporal_cutoff(years, cfg)
        train_ls = years <= cutoff

    # Positives: per landslide set (train / test), deduplicated pixels, valid codes only.
    pos_train = _landslide_mask(inventory, positions[train_ls], grid, cfg.positives)
    pos_test = _landslide_mask(inventory, positions[~train_ls], grid, cfg.positives)
    pos_test &= ~pos_train  # a pixel of an earlier landslide is a training positive
    any_pos = pos_train | pos_test
    dropped = int(np.count_nonzero(any_pos & ~valid))
    if dropped:
        _notice(notices, f"{dropped} positive pixel(s) dropped: nodata in some factor")
    pos_train &= valid
    pos_test &= valid
    positives = np.concatenate([np.flatnonzero(pos_train), np.flatnonzero(pos_test)])
    n_pos_train = int(np.count_nonzero(pos_train))
    if positives.size == 0:
        raise LsghError(
            f"none of the {positions.size} landslides has a valid class code in every factor "
            "at its pixel(s); check the factor rasters cover the landslides"
        )

    heatmap = gaussian_heatmap(
        (centre_rows[train_ls], centre_cols[train_ls]), grid.shape, heatmap_diameter
    )

    # Negatives: non-landslide ground by the chosen rule.
    landslide_px = _landslide_mask(inventory, positions, grid, "polygon")
    allowed = valid & ~landslide_px & ~pos_train & ~pos_test
    rule = _negative_rule(cfg, stack, heatmap, landslide_px, positions, train_ls, inventory)
    n_neg_wanted = max(1, round(cfg.negative_ratio * positives.size))
    negatives = _choose(allowed & rule, n_neg_wanted, rng)
    if negatives.size == 0:
        raise LsghError(
            f"no pixel qualifies as a negative sample under sampling.negatives = "
            f"'{cfg.negatives}'; {_relax_hint(cfg)}"
        )
    if negatives.size < n_neg_wanted:
        _notice(
            notices,
            f"only {negatives.size} of {n_neg_wanted} negative samples available under "
            f"'{cfg.negatives}'",
        )

    # Split of the hard samples (and, for spatial, the blocks soft samples may come from).
    pos_is_test = np.zeros(positives.size, dtype=bool)
    pos_is_test[n_pos_train:] = True
    neg_is_test = np.zeros(negatives.size, dtype=bool)
    soft_region = np.ones(grid.shape, dtype=bool)
    test_blocks = None
    if cfg.split == "random":
        pos_is_test = _random_split(positives.size, cfg.test_fraction, rng)
        neg_is_test = _random_split(negatives.size, cfg.test_fraction, rng)
    elif cfg.split == "temporal":
        neg_is_test = _random_split(negatives.size, cfg.test_fraction, rng)
    else:
        blocks = _Blocks.on(grid, cfg.block_size)
        hard_blocks = blocks.of(np.concatenate([positives, negatives]), grid.width)
        test_blocks = _spatial_test_blocks(hard_blocks, positives.size, blocks.count, cfg, rng)
        is_test = np.isin(hard_blocks, test_blocks)
        pos_is_test, neg_is_test = is_test[: positives.size], is_test[positives.size :]
        soft_region = ~blocks.mask(test_blocks)
    _check_positive_split(pos_is_test, cfg)

    # Soft samples from the middle three heatmap intervals (training ground only).
    n_soft = cfg.soft_per_interval
    if n_soft is None:
        n_soft = positives.size if cfg.split == "random" else int((~pos_is_test).sum())
    soft_ground = valid & soft_region & ~pos_train & ~pos_test
    soft_ground.reshape(-1)[negatives] = False
    soft_parts = []
    for low, high in SOFT_INTERVALS:
        band = soft_ground & (heatmap > low) & (heatmap <= high)
        picked = _choose(band, n_soft, rng)
        if picked.size < n_soft:
            _notice(
                notices,
                f"only {picked.size} of {n_soft} soft samples available in heatmap interval "
                f"({low}, {high}]",
            )
        soft_parts.append(picked)
    soft = np.concatenate(soft_parts)
    soft_is_test = (
        _random_split(soft.size, cfg.test_fraction, rng)
        if cfg.split == "random"
        else np.zeros(soft.size, dtype=bool)
    )

    flat = np.concatenate([positives, negatives, soft])
    rows, cols = np.divmod(flat, grid.width)
    x, y = grid.xy(rows, cols)
    label = np.concatenate(
        [
            np.ones(positives.size, np.float32),
            np.zeros(negatives.size, np.float32),
            heatmap.reshape(-1)[soft],
        ]
    )
    kind = np.repeat(np.array(KINDS), [positives.size, negatives.size, soft.size])
    split = np.where(np.concatenate([pos_is_test, neg_is_test, soft_is_test]), "test", "train")
    samples = Samples(
        rows=rows,
        cols=cols,
        x=x,
        y=y,
        codes=codes[:, rows, cols].T,
        label=label,
        kind=kind,
        split=split,
        factor_names=tuple(stack.names),
    )
    meta: dict[str, Any] = {
        "seed": seed,
        "heatmap_diameter": heatmap_diameter,
        "positives": cfg.positives,
        "negatives": cfg.negatives,
        "split": cfg.split,
        "test_fraction": cfg.test_fraction,
        "soft_per_interval": n_soft,
        "counts": samples.counts(),
        "notices": notices,
    }
    if cutoff is not None:
        meta["temporal_cutoff"] = int(cutoff)
        meta["landslides_train"] = int(train_ls.sum())
        meta["landslides_test"] = int((~train_ls).sum())
    if test_blocks is not None:
        meta["block_size"] = cfg.block_size
        meta["test_blocks"] = int(test_blocks.size)
    object.__setattr__(samples, "meta", meta)
    return samples, heatmap


def _notice(notices: list[str], message: str) -> None:
    log.warning("sampling: %s", message)
    notices.append(message)


def _landslides_on_grid(inventory: Inventory, grid: Grid) -> tuple[np.ndarray, ...]:
    """Positions (in ``inventory.landslides``) and centre pixels of landslides on the grid."""
    xy = inventory.centroids()
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = grid.contains(rows, cols)
    if not inside.any():
        raise LsghError(
            "no landslide centre lies on the grid; check the inventory covers the region"
        )
    return np.flatnonzero(inside), rows[inside], cols[inside]


def _landslide_mask(
    inventory: Inventory, positions: np.ndarray, grid: Grid, mode: str
) -> np.ndarray:
    if positions.size == 0:
        return np.zeros(grid.shape, dtype=bool)
    subset = dataclasses.replace(
        inventory, landslides=inventory.landslides.iloc[positions].reset_index(drop=True)
    )
    return subset.mask(grid, mode)  # type: ignore[arg-type]


def _landslide_years(
    inventory: Inventory, attribute: str | None, positions: np.ndarray
) -> np.ndarray:
    if attribute is None:
        raise LsghError(
            "sampling.split is 'temporal' but the inventory has no date; set "
            "inventory.date_attribute to the landslides' date or year attribute, or use "
            "sampling.split: random"
        )
    if attribute not in inventory.landslides.columns:
        raise LsghError(
            f"inventory has no attribute '{attribute}' (inventory.date_attribute); "
            "name the landslides' date or year attribute"
        )
    values = inventory.landslides[attribute].iloc[positions]
    empty = int(values.isna().sum())
    if empty:
        raise LsghError(
            f"inventory.date_attribute '{attribute}' is empty for {empty} landslide(s); fill "
            "it in or use sampling.split: random"
        )
    subset = dataclasses.replace(
        inventory, landslides=inventory.landslides.iloc[positions].reset_index(drop=True)
    )
    try:
        return np.asarray(subset.years(attribute), dtype=np.int64)
    except (ValueError, TypeError) as exc:
        raise LsghError(
            f"inventory.date_attribute '{attribute}' holds values that are not dates or "
            f"years ({exc}); use an attribute with dates (YYYY-MM-DD) or years"
        ) from exc


def _temporal_cutoff(years: np.ndarray, cfg: SamplingConfig) -> int:
    span = f"the landslides span {years.min()}–{years.max()}"
    if cfg.temporal_cutoff is not None:
        cutoff = int(cfg.temporal_cutoff)
        if not (years <= cutoff).any() or (years <= cutoff).all():
            side = "train" if not (years <= cutoff).any() else "test"
            raise LsghError(
                f"sampling.temporal_cutoff {cutoff} leaves no landslide for {side} ({span}); "
                "choose a year from the first up to before the last"
            )
        return cutoff
    distinct = np.unique(years)
    if distinct.size < 2:
        raise LsghError(
            f"every landslide is from {distinct[0]}; a temporal split needs landslides of at "
            "least two years; use sampling.split: random or spatial"
        )
    share = np.array([(years <= y).mean() for y in distinct[:-1]])
    return int(distinct[:-1][np.argmin(np.abs(share - (1.0 - cfg.test_fraction)))])


def _negative_rule(
    cfg: SamplingConfig,
    stack: FactorStack,
    heatmap: np.ndarray,
    landslide_px: np.ndarray,
    positions: np.ndarray,
    train_ls: np.ndarray,
    inventory: Inventory,
) -> np.ndarray:
    if cfg.negatives == "outside_heatmap":
        return heatmap == 0
    if cfg.negatives == "outside_buffer":
        if train_ls.all():
            source = landslide_px
        else:  # temporal: the rule sees the training landslides only
            source = _landslide_mask(inventory, positions[train_ls], stack.grid, "polygon")
        return _far_from(source, cfg.negative_buffer, stack.grid)
    if "slope" not in stack.names:
        raise LsghError(
            "sampling.negatives is 'low_slope' but the factor stack has no 'slope' factor; "
            "add slope to 'factors' or use sampling.negatives: outside_heatmap"
        )
    slope = stack.layers[stack.names.index("slope")].values
    with np.errstate(invalid="ignore"):
        return slope < cfg.negative_max_slope


def _relax_hint(cfg: SamplingConfig) -> str:
    if cfg.negatives == "outside_buffer":
        return f"lower sampling.negative_buffer ({cfg.negative_buffer} m)"
    if cfg.negatives == "low_slope":
        return f"raise sampling.negative_max_slope ({cfg.negative_max_slope} degrees)"
    return "lower heatmap.diameter or enlarge the region"


def _far_from(mask: np.ndarray, metres: float, grid: Grid) -> np.ndarray:
    """Pixels whose centre is farther than ``metres`` from every pixel centre of ``mask``."""
    far = np.ones(mask.shape, dtype=bool)
    rr, cc = np.nonzero(mask)
    if rr.size == 0:
        return far
    pad = int(math.ceil(metres / grid.resolution)) + 1
    r0, r1 = max(int(rr.min()) - pad, 0), min(int(rr.max()) + pad + 1, mask.shape[0])
    c0, c1 = max(int(cc.min()) - pad, 0), min(int(cc.max()) + pad + 1, mask.shape[1])
    # every pixel outside this window is farther than `metres` from all of `mask`
    dist = ndimage.distance_transform_edt(~mask[r0:r1, c0:c1], sampling=grid.resolution)
    far[r0:r1, c0:c1] = dist > metres
    return far


def _choose(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct flat indices drawn uniformly from the True pixels of ``mask`` (all of
    them, sorted, when there are no more than ``n``)."""
    flat = mask.reshape(-1)
    total = int(np.count_nonzero(flat))
    if n <= 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    if n >= total:
        return np.flatnonzero(flat).astype(np.int64)
    share = total / flat.size
    if flat.size >= _REJECTION_MIN_PIXELS and share >= 0.05 and n <= total // 4:
        # Uniform draws with replacement, keeping the first occurrence of each accepted
        # pixel: a uniform sample without replacement, without listing every candidate.
        picked = np.zeros(0, dtype=np.int64)
        while picked.size < n:
            draw = rng.integers(0, flat.size, size=int((n - picked.size) / share * 1.25) + 64)
            both = np.concatenate([picked, draw[flat[draw]]])
            _, first = np.unique(both, return_index=True)
            picked = both[np.sort(first)]
        return picked[:n]
    return rng.choice(np.flatnonzero(flat), size=n, replace=False).astype(np.int64)


def _random_split(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean 'is test' for ``n`` items: ``round(fraction * n)`` at random (at least one
    on each side when n ≥ 2)."""
    is_test = np.zeros(n, dtype=bool)
    if n == 0:
        return is_test
    n_test = round(fraction * n)
    if n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    is_test[rng.permutation(n)[:n_test]] = True
    return is_test


@dataclass(frozen=True)
class _Blocks:
    """Square blocks of ``size`` metres from the grid's upper-left corner; a pixel belongs
    to the block holding its centre."""

    of_row: np.ndarray  # block row of each grid row
    of_col: np.ndarray  # block column of each grid column
    n_cols: int
    count: int

    @classmethod
    def on(cls, grid: Grid, size: float) -> _Blocks:
        res = grid.resolution
        if size <= res:
            raise LsghError(
                f"sampling.block_size is {size} m, not larger than a pixel ({res} m); use "
                "blocks of many pixels (default 2000 m)"
            )
        of_row = np.floor((np.arange(grid.height) + 0.5) * res / size).astype(np.int64)
        of_col = np.floor((np.arange(grid.width) + 0.5) * res / size).astype(np.int64)
        n_rows, n_cols = int(of_row[-1]) + 1, int(of_col[-1]) + 1
        if n_rows * n_cols < 2:
            raise LsghError(
                f"sampling.block_size {size} m makes one block of the whole "
                f"{grid.width * res:.0f} x {grid.height * res:.0f} m region; use smaller "
                "blocks or sampling.split: random"
            )
        return cls(of_row, of_col, n_cols, n_rows * n_cols)

    def of(self, flat: np.ndarray, width: int) -> np.ndarray:
        """Block id of flat pixel indices."""
        rows, cols = np.divmod(np.asarray(flat, dtype=np.int64), width)
        return self.of_row[rows] * self.n_cols + self.of_col[cols]

    def mask(self, blocks: np.ndarray) -> np.ndarray:
        """Boolean grid mask of the pixels in ``blocks``."""
        chosen = np.zeros(self.count, dtype=bool)
        chosen[blocks] = True
        return chosen.reshape(-1, self.n_cols)[self.of_row][:, self.of_col]


def _spatial_test_blocks(
    hard_blocks: np.ndarray,
    n_pos: int,
    n_blocks: int,
    cfg: SamplingConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Blocks held out for testing: blocks in random order, each taken while it brings the
    test share of the hard samples closer to ``test_fraction``; re-drawn until train and
    test both hold a positive."""
    blocks, counts = np.unique(hard_blocks, return_counts=True)
    pos_blocks = np.unique(hard_blocks[:n_pos])
    target = cfg.test_fraction * hard_blocks.size
    for _ in range(_SPATIAL_TRIES):
        order = rng.permutation(blocks.size)
        taken, total = [], 0
        for i in order:
            if abs(total + counts[i] - target) < abs(total - target):
                taken.append(blocks[i])
                total += counts[i]
        test = np.sort(np.asarray(taken, dtype=np.int64))
        has_test = np.isin(pos_blocks, test)
        if has_test.any() and not has_test.all():
            return test
    raise LsghError(
        f"the spatial split cannot put positive samples in both train and test (the "
        f"{n_pos} positives lie in {pos_blocks.size} of {n_blocks} blocks of "
        f"{cfg.block_size} m); use a smaller sampling.block_size or sampling.split: random"
    )


def _check_positive_split(pos_is_test: np.ndarray, cfg: SamplingConfig) -> None:
    n_test = int(pos_is_test.sum())
    n_train = int(pos_is_test.size - n_test)
    if n_train and n_test:
        return
    side = "train" if not n_train else "test"
    raise LsghError(
        f"the {cfg.split} split leaves no positive sample in {side} ({n_train} train, "
        f"{n_test} test); the inventory needs more landslides with valid factors"
        + (", or choose another sampling.temporal_cutoff" if cfg.split == "temporal" else "")
    )
