"""Batch tasks of the fake: image and table exports, image ingestion, asset metadata.

An export or ingestion answers with an Operation whose state advances one step per
``operations.get`` (PENDING → RUNNING with growing ``progress`` → SUCCEEDED); when it
reaches SUCCEEDED the work is actually done: the image is rendered on the requested grid
and written as a GeoTIFF into the fake bucket (or Drive, or stored as an asset), a table
is written as CSV, a staged GeoTIFF is ingested as an asset with the manifest's band names,
missing-data value and properties. A task injected to fail (``inject("task", message=...)``)
or whose work raises ends FAILED with that message.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from affine import Affine
from rasterio.io import MemoryFile

from .expressions import Asset, ExpressionError, LazyImage, PixelGrid
from .storage import StorageError, parse_gs_uri

if TYPE_CHECKING:
    from .server import FakeEarthEngine

PROGRESS_STEPS = (("PENDING", 0.0), ("RUNNING", 0.25), ("RUNNING", 0.75), ("SUCCEEDED", 1.0))


@dataclass
class AssetInfo:
    """Metadata of an asset (``assets.get``): type, properties and the ingestion manifest."""

    kind: str = "IMAGE"
    properties: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None
    pyramiding: dict[str, str] = field(default_factory=dict)


class TaskError(Exception):
    """Refuse to start a task: HTTP ``code`` and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def asset_key(name: str) -> str:
    """The id ``Image.load`` uses for an asset name (legacy and public ids lose the
    ``projects/earthengine-*/assets/`` prefix)."""
    for root in ("projects/earthengine-legacy/assets/", "projects/earthengine-public/assets/"):
        if name.startswith(root):
            return name.removeprefix(root)
    return name


def require_parent(fake: FakeEarthEngine, name: str) -> None:
    """Refuse a write into a folder that does not exist, as Earth Engine does (exports,
    ingestion and asset creation need the parent folder; ``ee.data.createFolder``)."""
    parent = asset_key(name.rsplit("/", 1)[0])
    parts = parent.split("/")
    root = (len(parts) == 3 and parts[0] == "projects" and parts[2] == "assets") or (
        len(parts) == 2 and parts[0] != "projects"
    )  # projects/P/assets, or a legacy users/NAME
    info = fake.asset_info.get(parent)
    if root or parent in fake.folders or (info is not None and info.kind == "IMAGE_COLLECTION"):
        return
    raise TaskError(404, f"Asset '{parent}' does not exist or doesn't allow this operation.")


# -- the export grid -------------------------------------------------------------------


def _node(values: dict, node: Any) -> dict:
    while isinstance(node, dict) and "valueReference" in node:
        node = values[node["valueReference"]]
    return node


def _constant(ev: Any, values: dict, node: Any) -> Any:
    return ev._eval(node, values, {})


def export_image_and_grid(fake: FakeEarthEngine, expression: dict) -> tuple[LazyImage, PixelGrid]:
    """The image of an export expression and the grid it is exported on.

    ``Export.image.*`` with ``crs``, ``crsTransform`` and two ``dimensions`` (the exact-grid
    form) serializes as ``Image.clipToBoundsAndScale(input=Image.reproject(image, crs,
    crsTransform), geometry=<rectangle in that projection>, width, height)``; other export
    forms are not emulated.
    """
    ev = fake.evaluator
    ev.validate(expression)
    values = expression["values"]
    top = _node(values, {"valueReference": expression["result"]})
    call = top.get("functionInvocationValue", {})
    if call.get("functionName") != "Image.clipToBoundsAndScale":
        raise ExpressionError(
            "The fake emulates exports on an exact grid only (crs, crsTransform and dimensions).",
            501,
            "UNIMPLEMENTED",
        )
    args = call["arguments"]
    # dimensions become a rectangle [0, 0, width, height] in the reprojected image's own
    # projection (pixel units of crsTransform), the region to clip to
    rect = _node(values, args.get("geometry")).get("functionInvocationValue", {})
    rect_crs = _node(values, rect.get("arguments", {}).get("crs"))
    if (
        rect.get("functionName") != "GeometryConstructors.Rectangle"
        or rect_crs.get("functionInvocationValue", {}).get("functionName") != "Image.projection"
        or "width" in args
    ):
        raise ExpressionError(
            "The fake emulates exports with crs, crsTransform and dimensions only.",
            501,
            "UNIMPLEMENTED",
        )
    x0, y0, x1, y1 = (float(v) for v in _constant(ev, values, rect["arguments"]["coordinates"]))
    width, height = int(round(x1 - x0)), int(round(y1 - y0))
    inner = _node(values, args["input"]).get("functionInvocationValue", {})
    if inner.get("functionName") != "Image.reproject" or "crsTransform" not in inner.get(
        "arguments", {}
    ):
        raise ExpressionError(
            "The fake emulates exports of reproject(crs, crsTransform) images only.",
            501,
            "UNIMPLEMENTED",
        )
    crs = _constant(ev, values, inner["arguments"]["crs"])
    code = crs["crs"] if isinstance(crs, dict) else crs
    transform = [float(v) for v in _constant(ev, values, inner["arguments"]["crsTransform"])]
    origin = Affine(*transform[:6]) @ Affine.translation(x0, y0)
    grid = PixelGrid(str(code), origin, height, width)
    sub = {"result": "__export_input__", "values": {**values, "__export_input__": args["input"]}}
    image = ev.evaluate(sub)
    if not isinstance(image, LazyImage):
        raise ExpressionError("Export.image: the expression is not an Image.")
    return image, grid


def geotiff_bytes(
    data: np.ndarray, grid: PixelGrid, names: list[str], dtype: str, nodata: float | None = None
) -> bytes:
    profile = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": dtype,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data.astype(dtype))
            for i, name in enumerate(names, start=1):
                dst.set_band_description(i, name)
        return mem.read()


def _pieces(grid: PixelGrid, tile: dict | None) -> list[tuple[int, int, int, int]]:
    """(row, col, height, width) of the files an export is split into."""
    if not tile:
        return [(0, 0, grid.height, grid.width)]
    th, tw = int(tile.get("height", grid.height)), int(tile.get("width", grid.width))
    return [
        (r, c, min(th, grid.height - r), min(tw, grid.width - c))
        for r in range(0, grid.height, th)
        for c in range(0, grid.width, tw)
    ]


# -- starting tasks ------------------------------------------------------------------------


def start_image_export(fake: FakeEarthEngine, project: str, body: dict) -> dict:
    """``image:export``: an operation that renders the image when it succeeds."""
    if body.get("assetExportOptions"):  # checked first, as the service validates the request
        require_parent(fake, body["assetExportOptions"]["earthEngineDestination"]["name"])
    image, grid = export_image_and_grid(fake, body.get("expression"))
    max_pixels = int(body.get("maxPixels", {}).get("value", 1e8))
    dtype = np.result_type(*[np.dtype(d) for d in image.dtypes]).name
    description = body.get("description", "myExportImageTask")
    asset_opts = body.get("assetExportOptions")
    file_opts = body.get("fileExportOptions")
    uris: list[str] = []

    def render() -> np.ndarray:
        if grid.height * grid.width > max_pixels:
            raise ExpressionError(
                f"Export too large: specified {grid.height * grid.width} pixels (max: "
                f"{max_pixels}). Specify higher maxPixels value if you intend to export a "
                "large area."
            )
        return image.render(grid)

    if asset_opts is not None:
        dest = asset_opts["earthEngineDestination"]
        name = dest["name"]
        require_parent(fake, name)
        if asset_key(name) in fake.assets and not dest.get("overwrite"):
            raise TaskError(400, f"Cannot overwrite asset '{name}'.")
        uris.append(f"https://code.earthengine.google.com/?asset={asset_key(name)}")
        policy = asset_opts.get("pyramidingPolicy", "MEAN")

        def work() -> None:
            data = render()
            stored = data if np.isnan(data).any() else data.astype(dtype)
            fake.assets[asset_key(name)] = Asset(stored, grid.crs, grid.transform,
                                                 list(image.band_names))  # fmt: skip
            fake.asset_info[asset_key(name)] = AssetInfo(
                pyramiding={b: policy for b in image.band_names}
            )

    else:
        if file_opts is None or file_opts.get("fileFormat") != "GEO_TIFF":
            raise TaskError(501, "The fake exports images as GEO_TIFF files only.")
        tile = file_opts.get("geoTiffOptions", {}).get("tileDimensions")
        pieces = _pieces(grid, tile)
        if "cloudStorageDestination" in file_opts:
            dest = file_opts["cloudStorageDestination"]
            bucket, prefix = dest["bucket"], dest.get("filenamePrefix", description)
            fake.storage._bucket(bucket)
            uris.append(f"https://console.developers.google.com/storage/browser/{bucket}/")

            def write(name: str, data: bytes) -> None:
                fake.storage.put(bucket, name, data, "image/tiff")
        else:
            dest = file_opts.get("driveDestination", {})
            folder = dest.get("folder", "")
            prefix = f"{folder}/{dest.get('filenamePrefix', description)}".lstrip("/")
            uris.append("https://drive.google.com/#folders/fake-" + uuid.uuid4().hex[:8])

            def write(name: str, data: bytes) -> None:
                fake.drive[name] = data

        def work() -> None:
            data = render()
            for r, c, h, w in pieces:
                part = data[:, r : r + h, c : c + w]
                piece_grid = PixelGrid(grid.crs, grid.transform @ Affine.translation(c, r), h, w)
                name = f"{prefix}.tif" if len(pieces) == 1 else f"{prefix}-{r:010d}-{c:010d}.tif"
                write(name, geotiff_bytes(np.nan_to_num(part, nan=0.0), piece_grid,
                                          list(image.band_names), dtype))  # fmt: skip

    return fake.start_task(project, "EXPORT_IMAGE", description, work, body, uris)


def start_table_export(fake: FakeEarthEngine, project: str, body: dict) -> dict:
    """``table:export`` of a FeatureCollection to Cloud Storage as CSV."""
    ev = fake.evaluator
    expression = body.get("expression")
    ev.validate(expression)
    file_opts = body.get("fileExportOptions") or {}
    fmt = file_opts.get("fileFormat")
    if fmt not in ("CSV", "TF_RECORD_TABLE") or "cloudStorageDestination" not in file_opts:
        raise TaskError(
            501, f"The fake exports tables as CSV or TFRecord to Cloud Storage only, not {fmt}."
        )
    dest = file_opts["cloudStorageDestination"]
    bucket = dest["bucket"]
    fake.storage._bucket(bucket)
    description = body.get("description", "myExportTableTask")
    prefix = dest.get("filenamePrefix", description)
    selectors = body.get("selectors")

    def work() -> None:
        from .emulate_collections import FakeCollection

        collection = ev.evaluate(expression)
        if not isinstance(collection, FakeCollection):
            raise ExpressionError("Export.table: the expression is not a FeatureCollection.")
        rows = [
            {"system:index": str(i), **element.properties}
            for i, element in enumerate(collection.elements)
        ]
        columns = list(selectors) if selectors else _columns(rows)
        if fmt != "CSV":  # export_tfrecord.py
            from .export_tfrecord import tfrecord_table

            data = tfrecord_table(rows, columns)
            fake.storage.put(bucket, f"{prefix}.tfrecord.gz", data, "application/octet-stream")
            return
        fake.storage.put(bucket, f"{prefix}.csv", _csv(rows, columns), "text/csv")

    uris = [f"https://console.developers.google.com/storage/browser/{bucket}/"]
    return fake.start_task(project, "EXPORT_FEATURES", description, work, body, uris)


def _columns(rows: list[dict]) -> list[str]:
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    return names + [".geo"] if ".geo" not in names else names


def _csv(rows: list[dict], columns: list[str]) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue().encode()


def _ingestion_source(fake: FakeEarthEngine, body: dict) -> tuple[dict, str, str]:
    """(manifest, bucket, object) of an ``image:import`` / ``image:importExternal`` body."""
    manifest = copy.deepcopy(body.get("imageManifest") or {})
    name = manifest.get("name", "")
    if not name.startswith("projects/"):
        raise TaskError(400, "ImageManifest.name must be projects/*/assets/**.")
    require_parent(fake, name)
    if asset_key(name) in fake.assets and not body.get("overwrite"):
        raise TaskError(400, f"Cannot overwrite asset '{name}'.")
    tilesets = manifest.get("tilesets") or []
    if len(tilesets) != 1 or len(tilesets[0].get("sources", [])) != 1:
        raise TaskError(501, "The fake ingests one tileset with one source file.")
    uris = tilesets[0]["sources"][0].get("uris", [])
    if len(uris) != 1:
        raise TaskError(400, "A source needs exactly one uri.")
    bucket, obj = parse_gs_uri(uris[0])
    return manifest, bucket, obj


def _ingest(fake: FakeEarthEngine, manifest: dict, bucket: str, obj: str, kind: str) -> None:
    """Create the asset from the staged GeoTIFF: the manifest's band names, missing data
    (masked), pyramiding policies and properties."""
    name = manifest["name"]
    data, crs, transform = read_geotiff(fake.storage.get(bucket, obj))
    bands = manifest.get("bands") or [{"id": f"b{i + 1}"} for i in range(data.shape[0])]
    missing = (manifest.get("missingData") or {}).get("values")
    names, policies, layers = [], {}, []
    for i, band in enumerate(bands):
        index = int(band.get("tilesetBandIndex", i))
        if index >= data.shape[0]:
            raise ExpressionError(f"Band {band['id']}: the file has {data.shape[0]} band(s).")
        layer = data[index].astype("float64")
        for value in (band.get("missingData") or {}).get("values", missing) or []:
            layer[layer == float(value)] = np.nan
        layers.append(layer)
        names.append(band["id"])
        policies[band["id"]] = band.get(
            "pyramidingPolicy", manifest.get("pyramidingPolicy", "MEAN")
        )
    stacked = np.stack(layers)
    stored = stacked if np.isnan(stacked).any() else stacked.astype(data.dtype)
    fake.assets[asset_key(name)] = Asset(stored, crs, transform, names)
    fake.asset_info[asset_key(name)] = AssetInfo(
        kind=kind,
        properties=dict(manifest.get("properties") or {}),
        manifest=manifest,
        pyramiding=policies,
    )


def start_ingestion(fake: FakeEarthEngine, project: str, body: dict) -> dict:
    """``image:import``: an operation that ingests the staged GeoTIFF when it succeeds."""
    manifest, bucket, obj = _ingestion_source(fake, body)
    name = manifest["name"]
    return fake.start_task(project, "INGEST_IMAGE", f'Ingest image: "{name}"',
                           lambda: _ingest(fake, manifest, bucket, obj, "IMAGE"), body,
                           [f"https://code.earthengine.google.com/?asset={name}"])  # fmt: skip


def create_asset(fake: FakeEarthEngine, project: str, asset_id: str, body: dict) -> dict:
    """``assets.create`` of a FOLDER (its parent must exist). Cloud GeoTIFF-backed images
    are made with ``image:importExternal`` (:func:`import_external`); the legacy
    ``cloudStorageLocation`` form is refused."""
    name = f"projects/{project}/assets/{asset_id}"
    if body.get("type") != "FOLDER":
        raise TaskError(
            400,
            "The fake creates FOLDER assets only; Cloud GeoTIFF-backed images are made with "
            "image:importExternal.",
        )
    require_parent(fake, name)
    key = asset_key(name)
    if key in fake.folders or key in fake.assets:
        raise TaskError(409, f"Cannot overwrite asset '{name}': it already exists.")
    fake.folders.add(key)
    return asset_json(fake, name)


def import_external(fake: FakeEarthEngine, project: str, body: dict) -> dict:
    """``image:importExternal``: a Cloud GeoTIFF-backed image made at once from an image
    manifest (band names, missing data, pyramiding, properties), read from a bucket Earth
    Engine can read COG-backed assets from (US multi-region, a US dual-region including
    US-CENTRAL1, or US-CENTRAL1; the cog_registration guide)."""
    manifest, bucket, obj = _ingestion_source(fake, body)
    meta = fake.storage.bucket_meta(bucket)
    if not _cog_location(meta):
        raise TaskError(
            400,
            f"Cloud Storage bucket '{bucket}' is in {meta['location']}: Cloud GeoTIFF-backed "
            "assets must be in US, a US dual-region including US-CENTRAL1, or US-CENTRAL1.",
        )
    try:
        _ingest(fake, manifest, bucket, obj, "IMAGE")
    except (ExpressionError, StorageError) as exc:
        raise TaskError(400, str(exc)) from exc
    return {}


def _cog_location(meta: dict) -> bool:
    location, kind = meta["location"].upper(), meta["locationType"]
    regions = [r.upper() for r in meta.get("dataLocations", [])]
    return (
        (location == "US" and kind == "multi-region")
        or location in ("US-CENTRAL1", "NAM4")
        or (kind == "dual-region" and "US-CENTRAL1" in regions)
    )


def read_geotiff(payload: bytes) -> tuple[np.ndarray, str, Affine]:
    with MemoryFile(payload) as mem, mem.open() as src:
        return src.read(), src.crs.to_string(), src.transform


# -- assets --------------------------------------------------------------------------------


def asset_json(fake: FakeEarthEngine, name: str) -> dict:
    key = asset_key(name)
    if key in fake.folders and key not in fake.assets:
        full = name if name.startswith("projects/") else f"projects/earthengine-legacy/assets/{key}"
        return {"type": "FOLDER", "name": full, "id": key}
    asset = fake.assets.get(key)
    if asset is None:
        raise TaskError(404, f"Asset '{name}' does not exist or doesn't allow this operation.")
    info = fake.asset_info.get(key, AssetInfo())
    bands = [
        {
            "id": band,
            "dataType": {"precision": "FLOAT" if asset.data.dtype.kind == "f" else "INT"},
            "grid": {
                "crsCode": asset.crs,
                "dimensions": {"width": asset.data.shape[2], "height": asset.data.shape[1]},
                "affineTransform": dict(zip(
                    ("scaleX", "shearX", "translateX", "shearY", "scaleY", "translateY"),
                    list(asset.transform)[:6], strict=True)),
            },
            "pyramidingPolicy": info.pyramiding.get(band, "MEAN"),
        }
        for band in asset.band_names
    ]  # fmt: skip
    full = name if name.startswith("projects/") else f"projects/earthengine-legacy/assets/{key}"
    return {
        "type": info.kind,
        "name": full,
        "id": key,
        "properties": info.properties,
        "bands": bands,
    }


def delete_asset(fake: FakeEarthEngine, name: str) -> None:
    key = asset_key(name)
    if key not in fake.assets:
        raise TaskError(404, f"Asset '{name}' does not exist or doesn't allow this operation.")
    del fake.assets[key]
    fake.asset_info.pop(key, None)


def run_work(work: Callable[[], None]) -> str | None:
    """Run a task's work; the failure message, or None when it succeeded."""
    try:
        work()
    except (ExpressionError, StorageError) as exc:
        return str(exc)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        return f"Task failed: {exc}"
    return None
