"""The ``lsgh-ee`` command line: thin typer commands over :mod:`lsgh_ee.stages` and the
region tools, in the style of rasterio's ``rio``.

========================  ===========================================================
module                    commands
========================  ===========================================================
:mod:`.core`              the application, ``--verbose``/``--version``, the error rule
:mod:`.options`           options shared by several commands
:mod:`.display`           stage results and live progress
:mod:`.pipeline`          export-factors, sample, train, evaluate, predict, zone,
                          report, run, demo
:mod:`.publish`           preview, upload, export-model
:mod:`.regions`           init, check
:mod:`.studies`           scale-study, transfer-eval
========================  ===========================================================
"""

from lsgh_ee.cli import pipeline, publish, regions, studies  # noqa: F401  (registers commands)
from lsgh_ee.cli.core import app, user_errors

__all__ = ["app", "user_errors"]
