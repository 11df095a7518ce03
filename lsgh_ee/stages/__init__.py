"""The pipeline's stages as a library: each reads and writes files in the run folder and
records itself in the run's manifest (see :mod:`lsgh_ee.stages.runner`).

===================  ====================================================================
stage                function
===================  ====================================================================
export-factors       :func:`export_factors`
sample               :func:`sample`
train                :func:`train`
evaluate             :func:`evaluate`
predict              :func:`predict` (``backend="ee"``: the hosted model in Earth Engine)
zone                 :func:`zone`
preview, report      :func:`preview`, :func:`report`
upload, export-model :func:`upload`, :func:`export_model`
all of them          :func:`run_all`
studies              :func:`cv`, :func:`compare_cv`, :func:`scale_study`,
                     :func:`transfer_eval`
===================  ====================================================================

Importing this package imports neither TensorFlow nor Earth Engine; the stages that need
them import them when they run.
"""

from lsgh_ee.stages.compare_cv import compare_cv
from lsgh_ee.stages.cv import cv
from lsgh_ee.stages.evaluate import evaluate
from lsgh_ee.stages.factors import export_factors
from lsgh_ee.stages.predict import mapped_models, predict
from lsgh_ee.stages.progress import Progress
from lsgh_ee.stages.publish import export_model, upload
from lsgh_ee.stages.report import preview, report
from lsgh_ee.stages.run_all import run_all
from lsgh_ee.stages.runner import StageResult, as_config
from lsgh_ee.stages.sample import sample
from lsgh_ee.stages.scale_study import scale_study
from lsgh_ee.stages.train import train, trained_models
from lsgh_ee.stages.transfer_eval import transfer_eval
from lsgh_ee.stages.zone import zone

__all__ = [
    "Progress",
    "StageResult",
    "as_config",
    "compare_cv",
    "cv",
    "evaluate",
    "export_factors",
    "export_model",
    "mapped_models",
    "predict",
    "preview",
    "report",
    "run_all",
    "sample",
    "scale_study",
    "train",
    "trained_models",
    "transfer_eval",
    "upload",
    "zone",
]
