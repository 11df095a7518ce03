"""Early stopping on a moving average of the validation score (issue 13, point 4)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from lsgh_ee.errors import LsghError  # noqa: E402
from lsgh_ee.model import make_model  # noqa: E402
from lsgh_ee.model.callbacks import SmoothedEarlyStopping  # noqa: E402


class EpochWeights:
    """A stand-in for a Keras model whose only weight is the epoch it was trained to."""

    def __init__(self):
        self.epoch, self.stop_training, self.restored = 0, False, None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def run_rule(scores, *, mode="max", window=1, patience=3, min_epochs=0):
    """Feed ``scores`` epoch by epoch; (epochs run, best epoch, restored epoch)."""
    stopper = SmoothedEarlyStopping("val_auc", mode, window=window, patience=patience,
                                    min_epochs=min_epochs)  # fmt: skip
    model = EpochWeights()
    stopper.set_model(model)
    stopper.on_train_begin()
    run = 0
    for epoch, score in enumerate(scores):
        model.epoch = epoch
        stopper.on_epoch_end(epoch, {"val_auc": score})
        run = epoch + 1
        if model.stop_training:
            break
    stopper.on_train_end()
    return run, stopper.best_epoch, model.restored


def expected(scores, *, mode="max", window=1, patience=3, min_epochs=0):
    """The same rule written out directly: trailing means, best centre, stop after patience."""
    sign = 1 if mode == "max" else -1
    best, best_centre, best_end = None, None, None
    for end in range(len(scores)):
        mean = np.mean(scores[max(0, end - window + 1) : end + 1])
        if end + 1 >= min_epochs and (best is None or sign * (mean - best) > 0):
            best, best_end = mean, end
            best_centre = max(0, end - window // 2)
        elif best_end is not None and end - best_end >= patience:
            return end + 1, best_centre
    return len(scores), best_centre


@pytest.mark.parametrize("window,patience,min_epochs", [(1, 3, 0), (5, 4, 0), (5, 6, 8), (3, 2, 1)])
def test_the_rule_matches_its_definition_on_noisy_curves(window, patience, min_epochs):
    rng = np.random.default_rng(window * 100 + patience)
    for _ in range(30):
        # a rising then flat curve with epoch-to-epoch noise of an AUC on ~100 samples
        scores = np.minimum(np.linspace(0.6, 0.9, 40), 0.8) + rng.normal(0, 0.04, 40)
        run, best, restored = run_rule(scores, window=window, patience=patience,
                                       min_epochs=min_epochs)  # fmt: skip
        assert (run, best) == expected(scores, window=window, patience=patience,
                                       min_epochs=min_epochs)  # fmt: skip
        assert restored == best  # the weights put back are the best epoch's


def test_window_one_is_keras_early_stopping():
    scores = [0.5, 0.7, 0.6, 0.65, 0.69, 0.68, 0.9, 0.1]
    assert run_rule(scores, patience=3)[:2] == (5, 1)  # stops 3 epochs after epoch 1
    assert run_rule(scores, patience=5)[:2] == (8, 6)
    assert run_rule([0.3, 0.2, 0.25, 0.22, 0.1], mode="min", patience=2)[:2] == (4, 1)


def test_one_lucky_epoch_does_not_win_a_smoothed_rule():
    # a spike at epoch 2 (the single best value) amid a steady rise
    scores = [0.60, 0.62, 0.95, 0.64, 0.70, 0.74, 0.78, 0.80, 0.81, 0.80, 0.80, 0.79]
    _, lucky, _ = run_rule(scores, patience=20)
    _, smoothed, _ = run_rule(scores, window=5, patience=20)
    assert lucky == 2
    assert smoothed == 9  # centre of the best five-epoch window (epochs 7-11, mean 0.80)


def test_min_epochs_holds_back_the_first_epochs():
    scores = [0.9, 0.5, 0.6, 0.7, 0.72, 0.71, 0.70, 0.69]
    assert run_rule(scores, patience=2)[1] == 0
    assert run_rule(scores, patience=2, min_epochs=4)[1] == 4


def test_a_network_reports_the_epoch_it_restored(tmp_path):
    rng = np.random.default_rng(1)
    codes = rng.integers(1, 4, size=(240, 3)).astype("uint8")
    labels = ((codes[:, 0] + rng.normal(0, 0.8, 240)) > 2).astype("float32")
    model = make_model("cnn", [3, 3, 3], epochs=12, patience=3, smoothing=3, min_epochs=2,
                       filters=(8, 16), seed=0)  # fmt: skip
    model.fit(codes, labels)
    info, history = model.fit_info_, model.history_
    run, best = expected(history["val_auc"], window=3, patience=3, min_epochs=2)
    assert info["epochs_run"] == run == len(history["loss"])
    assert info["best_epoch"] == best
    assert info["early_stopping"] == "val_auc"
    assert info["best_val_loss"] == pytest.approx(history["val_loss"][best])
    # the kept weights are that epoch's: saving and loading keeps the report
    model.save(tmp_path / "cnn")
    assert type(model).load(tmp_path / "cnn").fit_info_["best_epoch"] == best


def test_bad_smoothing_is_refused():
    with pytest.raises(LsghError, match="smoothing must be >= 1"):
        make_model("lsgh", [3, 3], smoothing=0)
    with pytest.raises(LsghError, match="early_stopping must be one of"):
        make_model("lsgh", [3, 3], early_stopping="val_mae")
