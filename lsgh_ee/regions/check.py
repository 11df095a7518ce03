"""``lsgh-ee check``: validate a region config and open every input it names, without
computing anything, and report what will be used (grid, each factor's source, CRS and AOI
coverage, the inventory's count inside the AOI)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lsgh_ee.errors import LsghError


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
    from lsgh_ee.region import MAX_LOCAL_PIXELS, Region

    report = CheckReport()
    try:
        config = load_config(path)
    except LsghError as exc:
        report.errors.append(str(exc))
        return report
    base = config.source_file.parent if config.source_file else None
    report.rows.append(("config", _short(config.source_file, None), "ok", "-", config.name))
    try:
        region = Region.from_config(config, max_pixels=MAX_LOCAL_PIXELS)
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
            f"classify: {factor.classify}"
            if factor.classify != "table2"
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
