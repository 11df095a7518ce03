"""Map previews of a run on a geemap (folium) map: in a notebook, or as one HTML page.

Layers, bottom to top: every factor band (off by default), the susceptibility index (on),
the five susceptibility zones (off), the AOI outline and the landslide inventory, with a
layer control, a legend and a selectable basemap. Rasters are reprojected to Web Mercator
with rasterio, coloured with matplotlib and embedded as PNG data URLs, so a saved page
needs no tile server and keeps working after the command ends. Online, the run's maps
uploaded to Earth Engine (``ee_assets.json``, see :mod:`lsgh_ee.report.ee_layers`) are added
as Earth Engine tile layers on top; their tile URLs expire after about a day, so the local
overlays stay underneath and the legend says when the Earth Engine layers were made.

``write_preview(..., self_contained=True)`` also inlines Leaflet's JavaScript and CSS so
the page opens without the internet (only the basemap tiles then stay blank). Leaflet comes
from an installed copy, never from this repository:

1. the ``dist/`` folder named by the environment variable ``LSGH_LEAFLET_DIST`` (e.g.
   ``npm install --prefix .cache/npm leaflet@1.9`` then
   ``LSGH_LEAFLET_DIST=.cache/npm/node_modules/leaflet/dist``);
2. otherwise the Leaflet build that the ``jupyter-leaflet`` package ships (installed with
   ipyleaflet, a dependency of geemap) in ``share/jupyter/labextensions/jupyter-leaflet``.

Other CDN files of folium's page template (jQuery, Bootstrap, Font Awesome, awesome
markers) are not used by these maps and are dropped from a self-contained page.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lsgh_ee.errors import LsghError

if TYPE_CHECKING:
    from types import ModuleType

    import geemap.foliumap

    from lsgh_ee.config import RegionConfig

log = logging.getLogger(__name__)

#: Longest side of an embedded raster overlay, pixels (larger rasters are averaged down).
MAX_OVERLAY_SIZE = 1024
#: Colour ramp of the susceptibility index (as in the report figures): green (0) to red (1).
INDEX_CMAP = "RdYlGn_r"
INDEX_OPACITY = 0.85
#: Colours of the factor layers: continuous ones between their 2nd and 98th percentiles;
#: categorical ones one colour per class.
FACTOR_CMAP = "viridis"
CLASS_CMAP = "tab20"
FACTOR_OPACITY = 0.8
#: Basemap names meaning "no basemap".
NO_BASEMAP = ("none", "")
LEAFLET_ENV = "LSGH_LEAFLET_DIST"
#: CDN files of folium's default page template that these maps do not need.
UNNEEDED_ASSETS = ("jquery", "bootstrap", "fontawesome", "font-awesome", "awesome-markers",
                   "awesome.rotate", "glyphicons")  # fmt: skip
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
    from lsgh_ee.report import ee_layers as eel

    run = Path(run_dir)
    index_path = _require_map(run, model)
    # Earth Engine first: a failure (e.g. no credentials) costs no rendering and not even
    # geemap's import, and nothing is half-added.
    online = eel.earth_engine_layers(run, model, config=config, earth_engine=earth_engine)
    if ee_layers:  # the caller's own layers, made now
        uploads = online.uploads if online is not None else None
        layers = [*(online.layers if online is not None else []), *eel.tile_layers(ee_layers)]
        online = eel.EarthEngineLayers(layers, datetime.now(UTC), uploads)
    gmap = _new_map(basemap, controls)
    import folium
    from folium.map import CustomPane

    CustomPane(LOCAL_PANE, z_index=LOCAL_PANE_Z).add_to(gmap)
    if online is not None:
        eel.add_pane(gmap)

    factors = run / "factors.tif"
    if factors.exists():
        _add_factors(gmap, factors, max_size)
    index = render_overlay(index_path, colourise=_colour_index, max_size=max_size)
    _add_overlay(gmap, index, f"Susceptibility index ({model})", True, INDEX_OPACITY)
    zones_path = index_path.with_name("zones.tif")
    has_zones = zones_path.exists()
    if has_zones:
        zones = render_overlay(zones_path, colourise=_zone_colouriser(zones_path),
                               max_size=max_size, categorical=True)  # fmt: skip
        _add_overlay(gmap, zones, f"Susceptibility zones ({model})", False, INDEX_OPACITY)
    crs = _raster_crs(index_path)
    bounds = index.bounds
    if aoi is not None:
        outline = _to_lonlat(aoi, crs)
        bounds = _frame_bounds(outline)
        _add_vector(gmap, outline, "Area of interest", _AOI_STYLE)
    inventory = _read_inventory(run)
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


# --- raster overlays -----------------------------------------------------------------------


@dataclass(frozen=True)
class Overlay:
    """A raster rendered for a web map.

    Attributes:
        rgba: ``(rows, cols, 4)`` uint8 image in Web Mercator (EPSG:3857), north up.
        bounds: ``((south, west), (north, east))`` in degrees (EPSG:4326): where Leaflet
            pins the image's corners.
        values: the reprojected values (NaN or 0 = nodata), for ranges and legends.
    """

    rgba: np.ndarray
    bounds: tuple[tuple[float, float], tuple[float, float]]
    values: np.ndarray

    def data_url(self) -> str:
        """The image as a ``data:image/png;base64,...`` URL."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.rgba, "RGBA").save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_overlay(
    path: str | os.PathLike,
    *,
    band: int = 1,
    colourise: Callable[[np.ndarray], np.ndarray],
    max_size: int = MAX_OVERLAY_SIZE,
    categorical: bool = False,
) -> Overlay:
    """Reproject one band of a GeoTIFF to Web Mercator (at most ``max_size`` pixels a side)
    and colour it with ``colourise`` (values -> RGBA uint8; nodata must come out clear).

    Leaflet stretches an image overlay linearly in Web Mercator between its corners, so the
    image is warped to EPSG:3857 first and its corners are given in lon/lat.
    """
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject, transform_bounds

    with rasterio.open(path) as src:
        if src.crs is None:
            raise LsghError(f"{path} has no CRS; cannot place it on a map")
        mercator = "EPSG:3857"
        west, south, east, north = transform_bounds(src.crs, mercator, *src.bounds,
                                                    densify_pts=21)  # fmt: skip
        with warnings.catch_warnings():  # rasterio's own use of Affine's `*`
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            _, width, height = calculate_default_transform(
                src.crs, mercator, src.width, src.height, *src.bounds
            )
        scale = min(1.0, max_size / max(width, height))
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        floating = np.issubdtype(np.dtype(src.dtypes[band - 1]), np.floating)
        nodata = src.nodata if src.nodata is not None else (np.nan if floating else 0)
        values = np.full((height, width), nodata, dtype=src.dtypes[band - 1])
        # Downsampled continuous values are averaged; classes keep their codes.
        resampling = Resampling.nearest if categorical or scale == 1.0 else Resampling.average
        reproject(
            rasterio.band(src, band),
            values,
            src_nodata=nodata,
            dst_transform=Affine(
                (east - west) / width, 0, west, 0, (south - north) / height, north
            ),
            dst_crs=mercator,
            dst_nodata=nodata,
            resampling=resampling,
        )
    if floating:
        values = values.astype("float32")
        if not np.isnan(nodata):
            values[values == nodata] = np.nan
    lon0, lat0, lon1, lat1 = transform_bounds(mercator, "EPSG:4326", west, south, east, north)
    return Overlay(colourise(values), ((lat0, lon0), (lat1, lon1)), values)


def _colour_index(values: np.ndarray) -> np.ndarray:
    return _colour_continuous(values, INDEX_CMAP, 0.0, 1.0)


def _colour_continuous(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    from matplotlib import colormaps

    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((values - vmin) / span, 0.0, 1.0)
    rgba = colormaps[cmap](np.nan_to_num(scaled), bytes=True)
    rgba[..., 3] = np.where(np.isfinite(values), 255, 0)
    return rgba


def _colour_classes(values: np.ndarray, colours: Mapping[int, tuple[int, ...]]) -> np.ndarray:
    """RGBA from a class -> colour table; classes missing from it (and nodata) are clear."""
    lut = np.zeros((256, 4), dtype="uint8")
    for code, colour in colours.items():
        if 0 < int(code) < 256:
            lut[int(code)] = (*colour[:3], 255)
    codes = np.nan_to_num(values, nan=0).astype("int64")
    return lut[np.clip(codes, 0, 255)]


def _zone_colouriser(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import rasterio

    from lsgh_ee.zoning import ZONE_COLOURS

    with rasterio.open(path) as src:
        try:
            table = {k: v for k, v in src.colormap(1).items() if 1 <= k <= 5}
        except ValueError:  # no colour table in the file
            table = {}
    return functools.partial(_colour_classes, colours=table or ZONE_COLOURS)


def _add_factors(gmap: Any, path: Path, max_size: int) -> None:
    import rasterio

    with rasterio.open(path) as src:
        bands = [(i, src.descriptions[i - 1] or f"band {i}", src.tags(i))
                 for i in range(1, src.count + 1)]  # fmt: skip
    for band, name, tags in bands:
        categorical = tags.get("kind") == "categorical"
        colourise = _colour_factor_classes if categorical else _colour_factor_values
        overlay = render_overlay(path, band=band, colourise=colourise, max_size=max_size,
                                 categorical=categorical)  # fmt: skip
        finite = overlay.values[np.isfinite(overlay.values)]
        label = f"Factor: {name}"
        if finite.size and not categorical:
            units = f" {tags['units']}" if tags.get("units") else ""
            label += f" ({finite.min():.4g} to {finite.max():.4g}{units})"
        elif finite.size:
            label += f" ({np.unique(finite).size} classes)"
        _add_overlay(gmap, overlay, label, False, FACTOR_OPACITY)


def factor_range(values: np.ndarray) -> tuple[float, float] | None:
    """The colour range of a continuous factor: its 2nd and 98th percentiles (NaN left
    out), or None when it has no value."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2, 98])
    return float(low), float(high)


def _colour_factor_values(values: np.ndarray) -> np.ndarray:
    span = factor_range(values)
    if span is None:
        return np.zeros((*values.shape, 4), dtype="uint8")
    return _colour_continuous(values, FACTOR_CMAP, *span)


def _colour_factor_classes(values: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    rgba = np.zeros((*values.shape, 4), dtype="uint8")
    finite = np.isfinite(values)
    classes, rank = np.unique(values[finite], return_inverse=True)
    palette = colormaps[CLASS_CMAP](np.arange(20), bytes=True)
    rgba[finite] = palette[rank.ravel() % 20]
    return rgba


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


def _read_inventory(run: Path):
    """The run's landslide inventory in EPSG:4326 (layer "landslides"), or None."""
    import geopandas as gpd
    import pyogrio

    path = run / "inventory.gpkg"
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


# --- map, basemap, legend ------------------------------------------------------------------


def geemap_folium() -> ModuleType:
    """``geemap.foliumap`` (geemap 0.37 on Python 3.11 only imports its folium flavour,
    and its Earth Engine tile layers, with ``USE_FOLIUM`` set)."""
    os.environ["USE_FOLIUM"] = "1"
    import geemap.foliumap

    return geemap.foliumap


def _new_map(basemap: str | None, controls: bool) -> geemap.foliumap.Map:
    gf = geemap_folium()
    name = None
    if basemap is not None and basemap.strip().lower() not in NO_BASEMAP:
        by_lower = {key.lower(): key for key in gf.basemaps}
        name = by_lower.get(basemap.strip().lower())
        if name is None:
            raise LsghError(
                f"unknown basemap {basemap!r}; use 'none' or one of geemap's basemaps "
                "(OpenStreetMap, SATELLITE, TERRAIN, HYBRID, Esri.WorldShadedRelief, ...: the "
                "keys of geemap.foliumap.basemaps)"
            )
    return gf.Map(
        ee_initialize=False,
        tiles=None,
        basemap=name,
        plugin_LayerControl=False,
        plugin_Draw=controls,
        plugin_Fullscreen=controls,
        search_control=controls,
        scale_control=True,
    )


def palette(cmap: str, stops: int = 11) -> list[str]:
    """A matplotlib colour map as ``stops`` evenly spaced ``#rrggbb`` colours."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    ramp = colormaps[cmap]
    return [to_hex(ramp(x)) for x in np.linspace(0, 1, stops)]


def index_palette(stops: int = 11) -> list[str]:
    """The susceptibility ramp as ``stops`` evenly spaced ``#rrggbb`` colours (11 give
    RdYlGn exactly: its colour table has 11 entries, linear in between)."""
    return palette(INDEX_CMAP, stops)


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


def _require_map(run: Path, model: str) -> Path:
    path = run / "maps" / model / "susceptibility.tif"
    if path.exists():
        return path
    found = sorted(p.parent.name for p in (run / "maps").glob("*/susceptibility.tif"))
    others = f" (maps found: {', '.join(found)}; pick one with --model)" if found else ""
    raise LsghError(
        f"{run} has no susceptibility map for model {model!r}{others}; run 'lsgh-ee predict "
        f"CONFIG --model {model}' first (or 'lsgh-ee run CONFIG' for every stage)"
    )


# --- self-contained pages ------------------------------------------------------------------


@dataclass(frozen=True)
class LeafletAssets:
    """Leaflet's JavaScript and CSS (images inlined) from an installed copy."""

    js: str
    css: str
    source: str


_REMOTE = r"(?:https?:)?//[^\"'\s>]+"
_SCRIPT = re.compile(rf"<script\b[^>]*\bsrc=[\"']({_REMOTE})[\"'][^>]*>\s*</script>", re.I)
_LINK = re.compile(rf"<link\b[^>]*\bhref=[\"']({_REMOTE})[\"'][^>]*>", re.I)


def inline_assets(page: str, assets: LeafletAssets | None = None) -> str:
    """Rewrite a folium page so it loads nothing from the internet: Leaflet's script and
    stylesheet are inlined from an installed copy, other remote scripts and stylesheets
    are inlined when folium ships them, else dropped (the map does not need folium's
    default Bootstrap / jQuery / Font Awesome files)."""
    assets = assets or leaflet_assets()

    def script(match: re.Match) -> str:
        url = match.group(1)
        if _is_leaflet(url, ".js"):
            return f"<script>/* {assets.source} */\n{_safe_script(assets.js)}\n</script>"
        local = _packaged_file(url)
        if local is not None:
            return f"<script>\n{_safe_script(local.read_text(encoding='utf-8'))}\n</script>"
        _dropped(url)
        return ""

    def link(match: re.Match) -> str:
        url = match.group(1)
        if "stylesheet" in match.group(0).lower() and _is_leaflet(url, ".css"):
            return f"<style>/* {assets.source} */\n{_safe_style(assets.css)}\n</style>"
        _dropped(url)
        return ""

    return _LINK.sub(link, _SCRIPT.sub(script, page))


def _is_leaflet(url: str, ext: str) -> bool:
    name = url.rsplit("/", 1)[-1].split("?")[0].lower()
    return name in (f"leaflet{ext}", f"leaflet.min{ext}", f"leaflet-src{ext}")


def _packaged_file(url: str) -> Path | None:
    """A file of the same name shipped in folium's templates (some plugins), if any."""
    import folium

    name = url.rsplit("/", 1)[-1].split("?")[0]
    candidate = Path(folium.__file__).parent / "templates" / name
    return candidate if name and candidate.is_file() else None


def _dropped(url: str) -> None:
    if any(word in url.lower() for word in UNNEEDED_ASSETS):
        log.debug("self-contained preview: left out %s (not used by the map)", url)
    else:
        log.warning("self-contained preview: left out %s (no local copy)", url)


def _safe_script(text: str) -> str:
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.I)


def _safe_style(text: str) -> str:
    return re.sub(r"</(style)", r"<\\/\1", text, flags=re.I)


@functools.lru_cache(maxsize=4)
def _cached_assets(env_dist: str | None) -> LeafletAssets:
    if env_dist:
        return _from_dist(Path(env_dist))
    for folder in _jupyter_leaflet_dirs():
        found = _from_jupyter_leaflet(folder)
        if found is not None:
            return found
    raise LsghError(
        "no installed copy of Leaflet for a self-contained page: install ipyleaflet "
        f"(pip; it ships jupyter-leaflet), or 'npm install leaflet@1.9' and set {LEAFLET_ENV} "
        "to its dist/ folder, or write the page with --cdn"
    )


def leaflet_assets() -> LeafletAssets:
    """Leaflet's JS and CSS from ``$LSGH_LEAFLET_DIST`` or the installed jupyter-leaflet."""
    return _cached_assets(os.environ.get(LEAFLET_ENV) or None)


def _from_dist(dist: Path) -> LeafletAssets:
    """A Leaflet ``dist/`` folder (npm's ``leaflet`` package): leaflet.js, leaflet.css and
    images/ (inlined into the CSS as data URLs)."""
    js, css = dist / "leaflet.js", dist / "leaflet.css"
    if not (js.is_file() and css.is_file()):
        raise LsghError(f"{LEAFLET_ENV}={dist} holds no leaflet.js and leaflet.css; point it "
                        "at the dist/ folder of the npm 'leaflet' package")  # fmt: skip

    def image(match: re.Match) -> str:
        path = dist / match.group(1)
        if not path.is_file():
            return "none"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    text = re.sub(r"url\(\s*['\"]?(images/[\w.-]+\.png)['\"]?\s*\)", image,
                  css.read_text(encoding="utf-8"))  # fmt: skip
    return LeafletAssets(js.read_text(encoding="utf-8"), text, f"Leaflet from {dist}")


def _jupyter_leaflet_dirs() -> list[Path]:
    roots = [Path(sys.prefix) / "share" / "jupyter"]
    try:
        from jupyter_core.paths import jupyter_path

        roots += [Path(p) for p in jupyter_path()]
    except ImportError:  # pragma: no cover - jupyter_core comes with ipyleaflet
        pass
    folders = [root / "labextensions" / "jupyter-leaflet" / "static" for root in roots]
    return list(dict.fromkeys(f for f in folders if f.is_dir()))


_CHUNK = re.compile(r"\(self\.(webpackChunk\w+)\s*=\s*self\.\1\s*\|\|\s*\[\]\)\.push\(")
# Runs the modules of a webpack chunk pushed by a lazily-loaded bundle file, so the Leaflet
# build inside it defines window.L as the stand-alone leaflet.js does.
_CHUNK_LOADER = (
    'self["{name}"] = {{push: function (chunk) {{'
    " for (var id in chunk[1]) {{ var module = {{exports: {{}}}};"
    " chunk[1][id].call(module.exports, module, module.exports); }} }}}};"
)


def _from_jupyter_leaflet(folder: Path) -> LeafletAssets | None:
    """Leaflet from jupyter-leaflet's JupyterLab bundle: one webpack chunk is the Leaflet
    build (it assigns ``window.L``); another module holds leaflet.css as a JS string."""
    js_text = css_text = None
    version = ""
    for path in sorted(folder.glob("*.js")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if js_text is None and "window.L=" in text.replace(" ", ""):
            found = re.search(r'\.version\s*=\s*"(1\.\d+\.\d+)"', text)
            chunk = _CHUNK.search(text)
            if found and chunk:
                version = found.group(1)
                notice = path.with_name(path.name + ".LICENSE.txt")
                header = notice.read_text(encoding="utf-8") if notice.is_file() else ""
                js_text = (f"{header}\n{_CHUNK_LOADER.format(name=chunk.group(1))}\n"
                           f"{text}\ndelete self[{chunk.group(1)!r}];")  # fmt: skip
        if css_text is None and "/* required styles */" in text:
            css_text = _template_literal(text, text.index("/* required styles */"))
    if js_text is None or css_text is None:
        return None
    source = f"Leaflet {version} from jupyter-leaflet ({folder})"
    return LeafletAssets(js_text, css_text, source)


def _template_literal(text: str, inside: int) -> str | None:
    """The value of the JS template literal (backquoted string) around ``inside``, with
    ``${...}`` substitutions (image URLs) replaced by ``none``."""
    start = text.rfind("`", 0, inside)
    if start < 0:
        return None
    out: list[str] = []
    escapes = {"n": "\n", "t": "\t", "r": "\r", "`": "`", "\\": "\\", "$": "$"}
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(escapes.get(text[i + 1], text[i + 1]))
            i += 2
        elif char == "`":
            break
        elif text.startswith("${", i):
            end = text.find("}", i)
            out.append("\0")
            i = end + 1
        else:
            out.append(char)
            i += 1
    css = "".join(out)
    return re.sub(r"url\(\s*['\"]?\0['\"]?\s*\)", "none", css).replace("\0", "none")
