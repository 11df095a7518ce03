"""The run report: one self-contained HTML page (figures embedded) gathering the config,
the factor report, Table 4, the zoning tables, the cross-validation study (when ``cv/``
holds one), every figure and the run's timings."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from pathlib import Path

import pandas as pd

from lsgh_ee import __version__
from lsgh_ee.atomic import write_text
from lsgh_ee.config import RegionConfig
from lsgh_ee.evaluation import THRESHOLD_METRICS as _PERCENT
from lsgh_ee.evaluation.crossval import format_ci
from lsgh_ee.runfolder import RunFolder

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:0}h2{border-bottom:2px solid #b5542b;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3ece7}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em}
.muted{color:#666}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}
"""


def _img(path: Path, alt: str) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, percent: tuple[str, ...] = (), digits: int = 4) -> str:
    shown = frame.copy()
    for col in shown.columns:
        if col in percent:
            shown[col] = shown[col].map(lambda v: "–" if pd.isna(v) else f"{v:.2%}")
        elif pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "–" if pd.isna(v) else f"{v:.{digits}f}")
    return shown.to_html(border=0, escape=True)


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_report(config: RegionConfig, run: Path) -> Path:
    """Write ``report.html`` into the run folder and return its path."""
    folder = RunFolder(run)
    manifest = _json(folder.manifest).get("stages", {})
    parts = [
        f"<h1>Landslide susceptibility — {html.escape(config.name)}</h1>",
        f'<p class="muted">lsgh-ee {__version__}, LSGH-Net (Xiong et al. 2022). Run folder '
        f"<code>{html.escape(str(run))}</code>; report written "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
    ]
    if folder.preview.exists():
        link = html.escape(RunFolder.PREVIEW_HTML)
        parts.append(f'<p><a href="{link}">Open the interactive map preview</a></p>')
    parts += _region_section(manifest)
    parts += _factor_section(folder)
    parts += _evaluation_section(folder, manifest)
    parts += _zoning_section(folder)
    parts += _cv_section(config, folder)
    parts += _timings_section(manifest)
    source = config.source_file.read_text(encoding="utf-8") if config.source_file else ""
    parts.append(f"<h2>Region config</h2><pre>{html.escape(source)}</pre>")
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>lsgh-ee — "
            f"{html.escape(config.name)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>")  # fmt: skip
    path = folder.report
    write_text(path, page)
    return path


def _region_section(manifest: dict) -> list[str]:
    notes = manifest.get("export-factors", {}).get("notes", {})
    if not notes:
        return []
    grid, inv = notes["grid"], notes["inventory"]
    res = grid["transform"][0]
    out = [
        "<h2>Region</h2>",
        f"<p>Grid {grid['width']} × {grid['height']} pixels of {res:g} m in "
        f"{html.escape(grid['crs'])}; factors: {', '.join(notes['factors'])}.</p>",
        f"<p>Inventory: {inv['kept']} landslides kept of {inv['read']} read "
        f"({inv['outside_aoi']} outside the AOI, {inv['repaired']} repaired, "
        f"{inv['unrepairable'] + inv['empty_geometries']} dropped as empty or unrepairable).</p>",
    ]
    samples = manifest.get("sample", {}).get("notes", {})
    if samples:
        counts = pd.DataFrame(samples["counts"]).fillna(0).astype(int)
        out.append(f"<p>Samples ({html.escape(samples['split'])} split):</p>" + _table(counts))
    return out


def _factor_section(run: RunFolder) -> list[str]:
    out = ["<h2>Factors</h2>", _img(run / run.FACTOR_REPORT_PNG, "factor report")]
    importance = run / run.IMPORTANCE_CSV
    if importance.exists():
        out.append(_table(pd.read_csv(importance, index_col="factor"), digits=4))
    return out


def _evaluation_section(run: RunFolder, manifest: dict) -> list[str]:
    table4 = run.table4_csv
    if not table4.exists():
        return []
    frame = pd.read_csv(table4, index_col="model").rename(columns={"mse": "mse (Brier)"})
    out = [
        "<h2>Model comparison (Table 4)</h2>",
        "<p>Every model scored on the same held-out hard samples; threshold 0.5.</p>",
        _table(frame, percent=_PERCENT),
        '<div class="grid">'
        + _img(run / run.PR_CURVES_PNG, "PR curves")
        + _img(run / run.ROC_CURVES_PNG, "ROC curves")
        + "</div>",
    ]
    out += _calibration_part(run)
    truth = _json(run.evaluation).get("truth")
    if truth:
        out.append("<p>Agreement with the reference susceptibility (every valid pixel): "
                   "expected AUC for landslides drawn from the reference, and Spearman's "
                   "rank correlation.</p>" + _table(pd.DataFrame(truth).T))  # fmt: skip
    rows = {k.split(":", 1)[1]: v["notes"] for k, v in manifest.items() if k.startswith("train:")}
    if rows:
        frame = pd.DataFrame(rows).T[["training_samples", "soft_samples", "epochs_run", "seconds"]]
        out.append("<p>Training:</p>" + _table(frame, digits=1))
    return out


def _calibration_part(run: RunFolder) -> list[str]:
    """The reliability diagram, each model's calibration and the metrics at its Youden
    threshold (written by ``evaluate``)."""
    youden = run / run.YOUDEN_CSV
    if not youden.exists():
        return []
    out = [
        "<h3>Calibration</h3>",
        "<p>A model is calibrated when, among the pixels it scores about <i>p</i>, a share "
        "<i>p</i> are landslides: its dots lie on the diagonal of the reliability diagram. "
        "A model can rank pixels well (high AUC) and still be badly calibrated; then the "
        "0.5-threshold metrics above and the equal-interval tables describe its calibration, "
        "not its ranking. <code>training.calibration</code> (platt or isotonic, fitted on "
        "the validation samples) corrects it without changing the ranking; the Brier score "
        "(Table 4's MSE) falls when it helps. Below: each model at the threshold maximising "
        "Youden's J (sensitivity + specificity − 1) on its validation samples.</p>",
        _img(run / run.RELIABILITY_PNG, "reliability diagram"),
    ]
    calibration = _json(run.evaluation).get("calibration")
    if calibration:
        columns = ["method", "fitted_on", "brier", "ece", "threshold"]
        out.append(_table(pd.DataFrame(calibration).T.reindex(columns=columns).infer_objects()))
    frame = pd.read_csv(youden, index_col="model")
    out.append("<p>Metrics at the Youden threshold:</p>" + _table(frame, percent=_PERCENT))
    return out


def _zoning_section(run: RunFolder) -> list[str]:
    zoning = _json(run.zoning)
    if not zoning:
        return []
    share = pd.DataFrame({m: {"high + very high: area": z["high_very_high_area_share"],
                              "high + very high: landslides": z["high_very_high_landslide_share"],
                              "success-rate AUC": z["success_auc"]}
                          for m, z in zoning.items()}).T  # fmt: skip
    out = [
        "<h2>Susceptibility maps</h2>",
        _table(share, percent=("high + very high: area", "high + very high: landslides")),
        '<div class="grid">'
        + _img(run / run.HISTOGRAM_PNG, "histogram")
        + _img(run / run.DENSITY_PNG, "density")
        + "</div>",
        _img(run / run.SUCCESS_PNG, "success rate"),
    ]
    for model in zoning:
        folder = run.map_dir(model)
        out.append(f"<h3>{html.escape(model)}</h3>" + _img(folder / run.MAP_PNG, model))
        intervals = pd.read_csv(folder / run.INTERVALS_CSV, index_col="interval")
        out.append("<p>Equal intervals (the paper's Tables 5 and 6):</p>" + _table(
            intervals, percent=("area_share", "landslide_share")))  # fmt: skip
        zones = pd.read_csv(folder / run.ZONES_CSV, index_col="zone")
        out.append("<p>Jenks zones:</p>" + _table(zones, percent=("area_share", "landslide_share")))
    return out


def _timings_section(manifest: dict) -> list[str]:
    if not manifest:
        return []
    frame = pd.DataFrame(
        {
            name: {"seconds": rec.get("seconds"), "started": rec.get("started")}
            for name, rec in manifest.items()
        }  # fmt: skip
    ).T
    return ["<h2>Timings</h2>", _table(frame, digits=2)]


_SPLIT_NOTES = {
    "random": "the paper's 7:3 random pixel split (kept for comparability). A random pixel "
    "split is optimistic under spatial autocorrelation: neighbouring, alike pixels fall on "
    "both sides, and the training soft samples around a test landslide are labelled by "
    "their distance to it, so Table 4 overstates how the models do on new ground.",
    "spatial": "a spatial split of whole blocks: the training heatmap, soft samples and "
    "negatives' exclusion zones come from the training landslides only, and the test "
    "negatives are drawn by the configured rule from the test landslides only.",
    "temporal": "a temporal split at a cutoff year: the training heatmap, soft samples and "
    "negatives' exclusion zones come from the earlier landslides only, and the test set is "
    "the later landslides with negatives drawn from their own rule.",
}


def _cv_section(config: RegionConfig, run: RunFolder) -> list[str]:
    """Which numbers come from which split, and the cross-validation study of ``cv/``
    (table with 95% intervals, paired differences, per-fold AUC, the fold rule)."""
    study = _json(run.cv_file(run.CV_JSON))
    if not study and not run.table4_csv.exists():
        return []
    recorded = _json(run.manifest).get("stages", {}).get("sample", {}).get("notes", {})
    split = recorded.get("split") or config.sampling.split  # the split Table 4 was drawn with
    out = ["<h2>Cross-validation</h2>" if study else "<h2>Which split the numbers come from</h2>"]
    notes = []
    if run.table4_csv.exists():
        notes.append(f"<b>Table 4</b> comes from the single split named in the config "
                     f"(<code>sampling.split: {html.escape(split)}</code>): "
                     + html.escape(_SPLIT_NOTES[split]))  # fmt: skip
    if not study:
        notes.append("No cross-validation run: <code>lsgh-ee cv CONFIG</code> gives "
                     "blocked folds with 95% intervals.")  # fmt: skip
        return out + [f"<p>{n}</p>" for n in notes]
    notes.append("<b>The table below</b> comes from the " + html.escape(_fold_rule(study))
                 + ". Per fold, everything that learns from landslides (heatmap, soft "
                 "samples, negatives' exclusion zones, early-stopping set) sees the "
                 "training landslides only; the test set is hard samples drawn in the test "
                 "fold from its own landslides. Intervals: "
                 + html.escape(str(study.get("interval", ""))) + ".")  # fmt: skip
    out += [f"<p>{n}</p>" for n in notes]
    table = run.cv_file(run.CV_TABLE_CSV)
    if table.exists():
        out.append("<p>Mean and 95% interval over the folds:</p>"
                   + _table(_intervals(pd.read_csv(table, index_col="model"), "mean")))  # fmt: skip
    pairs = run.cv_file(run.CV_PAIRS_CSV)
    if pairs.exists() and pd.read_csv(pairs).shape[0]:
        frame = pd.read_csv(pairs)
        frame.index = [f"{a} − {b}" for a, b in zip(frame.model_a, frame.model_b, strict=True)]
        frame = _intervals(frame.drop(columns=["model_a", "model_b"]), "diff", "Δ")
        out.append("<p>Paired differences (fold by fold; an interval excluding 0 is a "
                   "difference the folds support):</p>" + _table(frame))  # fmt: skip
    out.append(_img(run.cv_file(run.CV_AUC_PNG), "per-fold AUC"))
    details = study.get("fold_details") or []
    if details:
        rows = {f"r{d['repeat']} f{d['fold']}": {
            "test landslides": d["landslides"]["test"],
            "training landslides": d["landslides"]["fit"] + d["landslides"]["validation"],
            "test samples": d["samples"]["test"],
            **({"test years": "–".join(map(str, d["test_years"]))} if "test_years" in d else {}),
            **({"breaks recomputed": ", ".join(d["breaks_recomputed"]) or "none"}
               if "breaks_recomputed" in d else {}),
        } for d in details}  # fmt: skip
        out.append("<p>Folds:</p>" + _table(pd.DataFrame(rows).T))
    return out


def _fold_rule(study: dict) -> str:
    k, kind = study.get("folds"), study.get("kind", "spatial")
    if kind == "temporal":
        return (
            f"{k}-fold temporal cross-validation: folds of consecutive years balanced by "
            "landslide count, each tested once while the other years train"
        )
    repeats = study.get("repeats", 1)
    rule = (f"{k}-fold spatially blocked cross-validation"
            + (f", {repeats} repeats" if repeats > 1 else "")
            + f": folds of whole blocks of {study.get('block_size', 0):g} m balanced by "
            "landslide count, largest block first to the fold with fewest")  # fmt: skip
    buffer = study.get("buffer") or 0
    return rule + (f", {buffer:g} m of training ground left out around each test fold"
                   if buffer else "")  # fmt: skip


def _intervals(frame: pd.DataFrame, centre: str, prefix: str = "") -> pd.DataFrame:
    """Columns ``<score>_<centre>``, ``<score>_low``, ``<score>_high`` shown as one column
    ``<prefix><SCORE> (95% CI)`` (:func:`~lsgh_ee.evaluation.crossval.format_ci`); other
    columns kept."""
    shown = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        score = col[: -len(centre) - 1]
        if col.endswith(f"_{centre}") and f"{score}_low" in frame:
            shown[f"{prefix}{score.upper()} (95% CI)"] = [
                format_ci(m, lo, hi) for m, lo, hi in
                zip(frame[col], frame[f"{score}_low"], frame[f"{score}_high"], strict=True)
            ]  # fmt: skip
        elif not col.endswith(("_low", "_high")):
            shown[col] = frame[col]
    return shown
