"""``Image.visualize`` in the fake: what ``ee.Image.getMapId`` wraps an image in.

Values are stretched linearly between ``min`` and ``max`` (clamped), then either mapped
through ``palette`` (one band; linear between neighbouring colours, as Earth Engine does)
or scaled to 0-255 (one band: grey; three: RGB). The result has Earth Engine's bands
``vis-red``, ``vis-green``, ``vis-blue`` (uint8), masked where any input band is masked.
``gain``, ``bias``, ``gamma`` and ``opacity`` are not emulated.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .expressions import Evaluator, ExpressionError, LazyImage, PixelGrid, emulates

VIS_BANDS = ["vis-red", "vis-green", "vis-blue"]
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def _unimplemented(message: str) -> ExpressionError:
    return ExpressionError(message, 501, "UNIMPLEMENTED")


def parse_palette(colours: Any) -> np.ndarray | None:
    """``(colours, 3)`` float RGB from RRGGBB strings (a list or one comma-separated
    string), or None for no palette."""
    if colours is None or colours == [] or colours == "":
        return None
    items = colours.split(",") if isinstance(colours, str) else list(colours)
    out = []
    for colour in items:
        match = _HEX.match(str(colour).strip())
        if match is None:
            raise _unimplemented(
                f"The fake Earth Engine reads palette colours as RRGGBB hex, not {colour!r}."
            )
        value = match.group(1)
        out.append([int(value[i : i + 2], 16) for i in (0, 2, 4)])
    if len(out) == 1:
        out.append(out[0])
    return np.array(out, dtype="float64")


def stretch_to_rgb(
    data: np.ndarray, ranges: list[tuple[float, float]], palette: np.ndarray | None
) -> np.ndarray:
    """``(3, rows, cols)`` float RGB 0-255 of ``data`` ``(bands, rows, cols)``, NaN where
    any band is NaN (masked)."""
    stretched = []
    for band, (low, high) in zip(data, ranges, strict=True):
        span = high - low if high != low else 1.0
        stretched.append(np.clip((band - low) / span, 0.0, 1.0))
    if palette is not None:
        position = np.nan_to_num(stretched[0]) * (len(palette) - 1)
        index = np.clip(np.floor(position).astype(int), 0, len(palette) - 2)
        frac = (position - index)[..., None]
        rgb = palette[index] * (1 - frac) + palette[index + 1] * frac
        rgb = np.moveaxis(rgb, -1, 0)
    else:
        rgb = np.stack([np.nan_to_num(s) * 255 for s in stretched])
        if len(rgb) == 1:
            rgb = np.repeat(rgb, 3, axis=0)
    rgb = np.round(rgb)
    rgb[:, np.isnan(data).any(axis=0)] = np.nan
    return rgb


def _numbers(value: Any, count: int, default: float, what: str) -> list[float]:
    if value is None:
        return [default] * count
    items = value.split(",") if isinstance(value, str) else value
    items = items if isinstance(items, list) else [items]
    numbers = [float(v) for v in items]
    if len(numbers) == 1:
        numbers *= count
    if len(numbers) != count:
        raise ExpressionError(f"Image.visualize: {len(numbers)} {what} values for {count} bands.")
    return numbers


@emulates("Image.visualize")
def _visualize(
    ev: Evaluator,
    image: LazyImage,
    bands: Any = None,
    gain: Any = None,
    bias: Any = None,
    min: Any = None,  # noqa: A002
    max: Any = None,  # noqa: A002
    gamma: Any = None,
    opacity: Any = None,
    palette: Any = None,
    forceRgbOutput: Any = None,  # noqa: N803
) -> LazyImage:
    unsupported = [n for n, v in (("gain", gain), ("bias", bias), ("gamma", gamma),
                                  ("opacity", opacity)) if v is not None]  # fmt: skip
    if unsupported:
        raise _unimplemented(f"The fake emulates Image.visualize without {unsupported}.")
    names = image.band_names
    if bands is not None:
        wanted = bands.split(",") if isinstance(bands, str) else list(bands)
        missing = [b for b in wanted if b not in names]
        if missing:
            raise ExpressionError(
                f"Image.visualize: Band(s) {missing} not found. Available bands: {names}."
            )
        idx = [names.index(b) for b in wanted]
    else:
        idx = list(range(len(names)))
    colours = parse_palette(palette)
    if colours is not None and len(idx) != 1:
        raise ExpressionError(
            "Image.visualize: Cannot provide a palette when visualizing more than one band."
        )
    if len(idx) not in (1, 3):
        raise ExpressionError(f"Image.visualize: Expected 1 or 3 bands, but got {len(idx)} bands.")
    if min is None and max is None:
        raise _unimplemented("The fake emulates Image.visualize with explicit min/max only.")
    ranges = list(zip(_numbers(min, len(idx), 0.0, "min"), _numbers(max, len(idx), 1.0, "max"),
                      strict=True))  # fmt: skip

    def render(grid: PixelGrid) -> np.ndarray:
        return stretch_to_rgb(image.render(grid)[idx], ranges, colours)

    return LazyImage(list(VIS_BANDS), ["uint8"] * 3, render)
