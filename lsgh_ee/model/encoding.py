"""One-hot factor images: the CNN-2D encoding of Wang, Fang & Hong (2019).

A sample is a vector of class codes, one per causative factor (``1..k_f`` for factor ``f``,
``0`` = nodata). The paper turns it into a two-dimensional image for the CNN: one row per
factor, one column per class, a 1 in the column of the sample's class and zeros elsewhere.
Factors with fewer classes than the widest one leave their last columns at zero.

Doing this inside the model (rather than when preparing data) keeps the model's input the
class-code stack itself, so the same saved model serves local mapping, Earth Engine / Vertex
AI hosting and other regions. Only ``keras.ops`` is used, so the layer runs on every Keras
backend.
"""

from __future__ import annotations

from lsgh_ee.model.runtime import start_tensorflow

start_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402


@keras.saving.register_keras_serializable(package="lsgh_ee")
class OneHotFactors(keras.layers.Layer):
    """Class codes ``(batch, F)`` → one-hot image ``(batch, F, K, 1)`` float32.

    ``K = max(class_counts)``. Row ``f`` has a 1 at column ``code - 1`` and zeros elsewhere;
    code 0 (nodata) gives an all-zero row. Codes outside ``1..class_counts[f]`` are a data
    error that the estimators reject before calling the model; the layer itself maps them to
    an all-zero row (like nodata) rather than to another factor's column range.

    Args:
        class_counts: number of classes of each factor, in input column order.
    """

    def __init__(self, class_counts, **kwargs):
        super().__init__(**kwargs)
        counts = [int(c) for c in class_counts]
        if not counts or min(counts) < 1:
            raise ValueError(f"class_counts must be positive integers, got {class_counts!r}")
        self.class_counts = counts
        self.max_classes = max(counts)
        columns = np.arange(self.max_classes)[None, :]
        self._valid = (columns < np.asarray(counts)[:, None]).astype("float32")

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != len(self.class_counts):
            raise ValueError(
                f"OneHotFactors expects {len(self.class_counts)} factor columns, "
                f"got input shape {tuple(input_shape)}"
            )
        super().build(input_shape)

    def call(self, inputs):
        codes = ops.expand_dims(ops.cast(inputs, "int32"), -1)
        columns = ops.arange(1, self.max_classes + 1, dtype="int32")
        hot = ops.cast(ops.equal(codes, columns), self.compute_dtype)
        hot = hot * ops.cast(ops.convert_to_tensor(self._valid), self.compute_dtype)
        return ops.expand_dims(hot, -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.class_counts), self.max_classes, 1)

    def get_config(self):
        config = super().get_config()
        config["class_counts"] = list(self.class_counts)
        return config
