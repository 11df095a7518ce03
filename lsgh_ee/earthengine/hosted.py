"""Hosted prediction: the susceptibility map computed inside Earth Engine by a model served
on a Vertex AI endpoint.

``ee.Model.fromVertexAi(endpoint, ...).predictImage(codes)`` sends the class-code image to
the endpoint tile by tile and returns the predictions as an image, so the map of a region
of any size is computed next to the data; only the finished map is fetched (or exported).
The endpoint serves the SavedModel written by :func:`lsgh_ee.model.savedmodel.export_savedmodel`;
its signature fixes what is sent: one float32 band per factor, named as the factor, in the
default ``SERIALIZED_TF_TENSORS`` payload, sampled in the analysis grid's projection
(``fixInputProj``), and one float band ``susceptibility`` back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid
from lsgh_ee.model.schema import check_hostable

log = logging.getLogger(__name__)

DEFAULT_TILE_SIZE = 64
ENDPOINT_PATTERN = re.compile(
    r"^projects/(?P<project>[a-z0-9][a-z0-9-]*)/locations/(?P<region>[a-z0-9-]+)"
    r"/endpoints/(?P<endpoint>[A-Za-z0-9_-]+)$"
)


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` if it is a Vertex AI endpoint resource name, else :class:`LsghError`."""
    if not ENDPOINT_PATTERN.match(endpoint or ""):
        raise LsghError(
            f"--endpoint {endpoint!r} is not a Vertex AI endpoint name; give it as "
            "projects/PROJECT/locations/REGION/endpoints/ENDPOINT_ID ('gcloud ai endpoints "
            "list --region=REGION' shows the IDs)"
        )
    return endpoint


def check_tile_size(tile_size: int) -> int:
    """``tile_size`` if Earth Engine can send tiles of that many pixels a side."""
    if not 1 <= tile_size <= 1024:
        raise LsghError(f"--tile-size must be 1..1024 pixels, got {tile_size}")
    return tile_size


def hosted_susceptibility(
    codes: Any,
    endpoint: str,
    *,
    band_names: Sequence[str],
    grid: Grid,
    tile_size: int = DEFAULT_TILE_SIZE,
    max_payload_bytes: int | None = None,
) -> Any:
    """The susceptibility image predicted by the model on ``endpoint``.

    Args:
        codes: an ``ee.Image`` with one class-code band per factor named ``band_names``
            (codes 1..k; 0 or masked = nodata).
        endpoint: ``projects/P/locations/L/endpoints/E``.
        band_names: the factor names in the model's order (the SavedModel's inputs).
        grid: the analysis grid; inputs are sampled in its projection.
        tile_size: pixels per side of the tiles sent per prediction instance.
        max_payload_bytes: request size limit (Earth Engine's default: 1.5 MB).

    Returns:
        An ``ee.Image`` with one float band ``susceptibility`` (0–1, NaN or masked where a
        factor is nodata).
    """
    import ee

    from lsgh_ee.earthengine.geometry import grid_projection
    from lsgh_ee.model.savedmodel import OUTPUT_NAME, PAYLOAD_FORMAT

    check_endpoint(endpoint)
    check_tile_size(tile_size)
    model = ee.Model.fromVertexAi(
        endpoint=endpoint,
        proj=grid_projection(grid),
        fixInputProj=True,
        inputTileSize=[tile_size, tile_size],
        outputBands={OUTPUT_NAME: {"type": ee.PixelType.float()}},
        maxPayloadBytes=max_payload_bytes,
        payloadFormat=PAYLOAD_FORMAT,
    )
    inputs = codes.select(list(band_names)).toFloat()
    # predictImage returns the input bands plus the predicted ones
    return model.predictImage(inputs).select([OUTPUT_NAME])


def codes_from_asset(asset_id: str, band_names: Sequence[str]) -> Any:
    """The class-code image asset ``asset_id`` with its bands named ``band_names``.

    An asset whose bands are already named as the factors is selected by name; one uploaded
    from ``class_codes.tif`` (bands ``b1``, ``b2``, ...) is taken band by band in order.
    """
    import ee

    from lsgh_ee.errors import first_line

    names = list(band_names)
    try:
        have = ee.Image(asset_id).bandNames().getInfo()
    except ee.ee_exception.EEException as exc:
        raise LsghError(
            f"cannot read the class-code asset {asset_id}: {first_line(exc)}; upload the "
            "run's class_codes.tif ('lsgh-ee upload') or check the asset id"
        ) from None
    if all(name in have for name in names):
        return ee.Image(asset_id).select(names)
    if len(have) != len(names):
        raise LsghError(
            f"class-code asset {asset_id} has {len(have)} band(s) {have} but the model needs "
            f"{len(names)} ({', '.join(names)}); upload the class_codes.tif of this run"
        )
    return ee.Image(asset_id).select(list(range(len(names))), names)


def fetch_map(
    image: Any,
    grid: Grid,
    out_path: str | os.PathLike,
    *,
    mode: str,
    settings: Any,
    tile_dir: str | os.PathLike | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Bring the ``susceptibility`` band of ``image`` home as the run's map: a COG on
    ``grid`` (float32, NaN nodata), the same file local mapping writes, tagged with
    ``tags``.

    Args:
        mode: how pixels leave Earth Engine (the config's ``earthengine.export``):
            ``download`` (tiled ``computePixels``), ``gcs`` or ``asset`` (batch export,
            then download; see :func:`lsgh_ee.earthengine.exports.fetch_image`).
        settings: the :class:`~lsgh_ee.earthengine.exports.ExportSettings` of the session.
        tile_dir: cache of downloaded tiles or pieces, so a re-run resumes.
    """
    import numpy as np
    import rasterio

    from lsgh_ee.earthengine.exports import fetch_image
    from lsgh_ee.model.savedmodel import OUTPUT_NAME
    from lsgh_ee.rasters import write_geotiff

    out = Path(out_path)
    fetched = out.with_name(f".{out.stem}.ee.tif")
    try:
        fetch_image(image, grid, fetched, band_names=[OUTPUT_NAME], dtype="float32", mode=mode,
                    settings=settings, work_dir=tile_dir)  # fmt: skip
        with rasterio.open(fetched) as src:
            index = src.read(1)
    finally:
        fetched.unlink(missing_ok=True)
    write_geotiff(out, index.astype(np.float32), grid, descriptions=[OUTPUT_NAME], tags=tags)
    return out


def predict_hosted(
    config: Any,
    bundle_schema: dict,
    factor_schema: dict,
    out_path: str | os.PathLike,
    *,
    endpoint: str,
    codes_asset: str | None = None,
    tile_size: int = DEFAULT_TILE_SIZE,
    tile_dir: str | os.PathLike | None = None,
    tags: dict[str, str] | None = None,
    to_asset: str | None = None,
    overwrite: bool = False,
    on_progress: Callable[[Any], None] | None = None,
) -> dict:
    """Map the region of ``config`` with the model hosted on ``endpoint``.

    The class codes come from ``codes_asset`` when given, else they are computed in Earth
    Engine from the factor schema's breaks. The map is fetched into ``out_path``, or, with
    ``to_asset`` (an image asset id), exported there by a batch task and left in Earth
    Engine: nothing of it passes through this machine. Returns statistics for the manifest.

    Args:
        overwrite: replace an existing ``to_asset``; without it an existing asset is an
            error raised before the task starts.
        on_progress: called with each poll of the export task (``to_asset``).
    """
    import numpy as np
    import rasterio

    from lsgh_ee.earthengine.classify import class_code_image
    from lsgh_ee.earthengine.connect import connect
    from lsgh_ee.region import Region

    check_hostable(str(bundle_schema["variant"]))
    check_endpoint(endpoint)
    check_tile_size(tile_size)
    names = [f["name"] for f in bundle_schema["factors"]]
    grid = Region.from_config(config).grid
    ee_config = config.earthengine
    _, settings = connect(config)
    if codes_asset is not None:
        codes = codes_from_asset(codes_asset, names)
    else:
        codes = class_code_image(factor_schema, grid, config)
    image = hosted_susceptibility(codes, endpoint, band_names=names, grid=grid,
                                  tile_size=tile_size)  # fmt: skip
    stats: dict[str, Any] = {
        "pixels": grid.shape[0] * grid.shape[1],
        "endpoint": endpoint,
        "codes": codes_asset or "computed in Earth Engine",
        "tile_size": tile_size,
    }
    with _endpoint_hint():
        if to_asset is not None:
            export_to_asset(image, grid, to_asset, settings=settings, overwrite=overwrite,
                            description=f"lsgh-ee {config.name} {bundle_schema['variant']}",
                            on_progress=on_progress)  # fmt: skip
            return {**stats, "asset_id": to_asset}
        out = fetch_map(image, grid, out_path, mode=ee_config.export, settings=settings,
                        tile_dir=tile_dir, tags=tags)  # fmt: skip
    with rasterio.open(out) as src:
        index = src.read(1)
    return {**stats, "valid_pixels": int(np.isfinite(index).sum())}


def export_to_asset(
    image: Any,
    grid: Grid,
    asset_id: str,
    *,
    settings: Any,
    description: str,
    overwrite: bool = False,
    on_progress: Callable[[Any], None] | None = None,
) -> str:
    """Export the ``susceptibility`` band of ``image`` on ``grid`` to the image asset
    ``asset_id`` (pyramiding MEAN) and wait for the task; returns the asset id.

    Raises:
        LsghError: the asset exists and ``overwrite`` is false, or the task failed (with
            the server's message).
    """
    from lsgh_ee.earthengine.exports import get_asset, start_image_export
    from lsgh_ee.earthengine.tasks import wait_for_operation
    from lsgh_ee.model.savedmodel import OUTPUT_NAME

    if get_asset(asset_id) is not None and not overwrite:
        raise LsghError(
            f"Earth Engine asset {asset_id} exists; pass --force to replace it or delete it"
        )
    operation = start_image_export(image, grid, mode="asset", description=description,
                                   asset_id=asset_id, pyramiding={OUTPUT_NAME: "MEAN"},
                                   overwrite=overwrite)  # fmt: skip
    wait_for_operation(operation, poll_s=settings.poll_s, on_progress=on_progress)
    return asset_id


@contextlib.contextmanager
def _endpoint_hint() -> Iterator[None]:
    """Add how to check the endpoint to errors that name it."""
    try:
        yield
    except LsghError as exc:
        if "endpoint" not in str(exc).lower():
            raise
        raise LsghError(
            f"{exc}; check --endpoint ('gcloud ai endpoints list') and that the model is "
            "deployed and usable by the Earth Engine project (role Vertex AI User)"
        ) from None
