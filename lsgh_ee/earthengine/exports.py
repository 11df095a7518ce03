"""Getting pixels out of Earth Engine by batch export: to Cloud Storage, to an image asset,
or to Google Drive (``ee.batch.Export.image.*``), on the exact analysis grid.

:func:`fetch_image` is the batch counterpart of
:func:`~lsgh_ee.earthengine.download.download_image`: one GeoTIFF with exactly the grid's
CRS, transform and shape (NaN nodata for floats). ``gcs`` exports to the bucket, waits
for the task and downloads and mosaics the GeoTIFF piece(s) (piece by piece, rows at a
time: :mod:`lsgh_ee.earthengine.mosaic`); ``asset`` exports to an image asset, waits, then
downloads the asset tile by tile. Both are resumable: the destination's
name carries a fingerprint of the expression and grid, so a finished export is found and
not started again, and a still-running one is waited for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lsgh_ee.config import EarthEngineConfig
from lsgh_ee.earthengine.download import (
    _fingerprint,
    download_image,
    prepare_for_transfer,
)
from lsgh_ee.earthengine.geometry import crs_code, crs_transform
from lsgh_ee.earthengine.mosaic import piece_blocks, place_pieces, write_mosaic
from lsgh_ee.earthengine.tasks import (
    TaskStatus,
    list_operations,
    start_with_retries,
    wait_for_operation,
)
from lsgh_ee.errors import LsghError, first_line
from lsgh_ee.grid import Grid

log = logging.getLogger(__name__)

ExportMode = Literal["download", "gcs", "asset", "drive"]
DEFAULT_MAX_PIXELS = 10**10
Progress = Callable[[TaskStatus], None]


def require_bucket(bucket: str | None, purpose: str) -> str:
    """``bucket``, or one line naming ``earthengine.bucket`` and that ``purpose`` needs it."""
    if bucket is None:
        raise LsghError(
            f"{purpose} stages files in Cloud Storage: set earthengine.bucket in the config "
            "to a bucket you can write to"
        )
    return bucket


@dataclass(frozen=True)
class ExportSettings:
    """Where batch exports go: the project, bucket and object prefix (gcs), asset folder
    (asset), Drive folder (drive), the Cloud Storage endpoint, poll interval (seconds) and
    download workers."""

    project: str
    bucket: str | None = None
    prefix: str = "lsgh-ee"
    asset_folder: str | None = None
    drive_folder: str = "lsgh-ee"
    storage_url: str | None = None
    poll_s: float = 10.0
    workers: int = 4

    @classmethod
    def from_config(cls, config: EarthEngineConfig, project: str, prefix: str) -> ExportSettings:
        """Settings from the config's ``earthengine`` section for the session's project;
        ``prefix`` names the run's folder in the bucket."""
        return cls(project, config.bucket, prefix, config.asset_folder,
                   config.drive_folder, config.storage_url, config.poll_seconds,
                   config.workers)  # fmt: skip

    def require_bucket(self, purpose: str) -> str:
        return require_bucket(self.bucket, purpose)

    @property
    def asset_root(self) -> str:
        return self.asset_folder or f"projects/{self.project}/assets/lsgh-ee"

    def storage(self) -> Any:
        from lsgh_ee.earthengine.storage import CloudStorage

        return CloudStorage(self.require_bucket("a gcs export"), project=self.project,
                            api_url=self.storage_url)  # fmt: skip


#: Longest task description sent (the name shown in the task list, and the one an
#: interrupted run is found again by).
MAX_DESCRIPTION = 80


def safe_name(text: str) -> str:
    """Letters, digits, ``_`` and ``-`` only, at most :data:`MAX_DESCRIPTION` characters
    (export descriptions and asset ids)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:MAX_DESCRIPTION] or "export"


def fingerprinted_name(stem: str, key: str, prefix: str = "lsgh_") -> str:
    """``<prefix><stem>_<key>`` shortened in the stem, never in the fingerprint ``key``, so
    the whole name survives :func:`safe_name` and a later run can find the task by it."""
    room = MAX_DESCRIPTION - len(prefix) - len(key) - 1
    return safe_name(f"{prefix}{safe_name(stem)[:room].rstrip('_')}_{key}")


def asset_root_of(asset_id: str) -> tuple[str, list[str]]:
    """(the root that always exists, the folders below it down to the asset's parent) of
    an asset id: ``projects/P/assets/a/b/img`` -> (``projects/P/assets``, [``.../a``,
    ``.../a/b``]); legacy ``users/NAME/a/img`` -> (``users/NAME``, [``users/NAME/a``])."""
    parts = asset_id.strip("/").split("/")
    depth = 3 if parts[0] == "projects" and len(parts) > 3 and parts[2] == "assets" else 2
    root = "/".join(parts[:depth])
    folders = ["/".join(parts[: i + 1]) for i in range(depth, len(parts) - 1)]
    return root, folders


def ensure_parent_folder(asset_id: str) -> list[str]:
    """Create the folders above ``asset_id`` that do not exist yet, level by level
    (``ee.data.createFolder``): Earth Engine refuses an export or ingestion into a folder
    that does not exist. Returns the folders created.

    Raises:
        LsghError: a level exists but is not a folder, or a request was refused.
    """
    import ee

    _, folders = asset_root_of(asset_id)
    created: list[str] = []
    for folder in folders:
        info = get_asset(folder)
        if info is not None:
            kind = str(info.get("type", "FOLDER")).upper()
            if kind not in ("FOLDER", "IMAGE_COLLECTION"):
                raise LsghError(
                    f"Earth Engine asset {folder} is an {kind}, not a folder, so {asset_id} "
                    "cannot be written below it; choose another earthengine.asset_folder"
                )
            continue
        try:
            ee.data.createFolder(folder)
        except ee.ee_exception.EEException as exc:
            if "already exists" in str(exc).lower():  # made meanwhile by a parallel run
                continue
            raise LsghError(
                f"cannot create Earth Engine folder {folder} for {asset_id}: {first_line(exc)}"
            ) from None
        log.info("created Earth Engine folder %s", folder)
        created.append(folder)
    return created


def start_image_export(
    image: Any,
    grid: Grid,
    *,
    mode: Literal["gcs", "asset", "drive"],
    description: str,
    bucket: str | None = None,
    prefix: str | None = None,
    asset_id: str | None = None,
    drive_folder: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    file_dimensions: int | None = None,
    pyramiding: dict[str, str] | None = None,
    overwrite: bool = False,
    retries: int = 5,
    backoff_s: float = 1.0,
) -> str:
    """Start ``ee.batch.Export.image.toCloudStorage`` / ``toAsset`` / ``toDrive`` of
    ``image`` on ``grid`` (its CRS, ``crsTransform`` and dimensions, so the export is on
    the exact grid; GeoTIFF files); returns the operation name.

    Args:
        mode: ``gcs`` (``bucket`` and object ``prefix``), ``asset`` (``asset_id``) or
            ``drive`` (``drive_folder``; the file name is ``prefix`` or the description).
        description: the task's name in the task list.
        max_pixels: the export's pixel limit.
        file_dimensions: split file exports into pieces of at most this many pixels a side.
        pyramiding: band → pyramiding policy (MEAN, MODE, ...) for asset exports.
        overwrite: replace an existing asset (asset mode).
        retries: retries of the start request on 429 / 5xx, with exponential back-off;
            the retried request carries the same request id, so it starts one task.

    Raises:
        LsghError: a missing destination, or the start request refused (one line).
    """
    import ee

    params: dict[str, Any] = {
        "image": image,
        "description": safe_name(description),
        "crs": crs_code(grid),
        "crsTransform": crs_transform(grid),
        "dimensions": f"{grid.width}x{grid.height}",
        "maxPixels": int(max_pixels),
    }
    if mode == "gcs":
        if not bucket:
            raise LsghError("a gcs export needs earthengine.bucket; set it in the config")
        task = ee.batch.Export.image.toCloudStorage(
            bucket=bucket, fileNamePrefix=prefix or params["description"], fileFormat="GeoTIFF",
            fileDimensions=file_dimensions, **params)  # fmt: skip
    elif mode == "asset":
        if not asset_id:
            raise LsghError("an asset export needs an asset id")
        ensure_parent_folder(asset_id)
        task = ee.batch.Export.image.toAsset(assetId=asset_id, pyramidingPolicy=pyramiding,
                                             overwrite=overwrite, **params)  # fmt: skip
    elif mode == "drive":
        task = ee.batch.Export.image.toDrive(
            folder=drive_folder, fileNamePrefix=prefix or params["description"],
            fileFormat="GeoTIFF", fileDimensions=file_dimensions, **params)  # fmt: skip
    else:
        raise LsghError(f"export mode {mode!r} is not a batch export; use gcs, asset or drive")
    start_with_retries(
        task.start, f"export {params['description']}", retries=retries, backoff_s=backoff_s
    )  # the task keeps its request id across attempts
    log.info("started Earth Engine export %s (%s)", task.name, params["description"])
    return str(task.name)


def _running_task(description: str) -> str | None:
    """The name of a pending or running task with this description (started by an
    earlier, interrupted run), else None. The description is compared as it was sent
    (:func:`safe_name`: cleaned and at most :data:`MAX_DESCRIPTION` characters)."""
    import ee

    description = safe_name(description)
    try:
        operations = list_operations()
    except ee.ee_exception.EEException as exc:
        raise LsghError(f"cannot list Earth Engine tasks: {first_line(exc)}") from None
    for op in operations:
        meta = op.get("metadata", {})
        if meta.get("description") == description and meta.get("state") in ("PENDING", "RUNNING"):
            return str(op["name"])
    return None


def _export_and_wait(
    start: Callable[[], str], description: str, settings: ExportSettings, progress: Progress | None
) -> dict:
    name = _running_task(description)
    if name is not None:
        log.info("waiting for the running export %s (%s)", name, description)
    else:
        name = start()
    return wait_for_operation(name, poll_s=settings.poll_s, on_progress=progress)


def get_asset(asset_id: str) -> dict[str, Any] | None:
    """The asset's metadata (``ee.data.getAsset``), or None when it does not exist.

    Raises:
        LsghError: any other failure of the look-up (one line).
    """
    import ee

    from lsgh_ee.earthengine.session import http_status

    try:
        return dict(ee.data.getAsset(asset_id))
    except ee.ee_exception.EEException as exc:
        if http_status(exc) == 404:
            return None
        raise LsghError(
            f"cannot look up Earth Engine asset {asset_id}: {first_line(exc)}"
        ) from None


def asset_exists(asset_id: str) -> bool:
    """Whether the Earth Engine asset exists."""
    return get_asset(asset_id) is not None


def fetch_image(
    image: Any,
    grid: Grid,
    out_path: str | os.PathLike,
    *,
    band_names: Sequence[str],
    dtype: str = "float32",
    mode: ExportMode,
    settings: ExportSettings,
    work_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    file_dimensions: int | None = None,
) -> Path:
    """``image``'s ``band_names`` on ``grid`` as a GeoTIFF at ``out_path`` (written
    atomically; exactly the grid's CRS, transform and shape; NaN nodata for float types,
    0 for integers), fetched by ``mode``: ``download`` (tiled computePixels), ``gcs``
    (export to ``settings.bucket``, download the piece(s), mosaic) or ``asset`` (export to
    an asset in ``settings.asset_root``, then download it).

    Args:
        work_dir: cache folder for downloaded tiles or pieces (default beside ``out_path``).
        progress: called with each poll of the export task.
        file_dimensions: gcs: split the export into files of at most this many pixels a side.

    Raises:
        LsghError: ``drive`` (its files cannot be fetched back), a missing bucket, a failed
            task (with the server's message) or a failed download.
    """
    import ee

    out = Path(out_path)
    if mode == "download":
        return download_image(image, grid, out, band_names=band_names, dtype=dtype,
                              workers=settings.workers, tile_dir=work_dir)  # fmt: skip
    if mode == "drive":
        raise LsghError(
            "export mode drive cannot be fetched back into the run folder (Drive files "
            "are not readable through the Earth Engine API); use gcs or asset"
        )
    if mode not in ("gcs", "asset"):
        raise LsghError(f"unknown export mode {mode!r}; use download, gcs, asset or drive")
    transfer = prepare_for_transfer(image, band_names, dtype)
    expression = ee.serializer.encode(transfer.image, for_cloud_api=True)
    key = _fingerprint(expression, grid, band_names, dtype, mode)
    stem = safe_name(out.stem)
    description = fingerprinted_name(stem, key)
    if mode == "asset":
        asset_id = f"{settings.asset_root}/{fingerprinted_name(stem, key, '')}"
        if asset_exists(asset_id):
            log.info("asset %s exists (same fingerprint); not exporting again", asset_id)
        else:
            _export_and_wait(
                lambda: start_image_export(transfer.masked, grid, mode="asset",
                                           description=description, asset_id=asset_id),
                description, settings, progress)  # fmt: skip
        return download_image(ee.Image(asset_id), grid, out, band_names=band_names,
                              dtype=dtype, workers=settings.workers,
                              tile_dir=work_dir)  # fmt: skip

    store = settings.storage()
    prefix = f"{settings.prefix.strip('/')}/{stem}_{key}".lstrip("/")
    names = [n for n in store.list(prefix) if n.endswith(".tif")]
    if names:
        log.info("gs://%s/%s* exists (same fingerprint); not exporting again", store.bucket_name,
                 prefix)  # fmt: skip
    else:
        _export_and_wait(
            lambda: start_image_export(transfer.image, grid, mode="gcs",
                                       description=description, bucket=store.bucket_name,
                                       prefix=prefix, file_dimensions=file_dimensions),
            description, settings, progress)  # fmt: skip
        names = [n for n in store.list(prefix) if n.endswith(".tif")]
        if not names:
            raise LsghError(
                f"Earth Engine export {description} finished but gs://{store.bucket_name}/"
                f"{prefix}* holds no GeoTIFF; check the bucket and run again"
            )
    cache = Path(work_dir) if work_dir is not None else out.with_name(f".{out.name}.pieces")
    pieces = [store.download(n, cache / key / Path(n).name) for n in names]
    placed = place_pieces(pieces, grid, len(band_names))
    write_mosaic(out, grid, piece_blocks(placed), band_names=band_names, dtype=dtype,
                 nodata=transfer.nodata,
                 fill=transfer.fill if transfer.nan_nodata else None)  # fmt: skip
    shutil.rmtree(cache / key, ignore_errors=True)
    with contextlib.suppress(OSError):
        cache.rmdir()  # only when no other download's pieces or tiles are in it
    return out


def export_to_drive(
    image: Any,
    grid: Grid,
    *,
    band_names: Sequence[str],
    dtype: str,
    name: str,
    settings: ExportSettings,
    progress: Progress | None = None,
) -> str:
    """Export ``image`` on ``grid`` to Google Drive as ``<drive_folder>/<name>.tif`` and
    wait; returns one line saying where the file is (Drive files cannot be fetched back)."""
    transfer = prepare_for_transfer(image, band_names, dtype)
    description = safe_name(name)
    operation = _export_and_wait(
        lambda: start_image_export(transfer.image, grid, mode="drive", description=description,
                                   drive_folder=settings.drive_folder, prefix=description),
        description, settings, progress)  # fmt: skip
    uris = operation.get("metadata", {}).get("destinationUris") or []
    where = f" ({uris[0]})" if uris else ""
    return (
        f"exported {description}.tif to Google Drive folder {settings.drive_folder!r}{where}; "
        "download it from Drive"
    )
