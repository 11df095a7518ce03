"""A TensorFlow SavedModel of a Keras bundle, served the way Earth Engine calls Vertex AI.

``ee.Model.fromVertexAi(...).predictImage(image)`` cuts ``image`` into tiles of
``inputTileSize`` pixels and sends each tile as one prediction *instance*. With the default
payload format ``SERIALIZED_TF_TENSORS`` an instance holds one entry per band, keyed by the
band name, whose value is a web-safe base64 string of a serialized ``TensorProto``: the
band's pixels as a ``(tile rows, tile cols, 1)`` tensor. The answer is read the same way.

The serving signature written here therefore takes **one string input per factor, named
as the factor** (``slope``, ``aspect``, ...; the class-code image's bands, cast to float32
on the Earth Engine side), each a batch of such strings ``(instances,)``, and returns
``susceptibility``: per instance a serialized float32 ``(rows, cols)`` tensor in base64,
the shape of a scalar output band (``outputBands`` declares no ``dimensions``; an array
band would be ``(rows, cols, k)`` with ``dimensions: 1``: "Predictions with hosted models",
https://developers.google.com/earth-engine/guides/ee-vertex-ai).
Inside, the tiles are stacked into class-code vectors ``(pixels, F)`` and passed
to the trained network (whose own input is the class-code vector, see
:mod:`lsgh_ee.model.encoding`), so a pixel gets exactly the number local mapping gives it.
Pixels with any code outside ``1..classes`` — code 0 is nodata, and Earth Engine sends 0
for masked pixels — get NaN, as in local maps.

Per-factor bands (not one array band) keep the Earth Engine side to plain ``select`` and
``toFloat`` and let every request name the factors it carries.

A calibrated model (``training.calibration``) is served calibrated: the network's output is
clipped to [0, 1] and mapped by the same Platt or isotonic calibration as
:meth:`~lsgh_ee.model.base.ModelEstimator.predict` (in float64, as NumPy does), inside the
graph, so a hosted map equals the local one.

Next to ``saved_model.pb`` the export writes ``lsgh_model.json``: variant, factor names in
band order, breaks and classes, the ``fromVertexAi`` arguments that match the signature,
and the bundle's model hash.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from lsgh_ee.errors import LsghError
from lsgh_ee.model.calibration import EPS, Calibrator
from lsgh_ee.model.files import atomic_folder
from lsgh_ee.model.schema import check_hostable

METADATA_JSON = "lsgh_model.json"
OUTPUT_NAME = "susceptibility"
PAYLOAD_FORMAT = "SERIALIZED_TF_TENSORS"
FORMAT = "lsgh-ee-savedmodel"
# a prebuilt TensorFlow 2 serving image of Vertex AI (europe-docker / asia-docker mirrors exist)
SERVING_CONTAINER = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"


def export_savedmodel(bundle_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write the SavedModel of a Keras model bundle into ``out_dir`` (atomically).

    Args:
        bundle_dir: a model bundle folder (``models/<variant>`` of a run).
        out_dir: the SavedModel folder to write; replaced if it holds an earlier export.

    Returns:
        ``out_dir``, holding ``saved_model.pb``, ``variables/`` and ``lsgh_model.json``.

    Raises:
        LsghError: the bundle is an rf model, or damaged.
    """
    from lsgh_ee.model.files import read_schema

    schema = read_schema(bundle_dir)
    check_hostable(str(schema["variant"]))
    from lsgh_ee.model.runtime import start_tensorflow

    start_tensorflow()
    import keras

    from lsgh_ee.model.bundle import load_bundle

    estimator, schema = load_bundle(bundle_dir)
    names = [f["name"] for f in schema["factors"]]
    counts = [int(c) for c in schema["class_counts"]]
    with atomic_folder(out_dir, marker=METADATA_JSON) as tmp:
        archive = keras.export.ExportArchive()
        archive.track(estimator.model_)
        archive.add_endpoint(
            "serving_default",
            _serving_function(estimator.model_, names, counts, estimator.calibrator_),
            input_signature=[_input_signature(names)],
        )
        archive.write_out(str(tmp), verbose=False)
        metadata = _metadata(schema, names)
        calibrator = estimator.calibrator_
        metadata["calibration"] = None if calibrator is None else calibrator.to_json()
        (tmp / METADATA_JSON).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return Path(out_dir)


def read_metadata(savedmodel_dir: str | os.PathLike) -> dict:
    """The ``lsgh_model.json`` of an exported SavedModel folder."""
    path = Path(savedmodel_dir) / METADATA_JSON
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LsghError(
            f"{savedmodel_dir} is not an lsgh-ee SavedModel (cannot read {METADATA_JSON}); "
            "run 'lsgh-ee export-model CONFIG' again"
        ) from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise LsghError(f"{path} is not lsgh-ee SavedModel metadata; export the model again")
    return metadata


def _input_signature(names: list[str]) -> dict:
    import tensorflow as tf

    return {name: tf.TensorSpec([None], tf.string, name=name) for name in names}


def calibrate_tensor(index, calibrator: Calibrator | None):
    """The TensorFlow twin of ``calibrator.apply`` on a float32 tensor of raw scores
    (clipped to [0, 1] first, as ``predict`` does); float32 out."""
    import tensorflow as tf

    index = tf.clip_by_value(index, 0.0, 1.0)
    if calibrator is None or calibrator.method == "none":
        return index
    s = tf.cast(index, tf.float64)
    if calibrator.method == "platt":
        clipped = tf.clip_by_value(s, EPS, 1.0 - EPS)
        z = calibrator.params["a"] * tf.math.log(clipped / (1.0 - clipped)) + calibrator.params["b"]
        return tf.cast(0.5 * (1.0 + tf.math.tanh(0.5 * z)), tf.float32)
    xs = [float(v) for v in calibrator.params["x"]]
    ys = [float(v) for v in calibrator.params["y"]]
    if len(xs) == 1:
        return tf.fill(tf.shape(index), tf.constant(ys[0], tf.float32))
    x, y = tf.constant(xs, tf.float64), tf.constant(ys, tf.float64)
    s = tf.clip_by_value(s, xs[0], xs[-1])
    i = tf.clip_by_value(tf.searchsorted(x, s, side="right") - 1, 0, len(xs) - 2)
    x0, x1, y0, y1 = (tf.gather(v, j) for v, j in ((x, i), (x, i + 1), (y, i), (y, i + 1)))
    return tf.cast(y0 + (s - x0) * (y1 - y0) / (x1 - x0), tf.float32)


def _serving_function(model, names: list[str], counts: list[int], calibrator: Calibrator | None):
    """``serve({factor: (instances,) string}) -> {"susceptibility": (instances,) string}``."""
    import tensorflow as tf

    n_factors = len(names)
    max_codes = tf.constant(counts, tf.int32)

    def parse(batch: tf.Tensor) -> tf.Tensor:
        tiles = tf.map_fn(
            lambda s: tf.io.parse_tensor(s, tf.float32),
            tf.io.decode_base64(batch),
            fn_output_signature=tf.TensorSpec(None, tf.float32),
        )
        shape = tf.shape(tiles)  # (instances, rows, cols[, 1])
        return tf.reshape(tiles, shape[:3])

    def serve(inputs: dict) -> dict:
        tiles = tf.stack([parse(inputs[name]) for name in names], axis=-1)  # (I, R, C, F)
        shape = tf.shape(tiles)
        # float32 holds codes 0..255 exactly; round() only guards against a resampled input
        codes = tf.cast(tf.round(tf.reshape(tiles, [-1, n_factors])), tf.int32)
        index = calibrate_tensor(tf.reshape(model(codes, training=False), [-1]), calibrator)
        valid = tf.reduce_all((codes >= 1) & (codes <= max_codes), axis=1)
        index = tf.where(valid, index, tf.fill(tf.shape(index), float("nan")))
        out = tf.reshape(index, shape[:3])  # (instances, rows, cols): a scalar band per tile
        encoded = tf.map_fn(
            lambda t: tf.io.encode_base64(tf.io.serialize_tensor(t)),
            out,
            fn_output_signature=tf.string,
        )
        return {OUTPUT_NAME: encoded}

    return serve


def _metadata(schema: dict, names: list[str]) -> dict:
    import tensorflow as tf

    from lsgh_ee import __version__

    return {
        "format": FORMAT,
        "format_version": 1,
        "variant": schema["variant"],
        "band_order": names,
        "factors": [
            {k: f[k] for k in ("name", "kind", "units", "breaks", "classes", "n_classes")}
            for f in schema["factors"]
        ],
        "input": {
            "payload_format": PAYLOAD_FORMAT,
            "bands": names,
            "band_dtype": "float32 class codes (1..n_classes, 0 = nodata)",
            "instance_tensor": "(tile rows, tile cols, 1) per band, serialized, base64",
        },
        "output": {
            "name": OUTPUT_NAME,
            "dtype": "float32",
            "instance_tensor": "(tile rows, tile cols), serialized, base64 (a scalar band)",
            "meaning": "susceptibility index 0-1; NaN where any code is 0 or out of range",
        },
        "model_sha256": schema.get("model_sha256"),
        "training_hash": schema.get("training_hash"),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"lsgh-ee": __version__, "tensorflow": tf.__version__},
    }


def deployment_commands(folder: str | os.PathLike, variant: str, config: str) -> str:
    """The commands that deploy an exported SavedModel on Vertex AI and map with it
    (PROJECT, REGION, BUCKET and the IDs gcloud prints are the user's to fill in)."""
    name = Path(folder).name
    display = f"lsgh-{variant}"
    return "\n".join(
        [
            "deploy it on Vertex AI (fill in PROJECT, REGION, BUCKET and the IDs gcloud prints):",
            f"  gcloud storage cp -r {folder} gs://BUCKET/lsgh-ee/",
            f"  gcloud ai models upload --project=PROJECT --region=REGION "
            f"--display-name={display} --artifact-uri=gs://BUCKET/lsgh-ee/{name} "
            f"--container-image-uri={SERVING_CONTAINER}",
            f"  gcloud ai endpoints create --project=PROJECT --region=REGION "
            f"--display-name={display}",
            f"  gcloud ai endpoints deploy-model ENDPOINT_ID --project=PROJECT --region=REGION "
            f"--model=MODEL_ID --display-name={display} --machine-type=n1-standard-4 "
            "--min-replica-count=1 --max-replica-count=4 --traffic-split=0=100",
            "then map in Earth Engine (the Earth Engine project needs Vertex AI User on it):",
            f"  lsgh-ee predict {config} --model {variant} --backend ee "
            "--endpoint projects/PROJECT/locations/REGION/endpoints/ENDPOINT_ID "
            "[--codes-asset ASSET_ID]",
            "and undeploy when done (a deployed model is billed per node-hour):",
            "  gcloud ai endpoints undeploy-model ENDPOINT_ID --project=PROJECT --region=REGION "
            "--deployed-model-id=DEPLOYED_MODEL_ID",
        ]
    )
