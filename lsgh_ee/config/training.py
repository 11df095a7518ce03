"""The presets of the ``training`` section: named sets of network and optimiser settings.

``training.preset`` fills every setting of its table the config leaves out; a setting the
config gives explicitly wins over the preset. ``paper`` is the paper's §3.1 layout and
settings (MSE loss, dropout 0.5 before the output, conv widths 32/64/128/256, Adam with
learning rate 0.001, batch 32, patience 50, no weight decay, soft samples weighing as much
as hard ones). ``default`` is the setting the project recommends: a 5-fold spatial
cross-validation on the demo and Ecuador found no change (binary cross-entropy, soft weight
0.5, soft share 0.3, half the widths with weight decay, a cosine schedule) that beat the
paper's on both (``docs/training-settings.md``), so today it equals ``paper`` except for
patience 20, which gives the same models as 50 in about half the epochs (README, "Early
stopping"), and ``members`` 5: every network model is the average of five networks trained
from five seeds, which removes most of the seed-to-seed spread of a single network's AUC
(SD 0.047 per demo fold) and raised every network's mean AUC on both regions.
"""

from __future__ import annotations

from typing import Any

PAPER: dict[str, Any] = {
    "loss": "mse",
    "dropout": 0.5,
    "filters": [32, 64, 128, 256],
    "learning_rate": 1e-3,
    "lr_schedule": "constant",
    "weight_decay": 0.0,
    "soft_weight": 1.0,
    "batch_size": 32,
    "patience": 50,
    "members": 1,
}

#: preset name -> the settings it fills (keys of the ``training`` section)
TRAINING_PRESETS: dict[str, dict[str, Any]] = {
    "paper": PAPER,
    "default": {**PAPER, "patience": 20, "members": 5},
}


def apply_preset(data: Any) -> Any:
    """The raw ``training`` mapping ``data`` with the settings of its ``preset`` (default
    ``"default"``) filled in where ``data`` leaves them out; anything else (an unknown
    preset, not a mapping) is returned as it is for validation to report."""
    if not isinstance(data, dict):
        return data
    preset = TRAINING_PRESETS.get(data.get("preset", "default"))
    return data if preset is None else {**preset, **data}
