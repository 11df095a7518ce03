"""Uploading a run's maps to Earth Engine image assets (``lsgh-ee upload``).

The susceptibility index (float32 0–1, NaN nodata) and the five-class zone map of one
model become ``<asset_folder>/<region>_<model>_susceptibility`` and ``..._zones``. Mode
``ingest`` stages a copy of each GeoTIFF in the config's Cloud Storage bucket and starts an
ingestion task with a manifest (band name, missing-data value, pyramiding policy: MEAN for
the index, MODE for zones; properties model, schema_hash, run_id, lsgh_ee_version), then
waits for it; mode ``cog`` registers the staged cloud-optimised GeoTIFFs as Cloud
GeoTIFF-backed assets (no copy into Earth Engine) with ``image:importExternal``
(``ee.data.startExternalImageIngestion``, an image manifest: the REST reference's route for
COG-backed images; ``assets.create`` with a Cloud Storage location is the legacy one). The
bucket of a COG-backed asset must be in the ``US`` multi-region, a US dual-region that
includes ``US-CENTRAL1``, or ``US-CENTRAL1`` (Earth Engine refuses registration and reads
elsewhere), Standard storage class recommended: "Register Cloud Optimized GeoTIFF (COG)
assets", https://developers.google.com/earth-engine/guides/cog_registration.
The asset folder is created when missing (exports and ingestion into a missing folder
fail). ``ee_assets.json`` in the run folder records the asset ids.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lsgh_ee import __version__
from lsgh_ee.atomic import write_text
from lsgh_ee.earthengine.exports import ExportSettings, ensure_parent_folder, get_asset
from lsgh_ee.earthengine.tasks import (
    TaskStatus,
    ingestion_started,
    start_once,
    wait_for_operation,
)
from lsgh_ee.errors import LsghError
from lsgh_ee.manifest import now
from lsgh_ee.runfolder import RunFolder

log = logging.getLogger(__name__)

UploadMode = Literal["ingest", "cog"]
#: Where Earth Engine reads Cloud GeoTIFF-backed assets from (cog_registration guide).
COG_LOCATIONS = "the US multi-region, a US dual-region including US-CENTRAL1, or US-CENTRAL1"
INDEX_MISSING = -9999.0  # the staged index's explicit nodata (manifests cannot name NaN)


@dataclass(frozen=True)
class MapLayer:
    """One map to upload: ``layer`` (susceptibility or zones) of ``model``, its local
    GeoTIFF, band name, asset id, pyramiding policy and the missing-data value the staged
    copy uses."""

    model: str
    layer: str
    path: Path
    band: str
    asset_id: str
    pyramiding: str
    missing: float


def map_asset_id(asset_root: str, region: str, model: str, layer: str) -> str:
    """The asset id of a map: ``<asset_root>/<region>_<model>_<layer>`` (``layer``:
    susceptibility or zones), whether uploaded or exported by hosted prediction."""
    return f"{asset_root.rstrip('/')}/{region}_{model}_{layer}"


def map_layers(maps_dir: Path, *, region: str, model: str, asset_root: str) -> list[MapLayer]:
    """The susceptibility and zone layers of ``model`` in ``maps_dir`` (``maps/<model>``).

    Raises:
        LsghError: a map is missing (names the command that makes it).
    """

    def asset(layer: str) -> str:
        return map_asset_id(asset_root, region, model, layer)

    layers = [
        MapLayer(model, "susceptibility", maps_dir / RunFolder.SUSCEPTIBILITY_TIF, "susceptibility",
                 asset("susceptibility"), "MEAN", INDEX_MISSING),
        MapLayer(model, "zones", maps_dir / RunFolder.ZONES_TIF, "zone", asset("zones"), "MODE",
                 0.0),
    ]  # fmt: skip
    for layer in layers:
        if not layer.path.is_file():
            command = "predict" if layer.layer == "susceptibility" else "zone"
            raise LsghError(
                f"{layer.path} does not exist; run 'lsgh-ee {command} CONFIG --model {model}' "
                "first (or 'lsgh-ee run CONFIG')"
            )
    return layers


def stage_copy(layer: MapLayer, out: Path) -> Path:
    """A copy of the layer's GeoTIFF with an explicit nodata value (``layer.missing``): NaN
    becomes that value, so the ingestion manifest can name it; cloud-optimised."""
    import rasterio

    from lsgh_ee.grid import Grid
    from lsgh_ee.rasters import write_geotiff

    with rasterio.open(layer.path) as src:
        data = src.read()
        grid = Grid(src.crs, src.transform, src.height, src.width)
        nodata = src.nodata
    if np.issubdtype(data.dtype, np.floating):
        data = np.where(np.isnan(data), layer.missing, data).astype(data.dtype)
    elif nodata is not None and nodata != layer.missing:
        data = np.where(data == nodata, layer.missing, data).astype(data.dtype)
    return write_geotiff(out, data, grid, nodata=layer.missing, descriptions=[layer.band])


def ingestion_manifest(layer: MapLayer, uri: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The Earth Engine ImageManifest of one staged layer: one tileset from ``uri``, one
    band with its missing-data value and pyramiding policy, and ``properties``."""
    return {
        "name": layer.asset_id,
        "tilesets": [{"id": "0", "sources": [{"uris": [uri]}]}],
        "bands": [
            {
                "id": layer.band,
                "tilesetId": "0",
                "tilesetBandIndex": 0,
                "missingData": {"values": [layer.missing]},
                "pyramidingPolicy": layer.pyramiding,
            }
        ],
        "properties": properties,
    }


def map_properties(run: Path, model: str) -> dict[str, Any]:
    """The asset properties: model, schema_hash (SHA-256 of factor_schema.json, 16 hex),
    run_id (the fingerprint of the model's predict stage, 16 hex), lsgh_ee_version."""
    from lsgh_ee.manifest import Manifest, file_digest

    schema = RunFolder(run).factor_schema
    if not schema.is_file():
        raise LsghError(f"{run} has no {schema.name}; run 'lsgh-ee export-factors CONFIG' first")
    record = Manifest(run).stages.get(f"predict:{model}", {})
    run_id = record.get("fingerprint") or file_digest(RunFolder(run).susceptibility(model))
    return {
        "model": model,
        "schema_hash": file_digest(schema)[:16],
        "run_id": str(run_id)[:16],
        "lsgh_ee_version": __version__,
    }


def check_cog_bucket(info: dict[str, Any], bucket: str) -> None:
    """Refuse, in one line, a bucket Earth Engine cannot back an asset from: it must be in
    the ``US`` multi-region, a US dual-region including ``US-CENTRAL1`` (``NAM4``, or a
    configurable dual-region listing it), or the ``US-CENTRAL1`` region. A storage class
    other than Standard is allowed but warned about (the guide recommends Standard:
    the others bill minimum storage durations and retrieval on every read).

    Raises:
        LsghError: the location is not one Earth Engine reads COG-backed assets from.
    """
    location = str(info.get("location", "")).upper()
    kind = str(info.get("location_type", "")).lower()
    regions = [str(r).upper() for r in info.get("data_locations") or []]
    usable = (
        (location == "US" and kind == "multi-region")
        or location == "US-CENTRAL1"
        or location == "NAM4"
        or (kind == "dual-region" and location == "US" and "US-CENTRAL1" in regions)
    )
    if not usable:
        where = location + (f" ({'+'.join(regions)})" if regions else "")
        raise LsghError(
            f"bucket {bucket} is in {where or 'an unknown location'} ({kind or 'unknown type'}), "
            f"but Earth Engine reads Cloud GeoTIFF-backed assets only from {COG_LOCATIONS}: "
            "use such a bucket for earthengine.bucket, or upload with --mode ingest"
        )
    storage_class = str(info.get("storage_class", "")).upper()
    if storage_class and storage_class != "STANDARD":
        log.warning(
            "bucket %s has storage class %s: Earth Engine reads COG-backed assets from it on "
            "every use, so Standard is recommended (no minimum storage or retrieval fees)",
            bucket, storage_class)  # fmt: skip


def register_cloud_geotiff(
    layer: MapLayer, uri: str, properties: dict[str, Any], *, overwrite: bool
) -> None:
    """Register ``layer.asset_id`` as a Cloud GeoTIFF-backed image on ``uri`` with
    ``image:importExternal`` (``ee.data.startExternalImageIngestion``): the same image
    manifest as an ingestion (band name, missing data, pyramiding policy, properties),
    answered at once, no task. An existing asset is replaced when ``overwrite``."""
    import ee

    from lsgh_ee.errors import first_line

    manifest = ingestion_manifest(layer, uri, properties)
    try:
        answer = ee.data.startExternalImageIngestion(manifest, overwrite)
    except ee.ee_exception.EEException as exc:
        raise LsghError(
            f"Earth Engine refused to register {layer.asset_id} on {uri} "
            f"(image:importExternal): {first_line(exc)}"
        ) from None
    if not isinstance(answer, dict) or not answer.get("name"):
        raise LsghError(
            f"Earth Engine answered the registration of {layer.asset_id} (image:importExternal) "
            f"with {type(answer).__name__} and no asset name; check the asset and run again"
        )
    log.info("registered %s on %s", layer.asset_id, uri)


def upload_maps(
    run: Path,
    *,
    region: str,
    model: str,
    settings: ExportSettings,
    mode: UploadMode = "ingest",
    overwrite: bool = False,
    progress: Callable[[TaskStatus], None] | None = None,
    retries: int = 5,
    backoff_s: float = 1.0,
) -> list[dict[str, str]]:
    """Upload ``maps/<model>/susceptibility.tif`` and ``zones.tif`` of ``run`` to assets
    (see the module doc); returns the ``ee_assets.json`` entries and writes that file.

    Args:
        region: the config name (part of the asset ids).
        settings: project, bucket (staging), asset folder, storage endpoint, poll interval.
        mode: ``ingest`` (ingestion task) or ``cog`` (Cloud GeoTIFF-backed assets).
        overwrite: replace existing assets; without it an existing asset is an error
            raised before anything is staged or started.
        progress: called with each poll of an ingestion task.

    Raises:
        LsghError: an existing asset without ``overwrite``, no bucket, a missing map, a
            refused request or a failed ingestion (with the server's message).
    """
    import ee

    layers = map_layers(RunFolder(run).map_dir(model), region=region, model=model,
                        asset_root=settings.asset_root)  # fmt: skip
    settings.require_bucket("upload")
    for layer in layers:
        if get_asset(layer.asset_id) is not None and not overwrite:
            raise LsghError(
                f"Earth Engine asset {layer.asset_id} exists; pass --overwrite to replace it"
            )
    properties = map_properties(run, model)
    store = settings.storage()
    if mode == "cog":
        check_cog_bucket(store.bucket_info(), store.bucket_name)
    for folder in sorted({layer.asset_id.rsplit("/", 1)[0] for layer in layers}):
        ensure_parent_folder(f"{folder}/_")
    stage_dir = run / ".ee_upload"
    prefix = f"{settings.prefix.strip('/')}/upload".lstrip("/")
    for layer in layers:
        staged = stage_copy(layer, stage_dir / f"{region}_{model}_{layer.layer}.tif")
        uri = store.upload(staged, f"{prefix}/{staged.name}", content_type="image/tiff")
        if mode == "cog":
            register_cloud_geotiff(layer, uri, properties, overwrite=overwrite)
            continue
        manifest = ingestion_manifest(layer, uri, properties)
        # The client sends no request id with an ingestion (ee.data._startIngestion), so a
        # retried start could ingest twice: no request id (the client then does not retry
        # either), and before each retry a look for the ingestion the lost answer started.
        name = start_once(
            lambda m=manifest: ee.data.startIngestion(None, m, overwrite),
            f"ingestion of {layer.asset_id}",
            lambda since, a=layer.asset_id: ingestion_started(a, since),
            retries=retries, backoff_s=backoff_s)  # fmt: skip
        wait_for_operation(name, poll_s=settings.poll_s, on_progress=progress)
        log.info("ingested %s into %s", uri, layer.asset_id)
    shutil.rmtree(stage_dir, ignore_errors=True)
    entries = [{"model": lay.model, "layer": lay.layer, "asset_id": lay.asset_id,
                "band": lay.band} for lay in layers]  # fmt: skip
    write_assets_json(run, settings.project, entries)
    return entries


def write_assets_json(run: Path, project: str, entries: list[dict[str, str]]) -> Path:
    """Write ``ee_assets.json`` (``{"project", "made", "assets": [{model, layer, asset_id,
    band}]}``), keeping entries of other models from an earlier upload."""
    path = RunFolder(run).ee_assets
    kept: list[dict[str, str]] = []
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            models = {e["model"] for e in entries}
            if old.get("project") == project:
                kept = [e for e in old.get("assets", []) if e.get("model") not in models]
        except (json.JSONDecodeError, AttributeError, TypeError):
            kept = []
    doc = {
        "project": project,
        "made": now(),
        "assets": kept + entries,
    }
    write_text(path, json.dumps(doc, indent=2))
    return path
