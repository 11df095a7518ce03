"""LSGH-Net: a LeNet-5-derived CNN with scSE attention over one-hot factor images.

The paper (Xiong et al. 2022, §2.3.1 and §3.1) names the operations — convolution, scSE
after each convolution, BN after each convolution, max pooling, dropout 0.5, flatten, a
dense output with an activation to a susceptibility index in [0, 1] — and says the feature
map is ``1 × 1 × 256`` before the flatten. Its Figure 5 (the layer sizes) is not in the
text, so the layout below is our reading, kept close to LeNet-5 (conv/pool pairs, then a
convolution whose kernel covers the whole remaining map, like LeNet's C5, then the dense
head):

=====================  =========================================  ==================
stage                  layers                                     9 × 13 input
=====================  =========================================  ==================
input                  class codes ``(F,)`` int32                 (9,)
encoding               :class:`OneHotFactors`                     9 × 13 × 1
block *i* (i = 1..3)   Conv2D 3×3 same (no bias) → BN → ReLU →    9×13×32 → 5×7
                       scSE → MaxPool 2×2 same (only while the    5×7×64 → 3×4
                       map is larger than 2 in a dimension)       3×4×128 → 2×2
head                   Conv2D valid, kernel = remaining map →     1 × 1 × 256
                       BN → ReLU → scSE
output                 Flatten → Dropout 0.5 → Dense(1, sigmoid)  1
=====================  =========================================  ==================

Choices and why:

- ``filters = (32, 64, 128, 256)``: three conv blocks and the head; the last width gives the
  paper's ``1 × 1 × 256`` feature. The number of blocks is ``len(filters) - 1``.
- Pooling is computed from the input: a block pools (2×2, ``same`` padding, so odd sizes
  round up) only while the map is larger than 2 × 2, so the 9 × 13 paper image ends at 2 × 2,
  a 5 × 12 image at 1 × 2 and a 1 × 2 image is never pooled. The head's valid convolution
  then covers whatever map is left, so every ``F × K`` reaches ``1 × 1 × 256``.
- Convolutions before BN have no bias (BN's beta replaces it); BN uses Keras defaults.
- The scSE block follows the activation of every convolution, the head's included ("the
  attention model was added after each convolution operation", §3.1).
- Sigmoid output: the paper trains a regression on labels in [0, 1] with MSE.

With ``scse=False`` the same network without the attention blocks is built (the paper's
"LSGH-Net (remove scSE)").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lsgh_ee.model.runtime import start_tensorflow

start_tensorflow()

import keras  # noqa: E402
from keras import layers  # noqa: E402

from lsgh_ee.model.encoding import OneHotFactors  # noqa: E402
from lsgh_ee.model.layers import SCSE  # noqa: E402

INPUT_NAME = "class_codes"
OUTPUT_NAME = "susceptibility"
#: Layers trained when fine-tuning (``train --init-from``): the head convolution and
#: everything after it, as named by :func:`build_lsgh_net`; the one-hot encoding and the
#: convolutional blocks stay frozen. (``head_scse`` is absent without scSE.)
HEAD_LAYERS = (
    "head_conv",
    "head_bn",
    "head_relu",
    "head_scse",
    "flatten",
    "dropout",
    OUTPUT_NAME,
)


def pooling_plan(n_factors: int, n_classes: int, n_blocks: int) -> list[bool]:
    """Which of ``n_blocks`` conv blocks pool, and the map size left for the head."""
    height, width = n_factors, n_classes
    plan = []
    for _ in range(n_blocks):
        pool = max(height, width) > 2
        plan.append(pool)
        if pool:
            height, width = math.ceil(height / 2), math.ceil(width / 2)
    return plan


def head_kernel(n_factors: int, n_classes: int, n_blocks: int) -> tuple[int, int]:
    """The spatial size the head convolution covers (the map left after the blocks)."""
    height, width = n_factors, n_classes
    for pool in pooling_plan(n_factors, n_classes, n_blocks):
        if pool:
            height, width = math.ceil(height / 2), math.ceil(width / 2)
    return height, width


def build_lsgh_net(
    class_counts: Sequence[int],
    *,
    scse: bool = True,
    dropout: float = 0.5,
    filters: Sequence[int] = (32, 64, 128, 256),
    reduction: int = 2,
    bn_momentum: float = 0.9,
    weight_decay: float = 0.0,
    name: str = "lsgh_net",
) -> keras.Model:
    """Build LSGH-Net for factors with ``class_counts`` classes (see the module docstring).

    Args:
        class_counts: classes per factor in input column order (``F`` factors, image
            ``F × max(class_counts)``).
        scse: add an scSE block after each convolution (False: the "remove scSE" ablation).
        dropout: dropout rate before the output layer (paper: 0.5).
        filters: conv block widths followed by the head width (at least two entries).
        reduction: cSE reduction ratio.
        bn_momentum: momentum of the batch-normalisation moving statistics. 0.9, not
            Keras's 0.99: landslide inventories of a few hundred samples give only a few
            steps per epoch, the 0.99 averages then lag far behind the weights, validation
            sees stale statistics and early stopping keeps an early epoch (measured on the
            demo: lsgh test AUC 0.754 with 0.99, 0.837 with 0.9; Ecuador cnn predicted a
            constant 0.5 with 0.99).
        weight_decay: L2 penalty factor on the conv and dense kernels (0: none, the paper).
        name: model name.

    Returns:
        An uncompiled ``keras.Model`` from int32 class codes ``(batch, F)`` to a
        susceptibility index ``(batch, 1)`` in [0, 1].
    """
    counts = [int(c) for c in class_counts]
    filters = [int(f) for f in filters]
    if not counts or min(counts) < 1:
        raise ValueError(f"class_counts must be positive integers, got {class_counts!r}")
    if len(filters) < 2 or min(filters) < 1:
        raise ValueError(f"filters needs at least two positive widths, got {filters!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    n_factors, n_classes = len(counts), max(counts)
    reg = keras.regularizers.L2(weight_decay) if weight_decay > 0 else None
    n_blocks = len(filters) - 1

    inputs = keras.Input((n_factors,), dtype="int32", name=INPUT_NAME)
    x = OneHotFactors(counts, name="one_hot")(inputs)
    for i, (width, pool) in enumerate(
        zip(filters[:-1], pooling_plan(n_factors, n_classes, n_blocks), strict=True), start=1
    ):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_regularizer=reg,
                          name=f"block{i}_conv")(x)  # fmt: skip
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{i}_bn")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
        if scse:
            x = SCSE(reduction, name=f"block{i}_scse")(x)
        if pool:
            x = layers.MaxPooling2D(2, padding="same", name=f"block{i}_pool")(x)
    kernel = head_kernel(n_factors, n_classes, n_blocks)
    x = layers.Conv2D(filters[-1], kernel, padding="valid", use_bias=False,
                      kernel_regularizer=reg, name="head_conv")(x)  # fmt: skip
    x = layers.BatchNormalization(momentum=bn_momentum, name="head_bn")(x)
    x = layers.ReLU(name="head_relu")(x)
    if scse:
        x = SCSE(reduction, name="head_scse")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", kernel_regularizer=reg, name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name=name)


def network_cost(model: keras.Model) -> dict:
    """Multiply-accumulates and FLOPs per vector of a LSGH-Net, from the layer shapes.

    MACs count the convolutions, the scSE 1×1 products and the dense output; FLOPs are
    2 × MACs plus about one FLOP per element for one-hot, BN (folded at inference: a
    scale and a shift, counted 2), ReLU, pooling, the sigmoid gates and the scSE products
    and sum. Training costs about three times the forward FLOPs per sample (forward,
    and a backward pass of about twice the forward's work).

    Returns:
        ``macs_per_vector``, ``macs_by_kind`` (conv, scse, dense), ``flops_per_vector``
        (forward), ``params``.
    """
    macs = {"conv": 0, "scse": 0, "dense": 0}
    elementwise = 0
    for layer in model.layers:
        kind = type(layer).__name__
        out = [int(d) for d in layer.output.shape[1:]]
        size = math.prod(out) if out else 0
        if kind == "Conv2D":
            kh, kw, cin, cout = (int(d) for d in layer.kernel.shape)
            macs["conv"] += size * kh * kw * cin
        elif kind == "Dense":
            macs["dense"] += math.prod(int(d) for d in layer.kernel.shape)
            elementwise += size  # sigmoid
        elif kind == "SCSE":
            h, w, c = out
            hidden = max(1, c // layer.reduction)
            macs["scse"] += 2 * c * hidden + h * w * c  # cSE squeeze/excite, sSE 1×1 conv
            elementwise += 4 * h * w * c + 2 * c + h * w  # mean, two products, sum, gates
        elif kind == "BatchNormalization":
            elementwise += 2 * size
        elif kind in ("OneHotFactors", "ReLU", "MaxPooling2D"):
            elementwise += size * (4 if kind == "MaxPooling2D" else 1)
    total = sum(macs.values())
    return {
        "macs_per_vector": total,
        "macs_by_kind": macs,
        "flops_per_vector": 2 * total + elementwise,
        "params": int(model.count_params()),
    }
