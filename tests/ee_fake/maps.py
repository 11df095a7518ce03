"""Map tiles in the fake: ``maps.create`` and the Web Mercator tiles of a map.

``POST /v1/projects/{p}/maps`` (what ``ee.Image.getMapId`` sends: the expression, which
the client wraps in ``Image.visualize`` (see emulate_visualize.py), ``fileFormat``,
``bandIds`` and optional ``visualizationOptions``) checks the expression against the real
signatures, keeps it with its visualisation and answers ``{"name": "projects/{p}/maps/{id}"}``
as the service does. ``GET /v1/projects/{p}/maps/{id}/tiles/{z}/{x}/{y}`` renders a
256 × 256 tile on the EPSG:3857 tile grid: uint8 images (visualize()'s output) as they
are, others through the visualisation options' ranges and palette; transparent where the
image is masked. Like the real tile URLs, the tile route needs no credentials: the map
name is the capability.
"""

from __future__ import annotations

import io
import threading
import uuid
from dataclasses import dataclass

import numpy as np
from affine import Affine

from .emulate_visualize import parse_palette, stretch_to_rgb
from .expressions import Evaluator, ExpressionError, LazyImage, PixelGrid

TILE_SIZE = 256
#: Half the side of the Web Mercator square, metres (EPSG:3857).
MERCATOR_HALF = 20037508.342789244
MAX_ZOOM = 24


@dataclass(frozen=True)
class MapSpec:
    """A map made by ``maps.create``: the image, its visualisation and the tile format."""

    name: str
    expression: dict
    image: LazyImage
    ranges: list[tuple[float, float]]
    palette: np.ndarray | None  # (colours, 3) float64, or None for grey / RGB
    file_format: str


class MapStore:
    """The maps the fake has made, by name (``projects/{p}/maps/{id}``)."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.maps: dict[str, MapSpec] = {}
        self._lock = threading.Lock()

    def create(self, project: str, body: dict) -> dict:
        """``maps.create``: validate and keep the map; the reply names it."""
        image = self.evaluator.evaluate(body.get("expression"))
        if not isinstance(image, LazyImage):
            raise ExpressionError("maps.create: the expression is not an Image.")
        bands = body.get("bandIds") or []
        if bands:
            missing = [b for b in bands if b not in image.band_names]
            if missing:
                raise ExpressionError(f"Image has no band(s) {missing}.")
            image = _select(image, bands)
        vis = body.get("visualizationOptions") or {}
        palette = parse_palette(vis.get("paletteColors"))
        unsupported = sorted(set(vis) - {"ranges", "paletteColors"})
        if unsupported:
            raise ExpressionError(
                f"The fake Earth Engine does not render {', '.join(unsupported)}.",
                501,
                "UNIMPLEMENTED",
            )
        count = len(image.band_names)
        if palette is not None and count != 1:
            raise ExpressionError(
                "Image.visualize: Cannot provide a palette when visualizing more than one band."
            )
        if count not in (1, 3):
            raise ExpressionError(f"Image.visualize: Expected 1 or 3 bands, but got {count} bands.")
        ranges = [(float(r.get("min", 0.0)), float(r.get("max", 1.0)))
                  for r in vis.get("ranges", [])]  # fmt: skip
        if not ranges:  # e.g. an Image.visualize result: bytes shown as they are
            if any(d != "uint8" for d in image.dtypes):
                raise ExpressionError(
                    "The fake Earth Engine renders maps of uint8 images (e.g. visualize()) or "
                    "with explicit min/max only.",
                    501,
                    "UNIMPLEMENTED",
                )
            ranges = [(0.0, 255.0)]
        if len(ranges) not in (1, count):
            raise ExpressionError(f"Image.visualize: {len(ranges)} ranges for {count} bands.")
        fmt = body.get("fileFormat") or "AUTO_JPEG_PNG"
        if fmt not in ("AUTO_JPEG_PNG", "PNG", "JPEG"):
            raise ExpressionError(f"Map tiles cannot be {fmt}; use PNG or JPEG.")
        name = f"projects/{project}/maps/{uuid.uuid4().hex[:16]}-{uuid.uuid4().hex[:16]}"
        spec = MapSpec(name, body["expression"], image, ranges * (count // len(ranges)),
                       palette, fmt)  # fmt: skip
        with self._lock:
            self.maps[name] = spec
        return {"name": name}

    def tile(self, project: str, map_id: str, *zxy: str) -> tuple[bytes, str]:
        """The tile ``z/x/y`` of map ``projects/{project}/maps/{map_id}``: (image bytes,
        content type)."""
        name = f"projects/{project}/maps/{map_id}"
        z, x, y = (int(v) for v in zxy)
        with self._lock:
            spec = self.maps.get(name)
        if spec is None:
            raise ExpressionError(f"Map {name} not found (or expired).", 404, "NOT_FOUND")
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            raise ExpressionError(f"Tile {z}/{x}/{y} is outside the tile grid.", 400)
        rgb = stretch_to_rgb(spec.image.render(tile_grid(z, x, y)), spec.ranges, spec.palette)
        alpha = np.where(np.isnan(rgb[0]), 0, 255)
        rgba = np.dstack([*np.nan_to_num(rgb).astype("uint8"), alpha.astype("uint8")])
        from PIL import Image

        buffer = io.BytesIO()
        if spec.file_format == "JPEG":
            Image.fromarray(rgba[..., :3], "RGB").save(buffer, format="JPEG", quality=95)
            return buffer.getvalue(), "image/jpeg"
        Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"


def tile_grid(z: int, x: int, y: int) -> PixelGrid:
    """The EPSG:3857 pixel grid of tile ``z/x/y`` (x east, y south from the north-west)."""
    res = 2 * MERCATOR_HALF / (TILE_SIZE * 2**z)
    west = -MERCATOR_HALF + x * TILE_SIZE * res
    north = MERCATOR_HALF - y * TILE_SIZE * res
    return PixelGrid("EPSG:3857", Affine(res, 0, west, 0, -res, north), TILE_SIZE, TILE_SIZE)


def _select(image: LazyImage, bands: list[str]) -> LazyImage:
    idx = [image.band_names.index(b) for b in bands]
    return LazyImage(list(bands), [image.dtypes[i] for i in idx],
                     lambda grid: image.render(grid)[idx])  # fmt: skip
