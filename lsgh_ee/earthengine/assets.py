"""Uploading a run's maps to Earth Engine image assets (``lsgh-ee upload``).

The susceptibility index (float32 0–1, NaN nodata) and the five-class zone map of one
model become ``<asset_folder>/<region>_<model>_susceptibility`` and ``..._zones``. Mode
``ingest`` stages a copy of each GeoTIFF in the config's Cloud Storage bucket and starts an
ingestion task with a manifest (band name, missing-data value, pyramiding policy: MEAN for
the index, MODE for zones; properties model, schema_hash, run_id, lsgh_ee_version), then
waits for it; mode ``cog`` registers the staged cloud-optimised GeoTIFFs as Cloud
GeoTIFF-backed assets (no copy into Earth Engine). ``ee_assets.json`` in the run folder
records the asset ids.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lsgh_ee import __version__
from lsgh_ee.atomic import write_text
from lsgh_ee.earthengine.exports import ExportSettings, get_asset
from lsgh_ee.earthengine.tasks import TaskStatus, start_with_retries, wait_for_operation
from lsgh_ee.errors import LsghError
from lsgh_ee.manifest import now

log = logging.getLogger(__name__)

UploadMode = Literal["ingest", "cog"]
ASSETS_JSON = "ee_assets.json"
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
        MapLayer(model, "susceptibility", maps_dir / "susceptibility.tif", "susceptibility",
                 asset("susceptibility"), "MEAN", INDEX_MISSING),
        MapLayer(model, "zones", maps_dir / "zones.tif", "zone", asset("zones"), "MODE", 0.0),
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
    from lsgh_ee.factors.stack import SCHEMA_JSON
    from lsgh_ee.manifest import Manifest, file_digest

    schema = run / SCHEMA_JSON
    if not schema.is_file():
        raise LsghError(f"{run} has no {SCHEMA_JSON}; run 'lsgh-ee export-factors CONFIG' first")
    record = Manifest(run).stages.get(f"predict:{model}", {})
    run_id = record.get("fingerprint") or file_digest(run / "maps" / model / "susceptibility.tif")
    return {
        "model": model,
        "schema_hash": file_digest(schema)[:16],
        "run_id": str(run_id)[:16],
        "lsgh_ee_version": __version__,
    }


def register_cloud_geotiff(
    asset_id: str, uri: str, properties: dict[str, Any], *, overwrite: bool
) -> None:
    """Create ``asset_id`` as a Cloud GeoTIFF-backed image on ``uri`` (``createAsset`` with a
    Cloud Storage location: band names and nodata come from the GeoTIFF itself). An
    existing asset is deleted first when ``overwrite``."""
    import ee

    from lsgh_ee.earthengine.download import first_line

    try:
        if overwrite and get_asset(asset_id) is not None:
            ee.data.deleteAsset(asset_id)
        ee.data.createAsset({"type": "IMAGE", "gcs_location": {"uris": [uri]},
                             "properties": properties}, asset_id)  # fmt: skip
    except ee.ee_exception.EEException as exc:
        raise LsghError(
            f"Earth Engine refused to register {asset_id} on {uri}: {first_line(exc)}"
        ) from None
    log.info("registered %s on %s", asset_id, uri)


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

    layers = map_layers(run / "maps" / model, region=region, model=model,
                        asset_root=settings.asset_root)  # fmt: skip
    settings.require_bucket("upload")
    for layer in layers:
        if get_asset(layer.asset_id) is not None and not overwrite:
            raise LsghError(
                f"Earth Engine asset {layer.asset_id} exists; pass --overwrite to replace it"
            )
    properties = map_properties(run, model)
    store = settings.storage()
    stage_dir = run / ".ee_upload"
    prefix = f"{settings.prefix.strip('/')}/upload".lstrip("/")
    for layer in layers:
        staged = stage_copy(layer, stage_dir / f"{region}_{model}_{layer.layer}.tif")
        uri = store.upload(staged, f"{prefix}/{staged.name}", content_type="image/tiff")
        manifest = ingestion_manifest(layer, uri, properties)
        if mode == "cog":
            register_cloud_geotiff(layer.asset_id, uri, properties, overwrite=overwrite)
            continue
        request_id = str(uuid.uuid4())  # one id for every attempt: the server starts one task
        started = start_with_retries(
            lambda m=manifest, r=request_id: ee.data.startIngestion(r, m, overwrite),
            f"ingestion of {layer.asset_id}", retries=retries, backoff_s=backoff_s)  # fmt: skip
        wait_for_operation(started["name"], poll_s=settings.poll_s, on_progress=progress)
        log.info("ingested %s into %s", uri, layer.asset_id)
    shutil.rmtree(stage_dir, ignore_errors=True)
    entries = [{"model": lay.model, "layer": lay.layer, "asset_id": lay.asset_id,
                "band": lay.band} for lay in layers]  # fmt: skip
    write_assets_json(run, settings.project, entries)
    return entries


def write_assets_json(run: Path, project: str, entries: list[dict[str, str]]) -> Path:
    """Write ``ee_assets.json`` (``{"project", "made", "assets": [{model, layer, asset_id,
    band}]}``), keeping entries of other models from an earlier upload."""
    path = run / ASSETS_JSON
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
