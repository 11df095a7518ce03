"""lsgh-ee: landslide susceptibility mapping with Gaussian-heatmap samples (LSGH-Net).

The stages are a library, as the command line runs them::

    import lsgh_ee as lg

    config = lg.load_config("region.yaml")
    lg.run_all(config)                      # every stage, or one at a time:
    lg.export_factors(config); lg.sample(config); lg.train(config, "lsgh")

The package is importable without Earth Engine credentials or a GPU; heavy parts
(TensorFlow, the ``ee`` client) are imported only by the stages that use them, and the
names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from lsgh_ee.errors import LsghError

__version__ = "0.1.0"

_ELSEWHERE = {
    "load_config": "lsgh_ee.config",
    "RegionConfig": "lsgh_ee.config",
    "RunFolder": "lsgh_ee.runfolder",
}
_STAGES = "lsgh_ee.stages"  # every name of its __all__: the stages, run_all, the studies

__all__ = ["LsghError", "__version__", *_ELSEWHERE]


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    stages = importlib.import_module(_STAGES)
    if name in stages.__all__:
        return getattr(stages, name)
    raise AttributeError(f"module 'lsgh_ee' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *importlib.import_module(_STAGES).__all__])
