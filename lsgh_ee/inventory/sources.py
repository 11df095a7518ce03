"""Opening one inventory source: vector files, tables, archives, KML/KMZ, layers.

What is read, by file name:

* ``.csv``, ``.tsv``, ``.txt``: delimited text (the delimiter is detected: comma,
  semicolon, tab, pipe), every column as text;
* ``.xlsx``, ``.ods``: spreadsheets, through GDAL (one sheet = one layer);
* ``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``: archives, read in place through GDAL's
  ``/vsizip/`` and ``/vsitar/``; the one dataset inside (shapefile, GeoPackage, GeoJSON,
  KML, CSV, ...) is read, or the member ``inventory.layer`` names;
* ``.kml``, ``.kmz``: every folder (layer) of placemarks, merged, heights dropped;
* anything else GDAL reads as a vector file; a file with several layers needs
  ``inventory.layer``.

A dataset without geometry (a table, a spreadsheet, a layer of attributes only) becomes
points from its coordinate columns (:mod:`lsgh_ee.inventory.coordinates`).
"""

from __future__ import annotations

import csv
import io
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from lsgh_ee.errors import LsghError

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
#: Dataset files looked for inside an archive (a shapefile brings its sidecars along).
DATASET_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".gml", ".fgb", ".sqlite",
                    ".csv", ".tsv", ".xlsx", ".ods")  # fmt: skip
_KML = (".kml", ".kmz")


def read_source_frame(path: Path, layer: str | None, what: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """The features of one source as read: a GeoDataFrame when the data has geometry,
    else a DataFrame of attributes (to be turned into points by their coordinates).

    Raises:
        LsghError: a missing or unreadable file, an unknown layer or archive member, or
            several layers / datasets and no ``inventory.layer`` to choose one.
    """
    if not path.exists():
        raise LsghError(f"{what} does not exist; check the path in the config")
    name = path.name.lower()
    if name.endswith(TEXT_SUFFIXES):
        return read_text_table(path.read_bytes(), what)
    if name.endswith(".zip"):
        return _read_archive(path, "/vsizip/", _zip_members(path), layer, what)
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        return _read_archive(path, "/vsitar/", _tar_members(path), layer, what)
    return _read_gdal(str(path), layer, what, kml=name.endswith(_KML))


def read_text_table(data: bytes, what: str) -> pd.DataFrame:
    """A delimited text table, every column as text (empty cells missing).

    Raises:
        LsghError: the text cannot be decoded or parsed as a table.
    """
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly anything
        raise LsghError(f"{what} is not text in UTF-8 or Windows-1252; save it as UTF-8 CSV")
    sample = "\n".join(text.splitlines()[:20])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            na_values=[""], skipinitialspace=True)  # fmt: skip
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise LsghError(f"{what} cannot be read as a table: {first}; save it as CSV") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except zipfile.BadZipFile as exc:
        raise LsghError(f"inventory {path} is not a readable zip archive; re-create it") from exc


def _tar_members(path: Path) -> list[str]:
    try:
        with tarfile.open(path) as archive:
            return [m.name for m in archive.getmembers() if m.isfile()]
    except tarfile.TarError as exc:
        raise LsghError(f"inventory {path} is not a readable tar archive; re-create it") from exc


def _read_archive(
    path: Path, prefix: str, members: list[str], layer: str | None, what: str
) -> gpd.GeoDataFrame | pd.DataFrame:
    datasets = [
        m
        for m in members
        if m.lower().endswith(DATASET_SUFFIXES)
        and not any(p.startswith((".", "__MACOSX")) for p in PurePosixPath(m).parts)
    ]
    chosen = [m for m in datasets if layer in (m, PurePosixPath(m).name, PurePosixPath(m).stem)]
    inner_layer = None if chosen else layer
    if not chosen:
        if not datasets:
            raise LsghError(
                f"{what} holds no vector dataset or table (it has: "
                f"{', '.join(members[:6]) or 'nothing'}); zip the shapefile's .shp, .shx, "
                ".dbf and .prj, or the GeoPackage / CSV itself"
            )
        if len(datasets) > 1:
            names = ", ".join(PurePosixPath(m).stem for m in datasets)
            raise LsghError(
                f"{what} holds several datasets ({names}); set inventory.layer to the one to read"
            )
        chosen = datasets
    member = chosen[0]
    if member.lower().endswith((".csv", ".tsv")):
        return read_text_table(_member_bytes(path, member), f"{what} ({member})")
    return _read_gdal(f"{prefix}{path}/{member}", inner_layer, f"{what} ({member})",
                      kml=member.lower().endswith(_KML))  # fmt: skip


def _member_bytes(path: Path, member: str) -> bytes:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    with tarfile.open(path) as archive:
        handle = archive.extractfile(member)
        assert handle is not None  # members are regular files
        return handle.read()


def _read_gdal(
    source: str, layer: str | None, what: str, *, kml: bool
) -> gpd.GeoDataFrame | pd.DataFrame:
    try:
        layers = [(str(n), g) for n, g in pyogrio.list_layers(source)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise LsghError(
            f"{what} cannot be read: {_first_line(exc)}; check the file is a vector format "
            "GDAL reads (GeoPackage, Shapefile, GeoJSON, KML, CSV, ...)"
        ) from exc
    names = [n for n, _ in layers]
    if layer is not None and layer not in names:
        raise LsghError(
            f"{what} has no layer '{layer}' (inventory.layer); its layers are: {', '.join(names)}"
        )
    spatial = [n for n, g in layers if g is not None]
    if layer is not None:
        chosen = [layer]
    elif kml and spatial:
        chosen = spatial  # Google Earth folders: one inventory
    elif len(spatial) > 1 or (not spatial and len(layers) > 1):
        listed = ", ".join(spatial or names)
        raise LsghError(
            f"{what} holds several layers ({listed}); set inventory.layer to the one to read"
        )
    else:
        chosen = spatial or names[:1]
    frames = []
    for name in chosen:
        try:
            frames.append(gpd.read_file(source, layer=name))
        except Exception as exc:
            raise LsghError(
                f"{what} cannot be read: {_first_line(exc)}; check the file is a vector "
                "format GDAL reads (GeoPackage, Shapefile, GeoJSON, KML, CSV, ...)"
            ) from exc
    if len(frames) == 1:
        frame = frames[0]
    else:
        frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    if isinstance(frame, gpd.GeoDataFrame) and kml:
        frame = frame.set_geometry(shapely.force_2d(frame.geometry.values), crs=frame.crs)
    return frame


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
