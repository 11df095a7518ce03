"""How the maps look: colour maps, palettes, opacities and colour ranges.

Shared by the local overlays of the map preview (:mod:`lsgh_ee.report.preview`,
:mod:`lsgh_ee.report.overlays`) and its Earth Engine layers
(:mod:`lsgh_ee.report.ee_layers`), so both colour a layer the same way. The five zone
colours are :data:`lsgh_ee.zoning.ZONE_COLOURS` (they are written into ``zones.tif``).
"""

from __future__ import annotations

import numpy as np

#: Colour ramp of the susceptibility index (as in the report figures): green (0) to red (1).
INDEX_CMAP = "RdYlGn_r"
INDEX_OPACITY = 0.85
#: Colours of the factor layers: continuous ones between their 2nd and 98th percentiles;
#: categorical ones one colour per class.
FACTOR_CMAP = "viridis"
CLASS_CMAP = "tab20"
FACTOR_OPACITY = 0.8


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


def factor_range(values: np.ndarray) -> tuple[float, float] | None:
    """The colour range of a continuous factor: its 2nd and 98th percentiles (NaN left
    out), or None when it has no value."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2, 98])
    return float(low), float(high)
