"""The whole pipeline in order, as a library function (what ``lsgh-ee run`` does)."""

from __future__ import annotations

import logging
import os

from lsgh_ee.errors import LsghError
from lsgh_ee.stages.evaluate import evaluate
from lsgh_ee.stages.factors import export_factors
from lsgh_ee.stages.predict import predict
from lsgh_ee.stages.progress import Progress
from lsgh_ee.stages.report import preview, report
from lsgh_ee.stages.runner import ConfigLike, StageResult, as_config
from lsgh_ee.stages.sample import sample
from lsgh_ee.stages.train import train
from lsgh_ee.stages.zone import zone

log = logging.getLogger(__name__)


def run_all(
    config: ConfigLike,
    *,
    models: list[str] | None = None,
    run_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    force: bool = False,
    on_progress: Progress | None = None,
) -> list[StageResult]:
    """Every stage but ``export-model`` and ``upload``: factors (local), samples, the
    models, evaluation, maps, zoning, the preview of one model and the report. Stages
    whose inputs did not change are skipped, so a re-run after a crash resumes.

    Args:
        models: variants to train and map (default: the config's ``training.models``).
        epochs: override ``training.epochs``.
        on_progress: told about each factor, epoch, map window and finished stage.

    Returns:
        The stage results in the order they ran (``report`` last).

    Example::

        import lsgh_ee as lg
        results = lg.run_all(lg.load_config("region.yaml"))
    """
    config = as_config(config)
    show = on_progress or Progress()
    models = list(models or config.training.models)
    results: list[StageResult] = []

    def done(result: StageResult) -> StageResult:
        results.append(result)
        show.stage_done(result)
        return result

    done(export_factors(config, run_dir=run_dir, force=force, progress=show.factor,
                        task_progress=show.task))  # fmt: skip
    done(sample(config, run_dir=run_dir, force=force))
    for variant in models:
        done(train(config, variant, run_dir=run_dir, epochs=epochs, force=force,
                   on_epoch=lambda e, logs, v=variant: show.epoch(v, e, logs)))  # fmt: skip
    done(evaluate(config, run_dir=run_dir, force=force))
    for variant in models:
        done(predict(config, variant, run_dir=run_dir, force=force,
                     progress=lambda d, t, v=variant: show.mapping(v, d, t)))  # fmt: skip
    done(zone(config, run_dir=run_dir, force=force))
    shown = "lsgh" if "lsgh" in models else models[-1]
    try:
        done(preview(config, shown, run_dir=run_dir, force=force))
    except LsghError as exc:  # the map preview is optional: the report still gets written
        log.warning("preview skipped: %s", exc)
        show.notice(f"preview skipped: {exc}")
    done(report(config, run_dir=run_dir, force=force))
    return results
