"""The stages as a library: ``import lsgh_ee as lg; lg.run_all(lg.load_config(...))`` runs
the pipeline in-process, in order, reporting progress, without the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import edit_config, fast_training, make_region


def test_importing_the_package_starts_neither_tensorflow_nor_earth_engine() -> None:
    code = (
        "import sys, lsgh_ee as lg; lg.run_all; lg.load_config; lg.RunFolder; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'ee') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_run_all_runs_every_stage_in_order_and_reports_progress(tmp_path: Path) -> None:
    import lsgh_ee as lg

    config_path = edit_config(
        make_region(tmp_path / "region"), training=fast_training(epochs=2, patience=1)
    )
    seen: dict[str, list] = {"factor": [], "epoch": [], "mapping": [], "stage": []}

    class Recorder(lg.Progress):
        def factor(self, name: str, index: int, total: int) -> None:
            seen["factor"].append((name, index, total))

        def epoch(self, variant: str, epoch: int, logs: dict) -> None:
            seen["epoch"].append((variant, epoch, sorted(logs)))

        def mapping(self, variant: str, done: int, total: int) -> None:
            seen["mapping"].append((variant, done, total))

        def stage_done(self, result: lg.StageResult) -> None:
            seen["stage"].append(result.stage)

    config = lg.load_config(config_path)
    results = lg.run_all(config, models=["rf", "lsgh"], on_progress=Recorder())

    order = ["export-factors", "sample", "train:rf", "train:lsgh", "evaluate", "predict:rf",
             "predict:lsgh", "zone", "preview", "report"]  # fmt: skip
    assert [r.stage for r in results] == order == seen["stage"]
    assert not any(r.skipped for r in results)
    names = list(config.factors)
    assert [n for n, _, _ in seen["factor"]] == names
    assert {total for _, _, total in seen["factor"]} == {len(names)}
    assert [(v, e) for v, e, _ in seen["epoch"]] == [("lsgh", 0), ("lsgh", 1)]  # rf: none
    assert "loss" in seen["epoch"][0][2]
    assert {v for v, _, _ in seen["mapping"]} == {"rf", "lsgh"}
    assert all(done <= total for _, done, total in seen["mapping"])

    run = lg.RunFolder(config.run_dir)
    table = pd.read_csv(run.table4_csv, index_col=0)
    assert list(table.index) == ["rf", "lsgh"]
    assert run.susceptibility("lsgh").is_file() and run.report.is_file()
    again = lg.run_all(config, models=["rf", "lsgh"])
    assert all(r.skipped for r in again)  # nothing changed: nothing re-runs


def test_a_bundle_records_the_diameter_of_its_samples_not_the_config(
    built_region: Path, tmp_path: Path
) -> None:
    """Editing ``heatmap.diameter`` after ``sample`` does not change the samples, so the
    model trained on them must say the diameter they were drawn with."""
    import json
    import shutil

    import lsgh_ee as lg

    shutil.copytree(built_region.parent, tmp_path / "region")
    config = tmp_path / "region" / "region.yaml"
    edit_config(config, heatmap={"diameter": 9})
    lg.sample(config)
    edit_config(config, heatmap={"diameter": 21})  # edited, and sample not re-run
    lg.train(config, "rf", force=True)
    bundle = lg.RunFolder(lg.load_config(config).run_dir).model_dir("rf")
    assert json.loads((bundle / "schema.json").read_text())["heatmap_diameter"] == 9


def test_lg_report_stays_the_stage_after_the_report_package_is_imported() -> None:
    import importlib

    import lsgh_ee as lg

    html = importlib.import_module("lsgh_ee.report.html")  # what the stage itself imports
    from lsgh_ee.report import preview  # the package is still importable
    from lsgh_ee.stages.report import report

    assert lg.report is report and callable(lg.report)
    assert html.__name__ == "lsgh_ee.report.html"
    assert preview.__name__ == "lsgh_ee.report.preview"
    lg.unrelated_attribute = 1  # other attributes are set as usual
    assert lg.unrelated_attribute == 1
    del lg.unrelated_attribute
