"""The susceptibility models: one-hot factor encoding, LSGH-Net and its variants, the random
forest baseline, and model bundles.

Importing this package registers the custom Keras layers (``lsgh_ee>OneHotFactors``,
``lsgh_ee>ChannelSE``, ``lsgh_ee>SpatialSE``, ``lsgh_ee>SCSE``), so saved ``.keras``
files also load with plain ``keras.saving.load_model``.
"""

from lsgh_ee.model.runtime import start_tensorflow

start_tensorflow()

from lsgh_ee.model.bundle import check_schema, load_bundle, save_bundle, update_bundle  # noqa: E402
from lsgh_ee.model.encoding import OneHotFactors  # noqa: E402
from lsgh_ee.model.estimators import VARIANTS, ModelEstimator, make_model  # noqa: E402
from lsgh_ee.model.layers import SCSE, ChannelSE, SpatialSE  # noqa: E402
from lsgh_ee.model.network import build_lsgh_net  # noqa: E402

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
