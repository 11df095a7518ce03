"""Study ``compare-cv``: an ablation across cross-validation runs — did a change (more
factors, another training setting, other soft samples) make a model better?

Each run is a run folder that ``lsgh-ee cv`` has written (its ``cv/``), for example one
config per setting, each with its own ``output.dir``. Because every run cut the same folds
(same inventory, ``sampling.block_size`` and seed, checked fold by fold through the digest of
each fold's test landslides in ``cv.json``), the difference of a model's AUC between two
runs can be paired fold by fold, which removes the fold-to-fold variation that dominates
small inventories; the interval is the same t-interval as ``cv``'s own paired differences
(:func:`lsgh_ee.evaluation.crossval.compare_runs`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lsgh_ee.atomic import write_text
from lsgh_ee.errors import LsghError
from lsgh_ee.runfolder import RunFolder
from lsgh_ee.stages.runner import StageResult

#: What must be equal in two ``cv.json`` for their folds to be the same.
FOLD_KEYS = ("kind", "folds", "repeats", "block_size", "buffer")


def cv_folder(path: str | os.PathLike) -> Path:
    """The ``cv/`` folder of ``path``: a run folder, its ``cv/`` or a ``cv.json``."""
    path = Path(path)
    if path.name == RunFolder.CV_JSON:
        candidates = [path.parent]
    else:
        candidates = [path, path / RunFolder.CV_DIR]
    for folder in candidates:
        if (folder / RunFolder.CV_JSON).is_file() and (folder / RunFolder.CV_FOLDS_CSV).is_file():
            return folder
    raise LsghError(
        f"{path} holds no cross-validation results (cv/cv.json and cv/folds.csv); run "
        "'lsgh-ee cv CONFIG' for it first, or pass the run folder that has them"
    )


def _label_and_folder(spec: str | os.PathLike) -> tuple[str, Path]:
    """The label and the ``cv/`` folder of ``LABEL=PATH`` or ``PATH`` (labelled by the run
    folder's name)."""
    text = str(spec)
    if "=" in text and not Path(text).exists():
        label, _, path = text.partition("=")
        return label, cv_folder(path)
    folder = cv_folder(text)
    return folder.parent.name, folder


def check_same_folds(base: dict, other: dict, names: tuple[str, str]) -> None:
    """Raise unless ``other``'s ``cv.json`` cut the same folds as ``base``'s."""
    for key in FOLD_KEYS:
        if base.get(key) != other.get(key):
            raise LsghError(
                f"{names[1]} and {names[0]} were cross-validated differently ({key}: "
                f"{other.get(key)!r} vs {base.get(key)!r}); re-run 'lsgh-ee cv' with the same "
                "--folds, --repeats, --kind, --buffer and sampling.block_size"
            )
    for a, b in zip(base.get("fold_details", []), other.get("fold_details", []), strict=False):
        same = (a.get("test_landslides") == b.get("test_landslides")
                if "test_landslides" in a and "test_landslides" in b
                else a.get("landslides") == b.get("landslides"))  # fmt: skip
        if not same:
            raise LsghError(
                f"fold {a.get('fold')} of {names[1]} tests other landslides than in "
                f"{names[0]}: the runs need the same inventory, AOI, sampling.block_size and "
                "sampling.seed for a fold-by-fold comparison"
            )


def same_test_samples(base: dict, other: dict) -> bool | None:
    """Whether two ``cv.json`` scored on the same test samples, fold by fold (None when
    either was written before ``cv`` recorded them)."""
    pairs = list(zip(base.get("fold_details", []), other.get("fold_details", []), strict=False))
    if not pairs or any("test_samples" not in a or "test_samples" not in b for a, b in pairs):
        return None
    return all(a["test_samples"] == b["test_samples"] for a, b in pairs)


def compare_cv(
    base: str | os.PathLike,
    others: list[str | os.PathLike],
    *,
    models: list[str] | None = None,
    versus: str | None = None,
    out: str | os.PathLike | None = None,
) -> StageResult:
    """Compare cross-validation runs with a base run, fold by fold (see the module doc).

    Args:
        base: the base run (a run folder, its ``cv/`` or ``cv.json``; ``LABEL=PATH`` names
            it in the table).
        others: the runs compared with it, in the same forms.
        models: the models compared (default: every model of each run that the base run
            also has).
        versus: compare every model of the other runs with this one model of the base run
            (e.g. ``rf-raw``: "does the new lsgh beat the old reference?").
        out: a Markdown file to write the table to (a CSV of the same name next to it).

    Returns:
        A :class:`StageResult` named ``compare-cv`` whose summary holds ``rows`` (the table
        as records) and ``markdown``.
    """
    import time

    import pandas as pd

    from lsgh_ee.evaluation import crossval as cvs

    start = time.perf_counter()
    if not others:
        raise LsghError("compare-cv needs a base run and at least one run to compare with it")
    base_label, base_folder = _label_and_folder(base)
    base_json = json.loads((base_folder / RunFolder.CV_JSON).read_text())
    base_folds = pd.read_csv(base_folder / RunFolder.CV_FOLDS_CSV)
    frames, pairs_seen, same_test = {}, [], {}
    for spec in others:
        label, folder = _label_and_folder(spec)
        other_json = json.loads((folder / RunFolder.CV_JSON).read_text())
        check_same_folds(base_json, other_json, (base_label, label))
        same_test[label] = same_test_samples(base_json, other_json)
        if label in frames or label == base_label:
            label = f"{label} ({folder.parent})"
        frames[label] = pd.read_csv(folder / RunFolder.CV_FOLDS_CSV)
        run_models = list(dict.fromkeys(frames[label].model))
        for model in models or run_models:
            if model not in run_models:
                raise LsghError(f"{label} has no cross-validated model {model!r} "
                                f"(it has {', '.join(run_models)})")  # fmt: skip
            pair = (model, versus or model)
            if pair not in pairs_seen:
                pairs_seen.append(pair)
    base_models = set(base_folds.model)
    missing = sorted({b for _, b in pairs_seen} - base_models)
    if versus is not None and versus not in base_models or (models and missing):
        raise LsghError(
            f"the base run {base_label} has no cross-validated model "
            f"{versus if versus is not None else ', '.join(missing)} (it has "
            f"{', '.join(dict.fromkeys(base_folds.model))})"
        )
    correction = cvs.correction_for(int(base_json["folds"]), int(base_json["repeats"]))
    table = cvs.compare_runs(base_folds, frames, pairs_seen, correction)
    table["same_test_samples"] = table["run"].map(same_test)
    markdown = cvs.comparison_markdown(table, base_label)
    differ = [label for label, same in same_test.items() if same is False]
    if differ:
        markdown += (
            f"\nThe test samples of {', '.join(differ)} differ from {base_label}'s (e.g. another "
            "heatmap diameter moves the negatives' exclusion zones, or other factors another "
            "nodata mask): those differences mix the model with the test set; compare models "
            "within one run, or against a known truth (AUC vs truth), instead.\n"
        )
    outputs: list[Path] = []
    if out is not None:
        out = Path(out)
        write_text(out, markdown)
        write_text(out.with_suffix(".csv"), table.round(6).to_csv(index=False))
        outputs = [out, out.with_suffix(".csv")]
    summary = {"base": base_label, "rows": json.loads(table.to_json(orient="records")),
               "markdown": markdown}  # fmt: skip
    return StageResult("compare-cv", base_folder.parent, outputs, False,
                       time.perf_counter() - start, summary)  # fmt: skip
