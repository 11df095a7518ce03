"""The susceptibility models: one-hot factor encoding, LSGH-Net and its variants, the random
forest baseline, model bundles and the checks that apply them safely.

=======================  ==================================================  ===========
module                   holds                                               TensorFlow
=======================  ==================================================  ===========
``schema``               bundle factor checks, break reconciliation,         no
                         which variants Vertex AI can host
``variants``             variant name → estimator class, ``make_model``      no
``base``                 ``ModelEstimator``: parameters, saving, loading     no
``bundle``               ``save_bundle`` / ``load_bundle`` / ``update_bundle``  no (loading
                                                                             a network: yes)
``forest``               ``RandomForest`` (rf)                               no
``raw_forest``           ``RawForest`` (rf-raw: factor values, the           no
                         reference every change is compared with)
``encoding``, ``layers``  ``OneHotFactors``, scSE layers (Keras 3 public API)  yes
``network``              ``build_lsgh_net``, ``HEAD_LAYERS``                 yes
``keras_estimators``     LSGH-Net, its ablation and the CNN baseline         yes
``callbacks``            epoch timing, validation AUC                        yes
``finetune``             ``fine_tune_start``                                 on use
``savedmodel``           the SavedModel Vertex AI serves                     on use
=======================  ==================================================  ===========

Importing this package (or :mod:`lsgh_ee.model.schema`) does not import TensorFlow: the
names below are imported on first use, and the Keras ones start TensorFlow quietly first
(:func:`~lsgh_ee.model.runtime.start_tensorflow`) and register the custom Keras layers
(``lsgh_ee>OneHotFactors``, ``lsgh_ee>ChannelSE``, ``lsgh_ee>SpatialSE``,
``lsgh_ee>SCSE``), so saved ``.keras`` files then also load with plain
``keras.saving.load_model``.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module, for the names that need no TensorFlow
_LIGHT = {
    "bundle_factors": "lsgh_ee.model.schema",
    "check_schema": "lsgh_ee.model.schema",
    "check_hostable": "lsgh_ee.model.schema",
    "HOSTABLE_VARIANTS": "lsgh_ee.model.schema",
    "make_model": "lsgh_ee.model.variants",
    "ModelEstimator": "lsgh_ee.model.base",
    "load_bundle": "lsgh_ee.model.bundle",
    "save_bundle": "lsgh_ee.model.bundle",
    "update_bundle": "lsgh_ee.model.bundle",
    "fine_tune_start": "lsgh_ee.model.finetune",
}
# name -> module, for the Keras names (TensorFlow starts on first use)
_KERAS = {
    "OneHotFactors": "lsgh_ee.model.encoding",
    "SCSE": "lsgh_ee.model.layers",
    "ChannelSE": "lsgh_ee.model.layers",
    "SpatialSE": "lsgh_ee.model.layers",
    "build_lsgh_net": "lsgh_ee.model.network",
    "HEAD_LAYERS": "lsgh_ee.model.network",
}

__all__ = sorted([*_LIGHT, *_KERAS, "VARIANTS"])


def __getattr__(name: str) -> Any:
    if name in _LIGHT:
        value = getattr(importlib.import_module(_LIGHT[name]), name)
    elif name in _KERAS:
        from lsgh_ee.model.runtime import start_tensorflow

        start_tensorflow()
        importlib.import_module("lsgh_ee.model.keras_estimators")  # registers every layer
        value = getattr(importlib.import_module(_KERAS[name]), name)
    elif name == "VARIANTS":  # variant name -> estimator class (imports them all)
        from lsgh_ee.model.variants import variant_classes

        value = variant_classes()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
