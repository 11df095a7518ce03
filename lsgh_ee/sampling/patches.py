"""Neighbourhoods of class codes: the input of a context model (``input_kind`` ``patches``).

A patch is the ``size × size`` window of the class-code stack centred on one pixel, every
factor's code at every window pixel: ``(size, size, F)`` uint8, 0 = nodata, and 0 too where
the window reaches beyond the grid. :func:`gather_patches` is the one place patches are cut
(sample pixels for training and evaluation, every pixel of a strip for mapping); samples
hand them out through :meth:`lsgh_ee.sampling.Samples.inputs` given the stack their
``rows`` / ``cols`` index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rasterio.windows import Window

from lsgh_ee.errors import LsghError
from lsgh_ee.factors.stripping import strips
from lsgh_ee.rasters import bounded_gdal_cache, open_raster, read_stack


@dataclass(frozen=True)
class CodeFile:
    """A class-code stack GeoTIFF that patches are cut from strip by strip (``strip_rows``
    rows and a halo of ``size // 2`` rows each side): memory of a strip and the patches,
    however large the grid; the patches equal those cut from the whole stack."""

    path: Path
    strip_rows: int


class HasInputs(Protocol):
    """What :func:`model_inputs` needs of :class:`~lsgh_ee.sampling.Samples` (not imported
    here: samples import this module)."""

    def inputs(
        self, kind: Any, stack: np.ndarray | CodeFile | None = None, context: int | None = None
    ) -> np.ndarray: ...


def check_patch_size(size: int) -> int:
    """``size`` as an int when it is odd and at least 3 (a centre pixel and its ring)."""
    if isinstance(size, bool) or int(size) != size or size < 3 or size % 2 == 0:
        raise LsghError(f"context must be an odd window side of at least 3 pixels, got {size!r}")
    return int(size)


def gather_patches(
    codes: np.ndarray | CodeFile, rows: np.ndarray, cols: np.ndarray, size: int
) -> np.ndarray:
    """The ``size × size`` neighbourhoods of class codes centred on pixels ``(rows, cols)``.

    Args:
        codes: ``(F, H, W)`` uint8 class-code stack (0 = nodata), or a :class:`CodeFile`
            (read strip by strip; the same patches).
        rows, cols: ``(N,)`` integer pixel indices into ``codes``'s grid; they may lie
            outside it (their window then holds zeros only where it is outside).
        size: odd window side in pixels (3, 5, ...).

    Returns:
        ``(N, size, size, F)`` uint8: ``out[n, i, j, f] = codes[f, rows[n] + i - size // 2,
        cols[n] + j - size // 2]``, 0 outside the grid.
    """
    size = check_patch_size(size)
    if isinstance(codes, CodeFile):
        return _gather_from_file(codes, np.asarray(rows), np.asarray(cols), size)
    codes = np.asarray(codes)
    if codes.ndim != 3:
        raise ValueError(f"codes must be (F, H, W), got shape {codes.shape}")
    n_factors, height, width = codes.shape
    half = size // 2
    offsets = np.arange(-half, half + 1)
    rr = np.asarray(rows, dtype=np.int64).reshape(-1, 1) + offsets  # (N, size)
    cc = np.asarray(cols, dtype=np.int64).reshape(-1, 1) + offsets
    row_in = (rr >= 0) & (rr < height)
    col_in = (cc >= 0) & (cc < width)
    # pixel-major layout (H, W, F): one gather copies each patch pixel's F codes at once
    pixels = np.ascontiguousarray(np.moveaxis(codes, 0, -1)).astype(np.uint8, copy=False)
    rr_c = np.clip(rr, 0, max(height - 1, 0))
    cc_c = np.clip(cc, 0, max(width - 1, 0))
    out = pixels[rr_c[:, :, None], cc_c[:, None, :]]  # (N, size, size, F)
    inside = row_in[:, :, None] & col_in[:, None, :]
    out[~inside] = 0
    return out


def _gather_from_file(codes: CodeFile, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """:func:`gather_patches` of the pixels in each strip of ``codes``'s file from that
    strip and its halo (pixels beyond the grid go with the nearest strip, where the block
    ends where the grid does)."""
    half = size // 2
    with bounded_gdal_cache(), open_raster(codes.path) as src:
        height = src.height
        out = np.zeros((rows.size, size, size, src.count), dtype=np.uint8)
        inside = np.clip(rows, 0, max(height - 1, 0))
        for row0, row1 in strips(height, codes.strip_rows):
            sel = np.flatnonzero((inside >= row0) & (inside < row1))
            if sel.size == 0:
                continue
            top, bottom = max(row0 - half, 0), min(row1 + half, height)
            block = src.read(window=Window(0, top, src.width, bottom - top))
            out[sel] = gather_patches(block, rows[sel] - top, cols[sel], size)
    return out


def model_inputs(
    samples: HasInputs, model: Any, stack: np.ndarray | CodeFile | None = None
) -> np.ndarray:
    """What ``model`` takes for ``samples``: ``samples.inputs(model.input_kind)``, and for
    a patches model (``input_kind == "patches"``, its window side in ``model.context``)
    the neighbourhoods cut from ``stack``, the ``(F, H, W)`` class-code stack the samples
    were drawn from (:func:`run_codes` reads a run's; a fold's is its ``FactorStack.codes``).
    """
    return samples.inputs(model.input_kind, stack, getattr(model, "context", None))


def run_codes(
    model: Any, codes_path: str | os.PathLike, strip_rows: int = 0
) -> np.ndarray | CodeFile | None:
    """What patches are cut from when ``model`` takes patches, else None (nothing read):
    the class-code stack ``(F, H, W)`` of ``codes_path`` (a run's ``class_codes.tif``)
    read whole with ``strip_rows`` 0, else the file read ``strip_rows`` rows at a time
    (:class:`CodeFile`)."""
    if getattr(model, "input_kind", "codes") != "patches":
        return None
    path = Path(codes_path)
    if not path.exists():
        raise LsghError(
            f"the {model.variant} model reads neighbourhoods from {path.name}, which this run "
            "lacks (an Earth Engine-native run?); run 'lsgh-ee export-factors CONFIG' first"
        )
    return read_stack(path)[0] if strip_rows == 0 else CodeFile(path, strip_rows)
