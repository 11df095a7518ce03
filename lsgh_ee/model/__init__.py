"""The susceptibility models: one-hot factor encoding, LSGH-Net and its variants, the random
forest baseline, and model bundles.

Importing this package registers the custom Keras layers (``lsgh_ee>OneHotFactors``,
``lsgh_ee>ChannelSE``, ``lsgh_ee>SpatialSE``, ``lsgh_ee>SCSE``), so saved ``.keras``
files also load with plain ``keras.saving.load_model``.
"""

from lsgh_ee.model.bundle import check_schema, load_bundle, save_bundle, update_bundle
from lsgh_ee.model.encoding import OneHotFactors
from lsgh_ee.model.estimators import VARIANTS, ModelEstimator, make_model
from lsgh_ee.model.layers import SCSE, ChannelSE, SpatialSE
from lsgh_ee.model.network import build_lsgh_net

__all__ = [
    "SCSE",
    "VARIANTS",
    "ChannelSE",
    "ModelEstimator",
    "OneHotFactors",
    "SpatialSE",
    "build_lsgh_net",
    "check_schema",
    "load_bundle",
    "make_model",
    "save_bundle",
    "update_bundle",
]
