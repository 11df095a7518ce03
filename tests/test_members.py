"""``training.members``: a seed ensemble of networks saved as one network, equal to the
mean of the networks trained one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import edit_config, run_cli
from lsgh_ee.errors import LsghError
from lsgh_ee.model import make_model
from lsgh_ee.model.keras_estimators import LsghNet
from lsgh_ee.model.network import HEAD_LAYERS

COUNTS = [3, 4, 3, 5]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(1, c + 1, 400) for c in COUNTS], axis=1).astype(np.uint8)
    labels = ((codes[:, 0] == 1) ^ (rng.random(400) < 0.2)).astype(np.float32)
    return codes, labels


def test_members_average_the_networks_trained_one_by_one(data, tmp_path: Path) -> None:
    codes, labels = data
    fit, val = slice(80, None), slice(0, 80)
    settings = {"epochs": 2, "patience": 1, "seed": 7}
    ensemble = make_model("lsgh", COUNTS, members=2, **settings)
    ensemble.fit(codes[fit], labels[fit], validation=(codes[val], labels[val]))
    singles = []
    for seed in (7, 8):
        one = make_model("lsgh", COUNTS, **{**settings, "seed": seed})
        one.fit(codes[fit], labels[fit], validation=(codes[val], labels[val]))
        singles.append(one.predict(codes[:50]))
    assert np.abs(ensemble.predict(codes[:50]) - np.mean(singles, axis=0)).max() < 1e-5
    assert [m["seed"] for m in ensemble.fit_info_["members"]] == [7, 8]
    ensemble.save(tmp_path / "bundle")
    again = LsghNet.load(tmp_path / "bundle")
    assert again.members == 2
    np.testing.assert_array_equal(again.predict(codes[:50]), ensemble.predict(codes[:50]))
    # fine-tuning tunes each member's head and keeps its convolutional blocks
    before = [again.model_.get_layer(f"member_{i}") for i in range(2)]
    frozen = [m.get_layer("block1_conv").get_weights()[0].copy() for m in before]
    head = [m.get_layer("head_conv").get_weights()[0].copy() for m in before]
    again.set_params(warm_start=True, train_only=HEAD_LAYERS, epochs=1)
    again.fit(codes[fit], 1 - labels[fit], validation=(codes[val], 1 - labels[val]))
    after = [again.model_.get_layer(f"member_{i}") for i in range(2)]
    for i, member in enumerate(after):
        np.testing.assert_array_equal(member.get_layer("block1_conv").get_weights()[0], frozen[i])
        assert not np.array_equal(member.get_layer("head_conv").get_weights()[0], head[i])


def test_members_must_be_positive(built_region: Path, tmp_path: Path) -> None:
    with pytest.raises(LsghError, match="members must be"):
        make_model("cnn", COUNTS, members=0)
    config = edit_config(
        Path(__import__("shutil").copy(built_region, tmp_path / "region.yaml")),
        training={"members": 0},
    )
    proc = run_cli("train", str(config), "--model", "lsgh", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "training.members" in proc.stderr and "greater than or equal to 1" in proc.stderr
