"""lsgh-ee: landslide susceptibility mapping with Gaussian-heatmap samples (LSGH-Net).

The package is importable without Earth Engine credentials or a GPU; heavy parts
(TensorFlow, the ``ee`` client) are imported only by the stages that use them.
"""

from lsgh_ee.errors import LsghError

__version__ = "0.1.0"
__all__ = ["LsghError", "__version__"]
