"""Hosted prediction: the SavedModel export and ``predict --backend ee`` through a Vertex AI
endpoint, end to end with the real ``ee`` client over HTTP against the loopback fake, whose
endpoint serves the exported SavedModel with TensorFlow as Vertex AI would."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from ee_client import trusted_key
from ee_fake import FakeEarthEngine

from conftest import edit_config, fast_training, run_cli

PROJECT = "lsgh-test"
ENDPOINT = f"projects/{PROJECT}/locations/europe-west4/endpoints/1234567890"
CODES_ASSET = f"projects/{PROJECT}/assets/lsgh-ee/class_codes"


@pytest.fixture(scope="module")
def trained(built_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built region with one small lsgh model trained (2 epochs), its local
    map and its SavedModel export; returns the config."""
    folder = tmp_path_factory.mktemp("hosted") / "region"
    shutil.copytree(built_region.parent, folder)
    config = edit_config(folder / "region.yaml", training=fast_training(epochs=2, patience=1))
    from typer.testing import CliRunner

    from lsgh_ee import stages
    from lsgh_ee.cli import app, core

    # In-process (TensorFlow starts once for the module): sample, train, map, then the
    # export-model command itself, whose printed deployment steps a test reads.
    stages.sample(config)
    stages.train(config, "lsgh")
    stages.predict(config, "lsgh")
    with pytest.MonkeyPatch.context() as mp:  # keep the session's logging as pytest set it
        mp.setattr(core, "_setup_logging", lambda verbose: None)
        result = CliRunner().invoke(app, ["export-model", str(config), "--model", "lsgh"])
    assert result.exit_code == 0, result.output
    (folder / "export-model.out").write_text(result.stdout, encoding="utf-8")
    return config


def _encode(tile: np.ndarray) -> str:
    """One band of one tile as Earth Engine sends it: base64 of a (rows, cols, 1) proto."""
    import tensorflow as tf

    proto = tf.make_tensor_proto(tile.astype("float32")[..., np.newaxis])
    return base64.urlsafe_b64encode(proto.SerializeToString()).decode()


def _decode(text: bytes) -> np.ndarray:
    import tensorflow as tf
    from tensorflow.core.framework.tensor_pb2 import TensorProto

    raw = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
    return tf.make_ndarray(TensorProto.FromString(raw))


def test_the_savedmodel_serves_what_the_bundle_predicts(trained: Path) -> None:
    import tensorflow as tf

    from lsgh_ee.model import load_bundle

    run = trained.parent / "run"
    folder = run / "savedmodel" / "lsgh"
    estimator, schema = load_bundle(run / "models" / "lsgh")
    names = schema["factor_names"]
    with rasterio.open(run / "class_codes.tif") as src:
        codes = src.read()  # (F, rows, cols)
    rng = np.random.default_rng(3)
    # two instances of 12 x 16 pixels: a real window and random codes, with nodata (0) and
    # an out-of-range code in a few pixels
    counts = np.array(schema["class_counts"])
    real = codes[:, 20:32, 20:36].astype("float32")
    noise = np.stack([rng.integers(1, c + 1, (12, 16)) for c in counts]).astype("float32")
    noise[0, 0, :3] = 0
    noise[1, 5, 5] = counts[1] + 1
    tiles = np.stack([real, noise])  # (instances, F, rows, cols)

    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == sorted(names)
    answer = signature(
        **{n: tf.constant([_encode(t[i]) for t in tiles]) for i, n in enumerate(names)}
    )
    served = np.stack([_decode(s) for s in answer["susceptibility"].numpy()])
    assert served.shape == (2, 12, 16) and served.dtype == np.float32  # a scalar band per tile

    vectors = tiles.transpose(0, 2, 3, 1).reshape(-1, len(names))
    valid = ((vectors >= 1) & (vectors <= counts)).all(axis=1)
    expected = np.full(len(vectors), np.nan, np.float32)
    expected[valid] = estimator.predict(vectors[valid].astype("uint8"))
    assert (~valid).sum() == 4
    np.testing.assert_allclose(served.ravel(), expected, atol=1e-6, equal_nan=True)

    metadata = json.loads((folder / "lsgh_model.json").read_text())
    assert metadata["variant"] == "lsgh" and metadata["band_order"] == names
    assert [f["breaks"] for f in metadata["factors"]] == [f["breaks"] for f in schema["factors"]]
    printed = (trained.parent / "export-model.out").read_text()
    assert "gcloud ai models upload" in printed and "gcloud ai endpoints deploy-model" in printed
    assert "--backend ee --endpoint projects/PROJECT/locations/REGION/endpoints/" in printed


#: A Python with the TensorFlow of Vertex AI's newest prebuilt serving container (2.15), made
#: by ``make serving-env`` (CI runs it) in the repository's ``.venv-serving/``.
SERVING_PYTHON = Path(
    os.environ.get(
        "LSGH_TF_SERVING_PYTHON",
        Path(__file__).resolve().parents[1] / ".venv-serving" / "bin" / "python",
    )
)
_SERVE_IN_OLD_TF = """
import base64, json, sys
import numpy as np, tensorflow as tf
from tensorflow.core.framework.tensor_pb2 import TensorProto
folder, tiles_path = sys.argv[1], sys.argv[2]
tiles = np.load(tiles_path)  # (instances, F, rows, cols)
names = json.load(open(folder + "/lsgh_model.json"))["band_order"]
def enc(t):
    proto = tf.make_tensor_proto(t.astype("float32")[..., np.newaxis])
    return base64.urlsafe_b64encode(proto.SerializeToString()).decode()
sig = tf.saved_model.load(folder).signatures["serving_default"]
out = sig(**{n: tf.constant([enc(t[i]) for t in tiles]) for i, n in enumerate(names)})
dec = []
for s in out["susceptibility"].numpy():
    raw = base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))
    dec.append(tf.make_ndarray(TensorProto.FromString(raw)))
np.save(sys.argv[3], np.stack(dec))
print(tf.__version__)
"""


@pytest.mark.skipif(not SERVING_PYTHON.is_file(),
                    reason=f"no TensorFlow 2.15 environment at {SERVING_PYTHON} (set "
                           "LSGH_TF_SERVING_PYTHON, or run 'make serving-env')")  # fmt: skip
def test_the_savedmodel_serves_the_same_in_the_serving_containers_tensorflow(
    trained: Path, tmp_path: Path
) -> None:
    """The export (written by the installed TensorFlow, 2.16+) loads and predicts the same
    numbers in TensorFlow 2.15, the version of Vertex AI's newest prebuilt container."""
    import subprocess

    from lsgh_ee.model import load_bundle

    run = trained.parent / "run"
    estimator, schema = load_bundle(run / "models" / "lsgh")
    counts = np.array(schema["class_counts"])
    rng = np.random.default_rng(5)
    tiles = np.stack([np.stack([rng.integers(0, c + 1, (8, 12)) for c in counts])
                      for _ in range(3)]).astype("float32")  # fmt: skip
    np.save(tmp_path / "tiles.npy", tiles)
    proc = subprocess.run(
        [str(SERVING_PYTHON), "-c", _SERVE_IN_OLD_TF, str(run / "savedmodel" / "lsgh"),
         str(tmp_path / "tiles.npy"), str(tmp_path / "served.npy")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("2.15")
    served = np.load(tmp_path / "served.npy")
    assert served.shape == (3, 8, 12)
    vectors = tiles.transpose(0, 2, 3, 1).reshape(-1, len(counts))
    valid = ((vectors >= 1) & (vectors <= counts)).all(axis=1)
    expected = np.full(len(vectors), np.nan, np.float32)
    expected[valid] = estimator.predict(vectors[valid].astype("uint8"))
    np.testing.assert_allclose(served.ravel(), expected, atol=1e-6, equal_nan=True)


def _hosted_setup(
    trained: Path, tmp_path: Path, fake: FakeEarthEngine, export: str = "download"
) -> tuple[Path, Path]:
    """A copy of the trained run, a config pointing at the fake (pixels leave Earth Engine
    by ``export``), the class codes uploaded as an asset (bands b1..bF, 0 = nodata, as an
    upload of class_codes.tif). Returns (config, run folder)."""
    run = tmp_path / "run"
    shutil.copytree(trained.parent / "run", run)
    with rasterio.open(run / "class_codes.tif") as src:
        fake.add_asset(CODES_ASSET, src.read(), src.crs.to_string(), src.transform, nodata=0)
    key = trusted_key(fake, tmp_path / "key.json")
    # beside the region's files, so its relative paths still hold
    config = trained.parent / f"region-ee-{tmp_path.name}.yaml"
    shutil.copy(trained, config)
    settings = {"project": PROJECT, "api_url": fake.url, "key_file": str(key.path),
                "export": export, "poll_seconds": 0.05}  # fmt: skip
    edit_config(config, earthengine=settings)
    return config, run


@pytest.mark.parametrize(("export", "request_kind"), [("download", "computePixels"),
                                                     ("asset", "imageExport")])  # fmt: skip
def test_predict_backend_ee_equals_the_local_map(
    trained: Path, tmp_path: Path, no_ambient_credentials: None, export: str, request_kind: str
) -> None:
    with FakeEarthEngine(projects={PROJECT: None}) as fake:
        config, run = _hosted_setup(trained, tmp_path, fake, export)
        deployed = fake.add_vertex_endpoint(ENDPOINT, run / "savedmodel" / "lsgh")
        local_map = tmp_path / "local.tif"
        shutil.copy(run / "maps" / "lsgh" / "susceptibility.tif", local_map)
        proc = run_cli("predict", str(config), "--model", "lsgh", "--out", str(run),
                       "--backend", "ee", "--endpoint", ENDPOINT, "--codes-asset", CODES_ASSET,
                       "--tile-size", "16")  # fmt: skip
        computed = fake.requests(request_kind)
    assert "susceptibility.tif" in proc.stdout
    assert deployed.requests >= 1 and deployed.instances >= 4  # tiles went to the endpoint
    expression = json.dumps(computed[0].body)  # the map was computed in Earth Engine
    assert "Model.predictImage" in expression and ENDPOINT in expression
    with rasterio.open(local_map) as a, rasterio.open(run / "maps/lsgh/susceptibility.tif") as b:
        assert (a.crs, a.transform, a.shape) == (b.crs, b.transform, b.shape)
        assert b.descriptions == ("susceptibility",) and b.dtypes == ("float32",)
        assert b.tags()["endpoint"] == ENDPOINT
        layout = [f.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") for f in (a, b)]
        assert layout == ["COG", "COG"] and a.profile["blockxsize"] == b.profile["blockxsize"]
        local, hosted = a.read(1), b.read(1)
    assert np.isnan(local).any() and np.isfinite(local).sum() > 1000
    assert np.array_equal(np.isnan(local), np.isnan(hosted))
    np.testing.assert_allclose(hosted, local, atol=1e-5, equal_nan=True)
    record = json.loads((run / "manifest.json").read_text())["stages"]["predict:lsgh"]
    assert record["params"]["backend"] == "ee" and record["params"]["endpoint"] == ENDPOINT
    assert record["notes"]["valid_pixels"] == int(np.isfinite(local).sum())


def test_to_asset_leaves_the_map_in_earth_engine(
    trained: Path, tmp_path: Path, no_ambient_credentials: None
) -> None:
    asset_id = f"projects/{PROJECT}/assets/lsgh-ee/demo-test_lsgh_susceptibility"
    with FakeEarthEngine(projects={PROJECT: None}) as fake:
        config, run = _hosted_setup(trained, tmp_path, fake)
        edit_config(config, name="demo-test")
        fake.add_vertex_endpoint(ENDPOINT, run / "savedmodel" / "lsgh")
        local_map = run / "maps" / "lsgh" / "susceptibility.tif"
        before = local_map.read_bytes()
        args = ["predict", str(config), "--model", "lsgh", "--out", str(run), "--backend", "ee",
                "--endpoint", ENDPOINT, "--codes-asset", CODES_ASSET, "--to-asset"]  # fmt: skip
        run_cli(*args)
        pixel_requests = fake.requests("computePixels")
        exported = fake.assets[asset_id]
        again = run_cli(*args, "--force", check=False)  # replaces the asset
        fake.assets.pop(asset_id)
        exists = run_cli(*args, check=False)  # up to date: nothing sent
        fake.add_asset(asset_id, exported.data, exported.crs, exported.transform)
        refused = run_cli(*args[:-1], "--tile-size", "32", "--to-asset", check=False)
    assert not pixel_requests  # nothing of the map came to this machine
    assert local_map.read_bytes() == before  # the local map is not touched
    with rasterio.open(local_map) as src:
        local, transform = src.read(1), src.transform
    assert exported.band_names == ["susceptibility"] and exported.transform == transform
    np.testing.assert_allclose(exported.data[0], local, atol=1e-5, equal_nan=True)
    entry = json.loads((run / "ee_assets.json").read_text())["assets"]
    assert entry == [{"model": "lsgh", "layer": "susceptibility", "asset_id": asset_id,
                      "band": "susceptibility"}]  # fmt: skip
    assert again.returncode == 0 and exists.returncode == 0
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert refused.returncode == 2 and len(errors) == 1
    assert asset_id in errors[0] and "--force" in errors[0]


def test_an_endpoint_that_does_not_exist_is_one_line(
    trained: Path, tmp_path: Path, no_ambient_credentials: None
) -> None:
    with FakeEarthEngine(projects={PROJECT: None}) as fake:
        config, run = _hosted_setup(trained, tmp_path, fake)
        before = (run / "maps/lsgh/susceptibility.tif").read_bytes()
        proc = run_cli("predict", str(config), "--model", "lsgh", "--out", str(run),
                       "--backend", "ee", "--endpoint", ENDPOINT, "--codes-asset", CODES_ASSET,
                       check=False)  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(errors) == 1
    assert "not found" in errors[0] and ENDPOINT in errors[0] and "--endpoint" in errors[0]
    assert (run / "maps/lsgh/susceptibility.tif").read_bytes() == before  # untouched


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "--model", "rf", "--backend", "ee", "--endpoint", ENDPOINT],
        ["export-model", "--model", "rf"],
    ],
)
def test_the_random_forest_is_refused_in_one_line(trained: Path, args: list[str]) -> None:
    maps = trained.parent / "run" / "maps"
    before = sorted(p.name for p in maps.rglob("*"))
    proc = run_cli(args[0], str(trained), *args[1:], check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(errors) == 1
    assert "the rf model cannot be hosted on Vertex AI" in errors[0] and "locally" in errors[0]
    assert sorted(p.name for p in maps.rglob("*")) == before
    assert not (trained.parent / "run" / "savedmodel" / "rf").exists()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"backend": "ee", "endpoint": "my-endpoint"},
         "projects/PROJECT/locations/REGION/endpoints/ENDPOINT_ID"),
        ({"backend": "ee", "endpoint": ENDPOINT + "/"}, "is not a Vertex AI endpoint name"),
        ({"backend": "ee"}, "--backend ee needs --endpoint"),
        ({"endpoint": ENDPOINT}, "are for --backend ee"),
        ({"backend": "vertex", "endpoint": ENDPOINT}, "--backend must be 'local' or 'ee'"),
        ({"backend": "ee", "endpoint": ENDPOINT, "tile_size": 0}, "--tile-size must be"),
    ],
)  # fmt: skip
def test_bad_hosted_prediction_options_are_one_clear_error(
    trained: Path, options: dict, expected: str
) -> None:
    from lsgh_ee.errors import LsghError
    from lsgh_ee.stages import predict

    maps = trained.parent / "run" / "maps"
    before = sorted(p.name for p in maps.rglob("*"))
    with pytest.raises(LsghError, match=re.escape(expected)) as caught:
        predict(trained, "lsgh", **options)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in maps.rglob("*")) == before
