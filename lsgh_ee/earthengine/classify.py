"""Class codes computed in Earth Engine, with exactly the local rules.

:func:`class_codes` and :func:`aspect_codes` are the ``ee.Image`` forms of
:func:`lsgh_ee.factors.classify.classify_breaks` and
:func:`~lsgh_ee.factors.classify.classify_aspect` (same breaks, same edge convention: a
value equal to a break goes to the upper class). :func:`class_code_image` builds the
class-code stack of a run's ``factor_schema.json`` in Earth Engine, so a model trained on
local class codes can be applied to an Earth Engine region.

Values are rounded to float32 before they are compared, as the local factor stack stores
them, so a value within float32 rounding of a break falls on the same side in both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsgh_ee.errors import LsghError
from lsgh_ee.factors.classify import ASPECT_SECTORS, check_breaks
from lsgh_ee.grid import Grid

if TYPE_CHECKING:
    from lsgh_ee.config import RegionConfig


def class_codes(image: Any, breaks: Sequence[float]) -> Any:
    """uint8 codes of a one-band ``ee.Image``: ``< b1`` → 1, ``b1 ≤ v < b2`` → 2, …,
    ``≥ bk`` → k+1; 0 where the image is masked.

    Raises:
        ValueError: ``breaks`` empty, not strictly increasing or longer than 254.
    """
    edges = check_breaks(breaks)
    values = image.toFloat()
    codes = values.multiply(0).add(1)
    for edge in edges:
        codes = codes.add(values.gte(float(edge)))
    return codes.unmask(0, False).toUint8()


def aspect_codes(aspect: Any) -> Any:
    """uint8 aspect classes of an aspect image (degrees clockwise from north, -1 flat):
    1 flat, 2 N, 3 S, 4 E, 5 W, 6 NE, 7 NW, 8 SE, 9 SW; 0 where masked or outside."""
    values = aspect.toFloat()
    codes = values.multiply(0).where(values.eq(-1), 1)
    for code, sectors in ASPECT_SECTORS.items():
        for lo, hi in sectors:
            codes = codes.where(values.gte(lo).And(values.lt(hi)), code)
    return codes.unmask(0, False).toUint8()


def _categorical_codes(image: Any) -> Any:
    return image.unmask(0, False).toUint8()


def class_code_image(schema: dict, grid: Grid, config: RegionConfig) -> Any:
    """Every factor of ``schema`` as uint8 class codes on ``grid``, bands in schema order.

    Args:
        schema: a run's ``factor_schema.json`` (or a model bundle's copy of it): per factor
            its name, kind, breaks and classes.
        grid: the grid to compute on (the region the model is applied to).
        config: the region: the sources of the factors (``dem``, ``factors``) and the
            terrain settings.

    Returns:
        An ``ee.Image`` with one uint8 band per factor, named after it: continuous and
        distance factors classified by the schema's breaks, aspect by its sectors,
        categorical factors coded in the schema's class order; 0 = nodata.

    Raises:
        LsghError: a factor of the schema the region's config does not define, or one
            without an Earth Engine recipe.
    """
    import ee

    from lsgh_ee.earthengine.recipes import factor_image
    from lsgh_ee.factors.resolve import resolve_factors

    resolved = {f.name: f for f in resolve_factors(config, backend="ee")}
    bands = []
    for entry in schema["factors"]:
        name = entry["name"]
        factor = resolved.get(name)
        if factor is None:
            raise LsghError(
                f"the model uses factor '{name}' but the region's config has no source for it; "
                f"add 'factors.{name}' (with 'source: ee' or a local file)"
            )
        factor = dataclasses.replace(
            factor, breaks=tuple(entry.get("breaks") or ()), classes=tuple(entry["classes"])
        )
        raw = factor_image(factor, grid, config)
        if name == "aspect":
            codes = aspect_codes(raw)
        elif entry["kind"] == "categorical":
            codes = _categorical_codes(raw)
        else:
            codes = class_codes(raw, factor.breaks)
        bands.append(codes.rename([name]))
    return ee.Image.cat(bands)
