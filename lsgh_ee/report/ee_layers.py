"""Earth Engine layers for the map preview: the run's uploaded maps as Earth Engine tiles.

``lsgh-ee upload`` records the assets it made in ``<run>/ee_assets.json``::

    {"project": "...", "made": "<UTC ISO time>",
     "assets": [{"model": "lsgh", "layer": "susceptibility", "asset_id": "...",
                 "band": "susceptibility"},
                {"model": "lsgh", "layer": "zones", "asset_id": "...", "band": "zone"}]}

:func:`earth_engine_layers` opens an Earth Engine session and makes one geemap tile layer
per uploaded map of the previewed model and per factor the config computes in Earth Engine
(:func:`lsgh_ee.earthengine.recipes.factor_image`; off by default); geemap calls
``ee.Image.getMapId``, i.e. REST ``POST projects/{p}/maps``. They are coloured as the local
overlays. Earth Engine tile URLs expire after about a day, so the page keeps its embedded
local overlays underneath and says when its Earth Engine layers were made.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lsgh_ee.errors import LsghError, first_line
from lsgh_ee.report.style import (
    CLASS_CMAP,
    FACTOR_CMAP,
    FACTOR_OPACITY,
    INDEX_OPACITY,
    factor_range,
    index_palette,
    palette,
)
from lsgh_ee.report.webmap import geemap_folium
from lsgh_ee.runfolder import RunFolder

if TYPE_CHECKING:
    from lsgh_ee.config import RegionConfig

log = logging.getLogger(__name__)

#: Leaflet pane of the Earth Engine tile layers: above the local raster overlays (their
#: pane, z-index 350), below the vectors (Leaflet's overlayPane, 400).
EE_PANE = "lsgh-earth-engine"
EE_PANE_Z = 380
#: Layers of ee_assets.json shown on the preview, with the local overlay they repeat.
LAYER_TITLES = {"susceptibility": "Susceptibility index", "zones": "Susceptibility zones"}


@dataclass(frozen=True)
class UploadedAsset:
    """One uploaded map of a run (an entry of ``ee_assets.json``)."""

    model: str
    layer: str  # "susceptibility" (index 0-1) or "zones" (codes 1-5)
    asset_id: str
    band: str


@dataclass(frozen=True)
class Uploads:
    """``<run>/ee_assets.json``: the Earth Engine project, when the upload was made (UTC
    ISO time, as written) and the assets."""

    path: Path
    project: str | None
    made: str | None
    assets: tuple[UploadedAsset, ...]

    def of_model(self, model: str) -> list[UploadedAsset]:
        return [a for a in self.assets if a.model == model and a.layer in LAYER_TITLES]


@dataclass(frozen=True)
class EarthEngineLayers:
    """Tile layers made by geemap, ready to add to a folium map, and when they were made
    (their URLs expire after about a day)."""

    layers: list[Any]  # geemap.ee_tile_layers.EEFoliumTileLayer
    made: datetime
    uploads: Uploads | None = None

    def note_html(self) -> str:
        """A legend section: when the layers were made and that their tiles expire."""
        made = self.made.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        uploaded = ""
        if self.uploads is not None and self.uploads.made:
            uploaded = f" from the maps uploaded {html.escape(self.uploads.made)}"
        return (
            "<div class='lsgh-ee-note' style='margin-top:6px;max-width:230px'>"
            f"<b>Earth Engine layers</b> made {made}{uploaded}. Their tile URLs expire after "
            "about a day; the local layers stay in this page.</div>"
        )


def read_uploads(run: Path) -> Uploads | None:
    """``<run>/ee_assets.json``, or None when the run has none.

    Raises:
        LsghError: the file is not the JSON ``lsgh-ee upload`` writes.
    """
    path = RunFolder(run).ee_assets
    if not path.exists():
        return None
    redo = "run 'lsgh-ee upload CONFIG' again"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LsghError(f"{path} is not readable JSON ({type(exc).__name__}); {redo}") from None
    entries = doc.get("assets") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise LsghError(f"{path} has no 'assets' list; {redo}")
    assets = []
    for i, entry in enumerate(entries):
        fields = ("model", "layer", "asset_id", "band")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in fields):
            raise LsghError(f"{path}: assets[{i}] needs string keys {', '.join(fields)}; {redo}")
        assets.append(UploadedAsset(*(entry[k] for k in fields)))
    project, made = doc.get("project"), doc.get("made")
    return Uploads(path, project if isinstance(project, str) else None,
                   made if isinstance(made, str) else None, tuple(assets))  # fmt: skip


def earth_engine_layers(
    run: Path,
    model: str,
    *,
    config: RegionConfig | None = None,
    earth_engine: bool | None = None,
) -> EarthEngineLayers | None:
    """Earth Engine tile layers of the run's uploaded maps of ``model`` and of the config's
    Earth Engine factors (``source: ee``, and the terrain factors of ``dem: {source: ee}``;
    off by default), or None.

    Args:
        run: the run folder (its ``ee_assets.json`` names the uploaded assets; its
            ``factors.tif`` gives the factor layers' colour ranges).
        model: the model whose maps are shown.
        config: the region config: its Earth Engine factors, and its ``earthengine``
            settings (project, key_file, api_url) to open the session; without it, only
            the uploaded maps, with the environment's settings.
        earth_engine: True: the layers are required; False: none; None (automatic): made
            when there are any and credentials are configured, else (or when Earth Engine
            fails) a logged notice and no layers.

    Raises:
        LsghError: with ``earth_engine=True``: no uploaded maps of ``model`` nor Earth
            Engine factors, no credentials or project, Earth Engine unreachable or
            refusing (one line).
    """
    if earth_engine is False:
        return None
    uploads = read_uploads(run)
    assets = uploads.of_model(model) if uploads is not None else []
    factors = config is not None and _uses_earth_engine_factors(config)
    if not assets and not factors:
        if earth_engine:
            raise LsghError(_nothing_uploaded(run, model, uploads))
        if uploads is not None:
            notice = _nothing_uploaded(run, model, uploads)
            log.warning("preview without Earth Engine layers: %s", notice)
        return None
    settings = config.earthengine if config is not None else None
    if earth_engine is None and not _has_credentials(settings):
        why = f"{uploads.path} lists uploaded maps" if assets and uploads else (
            "the config has Earth Engine factors")  # fmt: skip
        log.warning(
            "preview without Earth Engine layers: %s but no Earth Engine credentials are "
            "configured (run 'earthengine authenticate' or set GOOGLE_APPLICATION_CREDENTIALS;"
            " --no-earth-engine hides this notice)",
            why,
        )
        return None
    try:
        _open(settings, uploads)
        layers = _upload_layers(assets)
        if factors:
            layers += _factor_layers(_earth_engine_factors(config), run, config)
    except LsghError as exc:
        if earth_engine:
            raise
        log.warning("preview without Earth Engine layers: %s", exc)
        return None
    return EarthEngineLayers(layers, datetime.now(UTC), uploads if assets else None)


def tile_layers(layers: Mapping[str, tuple[Any, dict]], *, shown: bool = True,
                opacity: float = 1.0) -> list[Any]:  # fmt: skip
    """geemap tile layers of Earth Engine objects ``{name: (ee_object, vis_params)}`` (the
    ``ee`` client must be initialised), in the Earth Engine pane.

    Raises:
        LsghError: Earth Engine could not make a layer's map (one line).
    """
    return [_tile_layer(name, obj, vis, shown, opacity) for name, (obj, vis) in layers.items()]


def add_pane(gmap: Any) -> None:
    """Create the Earth Engine layers' pane on ``gmap`` (before adding the layers)."""
    from folium.map import CustomPane

    CustomPane(EE_PANE, z_index=EE_PANE_Z).add_to(gmap)


def index_vis() -> dict:
    """Visualisation of the susceptibility index: the local overlay's ramp over 0-1."""
    return {"min": 0, "max": 1, "palette": _bare(index_palette())}


def zones_vis() -> dict:
    """Visualisation of the zone codes 1-5 in the five zone colours."""
    from lsgh_ee.zoning import ZONE_COLOURS

    palette = ["{:02x}{:02x}{:02x}".format(*ZONE_COLOURS[code][:3]) for code in range(1, 6)]
    return {"min": 1, "max": 5, "palette": palette}


# --- internals ---------------------------------------------------------------------------


def _nothing_uploaded(run: Path, model: str, uploads: Uploads | None) -> str:
    if uploads is None:
        return (
            f"no Earth Engine layers for {run}: it has no {RunFolder.EE_ASSETS_JSON} and the "
            "config no 'source: ee' factors; upload the maps first with 'lsgh-ee upload "
            "CONFIG' (or preview with --no-earth-engine)"
        )
    models = sorted({a.model for a in uploads.assets if a.layer in LAYER_TITLES})
    found = f" (it lists {', '.join(models)}; pick one with --model)" if models else ""
    return (
        f"{uploads.path} lists no uploaded maps of model {model!r}{found}; upload them with "
        "'lsgh-ee upload CONFIG'"
    )


def _has_credentials(settings: Any) -> bool:
    from lsgh_ee.earthengine.session import credentials_available

    return (settings is not None and settings.key_file is not None) or credentials_available()


def _open(settings: Any, uploads: Uploads | None) -> None:
    """Open the session: the config's project, else ``LSGH_EE_PROJECT``, else the upload's."""
    from lsgh_ee.earthengine.session import PROJECT_ENV, open_session

    project = (settings.project if settings is not None else None) or os.environ.get(PROJECT_ENV)
    if project is None and uploads is not None:
        project = uploads.project
    open_session(
        project,
        key_file=settings.key_file if settings is not None else None,
        api_url=settings.api_url if settings is not None else None,
    )


def _upload_layers(assets: Sequence[UploadedAsset]) -> list[Any]:
    import ee

    layers = []
    for asset in assets:
        vis = index_vis() if asset.layer == "susceptibility" else zones_vis()
        name = f"{LAYER_TITLES[asset.layer]} ({asset.model}) (Earth Engine)"
        image = ee.Image(asset.asset_id).select(asset.band)
        layers.append(_tile_layer(name, image, vis, asset.layer == "susceptibility",
                                  INDEX_OPACITY, asset.asset_id))  # fmt: skip
    return layers


def _uses_earth_engine_factors(config: RegionConfig) -> bool:
    dem_ee = config.dem is not None and config.dem.source == "ee"
    return dem_ee or any(s is not None and s.source == "ee" for s in config.factors.values())


def _earth_engine_factors(config: RegionConfig) -> list[Any]:
    """The resolved factors computed in Earth Engine: ``source: ee`` ones, and the terrain
    factors when the DEM comes from Earth Engine."""
    from lsgh_ee.factors.resolve import resolve_factors

    dem_ee = config.dem is not None and config.dem.source == "ee"
    named = {n for n, spec in config.factors.items() if spec is not None and spec.source == "ee"}

    return [f for f in resolve_factors(config, backend="ee")
            if f.name in named or (dem_ee and f.recipe == "terrain")]  # fmt: skip


def _factor_layers(factors: Sequence[Any], run: Path, config: RegionConfig) -> list[Any]:
    """Layers of the Earth Engine factors (off), coloured as their local overlays from the
    run's factors.tif (a factor missing there is left out; see :func:`factor_styles`)."""
    import ee

    from lsgh_ee.earthengine.recipes import factor_image
    from lsgh_ee.region import Region

    grid = Region.from_config(config).grid
    factors_tif = RunFolder(run).factors
    styles = factor_styles(factors_tif)
    layers = []
    for factor in factors:
        vis = styles.get(factor.name)
        if vis is None:
            log.info("Earth Engine factor %s left off the preview: no local values in %s "
                     "for its colours", factor.name, factors_tif)  # fmt: skip
            continue
        try:
            image = factor_image(factor, grid, config)
        except ee.EEException as exc:
            raise LsghError(f"Earth Engine could not build factor {factor.name}: "
                            f"{first_line(exc)}") from None  # fmt: skip
        name = f"Factor: {factor.name} (Earth Engine)"
        layers.append(_tile_layer(name, image, vis, False, FACTOR_OPACITY))
    return layers


def factor_styles(path: Path) -> dict[str, dict]:
    """Visualisations of the run's factor bands as the local overlays colour them, by band
    name: continuous bands on the ramp between their 2nd and 98th percentiles; categorical
    bands of a few whole-number values (class codes) one colour per value (by rank), others
    on the ramp too (Earth Engine palettes interpolate, so only consecutive integers can each
    get their own colour). Each band is read at most the overlays' size a side, as they
    are (memory of that, however large the region)."""
    if not path.exists():
        return {}
    import rasterio

    from lsgh_ee.rasters import read_decimated
    from lsgh_ee.report.overlays import MAX_OVERLAY_SIZE

    classes = palette(CLASS_CMAP, 20)  # tab20's own 20 colours, in order
    ramp = _bare(palette(FACTOR_CMAP))
    out = {}
    with rasterio.open(path) as src:
        for band in range(1, src.count + 1):
            name = src.descriptions[band - 1]
            if not name:
                continue
            data = read_decimated(
                path,
                band=band,
                max_size=MAX_OVERLAY_SIZE,
                categorical=src.tags(band).get("kind") == "categorical",
            )
            data = data.astype("float64")
            if src.nodata is not None and not np.isnan(src.nodata):
                data[data == src.nodata] = np.nan
            values = np.unique(data[np.isfinite(data)])
            whole = values.size and np.all(values == np.round(values))
            if src.tags(band).get("kind") == "categorical" and whole:
                low, high = int(values[0]), int(values[-1])
                if high - low < 256:
                    rank = {int(v): i for i, v in enumerate(values)}
                    colours = [classes[rank.get(v, 0) % 20] for v in range(low, high + 1)]
                    if len(colours) == 1:
                        colours, high = colours * 2, low + 1
                    out[name] = {"min": low, "max": high, "palette": _bare(colours)}
                    continue
            span = factor_range(data)
            if span is not None:
                out[name] = {"min": span[0], "max": span[1], "palette": ramp}
    return out


def _bare(colours: Sequence[str]) -> list[str]:
    """``#rrggbb`` -> ``rrggbb``, as Earth Engine palettes are written."""
    return [c.lstrip("#") for c in colours]


def _tile_layer(
    name: str, ee_object: Any, vis: dict, shown: bool, opacity: float, asset_id: str = ""
) -> Any:
    import ee
    import google.auth.exceptions
    import googleapiclient.errors

    geemap_folium()
    from geemap.ee_tile_layers import EEFoliumTileLayer

    try:
        return EEFoliumTileLayer(ee_object, vis, name, shown, opacity, pane=EE_PANE)
    except (
        ee.EEException,
        OSError,
        google.auth.exceptions.GoogleAuthError,
        googleapiclient.errors.Error,
    ) as exc:
        reason = first_line(exc)
        fix = (f"check that {asset_id} exists and the account may read it, or upload the maps "
               "again with 'lsgh-ee upload CONFIG'") if asset_id else "check the layer"  # fmt: skip
        raise LsghError(f"Earth Engine could not make the map tiles of '{name}': {reason}; "
                        f"{fix}") from None  # fmt: skip
