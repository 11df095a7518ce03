"""The samples of a run: one row per sample pixel with its class codes, factor values,
label, kind and split, read from and written to ``samples.gpkg``.

A model takes one of three inputs (:data:`InputKind`, a model's ``input_kind``): ``codes``,
the Table 2 class codes every LSGH-Net variant and ``rf`` take, ``values``, the factors'
own values (units of each factor; categorical factors: their class codes) that ``rf-raw``
takes, or ``patches``, the neighbourhood of class codes around each sample pixel that
``lsgh-ctx`` takes (cut from the class-code stack, not stored in ``samples.gpkg``).
:meth:`Samples.inputs` hands out each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyogrio

from lsgh_ee.atomic import atomic_path
from lsgh_ee.errors import LsghError
from lsgh_ee.sampling.patches import CodeFile, gather_patches

KINDS = ("positive", "negative", "soft")
SPLITS = ("train", "test")
GPKG_LAYER = "samples"
_FIXED_COLUMNS = ("label", "kind", "split", "row", "col")
_METADATA_KEY = "lsgh_ee_samples"
VALUE_PREFIX = "value_"
"""``samples.gpkg`` column of factor ``f``'s value: ``value_<f>`` (its code column: ``<f>``)."""

InputKind = Literal["codes", "values", "patches"]
"""What a model takes per sample: class codes (uint8, 0 = nodata), factor values
(float32 in each factor's units, NaN = nodata) or neighbourhoods of class codes
(uint8 ``(size, size, F)``, :mod:`lsgh_ee.sampling.patches`)."""
INPUT_KINDS: tuple[str, ...] = ("codes", "values", "patches")


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
        values: float32 ``(N, F)`` factor values at each sample, in each factor's units
            (categorical factors: their class codes), NaN = nodata; None for samples
            written before lsgh-ee recorded them.
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
    values: np.ndarray | None = None
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
        if self.values is not None:
            values = np.ascontiguousarray(np.asarray(self.values, dtype=np.float32))
            object.__setattr__(self, "values", values)
        for name in ("codes", "values"):
            array = getattr(self, name)
            if array is not None and array.shape != (n, len(self.factor_names)):
                raise ValueError(
                    f"{name} must be (N={n}, F={len(self.factor_names)}), got {array.shape}"
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
            values=None if self.values is None else self.values[pick],
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
        if all(p.values is not None for p in parts):  # a values model (rf-raw) needs them
            joined["values"] = np.concatenate([p.values for p in parts])
        return cls(**joined, factor_names=parts[0].factor_names, meta=meta)

    @property
    def train(self) -> Samples:
        return self.subset(self.split == "train")

    @property
    def test(self) -> Samples:
        return self.subset(self.split == "test")

    def inputs(
        self,
        kind: InputKind,
        stack: np.ndarray | CodeFile | None = None,
        context: int | None = None,
    ) -> np.ndarray:
        """What a model of input ``kind`` takes: ``codes`` (uint8 ``(N, F)``), ``values``
        (float32 ``(N, F)``) or ``patches`` (uint8 ``(N, context, context, F)``, cut from
        ``stack``, the ``(F, H, W)`` class-code stack the samples' rows and cols index:
        the run's ``class_codes.tif`` (whole, or a :class:`~lsgh_ee.sampling.patches.CodeFile`
        read strip by strip) or a fold's stack); pass a model's ``input_kind``
        (and, for ``patches``, its ``context``). Callers use
        :func:`lsgh_ee.sampling.patches.model_inputs`.

        Raises:
            LsghError: ``values`` of samples written before lsgh-ee recorded them.
        """
        if kind == "codes":
            return self.codes
        if kind == "patches":
            if stack is None or context is None:
                raise ValueError("patches are cut from a class-code stack: pass stack and context")
            return gather_patches(stack, self.rows, self.cols, context)
        if kind != "values":
            raise ValueError(f"input kind must be one of {INPUT_KINDS}, got {kind!r}")
        if self.values is None:
            raise LsghError(
                "the samples carry no factor values (samples.gpkg was written by an older "
                "lsgh-ee); re-run 'lsgh-ee sample CONFIG --force'"
            )
        return self.values

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {kind: n}}`` for reports and manifests."""
        return {
            s: {k: int(np.count_nonzero((self.split == s) & (self.kind == k))) for k in KINDS}
            for s in SPLITS
        }

    def digest(self) -> str:
        """sha256 (hex) of the sample arrays and factor names: the training-data hash of a
        model bundle. Equal samples give equal digests on any machine; the factor values
        count when present (samples without them keep the digest they always had)."""
        h = hashlib.sha256(b"lsgh-ee samples v1\0")
        h.update(json.dumps(list(self.factor_names)).encode("utf-8"))
        fields = ["rows", "cols", "x", "y", "codes", "label", "kind", "split"]
        for name in fields + (["values"] if self.values is not None else []):
            arr = getattr(self, name)
            little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
            h.update(f"\0{name}:{little.dtype.str}:{arr.shape}\0".encode())
            h.update(np.ascontiguousarray(little).tobytes())
        return h.hexdigest()

    def to_geodataframe(self, crs: Any) -> gpd.GeoDataFrame:
        """One point per sample (pixel centre) with columns label, kind, split, row, col,
        one class-code column per factor (named after the factor) and, when the samples
        carry them, one value column per factor (``value_<factor>``)."""
        value_columns = [VALUE_PREFIX + name for name in self.factor_names]
        clash = set(self.factor_names) & {*_FIXED_COLUMNS, "geometry", *value_columns}
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
        if self.values is not None:
            for i, name in enumerate(value_columns):
                columns[name] = self.values[:, i]
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
            c
            for c in frame.columns
            if c not in (*_FIXED_COLUMNS, "geometry") and not c.startswith(VALUE_PREFIX)
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
        value_columns = [VALUE_PREFIX + n for n in names]
        values = None  # written before lsgh-ee recorded them: codes models still work
        if all(c in frame.columns for c in value_columns):
            values = np.zeros((len(frame), 0), dtype=np.float32)
            if names:
                values = np.column_stack(
                    [frame[c].to_numpy(dtype=np.float32, na_value=np.nan) for c in value_columns]
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
            values=values,
            meta={
                k: stored[k]
                for k in ("heatmap_diameter", "split", "block_size", "temporal_cutoff")
                if stored.get(k) is not None
            },  # fmt: skip
        )
