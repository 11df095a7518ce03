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
import sys
import types
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

#: Stage functions named like a subpackage: ``lsgh_ee.report`` is the stage (``lg.report``),
#: the ``lsgh_ee/report/`` package is reached by ``from lsgh_ee.report... import``.
_STAGE_OVER_PACKAGE = frozenset({"report"})


class _Package(types.ModuleType):
    """The ``lsgh_ee`` module: importing a subpackage binds it as an attribute of its
    parent, which would hide the stage function of the same name after the first use
    (``lg.report(config)`` would then fail with "'module' object is not callable"). Those
    bindings are skipped; the subpackage stays in ``sys.modules``, where ``from ...
    import`` finds it (attribute chains such as ``mock.patch("lsgh_ee.report.html.x")``
    do not)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _STAGE_OVER_PACKAGE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    stages = importlib.import_module(_STAGES)
    if name in stages.__all__:
        return getattr(stages, name)
    raise AttributeError(f"module 'lsgh_ee' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *importlib.import_module(_STAGES).__all__])
