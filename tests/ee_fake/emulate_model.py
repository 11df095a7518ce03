"""Hosted models in the fake: ``Model.fromVertexAi`` and ``Model.predictImage``, served by
TensorFlow SavedModels loaded in the server process, as a Vertex AI endpoint would.

``predictImage`` does what the Earth Engine guides describe for the default payload format
``SERIALIZED_TF_TENSORS``: the input image is sampled in the model's projection
(``fixInputProj``) and cut into ``inputTileSize`` tiles aligned on that projection's
pixel lattice; every band of a tile travels as a web-safe base64 ``TensorProto`` of shape
``(rows, cols, 1)`` in the band's own pixel type, masked pixels as 0; instances are
batched under ``maxPayloadBytes`` (default 1.5 MB) and passed to the endpoint's
``serving_default`` signature by input name; the outputs come back the same way, one
tensor per instance, and are masked where any input band was masked. The result is the
input bands plus the ``outputBands``.

The encoding here is written from the protocol (``tf.make_tensor_proto`` /
``tf.make_ndarray``), independently of the project's SavedModel code that decodes it.
Register endpoints with :meth:`FakeEarthEngine.add_vertex_endpoint`.
"""

from __future__ import annotations

import base64
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from .expressions import Evaluator, ExpressionError, LazyImage, PixelGrid, emulates

DEFAULT_MAX_PAYLOAD_BYTES = 1_500_000
_PRECISION = {"float": "float32", "double": "float64", "int": "int32"}


@dataclass
class Endpoint:
    """A deployed model: the loaded SavedModel and what it was asked."""

    path: Path
    signature: Any
    loaded: Any = None  # keeps the SavedModel's objects alive while the signature is used
    requests: int = 0
    instances: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def add_endpoint(ev: Evaluator, endpoint: str, savedmodel_dir: str | Path) -> Endpoint:
    """Deploy the SavedModel in ``savedmodel_dir`` at ``endpoint`` for this evaluator."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(savedmodel_dir))
    deployed = Endpoint(Path(savedmodel_dir), loaded.signatures["serving_default"], loaded)
    endpoints(ev)[endpoint] = deployed
    return deployed


def endpoints(ev: Evaluator) -> dict[str, Endpoint]:
    if not hasattr(ev, "vertex_endpoints"):
        ev.vertex_endpoints = {}
    return ev.vertex_endpoints


@emulates("PixelType")
def _pixel_type(
    ev: Evaluator,
    precision: Any,
    minValue: Any = None,  # noqa: N803
    maxValue: Any = None,  # noqa: N803
    dimensions: Any = None,
) -> dict:
    if isinstance(precision, dict):  # the client casts ee.PixelType.float() with PixelType()
        return {**precision, **{k: v for k, v in (("minValue", minValue),
                ("maxValue", maxValue), ("dimensions", dimensions)) if v is not None}}  # fmt: skip
    return {"precision": precision, "minValue": minValue, "maxValue": maxValue,
            "dimensions": dimensions or 0}  # fmt: skip


@emulates("PixelType.float")
def _pixel_type_float(ev: Evaluator) -> dict:
    return _pixel_type(ev, "float")


@emulates("PixelType.double")
def _pixel_type_double(ev: Evaluator) -> dict:
    return _pixel_type(ev, "double")


@emulates("Model.fromVertexAi")
def _from_vertex_ai(ev: Evaluator, endpoint: str, **options: Any) -> dict:
    return {"endpoint": endpoint, **options}


@emulates("Model.predictImage")
def _predict_image(ev: Evaluator, model: dict, image: LazyImage) -> LazyImage:
    fmt = model.get("payloadFormat") or "SERIALIZED_TF_TENSORS"
    if fmt != "SERIALIZED_TF_TENSORS":
        raise ExpressionError(f"The fake emulates payloadFormat SERIALIZED_TF_TENSORS, not {fmt}.",
                              501, "UNIMPLEMENTED")  # fmt: skip
    tile = model.get("inputTileSize")
    outputs = model.get("outputBands")
    if not tile or not outputs:
        raise ExpressionError(
            "Model.predictImage: inputTileSize and outputBands are required for image predictions."
        )
    if model.get("inputOverlapSize") or model.get("outputTileSize"):
        raise ExpressionError("The fake emulates tiles without overlap.", 501, "UNIMPLEMENTED")
    out_names = list(outputs)
    out_dtypes = [_PRECISION[o["type"]["precision"]] for o in outputs.values()]
    if any(o["type"].get("dimensions") for o in outputs.values()):
        raise ExpressionError("The fake emulates scalar output bands.", 501, "UNIMPLEMENTED")
    width, height = int(tile[0]), int(tile[1])
    limit = int(model.get("maxPayloadBytes") or DEFAULT_MAX_PAYLOAD_BYTES)

    def render(grid: PixelGrid) -> np.ndarray:
        deployed = endpoints(ev).get(model["endpoint"])
        if deployed is None:
            raise ExpressionError(
                f"Model.predictImage: Error calling Vertex AI endpoint {model['endpoint']}: "
                f"Endpoint `{model['endpoint']}` not found."
            )
        cover, row0, col0 = _tiled_cover(grid, model, height, width)
        data = image.render(cover)
        masked = np.isnan(data).any(axis=0)
        sent = np.nan_to_num(data, nan=0.0)
        predicted = np.full((len(out_names), cover.height, cover.width), np.nan)
        windows = [(r, c) for r in range(0, cover.height, height)
                   for c in range(0, cover.width, width)]  # fmt: skip
        for batch in _batches(windows, image, sent, height, width, limit):
            answers = _call(deployed, batch, image.band_names, out_names, (height, width))
            for (r, c), values in zip([w for w, _ in batch], answers, strict=True):
                predicted[:, r : r + height, c : c + width] = values
        predicted[:, masked] = np.nan
        window = (slice(row0, row0 + grid.height), slice(col0, col0 + grid.width))
        return np.concatenate([data[(slice(None), *window)], predicted[(slice(None), *window)]])

    return LazyImage(image.band_names + out_names, image.dtypes + out_dtypes, render)


def _tiled_cover(grid: PixelGrid, model: dict, height: int, width: int) -> tuple:
    """The grid of whole model tiles covering ``grid`` and ``grid``'s offset in it."""
    proj = model.get("proj")
    if not model.get("fixInputProj") or not isinstance(proj, dict):
        raise ExpressionError("The fake emulates predictImage with fixInputProj and proj.",
                              501, "UNIMPLEMENTED")  # fmt: skip
    origin = Affine(*proj["transform"]) if proj.get("transform") else grid.transform
    if str(proj["crs"]).upper() != str(grid.crs).upper() or origin[:2] != grid.transform[:2] or \
            origin[3:5] != grid.transform[3:5]:  # fmt: skip
        raise ExpressionError("The fake emulates predictImage on the model's own projection.",
                              501, "UNIMPLEMENTED")  # fmt: skip
    col, row = ~origin @ (grid.transform.c, grid.transform.f)
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise ExpressionError("The fake emulates requests on the model's pixel lattice.",
                              501, "UNIMPLEMENTED")  # fmt: skip
    row, col = int(round(row)), int(round(col))
    top, left = math.floor(row / height) * height, math.floor(col / width) * width
    bottom = math.ceil((row + grid.height) / height) * height
    right = math.ceil((col + grid.width) / width) * width
    cover = PixelGrid(grid.crs, origin @ Affine.translation(left, top), bottom - top, right - left)
    return cover, row - top, col - left


def _encode(array: np.ndarray) -> str:
    import tensorflow as tf

    proto = tf.make_tensor_proto(array[..., np.newaxis])
    return base64.urlsafe_b64encode(proto.SerializeToString()).decode("ascii")


def _batches(windows, image: LazyImage, sent: np.ndarray, height: int, width: int, limit: int):
    batch: list[tuple[tuple[int, int], dict[str, str]]] = []
    size = 0
    for r, c in windows:
        instance = {
            name: _encode(sent[b, r : r + height, c : c + width].astype(image.dtypes[b]))
            for b, name in enumerate(image.band_names)
        }
        bytes_ = sum(len(k) + len(v) + 6 for k, v in instance.items())
        if batch and size + bytes_ > limit:
            yield batch
            batch, size = [], 0
        batch.append(((r, c), instance))
        size += bytes_
    if batch:
        yield batch


def _call(deployed: Endpoint, batch: list, bands: list[str], out_names: list[str],
          tile: tuple[int, int]) -> list:  # fmt: skip
    """One prediction request: the instances through the signature, decoded per instance.
    A scalar output band (no ``dimensions``) must come back as one ``(rows, cols)`` tensor
    per instance; anything else is refused as Earth Engine refuses it."""
    import tensorflow as tf
    from tensorflow.core.framework.tensor_pb2 import TensorProto

    inputs = deployed.signature.structured_input_signature[1]
    if sorted(inputs) != sorted(bands):
        missing = sorted(set(inputs) - set(bands))
        extra = sorted(set(bands) - set(inputs))
        raise ExpressionError(
            "Model.predictImage: Vertex AI prediction failed: INVALID_ARGUMENT: the model's "
            f"inputs are {sorted(inputs)}; missing {missing}, unexpected {extra}."
        )
    tensors = {name: tf.constant([inst[name] for _, inst in batch]) for name in bands}
    try:
        answer = deployed.signature(**tensors)
    except tf.errors.OpError as exc:
        raise ExpressionError(
            f"Model.predictImage: Vertex AI prediction failed: {exc.message.splitlines()[0]}"
        ) from exc
    with deployed.lock:
        deployed.requests += 1
        deployed.instances += len(batch)
    if len(answer) == 1:  # TF Serving answers a single output without its name
        columns = [next(iter(answer.values()))] * len(out_names)
    else:
        columns = [answer[name] for name in out_names]
    results = []
    for i in range(len(batch)):
        bands_out = []
        for column in columns:
            text = column[i].numpy()
            raw = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
            array = tf.make_ndarray(TensorProto.FromString(raw))
            if array.shape != tile:
                raise ExpressionError(
                    "Model.predictImage: the model answered a tensor of shape "
                    f"{list(array.shape)} for a scalar output band; expected {list(tile)} "
                    "(declare 'dimensions' in outputBands for array outputs)."
                )
            bands_out.append(array)
        results.append(np.stack(bands_out))
    return results
