"""``lsgh-ee init``: a starting region config for a bounding box or an AOI file.

It writes two configs from the templates (:mod:`lsgh_ee.regions.template`):
``region.yaml`` from ``jiuzhaigou-ee.yaml`` (factor sources in Earth Engine) and
``region-local.yaml`` from ``local-files.yaml`` (local files to fill in), with the region's
name, AOI, UTM zone note, resolution and inventory filled in and the templates' comments
kept.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

from lsgh_ee.errors import LsghError
from lsgh_ee.regions.template import EARTH_ENGINE, LOCAL_FILES, read_template

_HEADER = (
    "# Region config written by 'lsgh-ee init'. Check it with 'lsgh-ee check <this file>'.",
    '# Paths are relative to this file. Reference: README.md ("A region config"), '
    "docs/transfer.md.",
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
        inv_yaml = None  # the template's placeholder
    year = (today or _dt.date.today()).year
    years = [year - 2, year - 1]
    centre = (f"# centre {lat:.4f} N, {lon:.4f} E lies in UTM zone {zone} "
              f"(EPSG:{utm.to_epsg()}); 'auto' picks it")  # fmt: skip
    files = {
        folder / "region.yaml": _fill(
            EARTH_ENGINE, name, aoi_yaml, centre, resolution, inv_yaml, years
        ),
        folder / "region-local.yaml": _fill(
            LOCAL_FILES, f"{name}-local", aoi_yaml, centre, resolution, inv_yaml, years
        ),
    }
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        raise LsghError(f"{', '.join(existing)} exists; pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    from lsgh_ee.atomic import write_text

    for path, text in files.items():
        write_text(path, text)
    return list(files)


def _fill(
    template: str,
    name: str,
    aoi_line: str,
    centre: str,
    resolution: float,
    inventory_line: str | None,
    years: list[int],
) -> str:
    """The text of ``template`` for this region: header, name, AOI, the UTM note above
    ``crs``, resolution, inventory (None: the template's placeholder), the NDVI years of an
    Earth Engine NDVI and the output folder ``runs/<name>``."""
    config = read_template(template).header(_HEADER)
    config.set("name", name, comment=None).replace_line("aoi.bbox", aoi_line)
    config.note_above("crs", [centre]).set("resolution", f"{resolution:g}")
    if inventory_line is not None:
        config.replace_line("inventory.path", inventory_line)
    ndvi = config.value("factors.ndvi")
    if isinstance(ndvi, dict) and "years" in ndvi:
        config.set("factors.ndvi", {**ndvi, "years": years})
    return config.set("output.dir", f"runs/{name}").text()


def _rel(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path.resolve().as_posix()
