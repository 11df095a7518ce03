"""The samples of a run: one row per sample pixel with its class codes, label, kind and
split, read from and written to ``samples.gpkg``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio

from lsgh_ee.atomic import atomic_path
from lsgh_ee.errors import LsghError

KINDS = ("positive", "negative", "soft")
SPLITS = ("train", "test")
GPKG_LAYER = "samples"
_FIXED_COLUMNS = ("label", "kind", "split", "row", "col")
_METADATA_KEY = "lsgh_ee_samples"


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

    @classmethod
    def join(cls, parts: list[Samples], meta: dict[str, Any]) -> Samples:
        """The samples of ``parts`` one after the other (same factors), with ``meta``."""
        fields = ("rows", "cols", "x", "y", "codes", "label", "kind", "split")
        joined = {f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}
        return cls(**joined, factor_names=parts[0].factor_names, meta=meta)

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
        """Write the samples as a GeoPackage point layer ``samples`` (atomically); the layer
        metadata keeps the factor names and the heatmap diameter of the soft samples (and a
        spatial split's block size, a temporal split's cutoff year)."""
        frame = self.to_geodataframe(crs)
        stored = {"factor_names": list(self.factor_names),
                  "heatmap_diameter": self.meta.get("heatmap_diameter")}  # fmt: skip
        if self.meta.get("block_size") is not None:  # spatial split: train holds out blocks
            stored |= {"split": "spatial", "block_size": self.meta["block_size"]}
        if self.meta.get("temporal_cutoff") is not None:  # temporal: early stopping by years
            stored |= {"split": "temporal", "temporal_cutoff": self.meta["temporal_cutoff"]}
        metadata = {_METADATA_KEY: json.dumps(stored)}
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
        stored = json.loads(stored) if stored else {}
        names = stored.get("factor_names") or [
            c for c in frame.columns if c not in (*_FIXED_COLUMNS, "geometry")
        ]
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
            meta={
                k: stored[k]
                for k in ("heatmap_diameter", "split", "block_size", "temporal_cutoff")
                if stored.get(k) is not None
            },  # fmt: skip
        )
