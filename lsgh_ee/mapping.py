"""Whole-region prediction: a susceptibility GeoTIFF from the class-code stack (or, for a
values model such as ``rf-raw``, from the factor-value stack).

A codes model's input is the per-pixel class-code vector, so pixels that share a vector
share a prediction. :func:`predict_codes` predicts each distinct vector once (exactly: the
same numbers as predicting every pixel), and :func:`predict_map` streams the class-code
stack window by window, keeping a cache of the vectors already predicted, so peak memory is
bounded by the window size and the number of distinct vectors, not by the region. A values
model's vectors are continuous, nearly all distinct: :func:`predict_values` predicts every
valid pixel, streamed through the same windows (:func:`input_raster` names the file each
kind reads). A patches model (``lsgh-ctx``, whose ``context`` is its window side ``k``)
reads each pixel's ``k × k`` neighbourhood: :func:`strip_patches` reads each strip with a
halo of ``k // 2`` rows above and below, so the streamed map equals the model on patches
cut from the whole stack, and :func:`predict_patches` predicts either every valid pixel
or each distinct neighbourhood once (``patch_cache``; ``bench/bench_context.py`` compares
the two).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import rasterio
from rasterio.windows import Window

from lsgh_ee.atomic import atomic_path
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stripping import strips
from lsgh_ee.rasters import bounded_gdal_cache, open_raster, to_cog
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.sampling.patches import gather_patches
from lsgh_ee.sampling.samples import InputKind

if TYPE_CHECKING:
    from lsgh_ee.factors.stack import FactorStack


class Predictor(Protocol):
    """Anything with ``predict(codes (N, F) uint8) -> (N,) float in [0, 1]`` (or, for a
    values model, ``predict(values (N, F) float32)``)."""

    def predict(self, codes: np.ndarray) -> np.ndarray: ...


def vector_keys(codes: np.ndarray, class_counts: np.ndarray) -> np.ndarray:
    """One int64 key per class-code vector (mixed radix, code 0 included).

    Args:
        codes: ``(N, F)`` uint8 class codes.
        class_counts: ``(F,)`` number of classes per factor (codes go 0..count).
    """
    radix = np.asarray(class_counts, dtype=np.int64) + 1
    if np.sum(np.log2(radix.astype(float))) >= 62:
        raise ValueError("too many factor classes to key vectors in 64 bits")
    weights = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]])
    return codes.astype(np.int64) @ weights


class VectorCache:
    """Predictions of the class-code vectors seen so far (sorted keys → values)."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.values = np.empty(0, dtype=np.float32)
        self.predicted = 0  # distinct vectors sent to the model

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, found) for ``keys``; values are NaN where not found."""
        if self.keys.size == 0:
            return np.full(keys.shape, np.nan, np.float32), np.zeros(keys.shape, bool)
        pos = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        found = self.keys[pos] == keys
        return np.where(found, self.values[pos], np.nan).astype(np.float32), found

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        all_keys = np.concatenate([self.keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self.keys = all_keys[order]
        self.values = np.concatenate([self.values, values.astype(np.float32)])[order]
        self.predicted += keys.size


def predict_codes(
    model: Predictor,
    codes: np.ndarray,
    class_counts: np.ndarray,
    cache: VectorCache | None = None,
    batch_size: int = 65536,
) -> np.ndarray:
    """Susceptibility of every row of ``codes`` (``(N, F)`` uint8), predicting each
    distinct vector once; rows with any code 0 (nodata) get NaN.

    Returns:
        ``(N,)`` float32.
    """
    cache = cache if cache is not None else VectorCache()
    out = np.full(codes.shape[0], np.nan, dtype=np.float32)
    valid = (codes > 0).all(axis=1)
    if not valid.any():
        return out
    keys = vector_keys(codes[valid], class_counts)
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    values, found = cache.lookup(unique)
    missing = ~found
    if missing.any():
        rows = codes[valid][first[missing]]
        predicted = np.concatenate(
            [np.asarray(model.predict(rows[i : i + batch_size]), dtype=np.float32).ravel()
             for i in range(0, len(rows), batch_size)]
        )  # fmt: skip
        values[missing] = predicted
        cache.add(unique[missing], predicted)
    out[valid] = values[inverse]
    return out


def predict_values(model: Predictor, values: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """Susceptibility of every row of factor ``values`` (``(N, F)`` float32) by a values
    model; rows with any NaN (nodata) get NaN, as rows with a code 0 do in
    :func:`predict_codes`.

    Returns:
        ``(N,)`` float32.
    """
    out = np.full(values.shape[0], np.nan, dtype=np.float32)
    valid = np.isfinite(values).all(axis=1)
    rows = values[valid]
    if rows.shape[0]:
        out[valid] = np.concatenate(
            [np.asarray(model.predict(rows[i : i + batch_size]), dtype=np.float32).ravel()
             for i in range(0, len(rows), batch_size)]
        )  # fmt: skip
    return out


class PatchCache:
    """Predictions of the neighbourhoods seen so far, by their bytes."""

    def __init__(self) -> None:
        self.values: dict[bytes, float] = {}
        self.predicted = 0  # distinct neighbourhoods sent to the model


def predict_patches(
    model: Predictor,
    patches: np.ndarray,
    cache: PatchCache | None = None,
    batch_size: int = 65536,
) -> np.ndarray:
    """Susceptibility of every neighbourhood ``(N, k, k, F)`` uint8 by a patches model;
    those whose centre pixel has a code 0 (nodata) get NaN. With a ``cache`` each distinct
    neighbourhood is predicted once (the same numbers); without one every valid row is.

    Returns:
        ``(N,)`` float32.
    """
    out = np.full(patches.shape[0], np.nan, dtype=np.float32)
    k = patches.shape[1]
    valid = (patches[:, k // 2, k // 2, :] > 0).all(axis=1)
    rows = patches[valid]
    if rows.shape[0] == 0:
        return out
    if cache is None:
        out[valid] = _predict_batches(model, rows, batch_size)
        return out
    flat = np.ascontiguousarray(rows.reshape(rows.shape[0], -1))
    keys = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    known = [cache.values.get(key.tobytes()) for key in unique]
    missing = np.array([v is None for v in known], dtype=bool)
    values = np.array([np.nan if v is None else v for v in known], dtype=np.float32)
    if missing.any():
        values[missing] = _predict_batches(model, rows[first[missing]], batch_size)
        new = [u.tobytes() for u in unique[missing]]
        cache.values.update(zip(new, values[missing].tolist(), strict=True))
        cache.predicted += int(missing.sum())
    out[valid] = values[inverse.ravel()]
    return out


def _predict_batches(model: Predictor, rows: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate(
        [np.asarray(model.predict(rows[i : i + batch_size]), dtype=np.float32).ravel()
         for i in range(0, len(rows), batch_size)]
    )  # fmt: skip


def strip_patches(src: rasterio.DatasetReader, window: Window, size: int) -> np.ndarray:
    """The ``size × size`` neighbourhoods ``(rows · cols, size, size, F)`` uint8 of every
    pixel of a full-width strip of the class-code stack ``src``, read with a halo of
    ``size // 2`` rows on each side (0 beyond the grid): equal to
    :func:`~lsgh_ee.sampling.patches.gather_patches` on the whole stack."""
    half = size // 2
    top = max(0, window.row_off - half)
    bottom = min(src.height, window.row_off + window.height + half)
    block = src.read(window=Window(0, top, src.width, bottom - top))  # (F, rows + halo, W)
    first = window.row_off - top
    rows = np.repeat(np.arange(first, first + window.height), src.width)
    cols = np.tile(np.arange(src.width), window.height)
    return gather_patches(block, rows, cols, size)


def input_raster(run_dir: str | os.PathLike, input_kind: InputKind) -> Path:
    """The stack a model of ``input_kind`` maps from: ``class_codes.tif`` (codes) or
    ``factors.tif`` (values) of the run folder."""
    run = RunFolder(run_dir)
    return run.factors if input_kind == "values" else run.codes


def windows(height: int, width: int, rows_per_window: int) -> list[Window]:
    """Full-width row strips of at most ``rows_per_window`` rows (0 = one strip)."""
    return [Window(0, top, width, end - top) for top, end in strips(height, rows_per_window)]


def predict_windows(
    model: Predictor,
    src: rasterio.DatasetReader,
    strips: list[Window],
    class_counts: np.ndarray,
    *,
    input_kind: InputKind = "codes",
    cache: VectorCache | None = None,
    patches: PatchCache | None = None,
) -> Iterator[tuple[Window, np.ndarray]]:
    """``(window, susceptibility)`` of each full-width strip of the open input stack
    ``src`` (see :func:`predict_map` for ``input_kind``); the susceptibility is flat,
    ``(rows · cols,)`` float32, NaN = nodata. ``cache`` / ``patches``: the distinct vectors
    / neighbourhoods already predicted, shared across strips."""
    cache = cache if cache is not None else VectorCache()
    for window in strips:
        if input_kind == "patches":  # read with a halo of context // 2
            index = predict_patches(model, strip_patches(src, window, int(model.context)), patches)
        else:
            block = src.read(window=window)  # (F, rows, cols)
            flat = block.reshape(block.shape[0], -1).T
            if input_kind == "values":
                index = predict_values(model, flat.astype(np.float32, copy=False))
            else:
                index = predict_codes(model, flat, class_counts, cache)
        yield window, index


def predict_strips(
    model: Predictor, run_dir: str | os.PathLike, rows_per_window: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, susceptibility (rows, cols) float32)`` of each strip of a run's map,
    predicted from its class-code stack (its factor values for a ``values`` model) as
    :func:`predict_stack` predicts the whole of it, strip by strip
    (``rows_per_window`` rows; 0 = one strip): memory bounded by a strip and the
    distinct vectors."""
    input_kind = getattr(model, "input_kind", "codes")
    schema = json.loads(RunFolder(run_dir).factor_schema.read_text(encoding="utf-8"))
    counts = np.array([len(f["classes"]) for f in schema["factors"]])
    with (
        bounded_gdal_cache(),
        open_raster(input_raster(run_dir, input_kind)) as src,
    ):
        strip_windows = windows(src.height, src.width, rows_per_window)
        for window, index in predict_windows(model, src, strip_windows, counts,
                                             input_kind=input_kind):  # fmt: skip
            yield window.row_off, index.reshape(window.height, window.width)


def predict_map(
    model: Predictor,
    codes_path: str | os.PathLike,
    out_path: str | os.PathLike,
    class_counts: list[int] | np.ndarray,
    *,
    input_kind: InputKind = "codes",
    rows_per_window: int = 256,
    patch_cache: bool = False,
    progress: Callable[[int, int], None] | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, float | None]:
    """Predict the susceptibility of every pixel of a class-code stack GeoTIFF (or of a
    factor-value stack, for a values model) and write it as a cloud-optimised GeoTIFF
    (float32 0–1, NaN nodata, overviews), atomically.

    Args:
        model: the predictor.
        codes_path: ``class_codes.tif`` (uint8, one band per factor), or with
            ``input_kind="values"`` ``factors.tif`` (float32, NaN nodata); see
            :func:`input_raster`.
        out_path: the susceptibility GeoTIFF to write.
        class_counts: classes per factor, in band order.
        input_kind: the model's ``input_kind``: ``codes`` (distinct vectors predicted
            once), ``values`` (every valid pixel predicted) or ``patches`` (each pixel's
            ``model.context``-sided neighbourhood of ``codes_path``).
        patch_cache: for ``patches``, predict each distinct neighbourhood once (True) or
            every valid pixel (False, default: on the demo 92,013 of its 92,014 valid
            3 × 3 neighbourhoods are distinct, and 365,540 of 368,056 at twice the
            resolution, so the cache only adds its cost; ``bench/bench_context.py``); the
            map is the same.
        rows_per_window: strip height (0 = the whole grid); memory grows with it, not
            with the region.
        progress: called with (windows done, windows in all).

    Returns:
        Statistics: pixels, valid pixels, distinct vectors predicted (None for values:
        every valid pixel is predicted).
    """
    counts = np.asarray(class_counts)
    cache = VectorCache()
    patches = PatchCache() if input_kind == "patches" and patch_cache else None
    pixels = valid_pixels = 0
    # GDAL's block cache defaults to 5 % of RAM; capped, peak memory stays flat as the
    # region grows (the strips are read and written once, so a cache buys nothing).
    with bounded_gdal_cache(), open_raster(codes_path) as src:
        if src.count != counts.size:
            raise LsghError(
                f"{codes_path} has {src.count} factor bands but the model expects "
                f"{counts.size}; re-run export-factors or use a matching model"
            )
        profile = src.profile.copy()
        profile.update(count=1, dtype="float32", nodata=float("nan"), tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate", predictor=3,
                       BIGTIFF="IF_SAFER")  # fmt: skip
        strip_windows = windows(src.height, src.width, rows_per_window)
        out_path = Path(out_path)
        strips_path = out_path.with_name(f".{out_path.stem}.strips.partial.tif")
        # atomic_path creates the folder and turns a full disk or an unwritable folder
        # into a user error, for the strips file as well as for the final file.
        with atomic_path(out_path) as cog_tmp:
            try:
                with rasterio.open(strips_path, "w", **profile) as dst:
                    found = predict_windows(model, src, strip_windows, counts,
                                            input_kind=input_kind, cache=cache,
                                            patches=patches)  # fmt: skip
                    for i, (window, index) in enumerate(found):
                        dst.write(index.reshape(1, window.height, window.width), window=window)
                        pixels += index.size
                        valid_pixels += int(np.isfinite(index).sum())
                        if progress:
                            progress(i + 1, len(strip_windows))
                    if tags:
                        dst.update_tags(**tags)
                    dst.set_band_description(1, "susceptibility")
                # The strips file is a plain tiled GeoTIFF; the COG driver lays out the
                # final file (overviews first, tiles in order) for HTTP range reads.
                to_cog(strips_path, cog_tmp, categorical=False)
            finally:
                strips_path.unlink(missing_ok=True)
    predicted = None if input_kind == "values" else cache.predicted
    if input_kind == "patches":
        predicted = None if patches is None else patches.predicted
    return {"pixels": pixels, "valid_pixels": valid_pixels, "distinct_vectors": predicted}


def predict_stack(model: Predictor, run_dir: str | os.PathLike) -> np.ndarray:
    """In-memory susceptibility of a run's class-code stack (of its factor values for a
    model whose ``input_kind`` is ``values``), ``(rows, cols)`` float32 (for evaluation
    on small regions; :func:`predict_map` streams and writes the map)."""
    from lsgh_ee.factors.stack import FactorStack

    return predict_layers(model, FactorStack.read(run_dir))


def predict_layers(model: Predictor, stack: FactorStack) -> np.ndarray:
    """In-memory susceptibility ``(rows, cols)`` float32 of a factor stack held in memory
    (e.g. one cross-validation fold's, with its own class breaks); NaN where a factor is
    nodata."""
    if getattr(model, "input_kind", "codes") == "patches":
        rows, cols = np.indices(stack.grid.shape).reshape(2, -1)
        found = gather_patches(stack.codes, rows, cols, int(model.context))
        return predict_patches(model, found).reshape(stack.grid.shape)
    if getattr(model, "input_kind", "codes") == "values":
        values = stack.values.reshape(len(stack.layers), -1).T
        return predict_values(model, values).reshape(stack.grid.shape)
    codes = stack.codes.reshape(len(stack.layers), -1).T
    counts = np.array([len(layer.classes) for layer in stack.layers])
    return predict_codes(model, codes, counts).reshape(stack.grid.shape)
