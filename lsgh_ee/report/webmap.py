"""geemap's folium flavour: importing it, and a new map with the chosen basemap."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsgh_ee.errors import LsghError

if TYPE_CHECKING:
    from types import ModuleType

    import geemap.foliumap

#: Basemap names meaning "no basemap".
NO_BASEMAP = ("none", "")


def geemap_folium() -> ModuleType:
    """``geemap.foliumap`` (geemap 0.37 on Python 3.11 only imports its folium flavour,
    and its Earth Engine tile layers, with ``USE_FOLIUM`` set)."""
    os.environ["USE_FOLIUM"] = "1"
    import geemap.foliumap

    return geemap.foliumap


def new_map(basemap: str | None, controls: bool) -> geemap.foliumap.Map:
    """An empty geemap (folium) map without Earth Engine: ``basemap`` a geemap basemap
    name (any case) or None / ``"none"``; ``controls`` adds the draw, fullscreen and search
    controls (they load plugins from the internet).

    Raises:
        LsghError: the basemap name is unknown.
    """
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
