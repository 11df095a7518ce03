"""Taking the method to a new region: check a config and its inputs, write a starting
config for a bounding box, apply a model whose class breaks differ from the region's, and
score models trained in one region on another (``transfer-eval``).

Rule for class breaks that differ between a model and a region (see ``docs/transfer.md``):
a model's input is class codes, so a region is always classified with the MODEL's breaks
before the model sees it. :func:`reclassify_for_model` re-classifies the region's factor
values (``factors.tif``) with the breaks recorded in the model bundle whenever a continuous
or distance factor's breaks differ; values below the model's first break fall in class 1
and values above its last break in the top class (what
:func:`~lsgh_ee.factors.classify.classify_breaks` does), so a region whose values reach
beyond the training region's range still gets a map. Categorical factors have no such
rule: their class lists must match exactly, or applying the model is an error.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lsgh_ee.errors import LsghError

log = logging.getLogger(__name__)

#: LSGH-Net layers trained when fine-tuning (``train --init-from``): the head convolution
#: and everything after it; the one-hot encoding and the convolutional blocks are frozen.
HEAD_LAYERS = (
    "head_conv",
    "head_bn",
    "head_relu",
    "head_scse",
    "flatten",
    "dropout",
    "susceptibility",
)
TRANSFER_DIR = "transfer"


# --- check ---------------------------------------------------------------------------------


@dataclass
class CheckReport:
    """What ``lsgh-ee check`` found: table rows (item, source, status, CRS, notes), the
    grid, notices and the one-line errors (empty when the config is usable)."""

    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    grid: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def table(self) -> str:
        """The rows as an aligned plain-text table."""
        header = ("item", "source", "status", "CRS", "notes")
        rows = [header, *self.rows]
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _crs_text(crs: Any) -> str:
    if crs is None:
        return "none"
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.name


def _short(path: Path | None, base: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return os.path.relpath(path, base) if base is not None else str(path)
    except ValueError:
        return str(path)


def check_config(path: str | os.PathLike) -> CheckReport:
    """Validate a config and open every input it names, without computing anything.

    Reuses the readers of the pipeline (config loading, the region grid, factor
    resolution, raster / vector / inventory readers), so a config that passes here fails
    in export-factors only on problems that need the computation itself.
    """
    from lsgh_ee.config import load_config
    from lsgh_ee.factors.resolve import resolve_factors
    from lsgh_ee.region import Region

    report = CheckReport()
    try:
        config = load_config(path)
    except LsghError as exc:
        report.errors.append(str(exc))
        return report
    base = config.source_file.parent if config.source_file else None
    report.rows.append(("config", _short(config.source_file, None), "ok", "-", config.name))
    try:
        region = Region.from_config(config)
    except LsghError as exc:
        report.errors.append(str(exc))
        return report
    grid = region.grid
    report.grid = {
        "crs": _crs_text(grid.crs),
        "resolution": grid.resolution,
        "shape": list(grid.shape),
        "aoi_pixels": int(region.aoi_mask.sum()),
    }
    report.rows.append(
        (
            "grid",
            "aoi bbox" if config.aoi.bbox else _short(config.aoi.file, base),
            "ok",
            report.grid["crs"],
            f"{grid.resolution:g} m, {grid.height} x {grid.width} pixels",
        )
    )

    uses_ee = (config.dem is not None and config.dem.source == "ee") or any(
        spec is not None and spec.source == "ee" for spec in config.factors.values()
    )
    backend = "ee" if uses_ee else "local"
    if uses_ee:
        from lsgh_ee.earthengine.session import require_credentials

        try:
            found = require_credentials()
            report.rows.append(
                (
                    "earth engine",
                    str(found),
                    "credentials found",
                    "-",
                    "sources with source: ee are computed there",
                )
            )
        except LsghError as exc:
            report.rows.append(("earth engine", "-", "NO CREDENTIALS", "-", "needed"))
            report.errors.append(str(exc))
    try:
        factors = resolve_factors(config, backend)
    except LsghError as exc:
        report.errors.append(str(exc))
        factors = []
    used = {f.name for f in factors}
    for name in config.factors:
        if name not in used:
            report.rows.append((name, "-", "left out", "-", "no source in this config"))
            report.notices.append(f"factor {name} has no source; it will be left out")

    dem_checked = False
    for factor in factors:
        spec = factor.spec
        how = f"{factor.kind}, " + (
            f"classify: {spec.classify}"
            if spec.classify != "table2"
            else f"{len(factor.breaks) + 1} classes"
            if factor.breaks
            else f"{len(factor.classes)} classes"
            if factor.classes
            else "classes from data"
        )
        if factor.recipe == "terrain":
            if config.dem is not None and config.dem.source == "ee":
                asset = config.dem.ee_asset or "USGS/SRTMGL1_003"
                report.rows.append((factor.name, f"ee:{asset}", "earth engine", "-", how))
                continue
            if not dem_checked:
                _check_raster(report, "dem", config.dem.path, grid, region, base, "elevation")
                dem_checked = True
            report.rows.append((factor.name, "from dem", "ok", "-", how))
            continue
        if spec.source == "ee":
            years = f", years {spec.years}" if spec.years else ""
            report.rows.append((factor.name, "ee", "earth engine", "-", how + years))
            continue
        if factor.recipe == "ndvi" and spec.path is None:
            for band, p in (("red", spec.red), ("nir", spec.nir)):
                _check_raster(report, f"{factor.name}.{band}", p, grid, region, base, how)
        elif factor.recipe in ("ndvi", "raster"):
            _check_raster(
                report,
                factor.name,
                spec.path,
                grid,
                region,
                base,
                how,
                categorical=factor.kind == "categorical",
                band=spec.band,
            )
        else:
            _check_vector(
                report,
                factor.name,
                spec.path,
                spec.layer,
                grid,
                base,
                how,
                attribute=spec.attribute if factor.recipe == "polygons" else None,
            )
    _check_inventory(report, config, region, base)
    return report


def _check_raster(
    report: CheckReport,
    item: str,
    path: Path | None,
    grid,
    region,
    base,
    notes: str,
    *,
    categorical: bool = False,
    band: int = 1,
) -> None:
    from lsgh_ee.rasters import open_raster, read_onto_grid

    shown = _short(path, base)
    try:
        with open_raster(path) as src:
            crs = _crs_text(src.crs)
        values = read_onto_grid(path, grid, categorical=categorical, band=band)
    except LsghError as exc:
        report.rows.append((item, shown, "ERROR", "-", notes))
        report.errors.append(str(exc))
        return
    share = float(np.isfinite(values)[region.aoi_mask].mean()) if region.aoi_mask.any() else 0.0
    report.rows.append((item, shown, "ok", crs, f"{notes}; data on {share:.1%} of the AOI"))
    if share < 0.99:
        report.notices.append(f"{item}: {shown} has nodata on {1 - share:.1%} of the AOI")


def _check_vector(
    report: CheckReport,
    item: str,
    path: Path | None,
    layer,
    grid,
    base,
    notes: str,
    *,
    attribute: str | None = None,
) -> None:
    from shapely.geometry import box

    from lsgh_ee.vectors import read_vector, to_grid_crs

    shown = _short(path, base)
    try:
        frame = read_vector(path, layer=layer, what=f"{item} layer")
        if attribute is not None and attribute not in frame.columns:
            cols = ", ".join(c for c in frame.columns if c != "geometry")
            raise LsghError(
                f"'factors.{item}.attribute' is {attribute!r} but {path} has only: {cols}"
            )
    except LsghError as exc:
        report.rows.append((item, shown, "ERROR", "-", notes))
        report.errors.append(str(exc))
        return
    frame = frame[frame.geometry.notna()]
    near = int(to_grid_crs(frame, grid).intersects(box(*grid.bounds)).sum())
    report.rows.append(
        (
            item,
            shown,
            "ok",
            _crs_text(frame.crs),
            f"{notes}; {len(frame)} features, {near} over the region",
        )
    )
    if near == 0 and attribute is not None:
        report.errors.append(
            f"{item} layer {path} has no feature over the region; check its extent and CRS"
        )


def _check_inventory(report: CheckReport, config, region, base) -> None:
    from lsgh_ee.inventory import check_rows, read_inventory

    shown = _short(config.inventory.path, base)
    try:
        inventory = read_inventory(config.inventory, region)
    except LsghError as exc:
        report.rows.append(("inventory", shown, "ERROR", "-", ""))
        report.errors.append(str(exc))
        return
    r = inventory.report
    report.rows += check_rows(inventory, lambda p: _short(p, base))  # one per source (+ merged)
    if r.kept < 10:
        report.notices.append(
            f"only {r.kept} landslides inside the AOI: too few to train a "
            "model from scratch; consider 'train --init-from'"
        )


# --- init ----------------------------------------------------------------------------------

_WORLDCOVER_REMAP = (
    "{10: woodland, 20: shrubland, 30: grassland, 40: arable, 50: impervious, "
    "60: barren, 70: barren, 80: water, 90: wetland, 95: wetland, "
    "100: grassland}"
)


def init_region(
    region_dir: str | os.PathLike,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    aoi: str | os.PathLike | None = None,
    inventory: str | os.PathLike | None = None,
    name: str | None = None,
    resolution: float = 30.0,
    force: bool = False,
    today: _dt.date | None = None,
) -> list[Path]:
    """Write ``region.yaml`` (Earth Engine sources) and ``region-local.yaml`` (local files,
    placeholders with comments) into ``region_dir`` for a bounding box or an AOI file.

    Returns:
        the two files written.

    Raises:
        LsghError: neither or both of bbox / aoi, a bad bbox, an unreadable AOI file, or a
            file that exists already (without ``force``).
    """
    from lsgh_ee.grid import utm_crs_for

    folder = Path(region_dir)
    if (bbox is None) == (aoi is None):
        raise LsghError("give exactly one of --bbox W S E N or --aoi FILE")
    if bbox is not None:
        w, s, e, n = bbox
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise LsghError(f"--bbox must be W S E N in degrees with W < E and S < N, got {bbox}")
        lon, lat = (w + e) / 2, (s + n) / 2
        aoi_yaml = f"  bbox: [{w:g}, {s:g}, {e:g}, {n:g}]   # west, south, east, north (degrees)"
    else:
        from lsgh_ee.vectors import read_vector

        frame = read_vector(aoi, what="AOI file").to_crs("EPSG:4326")
        if frame.empty:
            raise LsghError(f"AOI file {aoi} has no features; draw the AOI")
        w, s, e, n = frame.total_bounds
        lon, lat = (w + e) / 2, (s + n) / 2
        aoi_yaml = f"  file: {_rel(Path(aoi), folder)}"
    utm = utm_crs_for(lon, lat)
    zone = utm.utm_zone
    name = name or re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.resolve().name).strip("-") or "region"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise LsghError(f"--name {name!r} must be letters, digits, '_', '-' or '.'")
    if inventory is not None:
        if not Path(inventory).exists():
            raise LsghError(f"inventory {inventory} does not exist; pass the landslide file")
        from lsgh_ee.inventory import detect_coordinate_columns

        found = detect_coordinate_columns(inventory)  # a table's x / y (or wkt) and crs
        inv_yaml = "\n".join([f"  path: {_rel(Path(inventory), folder)}",
                              *(f"  {k}: {v}" for k, v in found.items())])  # fmt: skip
    else:
        inv_yaml = (
            "  path: landslides.gpkg   # TODO: your landslide polygons or points "
            "(any GDAL vector format, any CRS)"
        )
    year = (today or _dt.date.today()).year
    years = [year - 2, year - 1]
    head = _HEAD.format(
        name=name,
        aoi=aoi_yaml,
        epsg=utm.to_epsg(),
        zone=zone,
        lat=lat,
        lon=lon,
        resolution=resolution,
        inventory=inv_yaml,
    )
    files = {
        folder / "region.yaml": head + _EE_FACTORS.format(years=years, name=name),
        folder / "region-local.yaml": head.replace(f"name: {name}\n", f"name: {name}-local\n", 1)
        + _LOCAL_FACTORS.format(remap=_WORLDCOVER_REMAP, name=name),
    }
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        raise LsghError(f"{', '.join(existing)} exists; pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    from lsgh_ee.atomic import write_text

    for path, text in files.items():
        write_text(path, text)
    return list(files)


def _rel(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path.resolve().as_posix()


_HEAD = """\
# Region config written by 'lsgh-ee init'. Check it with 'lsgh-ee check <this file>'.
# Paths are relative to this file. Reference: README.md ("A region config"), docs/transfer.md.
name: {name}
aoi:
{aoi}
# centre {lat:.4f} N, {lon:.4f} E lies in UTM zone {zone} (EPSG:{epsg}); 'auto' picks it
crs: auto
resolution: {resolution:g}            # metres
inventory:
{inventory}
  date_attribute: null     # e.g. year: needed for sampling.split: temporal
"""

_EE_FACTORS = """\
# Earth Engine sources (source: ee) need credentials: 'earthengine authenticate'.
dem:
  source: ee
  ee_asset: USGS/SRTMGL1_003   # SRTM 30 m; e.g. COPERNICUS/DEM/GLO30 elsewhere
terrain:
  method: zevenbergen_thorne   # what ee.Terrain uses
  tpi_radius: 500
  relief_radius: 500
factors:
  slope: {{source: ee}}
  aspect: {{source: ee}}
  curvature: {{source: ee}}
  slope_position: {{source: ee}}
  ndvi: {{source: ee, years: {years}}}   # Landsat 8/9 surface reflectance composite
  land_use: {{source: ee}}                 # ESA WorldCover 10 m, remapped to the 8 classes
  distance_to_rivers: {{source: ee}}       # HydroSHEDS rivers
  distance_to_roads: null    # no global road layer in Earth Engine: {{path: roads.gpkg}} (OSM)
  lithology: null            # no global geology in Earth Engine:
                             # {{path: geology.gpkg, attribute: unit}}
heatmap:
  diameter: 13               # pixels (the paper's scales: 7, 13, 19)
sampling:
  split: random              # or spatial: whole blocks held out (less optimistic scores)
training:
  models: [rf, cnn, lsgh-noscse, lsgh]
output:
  dir: runs/{name}
"""

_LOCAL_FACTORS = """\
# Local files: put each file beside this config (or change the path). Each must cover the
# AOI; any CRS (rasters are reprojected onto the grid, vectors transformed).
dem:
  path: dem.tif              # TODO: elevation GeoTIFF in metres covering the AOI plus ~1 km
                             # (SRTM / Copernicus GLO-30, or a national DEM)
terrain:
  method: horn               # gdaldem's / ArcGIS's slope stencil
  tpi_radius: 500
  relief_radius: 500
factors:
  slope: {{}}                  # slope, aspect, curvature, slope position come from the DEM
  aspect: {{}}
  curvature: {{}}
  slope_position: {{}}
  ndvi: {{red: red.tif, nir: nir.tif}}   # TODO: red and near-infrared reflectance GeoTIFFs
                                       # (Landsat 8 B4/B5, Sentinel-2 B4/B8); or {{path: ndvi.tif}}
  land_use:
    path: landcover.tif      # TODO: land-cover GeoTIFF; the remap below is ESA WorldCover's codes
    remap: {remap}
  distance_to_roads: {{path: roads.gpkg}}     # TODO: road lines (e.g. OpenStreetMap)
  distance_to_rivers: {{path: rivers.gpkg}}   # TODO: river lines (e.g. HydroRIVERS, OSM)
  lithology: {{path: geology.gpkg, attribute: unit}}   # TODO: geology polygons;
                             # 'unit' = the column holding each polygon's class
heatmap:
  diameter: 13
sampling:
  split: random
training:
  models: [rf, cnn, lsgh-noscse, lsgh]
output:
  dir: runs/{name}-local
"""


# --- breaks that differ between a model and a region ---------------------------------------


def reclassify_for_model(
    bundle_schema: dict, factor_schema: dict, run: Path
) -> tuple[np.ndarray | None, dict, list[str]]:
    """Class codes of a region under a model's class breaks (see the module docstring).

    For every continuous or distance factor present in both with the same kind and units
    whose breaks differ, the region's values (``factors.tif``) are re-classified with the
    model's breaks. Categorical factors, and anything else that differs, are left for
    :func:`~lsgh_ee.model.check_schema` to report.

    Returns:
        (the re-classified ``(F, rows, cols)`` uint8 stack, or None when nothing differs;
        the region's factor schema with those factors' breaks and classes replaced by the
        model's; one notice per re-classified factor).
    """
    from lsgh_ee.factors.classify import classify_breaks
    from lsgh_ee.model.bundle import _same_numbers, bundle_factors

    model = {f["name"]: f for f in bundle_factors(bundle_schema)}
    region = factor_schema["factors"]
    changed: dict[int, dict] = {}
    for i, have in enumerate(region):
        want = model.get(have["name"])
        if (
            want is None
            or have.get("kind") not in ("continuous", "distance")
            or want["kind"] != have.get("kind")
            or not want["breaks"]
            or (want["units"] and have.get("units") and want["units"] != have["units"])
        ):
            continue
        if not _same_numbers(want["breaks"], [float(b) for b in have.get("breaks", [])]):
            changed[i] = want
    if not changed:
        return None, factor_schema, []
    from lsgh_ee.factors.stack import CODES_TIF, FACTORS_TIF
    from lsgh_ee.rasters import read_stack

    values, _, _ = read_stack(run / FACTORS_TIF)
    codes, _, _ = read_stack(run / CODES_TIF)
    factors = [dict(f) for f in region]
    notes = []
    for i, want in changed.items():
        codes[i] = classify_breaks(values[i].astype("float64"), want["breaks"])
        band = values[i][np.isfinite(values[i])]
        below = float((band < want["breaks"][0]).mean()) if band.size else 0.0
        above = float((band >= want["breaks"][-1]).mean()) if band.size else 0.0
        note = (
            f"{want['name']}: re-classified with the model's breaks "
            f"{want['breaks']} instead of this region's {region[i].get('breaks')} "
            f"({below:.1%} of pixels below the first break -> class 1, {above:.1%} at or "
            f"above the last -> class {len(want['breaks']) + 1})"
        )
        log.warning("%s", note)
        notes.append(note)
        factors[i].update(
            breaks=list(want["breaks"]), classes=list(want["classes"]), n_classes=want["n_classes"]
        )
    return codes, {**factor_schema, "factors": factors}, notes


@contextmanager
def model_class_codes(
    bundle_schema: dict, factor_schema: dict, run: Path
) -> Iterator[tuple[Path, dict, list[str]]]:
    """``class_codes.tif`` of ``run``, or a temporary class-code stack re-classified with
    the model's breaks (removed on exit): ``(path, adjusted factor schema, notices)``."""
    import tempfile

    from lsgh_ee.factors.stack import CODES_TIF
    from lsgh_ee.rasters import read_stack, write_geotiff

    codes, schema, notes = reclassify_for_model(bundle_schema, factor_schema, run)
    if codes is None:
        yield run / CODES_TIF, schema, notes
        return
    _, grid, _ = read_stack(run / CODES_TIF)
    names = [f["name"] for f in schema["factors"]]
    with tempfile.TemporaryDirectory(dir=run, prefix=".model-breaks-") as tmp:
        path = write_geotiff(
            Path(tmp) / CODES_TIF, codes, grid, nodata=0, descriptions=names, overviews=False
        )
        yield path, schema, notes


# --- fine-tuning ---------------------------------------------------------------------------


def fine_tune_start(bundle: str | os.PathLike, variant: str, factor_schema: dict):
    """The estimator of a bundle and the ``fit`` arguments that fine-tune it on a new
    region: start from its weights, train only :data:`HEAD_LAYERS` (``train --init-from``).

    Raises:
        LsghError: the bundle holds another variant, or its factor schema does not match
            the region's (:func:`~lsgh_ee.model.check_schema`: the class codes must mean
            the same in both regions, so the breaks must match too).
    """
    from lsgh_ee.model import check_schema, load_bundle

    model, schema = load_bundle(bundle)
    if schema.get("variant") != variant:
        raise LsghError(
            f"the bundle in {bundle} holds a {schema.get('variant')} model; pass "
            f"--model {schema.get('variant')} to fine-tune it"
        )
    try:
        check_schema(schema, factor_schema)
    except LsghError as exc:
        raise LsghError(
            f"cannot fine-tune {bundle} on this region: {exc} (for fine-tuning, give this "
            "region the model's breaks: classify: table2 with the same 'breaks')"
        ) from None
    return model, {"init_weights": model.model_.get_weights(), "train_only": HEAD_LAYERS}


# --- transfer-eval -------------------------------------------------------------------------


def transfer_eval(
    train_config: Any,
    test_config: Any,
    *,
    models: list[str] | None = None,
    epochs: int | None = None,
    force: bool = False,
):
    """Train every variant on region A's samples (running A's stages as needed) and score
    it on region B: all of B's hard samples (both splits) and B's inventory.

    Writes ``<A run>/transfer/<A>_to_<B>/table.csv`` / ``table.md`` (AUC, AP, success-rate
    AUC, share of area and of landslides in the high + very-high Jenks zones, and the
    threshold metrics), ``zones_<model>.csv`` and ``success_rate.png``.
    """
    from lsgh_ee import pipeline
    from lsgh_ee.factors.stack import SCHEMA_JSON

    cfg_a, cfg_b = pipeline.as_config(train_config), pipeline.as_config(test_config)
    models = list(models or cfg_a.training.models)
    from lsgh_ee.config import MODEL_VARIANTS

    unknown = [m for m in models if m not in MODEL_VARIANTS]
    if unknown:
        raise LsghError(f"unknown model(s) {unknown}; choose from {', '.join(MODEL_VARIANTS)}")
    if cfg_a.run_dir.resolve() == cfg_b.run_dir.resolve():
        raise LsghError("the two configs share one run folder (output.dir); give each its own")
    run_a, run_b = cfg_a.run_dir, cfg_b.run_dir
    pipeline.export_factors(cfg_a, force=force)
    pipeline.sample(cfg_a, force=force)
    for variant in models:
        pipeline.train(cfg_a, variant, epochs=epochs, force=force)
    pipeline.export_factors(cfg_b, force=force)
    pipeline.sample(cfg_b, force=force)
    folder = run_a / TRANSFER_DIR / f"{cfg_a.name}_to_{cfg_b.name}"
    inputs = [
        run_b / "factors.tif",
        run_b / SCHEMA_JSON,
        run_b / pipeline.SAMPLES_GPKG,
        cfg_b.inventory.path,
        *(run_a / pipeline.MODELS_DIR / m / "schema.json" for m in models),
    ]
    params = {"models": models, "test_run": str(run_b), "seed": cfg_b.sampling.seed}

    def work() -> tuple[list[Path], dict]:
        return _transfer_work(cfg_a, cfg_b, models, folder)

    return pipeline._run_stage(f"transfer:{cfg_b.name}", run_a, params, inputs, work, force)


def _transfer_work(cfg_a, cfg_b, models: list[str], folder: Path) -> tuple[list[Path], dict]:
    import pandas as pd

    from lsgh_ee.atomic import write_text
    from lsgh_ee.evaluation import ModelScores, binary_metrics
    from lsgh_ee.factors.stack import SCHEMA_JSON, FactorStack
    from lsgh_ee.inventory import read_inventory
    from lsgh_ee.mapping import predict_codes
    from lsgh_ee.model import check_schema, load_bundle
    from lsgh_ee.pipeline import MODELS_DIR, SAMPLES_GPKG
    from lsgh_ee.region import Region
    from lsgh_ee.report import figures
    from lsgh_ee.sampling import Samples
    from lsgh_ee.zoning import jenks_breaks, success_rate_curve, zone, zone_table

    run_a, run_b = cfg_a.run_dir, cfg_b.run_dir
    factor_schema = json.loads((run_b / SCHEMA_JSON).read_text(encoding="utf-8"))
    stack = FactorStack.read(run_b)
    samples = Samples.read_gpkg(run_b / SAMPLES_GPKG)
    hard = samples.subset(samples.kind != "soft")
    inventory = read_inventory(cfg_b.inventory, Region.from_config(cfg_b))
    landslides = inventory.mask(stack.grid, "polygon")
    rows, curves, notes = {}, {}, {}
    outputs: list[Path] = []
    for variant in models:
        model, schema = load_bundle(run_a / MODELS_DIR / variant)
        codes, adjusted, notices = reclassify_for_model(schema, factor_schema, run_b)
        check_schema(schema, adjusted)
        codes = stack.codes if codes is None else codes
        scores = ModelScores(variant, hard.label, model.predict(codes[:, hard.rows, hard.cols].T))
        flat = codes.reshape(codes.shape[0], -1).T
        index = predict_codes(model, flat, np.asarray(schema["class_counts"]))
        index = index.reshape(stack.grid.shape)
        curve = success_rate_curve(index, landslides)
        breaks, _ = jenks_breaks(index, seed=cfg_b.sampling.seed)
        zones = zone_table(zone(index, breaks), landslides)
        write_text(folder / f"zones_{variant}.csv", zones.round(6).to_csv())
        outputs.append(folder / f"zones_{variant}.csv")
        high = zones.loc[["high", "very high"]]
        metrics = binary_metrics(scores.y_true, scores.y_score)
        rows[variant] = {
            "auc": metrics["auc"],
            "ap": metrics["ap"],
            "success_auc": curve[2],
            "high_vh_area_share": float(high["area_share"].sum()),
            "high_vh_landslide_share": float(high["landslide_share"].sum()),
            **{k: v for k, v in metrics.items() if k not in ("auc", "ap")},
        }
        curves[variant] = curve
        if notices:
            notes[variant] = notices
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    write_text(folder / "table.csv", table.round(6).to_csv())
    write_text(folder / "table.md", _markdown(table, cfg_a.name, cfg_b.name, len(hard)))
    outputs += [
        folder / "table.csv",
        folder / "table.md",
        figures.success_figure(curves, folder / "success_rate.png"),
    ]
    summary = {
        "train": cfg_a.name,
        "test": cfg_b.name,
        "test_samples": len(hard),
        "test_landslides": len(inventory),
        "folder": str(folder),
        "table": json.loads(table.to_json(orient="index")),
        "reclassified": notes,
    }
    write_text(folder / "transfer.json", json.dumps(summary, indent=2))
    outputs.append(folder / "transfer.json")
    return outputs, summary


def _markdown(table, train: str, test: str, n: int) -> str:
    head = (
        f"Trained on {train}, tested on {test} ({n} hard samples, every split; "
        "success rate and zones on the whole region)\n\n"
    )
    cols = ["AUC", "AP", "Success-rate AUC", "High+VH area", "High+VH landslides", "Accuracy", "F1"]
    lines = ["| Model | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for model, r in table.iterrows():
        cells = [
            f"{r['auc']:.4f}",
            f"{r['ap']:.4f}",
            f"{r['success_auc']:.4f}",
            f"{r['high_vh_area_share']:.1%}",
            f"{r['high_vh_landslide_share']:.1%}",
            f"{r['accuracy']:.1%}",
            f"{r['f1']:.1%}",
        ]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"
