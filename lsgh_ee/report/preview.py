"""Map previews of a run on a geemap (folium) map: in a notebook, or as one HTML page.

Layers, bottom to top: every factor band (off by default), the susceptibility index (on),
the five susceptibility zones (off), the AOI outline and the landslide inventory, with a
layer control, a legend and a selectable basemap. Rasters are reprojected to Web Mercator
with rasterio, coloured with matplotlib and embedded as PNG data URLs
(:mod:`lsgh_ee.report.overlays`), so a saved page needs no tile server and keeps working
after the command ends. Online, the run's maps uploaded to Earth Engine
(``ee_assets.json``, see :mod:`lsgh_ee.report.ee_layers`) are added as Earth Engine tile
layers on top; their tile URLs expire after about a day, so the local overlays stay
underneath and the legend says when the Earth Engine layers were made.

``write_preview(..., self_contained=True)`` also inlines Leaflet's JavaScript and CSS so
the page opens without the internet (only the basemap tiles then stay blank); where
Leaflet comes from is described in :mod:`lsgh_ee.report.offline`.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lsgh_ee.errors import LsghError
from lsgh_ee.report import ee_layers as eel
from lsgh_ee.report.offline import inline_assets
from lsgh_ee.report.overlays import (
    MAX_OVERLAY_SIZE,
    Overlay,
    colour_factor_classes,
    colour_factor_values,
    colour_index,
    render_overlay,
    zone_colouriser,
)
from lsgh_ee.report.style import FACTOR_OPACITY, INDEX_OPACITY, index_palette
from lsgh_ee.report.webmap import new_map
from lsgh_ee.runfolder import RunFolder

if TYPE_CHECKING:
    import geemap.foliumap

    from lsgh_ee.config import RegionConfig

log = logging.getLogger(__name__)

_FIT_MAX_ZOOM = 18
#: Leaflet pane of the local raster overlays: above the basemap tiles (tilePane, z-index
#: 200), below the Earth Engine layers and the vectors (overlayPane, 400).
LOCAL_PANE = "lsgh-local"
LOCAL_PANE_Z = 350


def preview_map(
    run_dir: str | os.PathLike,
    *,
    model: str = "lsgh",
    aoi: Any = None,
    basemap: str | None = "OpenStreetMap",
    ee_layers: Mapping[str, tuple[Any, dict]] | None = None,
    controls: bool = True,
    max_size: int = MAX_OVERLAY_SIZE,
    config: RegionConfig | None = None,
    earth_engine: bool | None = None,
) -> geemap.foliumap.Map:
    """A geemap (folium) map of a run folder, for notebooks.

    Args:
        run_dir: the run folder (with ``maps/<model>/susceptibility.tif``).
        model: the model variant whose map is shown (lsgh, lsgh-noscse, cnn or rf).
        aoi: the area of interest outline: a shapely geometry in the rasters' CRS (e.g.
            ``Region.from_config(config).aoi``) or a GeoSeries / GeoDataFrame with a CRS.
        basemap: ``"OpenStreetMap"``, another geemap basemap name (e.g. ``"SATELLITE"``,
            ``"Esri.WorldShadedRelief"``; any case), or ``None`` / ``"none"`` for none.
        ee_layers: more Earth Engine layers to add on top, ``{name: (ee_object,
            vis_params)}`` (needs an initialised Earth Engine session; their tile URLs
            expire).
        controls: add geemap's draw, fullscreen and search controls (they load plugins
            from the internet).
        max_size: longest side of each embedded raster overlay, in pixels.
        config: the region config, for its Earth Engine settings (project, key_file,
            api_url); without it they come from the environment.
        earth_engine: add the run's uploaded maps (``ee_assets.json``) as Earth Engine
            layers: True (required), False (never) or None (when uploaded and credentials
            are configured; otherwise a logged notice). See :mod:`lsgh_ee.report.ee_layers`.

    Raises:
        LsghError: the run folder has no susceptibility map for ``model``, the basemap
            name is unknown, or Earth Engine layers were required and cannot be made.
    """
    run = Path(run_dir)
    folder = RunFolder(run)
    index_path = _require_map(folder, model)
    # Earth Engine first: a failure (e.g. no credentials) costs no rendering and not even
    # geemap's import, and nothing is half-added.
    online = eel.earth_engine_layers(run, model, config=config, earth_engine=earth_engine)
    if ee_layers:  # the caller's own layers, made now
        uploads = online.uploads if online is not None else None
        layers = [*(online.layers if online is not None else []), *eel.tile_layers(ee_layers)]
        online = eel.EarthEngineLayers(layers, datetime.now(UTC), uploads)
    gmap = new_map(basemap, controls)
    import folium
    from folium.map import CustomPane

    CustomPane(LOCAL_PANE, z_index=LOCAL_PANE_Z).add_to(gmap)
    if online is not None:
        eel.add_pane(gmap)

    if folder.factors.exists():
        _add_factors(gmap, folder, max_size)
    index = render_overlay(index_path, colourise=colour_index, max_size=max_size)
    _add_overlay(gmap, index, f"Susceptibility index ({model})", True, INDEX_OPACITY)
    zones_path = folder.zones(model)
    has_zones = zones_path.exists()
    if has_zones:
        zones = render_overlay(zones_path, colourise=zone_colouriser(zones_path),
                               max_size=max_size, categorical=True)  # fmt: skip
        _add_overlay(gmap, zones, f"Susceptibility zones ({model})", False, INDEX_OPACITY)
    crs = _raster_crs(index_path)
    bounds = index.bounds
    if aoi is not None:
        outline = _to_lonlat(aoi, crs)
        bounds = _frame_bounds(outline)
        _add_vector(gmap, outline, "Area of interest", _AOI_STYLE)
    inventory = _read_inventory(folder)
    if inventory is not None:
        _add_vector(gmap, inventory, f"Landslide inventory ({len(inventory)})", _SLIDE_STYLE)
    for layer in online.layers if online is not None else []:
        layer.add_to(gmap)

    note = online.note_html() if online is not None else ""
    gmap.add_html(_legend_html(model, has_zones, note), position="bottomright")
    folium.LayerControl(collapsed=False, position="topright").add_to(gmap)
    gmap.fit_bounds([list(bounds[0]), list(bounds[1])], max_zoom=_FIT_MAX_ZOOM)
    title = html.escape(f"lsgh-ee preview: {run.name} ({model})")
    title = folium.Element(f"<title>{title}</title>")
    gmap.get_root().header.add_child(title, name="lsgh_title")
    return gmap


def write_preview(
    run_dir: str | os.PathLike,
    out_html: str | os.PathLike,
    *,
    model: str = "lsgh",
    aoi: Any = None,
    self_contained: bool = True,
    basemap: str | None = "OpenStreetMap",
    max_size: int = MAX_OVERLAY_SIZE,
    config: RegionConfig | None = None,
    earth_engine: bool | None = None,
) -> Path:
    """Write the preview map of a run as one HTML page and return its path.

    With ``self_contained`` every script and stylesheet is inlined from an installed copy
    of Leaflet (see the module notes), so the page works offline; otherwise Leaflet and
    geemap's map controls load from their CDNs. Raster overlays are embedded either way;
    Earth Engine layers (``config`` and ``earth_engine`` as for :func:`preview_map`) load
    their tiles from Earth Engine while their URLs last (about a day).
    """
    from lsgh_ee.atomic import write_text

    gmap = preview_map(run_dir, model=model, aoi=aoi, basemap=basemap,
                       controls=not self_contained, max_size=max_size, config=config,
                       earth_engine=earth_engine)  # fmt: skip
    page = gmap.get_root().render()
    if self_contained:
        page = inline_assets(page)
    out = Path(out_html)
    write_text(out, page)  # creates the folder; an unwritable one is a user error
    log.info("preview written to %s", out)
    return out


# --- layers --------------------------------------------------------------------------------


def _add_factors(gmap: Any, folder: RunFolder, max_size: int) -> None:
    """One overlay per band of ``factors.tif``, labelled with its value range (continuous
    factors) or its number of classes (categorical ones, from ``factor_schema.json``)."""
    import rasterio

    path = folder.factors
    with rasterio.open(path) as src:
        bands = [(i, src.descriptions[i - 1] or f"band {i}", src.tags(i))
                 for i in range(1, src.count + 1)]  # fmt: skip
    n_classes = _schema_classes(folder)
    for band, name, tags in bands:
        categorical = tags.get("kind") == "categorical"
        colourise = colour_factor_classes if categorical else colour_factor_values
        overlay = render_overlay(path, band=band, colourise=colourise, max_size=max_size,
                                 categorical=categorical)  # fmt: skip
        finite = overlay.values[np.isfinite(overlay.values)]
        label = f"Factor: {name}"
        if finite.size and not categorical:
            units = f" {tags['units']}" if tags.get("units") else ""
            label += f" ({finite.min():.4g} to {finite.max():.4g}{units})"
        elif finite.size:
            count = n_classes.get(name, _code_count(finite))
            label += f" ({count} classes)" if count else ""
        _add_overlay(gmap, overlay, label, False, FACTOR_OPACITY)


def _schema_classes(folder: RunFolder) -> dict[str, int]:
    """Number of classes of each factor by name, from the run's ``factor_schema.json``
    (empty when the run has none or it is unreadable)."""
    try:
        schema = json.loads(folder.factor_schema.read_text(encoding="utf-8"))
        return {f["name"]: len(f["classes"]) for f in schema["factors"] if f.get("classes")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _code_count(values: np.ndarray) -> int | None:
    """The number of distinct values when they are whole numbers (class codes), else None:
    a factor whose values are not its classes (aspect in degrees) has no count here."""
    if not np.all(values == np.round(values)):
        return None
    return int(np.unique(values).size)


def _add_overlay(gmap: Any, overlay: Overlay, name: str, show: bool, opacity: float) -> None:
    from folium.raster_layers import ImageOverlay

    ImageOverlay(overlay.data_url(), bounds=[list(b) for b in overlay.bounds], name=name,
                 show=show, opacity=opacity, pixelated=True,
                 pane=LOCAL_PANE).add_to(gmap)  # fmt: skip


def _raster_crs(path: Path):
    import rasterio

    with rasterio.open(path) as src:
        return src.crs


# --- vectors -------------------------------------------------------------------------------

_AOI_STYLE = {"color": "#222222", "weight": 2, "dashArray": "6 4", "fill": False}
_SLIDE_STYLE = {"color": "#7a0177", "weight": 1.5, "fillColor": "#c51b8a", "fillOpacity": 0.35}


def _to_lonlat(shapes: Any, default_crs: Any):
    """A GeoSeries in EPSG:4326 from a shapely geometry (in ``default_crs``) or a
    GeoSeries / GeoDataFrame with a CRS."""
    import geopandas as gpd

    if isinstance(shapes, gpd.GeoDataFrame):
        shapes = shapes.geometry
    if not isinstance(shapes, gpd.GeoSeries):
        shapes = gpd.GeoSeries([shapes], crs=default_crs)
    elif shapes.crs is None:
        shapes = shapes.set_crs(default_crs)
    return shapes.to_crs("EPSG:4326")


def _frame_bounds(shapes: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    west, south, east, north = shapes.total_bounds
    return (float(south), float(west)), (float(north), float(east))


def _read_inventory(folder: RunFolder):
    """The run's landslide inventory in EPSG:4326 (layer "landslides"), or None."""
    import geopandas as gpd
    import pyogrio

    path = folder.inventory
    if not path.exists():
        return None
    layers = [name for name, _ in pyogrio.list_layers(path)]
    frame = gpd.read_file(path, layer="landslides" if "landslides" in layers else layers[0])
    if frame.crs is None:
        raise LsghError(f"{path} has no CRS; re-run 'lsgh-ee export-factors CONFIG'")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame.to_crs("EPSG:4326")


def _add_vector(gmap: Any, shapes: Any, name: str, style: dict) -> None:
    import folium

    data = json.loads(shapes.to_json(drop_id=True)) if hasattr(shapes, "to_json") else shapes
    marker = folium.CircleMarker(radius=4, color=style["color"], weight=1.5, fill=True,
                                 fill_color=style.get("fillColor", style["color"]),
                                 fill_opacity=0.8)  # fmt: skip
    folium.GeoJson(data, name=name, style_function=lambda _: dict(style),
                   marker=marker).add_to(gmap)  # fmt: skip


# --- legend, checks ------------------------------------------------------------------------


def _legend_html(model: str, zones: bool, note: str = "") -> str:
    """The legend box; ``note``: an HTML section added at its end."""
    from lsgh_ee.zoning import ZONE_COLOURS, ZONES

    stops = ", ".join(index_palette())
    box = "display:inline-block;width:14px;height:12px;margin-right:6px;vertical-align:middle"
    parts = [
        '<div class="lsgh-legend" style="background:rgba(255,255,255,0.92);padding:6px 9px;'
        "border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,0.4);font:12px/1.4 sans-serif;"
        'color:#222">',
        f"<div style='font-weight:bold'>Susceptibility index ({html.escape(model)})</div>",
        f"<div style='width:170px;height:12px;margin:3px 0 1px 0;"
        f"background:linear-gradient(to right, {stops})'></div>",
        "<div style='display:flex;justify-content:space-between;width:170px'>"
        "<span>0</span><span>0.5</span><span>1</span></div>",
    ]
    if zones:
        parts.append("<div style='font-weight:bold;margin-top:6px'>Susceptibility zones</div>")
        for code, name in enumerate(ZONES, start=1):
            r, g, b = ZONE_COLOURS[code][:3]
            parts.append(f"<div><span style='{box};background:rgb({r},{g},{b})'></span>"
                         f"{html.escape(name)}</div>")  # fmt: skip
    parts.append(note)
    parts.append("</div>")
    return "".join(parts)


def _require_map(folder: RunFolder, model: str) -> Path:
    path = folder.susceptibility(model)
    if path.exists():
        return path
    found = folder.mapped_models()
    others = f" (maps found: {', '.join(found)}; pick one with --model)" if found else ""
    raise LsghError(
        f"{folder.path} has no susceptibility map for model {model!r}{others}; run "
        f"'lsgh-ee predict CONFIG --model {model}' first (or 'lsgh-ee run CONFIG' for every "
        "stage)"
    )
