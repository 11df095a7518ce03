"""Soft samples done well (issue 14): the soft share per positive, the heatmap diameter in
metres, the soft samples' loss weight, the soft-label loss and the training presets."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from conftest import edit_config, make_region  # noqa: E402
from lsgh_ee.config import HeatmapConfig, SamplingConfig, TrainingConfig, load_config  # noqa: E402
from lsgh_ee.config.training import PAPER, TRAINING_PRESETS  # noqa: E402
from lsgh_ee.errors import LsghError  # noqa: E402
from lsgh_ee.factors.local import compute_local_factors  # noqa: E402
from lsgh_ee.factors.resolve import resolve_factors  # noqa: E402
from lsgh_ee.factors.stack import FactorStack  # noqa: E402
from lsgh_ee.heatmap import gaussian_heatmap  # noqa: E402
from lsgh_ee.inventory import read_inventory  # noqa: E402
from lsgh_ee.model import make_model  # noqa: E402
from lsgh_ee.model.keras_estimators import sample_weights  # noqa: E402
from lsgh_ee.region import Region  # noqa: E402
from lsgh_ee.sampling import SOFT_INTERVALS, draw_samples  # noqa: E402

COUNTS = [6, 4, 5, 3]
SMALL = {"filters": (8, 16, 16, 32), "learning_rate": 1e-2, "validation_fraction": 0.0}


def _error(config: Path) -> str:
    with pytest.raises(LsghError) as info:
        load_config(config)
    return str(info.value)


# -- sampling.soft_share --------------------------------------------------------------------


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory):
    config = load_config(make_region(tmp_path_factory.mktemp("soft") / "region"))
    area = Region.from_config(config)
    compute_local_factors(area, resolve_factors(config, "local")).write(config.run_dir)
    return FactorStack.read(config.run_dir), read_inventory(config.inventory, area), config


def _soft_per_interval(samples, heat: np.ndarray) -> list[int]:
    """Soft samples (both sides) in each heatmap interval, counted from the heatmap."""
    soft = samples.subset(samples.kind == "soft")
    values = heat[soft.rows, soft.cols]
    return [int(((values > lo) & (values <= hi)).sum()) for lo, hi in SOFT_INTERVALS]


@pytest.mark.parametrize("share", [0.3, 0.5, 1.0, 0.0])
def test_soft_share_draws_share_times_positives_per_interval(region, share: float) -> None:
    stack, inventory, config = region
    cfg = config.sampling.model_copy(update={"soft_share": share})
    samples, heat = draw_samples(stack, inventory, cfg, 7, seed=3)
    n_pos = int((samples.kind == "positive").sum())
    expected = int(np.round(share * n_pos))
    assert _soft_per_interval(samples, heat) == [expected] * 3
    assert samples.meta["soft_per_interval"] == expected
    # the share 1.0 is today's default: the same samples as leaving both settings out
    if share == 1.0:
        plain, _ = draw_samples(stack, inventory, config.sampling, 7, seed=3)
        assert plain.digest() == samples.digest()


def test_soft_count_resolution() -> None:
    assert SamplingConfig().soft_count(40) == 40
    assert SamplingConfig(soft_share=0.3).soft_count(40) == 12
    assert SamplingConfig(soft_per_interval=5).soft_count(40) == 5
    assert SamplingConfig(soft_share=0.3).without_soft().soft_count(40) == 0
    with pytest.raises(ValueError):
        SamplingConfig(soft_share=-0.1)


def test_soft_share_and_count_together_is_a_clear_error(region_config: Path) -> None:
    edit_config(region_config, sampling={"soft_share": 0.3, "soft_per_interval": 10})
    message = _error(region_config)
    assert "sampling" in message and "soft_per_interval" in message and "soft_share" in message
    assert "remove one" in message


# -- heatmap.diameter_m ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metres", "resolution", "pixels"),
    [(390, 30, 13), (210, 30, 7), (570, 30, 19), (390, 90, 5), (210, 90, 3), (570, 90, 7),
     (1170, 90, 13), (10, 30, 3), (420, 50, 9)],
)  # fmt: skip
def test_diameter_m_is_the_nearest_odd_pixel_count(metres, resolution, pixels) -> None:
    assert HeatmapConfig(diameter_m=metres).pixels(resolution) == pixels
    # independently: the odd count closest to metres / resolution, at least 3
    odd = np.arange(3, 101, 2)
    assert pixels == odd[np.argmin(np.abs(odd - metres / resolution))]


def test_diameter_m_half_way_between_odd_counts_rounds_up() -> None:
    assert HeatmapConfig(diameter_m=400).pixels(50) == 9  # 8 pixels: 7 and 9 tie
    assert HeatmapConfig(diameter_m=120).pixels(30) == 5  # 4 pixels: 3 and 5 tie


def test_diameter_m_gives_the_pixel_settings_heatmap(region_config: Path) -> None:
    pixels = load_config(region_config)  # 30 m, default diameter 13 pixels
    assert pixels.heatmap_diameter == 13
    metres = load_config(edit_config(region_config, heatmap={"diameter_m": 390.0}))
    assert metres.resolution == 30 and metres.heatmap_diameter == 13
    points = (np.array([20, 40]), np.array([30, 10]))
    np.testing.assert_array_equal(
        gaussian_heatmap(points, (60, 60), metres.heatmap_diameter),
        gaussian_heatmap(points, (60, 60), pixels.heatmap.diameter),
    )
    at90 = load_config(edit_config(region_config, resolution=90.0, heatmap={"diameter": 13}))
    assert at90.heatmap_diameter == 13  # pixels stay pixels
    at90m = load_config(edit_config(region_config, heatmap={"diameter_m": 390.0}))
    assert at90m.resolution == 90
    assert at90m.heatmap_diameter == 5  # 390 m / 90 m = 4.3 -> 5 pixels


def test_diameter_in_pixels_and_metres_is_a_clear_error(region_config: Path) -> None:
    edit_config(region_config, heatmap={"diameter": 13, "diameter_m": 390})
    message = _error(region_config)
    assert "heatmap" in message and "diameter_m" in message and "remove one" in message


# -- training.soft_weight and training.loss -------------------------------------------------


def _soft_problem(seed: int = 0, n: int = 240) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes ``(n, 4)``, labels (1 where factor 0's code is >= 3, every third sample soft
    0.5) and the soft mask."""
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(1, c + 1, n) for c in COUNTS], axis=1).astype("uint8")
    y = (codes[:, 0] >= 3).astype("float32")
    soft = np.arange(n) % 3 == 0
    y[soft] = 0.5
    return codes, y, soft


def test_sample_weights() -> None:
    y = np.array([0.0, 0.3, 1.0, 0.5, 0.79], dtype="float32")
    np.testing.assert_array_equal(sample_weights(y, 0.25), [1, 0.25, 1, 0.25, 0.25])
    assert sample_weights(y, 0.25).dtype == np.float32


def test_soft_weight_reaches_the_loss() -> None:
    """With weight 0 the soft samples' labels do not matter (same seed, same model); with
    weight 1 they do."""
    x, y, soft = _soft_problem()
    other = y.copy()
    other[soft] = 0.9

    def trained(labels: np.ndarray, weight: float) -> np.ndarray:
        model = make_model("lsgh", COUNTS, epochs=2, seed=5, soft_weight=weight, **SMALL)
        return model.fit(x, labels).predict(x)

    np.testing.assert_allclose(trained(y, 0.0), trained(other, 0.0), rtol=0, atol=1e-6)
    assert np.abs(trained(y, 1.0) - trained(other, 1.0)).max() > 1e-3


def test_bce_loss_trains_and_is_saved() -> None:
    x, y, soft = _soft_problem(1)
    model = make_model("lsgh", COUNTS, epochs=8, seed=2, loss="bce", soft_weight=0.5, **SMALL)
    untrained = model.build().predict(x, verbose=0).reshape(-1)
    model.fit(x, y)
    p = model.predict(x)

    def bce(pred: np.ndarray) -> float:  # numpy, on every sample (soft targets included)
        pred = np.clip(pred, 1e-7, 1 - 1e-7)
        return float(np.mean(-(y * np.log(pred) + (1 - y) * np.log(1 - pred))))

    assert bce(p) < bce(untrained) - 0.1
    hard = ~soft
    assert roc_auc_score(y[hard], p[hard]) > 0.9
    assert model.history_["loss"][-1] < model.history_["loss"][0]
    params = model.get_params()
    assert params["loss"] == "bce" and params["soft_weight"] == 0.5
    assert model.fit_info_["loss"] == "bce"
    mse = make_model("lsgh", COUNTS, epochs=8, seed=2, soft_weight=0.5, **SMALL).fit(x, y)
    assert np.abs(mse.predict(x) - p).max() > 1e-3  # the loss changes the model


def test_cosine_schedule_changes_training() -> None:
    x, y, _ = _soft_problem(2)
    runs = {}
    for schedule in ("constant", "cosine"):
        model = make_model("lsgh", COUNTS, epochs=3, seed=4, lr_schedule=schedule, **SMALL)
        runs[schedule] = model.fit(x, y).predict(x)
        assert model.get_params()["lr_schedule"] == schedule
    assert np.abs(runs["constant"] - runs["cosine"]).max() > 1e-4


@pytest.mark.parametrize(
    ("params", "fragment"),
    [({"lr_schedule": "step"}, "lr_schedule must be one of constant, cosine"),
     ({"loss": "hinge"}, "loss must be one of mse, bce"),
     ({"soft_weight": -1.0}, "soft_weight (-1.0) must be >= 0"),
     ({"weight_decay": -1e-4}, "weight_decay (-0.0001)")],
)  # fmt: skip
def test_bad_training_parameters(params: dict, fragment: str) -> None:
    with pytest.raises(LsghError) as info:
        make_model("lsgh", COUNTS, **params)
    assert fragment in str(info.value)


def test_weight_decay_adds_l2_on_the_kernels() -> None:
    model = make_model("cnn", COUNTS, filters=(8, 16, 16, 32), weight_decay=1e-3)
    net = model.build()
    regularised = sorted(
        layer.name for layer in net.layers if getattr(layer, "kernel_regularizer", None)
    )
    assert regularised == [
        "block1_conv",
        "block2_conv",
        "block3_conv",
        "head_conv",
        "susceptibility",
    ]
    assert len(net.losses) == 5
    kernels = [layer.kernel for layer in net.layers if layer.name in regularised]
    expected = sum(1e-3 * float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(float(v) for v in net.losses)) == pytest.approx(expected, rel=1e-4)
    plain = make_model("cnn", COUNTS, filters=(8, 16, 16, 32)).build()
    assert not plain.losses


# -- training.preset ------------------------------------------------------------------------


def test_presets_fill_the_settings() -> None:
    paper = TrainingConfig(preset="paper")
    for key, value in PAPER.items():
        assert getattr(paper, key) == value
    assert (paper.loss, paper.dropout, paper.filters) == ("mse", 0.5, [32, 64, 128, 256])
    assert (paper.learning_rate, paper.batch_size, paper.patience) == (1e-3, 32, 50)
    default = TrainingConfig()
    assert default.preset == "default"
    assert default.patience == 20 and default.loss == "mse"  # the paper's, patience 20
    for key, value in TRAINING_PRESETS["default"].items():
        assert getattr(default, key) == value


def test_explicit_settings_override_the_preset() -> None:
    cfg = TrainingConfig(preset="paper", dropout=0.2, loss="bce", filters=[16, 32, 64])
    assert (cfg.dropout, cfg.loss, cfg.filters) == (0.2, "bce", [16, 32, 64])
    assert (cfg.learning_rate, cfg.patience, cfg.soft_weight) == (1e-3, 50, 1.0)  # preset
    model = make_model("lsgh", COUNTS, training=cfg)
    assert (model.dropout, model.loss, model.filters) == (0.2, "bce", (16, 32, 64))
    assert (model.learning_rate, model.patience, model.weight_decay) == (1e-3, 50, 0.0)
    assert make_model("lsgh", COUNTS, training=cfg, dropout=0.1).dropout == 0.1  # params win
    forest = make_model("rf", COUNTS, training=cfg)  # the forest ignores network settings
    assert "dropout" not in forest.get_params()


def test_preset_in_a_config_file(region_config: Path) -> None:
    edit_config(region_config, training={"preset": "paper", "soft_weight": 0.5})
    cfg = load_config(region_config).training
    assert (cfg.preset, cfg.soft_weight, cfg.patience, cfg.loss) == ("paper", 0.5, 50, "mse")
    assert cfg.members == 1  # the paper trains one network
    edit_config(region_config, training={"patience": 30})
    cfg = load_config(region_config).training  # the default preset: a seed ensemble of 5
    assert (cfg.preset, cfg.members, cfg.patience) == ("default", 5, 30)
    edit_config(region_config, training={"preset": "fast"})
    message = _error(region_config)
    assert "training.preset" in message and "'default'" in message and "'paper'" in message
    edit_config(region_config, training={"loss": "hinge"})
    assert "training.loss" in _error(region_config)
