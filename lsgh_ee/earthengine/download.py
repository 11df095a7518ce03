"""Tiled, resumable direct download of an Earth Engine image onto an analysis grid.

``ee.data.computePixels`` answers at most 48 MB uncompressed (pixels × bands × bytes) and
32,768 pixels per side per request. :func:`download_image` splits the grid into tiles under
both limits, fetches them concurrently with retries and exponential back-off on quota
(429) and server (5xx) errors, keeps every finished tile in a cache folder (written
atomically) so a re-run after a crash fetches only the missing tiles, and mosaics them into
one GeoTIFF with exactly the grid's CRS and transform, tile by tile
(:func:`lsgh_ee.earthengine.mosaic.write_mosaic`: memory of one tile, not of the grid).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lsgh_ee.earthengine.geometry import pixel_grid
from lsgh_ee.earthengine.mosaic import write_mosaic
from lsgh_ee.errors import LsghError, first_line
from lsgh_ee.grid import Grid

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 48 * 2**20
MAX_SIDE = 32768
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_RETRYABLE_TEXT = ("too many", "quota", "rate limit", "internal error", "unavailable", "deadline")

_CAST = {
    "float32": "toFloat",
    "float64": "toDouble",
    "uint8": "toUint8",
    "int8": "toInt8",
    "int16": "toInt16",
    "uint16": "toUint16",
    "int32": "toInt32",
    "uint32": "toUint32",
}


@dataclass(frozen=True)
class Tile:
    """A window of the grid: top-left pixel (row, col) and its shape."""

    row: int
    col: int
    height: int
    width: int

    @property
    def key(self) -> str:
        return f"r{self.row}_c{self.col}_h{self.height}_w{self.width}"


def plan_tiles(
    grid: Grid,
    *,
    bands: int,
    bytes_per_pixel: int,
    max_bytes: int = MAX_REQUEST_BYTES,
    max_side: int = MAX_SIDE,
) -> list[Tile]:
    """Tiles covering ``grid`` row-major, each with ``height × width × bands ×
    bytes_per_pixel ≤ max_bytes`` and both sides ``≤ max_side``; tiles are as square as
    the limits allow and of near-equal size.

    Raises:
        LsghError: not even one pixel fits in ``max_bytes``.
    """
    per_pixel = bands * bytes_per_pixel
    max_pixels = max_bytes // per_pixel
    if max_pixels < 1:
        raise LsghError(
            f"one pixel of {bands} band(s) × {bytes_per_pixel} byte(s) exceeds the request "
            f"limit of {max_bytes} bytes; download fewer bands at once"
        )
    side = max(1, min(max_side, math.isqrt(max_pixels)))
    tile_h = min(grid.height, side)
    tile_w = min(grid.width, max_side, max_pixels // tile_h)
    if tile_w >= grid.width:  # a full-width strip: grow it downward as far as allowed
        tile_w = grid.width
        tile_h = min(grid.height, max_side, max_pixels // tile_w)
    n_rows = math.ceil(grid.height / tile_h)
    n_cols = math.ceil(grid.width / tile_w)
    # even out the tiles (same count, near-equal sizes, none larger than planned)
    tile_h = math.ceil(grid.height / n_rows)
    tile_w = math.ceil(grid.width / n_cols)
    tiles = []
    for r in range(0, grid.height, tile_h):
        for c in range(0, grid.width, tile_w):
            tiles.append(Tile(r, c, min(tile_h, grid.height - r), min(tile_w, grid.width - c)))
    return tiles


def _tile_grid(grid: Grid, tile: Tile) -> dict:
    """The REST ``PixelGrid`` of one tile (``crsWkt`` for a CRS without a code)."""
    return pixel_grid(grid, tile.row, tile.col, tile.height, tile.width)


class BadAnswer(Exception):
    """Earth Engine answered with something that is not what was asked (a broken NPY
    stream, a GeoTIFF where NPY was asked, missing bands, a wrong shape): retried like a
    server error, since a truncated answer is usually a transfer fault."""


def is_retryable(exc: BaseException) -> bool:
    """True for quota (429), server (5xx), timeout and connection errors."""
    from lsgh_ee.earthengine.session import http_status

    if isinstance(exc, ConnectionError | TimeoutError | BadAnswer):
        return True
    status = http_status(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    text = str(exc).lower()
    return any(word in text for word in _RETRYABLE_TEXT)


def _describe(payload: bytes) -> str:
    """What an answer looks like, for a message: its size and kind, never its content."""
    head = payload[:8]
    if head.startswith((b"II*\x00", b"MM\x00*")):
        kind = "a GeoTIFF"
    elif head.startswith(b"\x93NUMPY"):
        kind = "an NPY stream"
    elif head.lstrip().startswith((b"{", b"<")):
        kind = "text (JSON or HTML)"
    else:
        kind = "unrecognised bytes"
    return f"{len(payload)} bytes of {kind}"


def _decode(payload: Any, file_format: str, band_names: Sequence[str]) -> np.ndarray:
    """``(bands, rows, cols)`` from an NPY (structured) or GeoTIFF answer.

    Raises:
        BadAnswer: the payload is not the format asked for, is truncated or garbled, or
            lacks one of ``band_names``.
    """
    if not isinstance(payload, bytes | bytearray):
        raise BadAnswer(f"an answer of type {type(payload).__name__}, not bytes")
    payload = bytes(payload)
    if file_format == "NPY":
        if not payload.startswith(b"\x93NUMPY"):
            raise BadAnswer(f"{_describe(payload)} where NPY was asked")
        try:
            array = np.load(io.BytesIO(payload), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise BadAnswer(f"a broken NPY stream ({_describe(payload)}: {exc})") from None
        if array.dtype.names:
            missing = [name for name in band_names if name not in array.dtype.names]
            if missing:
                raise BadAnswer(
                    f"an NPY answer without band(s) {missing} (it has {list(array.dtype.names)})"
                )
            return np.stack([array[name] for name in band_names])
        return np.moveaxis(array, -1, 0) if array.ndim == 3 else array[np.newaxis]
    from rasterio.errors import RasterioError
    from rasterio.io import MemoryFile

    try:
        with MemoryFile(payload) as mem, mem.open() as src:
            return src.read()
    except RasterioError:
        raise BadAnswer(f"{_describe(payload)} that is not a readable GeoTIFF") from None


class _Cache:
    """Finished tiles as ``.npy`` files in ``folder``, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, tile: Tile) -> Path:
        return self.folder / f"{tile.key}.npy"

    def has(self, tile: Tile) -> bool:
        return self.path(tile).is_file()

    def load(self, tile: Tile) -> np.ndarray:
        return np.load(self.path(tile), allow_pickle=False)

    def save(self, tile: Tile, data: np.ndarray) -> None:
        final = self.path(tile)
        tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.partial.npy")
        try:
            with open(tmp, "wb") as fh:
                np.save(fh, data, allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _fingerprint(expression: Any, grid: Grid, bands: Sequence[str], dtype: str, fmt: str) -> str:
    doc = json.dumps(
        {
            "expression": expression,
            "grid": grid.to_dict(),
            "bands": list(bands),
            "dtype": dtype,
            "format": fmt,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Transfer:
    """An image made ready to leave Earth Engine: ``image`` is selected to the bands,
    masked pixels are set to ``fill`` and it is cast to the dtype; locally ``fill`` becomes
    ``nodata`` (``nan_nodata``: nodata is NaN and ``fill`` a float32 sentinel, as neither
    JSON nor every export format carries NaN)."""

    image: Any
    fill: float
    nodata: float
    nan_nodata: bool
    masked: Any = None  # the image selected and cast with its mask kept (for asset exports)


def prepare_for_transfer(
    image: Any, band_names: Sequence[str], dtype: str, nodata: float | None = None
) -> Transfer:
    """``image`` selected to ``band_names``, unmasked with a fill value and cast to ``dtype``
    (see :class:`Transfer`); ``nodata`` None means NaN for float types and 0 for integers.

    Raises:
        LsghError: an unsupported dtype or no band names.
    """
    if dtype not in _CAST:
        raise LsghError(f"dtype {dtype!r} cannot be downloaded; use one of {', '.join(_CAST)}")
    if not band_names:
        raise LsghError("an Earth Engine download needs at least one band name")
    is_float = np.issubdtype(np.dtype(dtype), np.floating)
    if nodata is None:
        nodata = float("nan") if is_float else 0
    nan_nodata = bool(is_float and math.isnan(float(nodata)))
    fill = float(np.finfo(np.float32).min) if nan_nodata else nodata
    prepared = getattr(image.select(list(band_names)).unmask(fill, False), _CAST[dtype])()
    masked = getattr(image.select(list(band_names)), _CAST[dtype])()
    return Transfer(prepared, fill, nodata, nan_nodata, masked)


def download_image(
    image: Any,
    grid: Grid,
    out_path: str | os.PathLike,
    *,
    band_names: Sequence[str],
    dtype: str = "float32",
    nodata: float | None = None,
    max_bytes: int = MAX_REQUEST_BYTES,
    max_side: int = MAX_SIDE,
    workers: int = 4,
    retries: int = 5,
    tile_dir: str | os.PathLike | None = None,
    file_format: str = "NPY",
    backoff_s: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download ``image``'s ``band_names`` on ``grid`` into a GeoTIFF at ``out_path``.

    Args:
        image: an ``ee.Image``; it is selected to ``band_names``, unmasked with the nodata
            value and cast to ``dtype`` on the server.
        grid: the analysis grid; the output has exactly its CRS, transform and shape.
        out_path: the GeoTIFF to write (atomically, cloud-optimised).
        band_names: bands to download, in output order (also the band descriptions).
        dtype: output pixel type (float32, float64, uint8, int8, int16, uint16, int32, uint32).
        nodata: value of masked pixels; None means NaN for float types and 0 for integers.
        max_bytes: request size limit (pixels × bands × bytes); EE allows 48 MB.
        max_side: request side limit in pixels; EE allows 32,768.
        workers: concurrent requests.
        retries: retries per tile on 429 / 5xx / timeouts, with exponential back-off.
        tile_dir: tile cache folder (default: ``.<out name>.tiles`` beside ``out_path``);
            removed after a successful mosaic, kept after a failure so a re-run resumes.
        file_format: ``NPY`` or ``GEO_TIFF`` transfer format.
        backoff_s: first back-off delay; doubles each retry (with jitter).
        progress: called with (tiles done, tiles total) after each tile.

    Raises:
        LsghError: a tile failed for good (the message names the EE error and how to
            resume), or the request cannot fit the limits.
    """
    import ee

    if file_format not in ("NPY", "GEO_TIFF"):
        raise LsghError(f"file_format must be NPY or GEO_TIFF, got {file_format!r}")
    transfer = prepare_for_transfer(image, band_names, dtype, nodata)
    prepared, fill, nodata, nan_nodata = (transfer.image, transfer.fill, transfer.nodata,
                                          transfer.nan_nodata)  # fmt: skip
    np_dtype = np.dtype(dtype)

    out = Path(out_path)
    expression = ee.serializer.encode(prepared, for_cloud_api=True)
    key = _fingerprint(expression, grid, band_names, dtype, file_format)
    root = Path(tile_dir) if tile_dir is not None else out.with_name(f".{out.name}.tiles")
    cache = _Cache(root / key)
    tiles = plan_tiles(
        grid,
        bands=len(band_names),
        bytes_per_pixel=np_dtype.itemsize,
        max_bytes=max_bytes,
        max_side=max_side,
    )
    todo = [t for t in tiles if not cache.has(t)]
    log.info(
        "downloading %d tile(s) of %d for %s (%d cached)",
        len(todo),
        len(tiles),
        out.name,
        len(tiles) - len(todo),
    )
    done_count = len(tiles) - len(todo)
    lock = threading.Lock()

    def fetch(tile: Tile) -> None:
        request = {
            "expression": prepared,
            "fileFormat": file_format,
            "grid": _tile_grid(grid, tile),
        }
        attempt = 0
        while True:
            try:
                data = _decode(ee.data.computePixels(request), file_format, band_names)
                if data.shape != (len(band_names), tile.height, tile.width):
                    raise BadAnswer(
                        f"pixels of shape {data.shape}, expected "
                        f"{(len(band_names), tile.height, tile.width)}"
                    )
                break
            except Exception as exc:
                if attempt >= retries or not is_retryable(exc):
                    raise
                delay = backoff_s * 2**attempt * (0.5 + random.random() / 2)
                attempt += 1
                log.warning(
                    "tile %s: %s; retry %d/%d in %.1f s",
                    tile.key,
                    first_line(exc),
                    attempt,
                    retries,
                    delay,
                )
                time.sleep(delay)
        cache.save(tile, data.astype(np_dtype, copy=False))

    failures: list[tuple[Tile, BaseException]] = []
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(fetch, t): t for t in todo}
            for future in as_completed(futures):
                exc = future.exception()
                if exc is not None:
                    failures.append((futures[future], exc))
                    continue
                with lock:
                    done_count += 1
                if progress is not None:
                    progress(done_count, len(tiles))
    if failures:
        tile, exc = min(failures, key=lambda f: (f[0].row, f[0].col))
        if isinstance(exc, LsghError):
            raise exc
        expected = ee.ee_exception.EEException | ConnectionError | TimeoutError | BadAnswer
        if not isinstance(exc, expected):
            raise exc
        what = f"answered {exc}" if isinstance(exc, BadAnswer) else first_line(exc)
        raise LsghError(
            f"Earth Engine download of {out.name} failed on {len(failures)} of {len(tiles)} "
            f"tile(s) (computePixels of tile {tile.key}: {what}); "
            f"{len(tiles) - len(failures)} "
            f"finished tile(s) are kept in {cache.folder}: re-run to fetch only the rest"
        ) from exc

    blocks = ((tile.row, tile.col, cache.load(tile)) for tile in tiles)  # one tile at a time
    write_mosaic(out, grid, blocks, band_names=band_names, dtype=dtype, nodata=nodata,
                 fill=fill if nan_nodata else None)  # fmt: skip
    shutil.rmtree(cache.folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        root.rmdir()  # only when no other download's tiles are in it
    return out
