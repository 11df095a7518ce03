"""Squeeze-and-excitation attention: cSE, sSE and their sum scSE (Roy et al. 2018).

The paper (Xiong et al. 2022, §2.3.2, eq. 3) adds an scSE block after each convolution:

- **cSE** (spatial squeeze, channel excitation): global average pooling over the feature
  map, two 1×1 convolutions (ReLU to ``C / reduction`` channels, then sigmoid back to ``C``),
  and a channel-wise product with the input;
- **sSE** (channel squeeze, spatial excitation): a 1×1 convolution to one channel, a sigmoid,
  and a position-wise product with the input;
- **scSE** = cSE(x) + sSE(x).

A 1×1 convolution is a matrix product over the channel axis (plus a bias), and that is how
it is written here: plain weights and ``keras.ops`` only, so the layers serialise without
nested sub-layers and run on every Keras backend. The reduction ratio defaults to 2 (the
original paper uses 16 for ImageNet-size feature stacks; here the first block has only 32
channels, so a stronger squeeze would leave almost nothing to excite).
"""

from __future__ import annotations

from lsgh_ee.model.runtime import start_tensorflow

start_tensorflow()

import keras  # noqa: E402
from keras import ops  # noqa: E402


def _check_reduction(reduction) -> int:
    reduction = int(reduction)
    if reduction < 1:
        raise ValueError(f"reduction must be >= 1, got {reduction}")
    return reduction


@keras.saving.register_keras_serializable(package="lsgh_ee")
class ChannelSE(keras.layers.Layer):
    """cSE: ``x * sigmoid(W2 · relu(W1 · mean_hw(x) + b1) + b2)`` per channel.

    Weights: ``squeeze_kernel (C, max(1, C // reduction))``, ``squeeze_bias``,
    ``excite_kernel (hidden, C)``, ``excite_bias`` — the kernels of the two 1×1 convolutions.
    """

    def __init__(self, reduction: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.reduction = _check_reduction(reduction)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = max(1, channels // self.reduction)
        self.squeeze_kernel = self.add_weight(
            shape=(channels, hidden), initializer="glorot_uniform", name="squeeze_kernel"
        )
        self.squeeze_bias = self.add_weight(
            shape=(hidden,), initializer="zeros", name="squeeze_bias"
        )
        self.excite_kernel = self.add_weight(
            shape=(hidden, channels), initializer="glorot_uniform", name="excite_kernel"
        )
        self.excite_bias = self.add_weight(
            shape=(channels,), initializer="zeros", name="excite_bias"
        )
        super().build(input_shape)

    def call(self, inputs):
        pooled = ops.mean(inputs, axis=(1, 2), keepdims=True)  # (batch, 1, 1, C)
        hidden = ops.relu(ops.matmul(pooled, self.squeeze_kernel) + self.squeeze_bias)
        gate = ops.sigmoid(ops.matmul(hidden, self.excite_kernel) + self.excite_bias)
        return inputs * gate

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["reduction"] = self.reduction
        return config


@keras.saving.register_keras_serializable(package="lsgh_ee")
class SpatialSE(keras.layers.Layer):
    """sSE: ``x * sigmoid(x · w + b)`` per position (``w`` is a 1×1 convolution kernel
    ``(C, 1)``, ``b`` its bias)."""

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(channels, 1), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")
        super().build(input_shape)

    def call(self, inputs):
        gate = ops.sigmoid(ops.matmul(inputs, self.kernel) + self.bias)  # (batch, H, W, 1)
        return inputs * gate

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="lsgh_ee")
class SCSE(keras.layers.Layer):
    """scSE (paper eq. 3): ``cSE(x) + sSE(x)``."""

    def __init__(self, reduction: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.reduction = _check_reduction(reduction)
        self.cse = ChannelSE(reduction=self.reduction, name="cse")
        self.sse = SpatialSE(name="sse")

    def build(self, input_shape):
        self.cse.build(input_shape)
        self.sse.build(input_shape)
        super().build(input_shape)

    def call(self, inputs):
        return self.cse(inputs) + self.sse(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["reduction"] = self.reduction
        return config
