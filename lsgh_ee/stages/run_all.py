"""The whole pipeline in order, as a library function (what ``lsgh-ee run`` does)."""

from __future__ import annotations

import logging
import os
from typing import Literal

from lsgh_ee.errors import LsghError
from lsgh_ee.stages.evaluate import evaluate
from lsgh_ee.stages.factors import export_factors
from lsgh_ee.stages.native import sample_in_ee, zone_in_ee
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
    backend: Literal["local", "ee"] = "local",
    endpoint: str | None = None,
) -> list[StageResult]:
    """Every stage but ``export-model`` and ``upload``: factors (local), samples, the
    models, evaluation, maps, zoning, the preview of one model and the report. Stages
    whose inputs did not change are skipped, so a re-run after a crash resumes.

    Args:
        models: variants to train and map (default: the config's ``training.models``).
        epochs: override ``training.epochs``.
        on_progress: told about each factor, epoch, map window and finished stage.
        backend: ``ee`` runs Earth Engine-native (see :func:`run_in_earth_engine`):
            nothing proportional to the region's pixels is downloaded.
        endpoint: the Vertex AI endpoint serving the network (``backend="ee"``).

    Returns:
        The stage results in the order they ran (``report`` last).

    Example::

        import lsgh_ee as lg
        results = lg.run_all(lg.load_config("region.yaml"))
    """
    config = as_config(config)
    show = on_progress or Progress()
    models = list(models or config.training.models)
    if backend == "ee":
        return run_in_earth_engine(config, models=models, run_dir=run_dir, epochs=epochs,
                                   force=force, show=show, endpoint=endpoint)  # fmt: skip
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


def run_in_earth_engine(
    config: ConfigLike,
    *,
    models: list[str],
    run_dir: str | os.PathLike | None,
    epochs: int | None,
    force: bool,
    show: Progress,
    endpoint: str | None,
) -> list[StageResult]:
    """The Earth Engine-native run: samples drawn in Earth Engine (only the table comes
    back), the models trained and evaluated here (Table 4 from the test samples, as in a
    local run), the network's map predicted in Earth Engine by the model on ``endpoint``
    into an asset, zoning statistics by Earth Engine reductions, and the report.

    Without ``endpoint`` the run stops after exporting the network as a SavedModel (a
    notice says how to deploy it); run again with the endpoint to continue.
    """
    from lsgh_ee.model.variants import hostable_variants
    from lsgh_ee.stages.publish import export_model

    config = as_config(config)
    results: list[StageResult] = []

    def done(result: StageResult) -> StageResult:
        results.append(result)
        show.stage_done(result)
        return result

    hosted = [m for m in models if m in hostable_variants()]
    if not hosted:
        raise LsghError(
            f"the Earth Engine-native run maps with a hosted network, but training.models "
            f"is {models}; add 'lsgh' (or another network)"
        )
    done(sample_in_ee(config, run_dir=run_dir, force=force))
    for variant in models:
        done(train(config, variant, run_dir=run_dir, epochs=epochs, force=force,
                   on_epoch=lambda e, logs, v=variant: show.epoch(v, e, logs)))  # fmt: skip
    done(evaluate(config, run_dir=run_dir, force=force))
    shown = "lsgh" if "lsgh" in hosted else hosted[0]
    if endpoint is None:
        folder = export_model(config, shown, run_dir=run_dir)
        message = (
            f"the {shown} network is exported to {folder}; deploy it on a Vertex AI endpoint "
            "(see 'lsgh-ee export-model --help') and run again with --endpoint to map it"
        )
        log.warning("%s", message)
        show.notice(message)
        return results
    done(predict(config, shown, run_dir=run_dir, force=force, backend="ee",
                 endpoint=endpoint, to_asset=True))  # fmt: skip
    done(zone_in_ee(config, run_dir=run_dir, force=force))
    done(report(config, run_dir=run_dir, force=force))
    return results
