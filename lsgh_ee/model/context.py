"""LSGH-Net with context (``lsgh-ctx``): the paper's network fed a pixel's neighbourhood.

The paper's CNN sees one pixel's factor vector, so what a soft label means — "this pixel
lies near a landslide" — cannot be read from its input. ``lsgh-ctx`` takes the
``k × k`` neighbourhood of class codes around the pixel (``input_kind`` ``patches``,
:mod:`lsgh_ee.sampling.patches`; ``k = context``, 3 by default) and keeps the paper's
network whole behind one new first stage:

=====================  ==========================================  ===================
stage                  layers                                      k = 3, 9 × 13 paper
=====================  ==========================================  ===================
input                  class codes ``(k, k, F)`` int32             (3, 3, 9)
encoding               :class:`OneHotFactors` of every window      3 × 3 × (9·13)
                       pixel: ``k²·F`` factor rows
context mix            DepthwiseConv2D ``k × k`` valid, no bias:   1 × 1 × (9·13)
                       one learned ``k × k`` weighting per
                       (factor, class) one-hot channel
                       → reshape to the factor image ``F × K × 1``  9 × 13 × 1
body                   :func:`~lsgh_ee.model.network.build_lsgh_net`'s
                       blocks, head and output, unchanged
=====================  ==========================================  ===================

The mixed factor image holds, for each factor and class, a learned weighted count of the
window pixels of that class: a class histogram of the neighbourhood whose weights depend
on the offset, so the network can tell the centre from its ring. The mix starts as a 1 at
the centre and 0 elsewhere — the untrained ``lsgh-ctx`` is the paper's network on the
centre pixel's image — and training moves weight onto the neighbours where they help.
Nodata neighbours (code 0, and window pixels beyond the grid) add nothing.

Why this design: the body (the paper's network, scSE included) is built by
:func:`build_lsgh_net` itself and reused layer by layer, so nothing of it is copied, its
layer names (and so fine-tuning's head) stay the same, and a prediction costs the body's
work plus ``k²·F·K`` multiply-adds — the same per pixel as ``lsgh``. Mapping cannot share
predictions between pixels as ``lsgh`` does (neighbourhoods are nearly all distinct), so
its map is slower by the share of distinct vectors; see ``bench/bench_context.py``.

Trained on hard and soft samples, as ``lsgh``. It reads neighbourhoods, which the Earth
Engine hosted path (one pixel's codes per request row) cannot send: it is not hostable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lsgh_ee.model.keras_estimators import KerasEstimator, load_keras_model
from lsgh_ee.model.runtime import start_tensorflow

start_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from lsgh_ee.errors import LsghError  # noqa: E402
from lsgh_ee.model.data import check_codes  # noqa: E402
from lsgh_ee.model.encoding import OneHotFactors  # noqa: E402
from lsgh_ee.model.network import INPUT_NAME, build_lsgh_net  # noqa: E402
from lsgh_ee.sampling.patches import check_patch_size  # noqa: E402

MIX_LAYER = "context_mix"


def build_context_net(
    class_counts: Sequence[int], context: int = 3, *, name: str = "lsgh_net_ctx", **body: Any
) -> keras.Model:
    """LSGH-Net behind a neighbourhood mix (see the module docstring).

    Args:
        class_counts: classes per factor (``F`` values).
        context: odd window side ``k`` in pixels.
        name: model name.
        body: :func:`build_lsgh_net`'s settings (``scse``, ``dropout``, ``filters``,
            ``reduction``, ``bn_momentum``).

    Returns:
        An uncompiled ``keras.Model`` from int32 class codes ``(batch, k, k, F)`` to a
        susceptibility index ``(batch, 1)`` in [0, 1].
    """
    counts = [int(c) for c in class_counts]
    k = check_patch_size(context)
    n_factors, n_classes = len(counts), max(counts)
    paper = build_lsgh_net(counts, name="paper_body", **body)

    inputs = keras.Input((k, k, n_factors), dtype="int32", name=INPUT_NAME)
    x = layers.Reshape((k * k * n_factors,), name="window_rows")(inputs)
    x = OneHotFactors(counts * (k * k), name="one_hot")(x)  # (k²·F, K, 1), pixel-major
    x = layers.Reshape((k, k, n_factors * n_classes), name="window_image")(x)
    x = layers.DepthwiseConv2D(k, padding="valid", use_bias=False, name=MIX_LAYER)(x)
    x = layers.Reshape((n_factors, n_classes, 1), name="factor_image")(x)
    for layer in paper.layers:
        if not isinstance(layer, keras.layers.InputLayer | OneHotFactors):
            x = layer(x)
    model = keras.Model(inputs, x, name=name)
    centre = np.zeros((k, k, n_factors * n_classes, 1), dtype="float32")
    centre[k // 2, k // 2] = 1.0
    model.get_layer(MIX_LAYER).set_weights([centre])
    return model


class ContextNet(KerasEstimator):
    """LSGH-Net on the ``context × context`` neighbourhood of each pixel (``lsgh-ctx``).

    Takes the :class:`~lsgh_ee.model.keras_estimators.KerasEstimator` parameters (the
    paper's training settings) and ``context``, the odd window side in pixels (default 3;
    ``fit`` and ``predict`` take ``(N, context, context, F)`` class codes, 0 = nodata).
    """

    variant = "lsgh-ctx"
    input_kind = "patches"
    uses_soft_samples = True
    scse = True

    def __init__(self, class_counts: Sequence[int], *, context: int = 3, **params: Any):
        self.context = check_patch_size(context)
        super().__init__(class_counts, **params)

    @classmethod
    def param_names(cls) -> list[str]:
        return ["context", *KerasEstimator.param_names()]

    def build(self) -> keras.Model:
        """A new, untrained network with this estimator's parameters."""
        try:
            return build_context_net(
                self.class_counts,
                self.context,
                scse=self.scse,
                dropout=self.dropout,
                filters=self.filters,
                reduction=self.reduction,
                bn_momentum=self.bn_momentum,
                name="lsgh_net_lsgh_ctx",
            )
        except ValueError as exc:
            raise LsghError(f"invalid {self.variant} model parameters: {exc}") from exc

    def _check_inputs(self, inputs: Any) -> np.ndarray:
        """Neighbourhoods as int32 ``(N, k, k, F)``, every window pixel checked as class
        codes are."""
        array = np.asarray(inputs)
        k, n_factors = self.context, len(self.class_counts)
        if array.ndim != 4 or array.shape[1:] != (k, k, n_factors):
            raise LsghError(
                f"the {self.variant} model takes {k} x {k} neighbourhoods of class codes, "
                f"shape (samples, {k}, {k}, {n_factors}), but got shape {array.shape}; pass "
                "samples.inputs('patches', stack, context) (lsgh_ee.sampling.patches)"
            )
        flat = check_codes(array.reshape(-1, n_factors), self.class_counts, self.factor_names)
        return flat.reshape(array.shape)

    def _load_model(self, path: Path) -> None:
        model = load_keras_model(path)
        shape = tuple(model.inputs[0].shape)
        want = (None, self.context, self.context, len(self.class_counts))
        if shape != want:
            raise LsghError(
                f"{path} takes input {shape} but its schema says {want}; the bundle is "
                "inconsistent, retrain or restore it"
            )
        self.model_ = model
