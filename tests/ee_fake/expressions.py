"""Checking and evaluating serialized Earth Engine expressions inside the fake server.

Every expression is checked against the real algorithm signatures shipped with the
earthengine-api wheel (``ee/tests/algorithms.json``): an unknown function, an unknown
argument or a missing required argument is an ``INVALID_ARGUMENT`` error, as on the real
service. A small subset of algorithms is then *evaluated* (enough for the project's
recipes); a valid but unemulated algorithm is reported as ``NOT_IMPLEMENTED`` so a test
never passes on a silently wrong value.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject


class ExpressionError(Exception):
    """An error the fake answers with: HTTP ``code`` and an EE-style ``status``."""

    def __init__(self, message: str, code: int = 400, status: str = "INVALID_ARGUMENT"):
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class PixelGrid:
    """The grid of a computePixels request (CRS code, affine transform, shape)."""

    crs: str
    transform: Affine
    height: int
    width: int

    def padded(self, cells: int) -> PixelGrid:
        t = self.transform
        moved = t @ Affine.translation(-cells, -cells)
        return PixelGrid(self.crs, moved, self.height + 2 * cells, self.width + 2 * cells)


@dataclass
class Asset:
    """An image asset the fake serves: ``data`` (bands, rows, cols) on its own grid."""

    data: np.ndarray
    crs: str
    transform: Affine
    band_names: list[str]
    nodata: float | None = None


@dataclass
class LazyImage:
    """An image whose pixels are computed for whatever grid a request asks."""

    band_names: list[str]
    dtypes: list[str]
    render: Callable[[PixelGrid], np.ndarray]  # float64 (bands, rows, cols), NaN = masked
    # True for a composite (mosaic, median, ...): no fixed projection, so Earth Engine's
    # default (WGS-84, 1 degree) applies where one is needed (reduceResolution); kept
    # through per-pixel operators, cleared by setDefaultProjection and reproject
    unfixed: bool = False


def _signatures(algorithms: dict) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for algo in algorithms["algorithms"]:
        name = algo["name"].removeprefix("algorithms/")
        out[name] = {arg["argumentName"]: arg for arg in algo.get("arguments", [])}
    return out


class Evaluator:
    """Validates expressions against the real signatures and evaluates a small subset."""

    def __init__(self, algorithms: dict, assets: dict[str, Asset]):
        self.signatures = _signatures(algorithms)
        self.assets = assets
        # ImageCollection / table assets: id -> elements (see emulate_collections.py)
        self.collections: dict[str, list[Any]] = {}
        self.tables: dict[str, list[Any]] = {}

    # -- validation ---------------------------------------------------------------

    def validate(self, expression: Any) -> None:
        if not isinstance(expression, dict) or "result" not in expression:
            raise ExpressionError("Invalid expression: missing 'result'.")
        values = expression.get("values", {})
        if expression["result"] not in values:
            raise ExpressionError(f"Invalid expression: unknown result '{expression['result']}'.")
        for node in values.values():
            self._validate_node(node, values)

    def _validate_node(self, node: Any, values: dict) -> None:
        if not isinstance(node, dict) or len(node) != 1:
            raise ExpressionError(f"Invalid value node: {str(node)[:80]}")
        ((kind, body),) = node.items()
        if kind in ("constantValue", "integerValue", "bytesValue", "argumentReference"):
            return
        if kind == "valueReference":
            if body not in values:
                raise ExpressionError(f"Invalid value reference '{body}'.")
            return
        if kind == "arrayValue":
            for item in body.get("values", []):
                self._validate_node(item, values)
            return
        if kind == "dictionaryValue":
            for item in body.get("values", {}).values():
                self._validate_node(item, values)
            return
        if kind == "functionDefinitionValue":
            self._validate_node(values.get(body.get("body"), {"constantValue": None}), values)
            return
        if kind == "functionInvocationValue":
            name = body.get("functionName")
            arguments = body.get("arguments", {})
            if name is not None:
                signature = self.signatures.get(name)
                if signature is None:
                    raise ExpressionError(f"Unknown function: {name}.")
                unknown = sorted(set(arguments) - set(signature))
                if unknown:
                    raise ExpressionError(
                        f"Unrecognized argument(s) {', '.join(repr(u) for u in unknown)} "
                        f"to function {name}."
                    )
                missing = sorted(
                    arg
                    for arg, spec in signature.items()
                    if not spec.get("optional") and arg not in arguments
                )
                if missing:
                    raise ExpressionError(
                        f"{name}: required argument(s) {', '.join(missing)} missing."
                    )
            for item in arguments.values():
                self._validate_node(item, values)
            return
        raise ExpressionError(f"Unknown value kind '{kind}'.")

    # -- evaluation ---------------------------------------------------------------

    def evaluate(self, expression: dict) -> Any:
        self.validate(expression)
        values = expression.get("values", {})
        cache: dict[str, Any] = {}
        return self._eval({"valueReference": expression["result"]}, values, cache)

    def _eval(self, node: dict, values: dict, cache: dict) -> Any:
        ((kind, body),) = node.items()
        if kind == "constantValue":
            return body
        if kind == "integerValue":
            return int(body)
        if kind == "valueReference":
            if body not in cache:
                cache[body] = self._eval(values[body], values, cache)
            return cache[body]
        if kind == "arrayValue":
            return [self._eval(v, values, cache) for v in body.get("values", [])]
        if kind == "dictionaryValue":
            return {k: self._eval(v, values, cache) for k, v in body.get("values", {}).items()}
        if kind == "argumentReference":
            bound = cache.get(_ARGUMENTS, {})
            if body not in bound:
                raise ExpressionError(f"Invalid argument reference '{body}'.")
            return bound[body]
        if kind == "functionDefinitionValue":
            return Function(self, list(body.get("argumentNames", [])), body["body"], values,
                            dict(cache.get(_ARGUMENTS, {})))  # fmt: skip
        if kind == "functionInvocationValue":
            name = body.get("functionName")
            impl = _FUNCTIONS.get(name)
            if impl is None:
                raise ExpressionError(
                    f"The fake Earth Engine does not emulate {name} (a valid algorithm).",
                    code=501,
                    status="UNIMPLEMENTED",
                )
            args = {k: self._eval(v, values, cache) for k, v in body.get("arguments", {}).items()}
            result = impl(self, **args)
            if (
                isinstance(result, LazyImage)
                and not result.unfixed
                and name not in _FIXES_PROJECTION
                and any(isinstance(a, LazyImage) and a.unfixed for a in args.values())
            ):  # a per-pixel operator keeps its input's (missing) projection
                result = LazyImage(result.band_names, result.dtypes, result.render, True)
            return result
        raise ExpressionError(
            f"The fake Earth Engine cannot evaluate a {kind}.", 501, "UNIMPLEMENTED"
        )


#: Algorithms whose result has a fixed projection whatever their input's.
_FIXES_PROJECTION = {"Image.reproject", "Image.setDefaultProjection", "Image.reduceResolution"}
_ARGUMENTS = "\0arguments"  # the cache slot holding a function body's bound arguments


@dataclass
class Function:
    """A ``functionDefinitionValue`` (the body of ``map``): calling it evaluates the body with
    its arguments bound, in a fresh cache (values that depend on an argument must not be
    shared between calls), arguments of enclosing functions still visible."""

    evaluator: Evaluator
    argument_names: list[str]
    body: str
    values: dict
    outer: dict

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.argument_names):
            raise ExpressionError(
                f"Function takes {len(self.argument_names)} argument(s), got {len(args)}."
            )
        bound = {**self.outer, **dict(zip(self.argument_names, args, strict=True))}
        cache: dict[str, Any] = {_ARGUMENTS: bound}
        return self.evaluator._eval({"valueReference": self.body}, self.values, cache)


# -- emulated algorithms ---------------------------------------------------------------


def _image_load(ev: Evaluator, id: str, version: Any = None) -> LazyImage:  # noqa: A002
    asset = ev.assets.get(id)
    if asset is None:
        raise ExpressionError(
            f"Image.load: Image asset '{id}' not found (does not exist or caller does not "
            "have access).",
            code=400,
        )

    def render(grid: PixelGrid) -> np.ndarray:
        src = asset.data.astype("float64")
        if asset.nodata is not None:
            src = np.where(src == asset.nodata, np.nan, src)
        window = _aligned_window(asset, grid)
        if window is not None:  # same CRS and pixel lattice: an exact crop
            return _crop(src, *window, grid.height, grid.width)
        out = np.full((src.shape[0], grid.height, grid.width), np.nan)
        with _GDAL_LOCK:  # rasterio's in-memory warps are not safe across threads
            for b in range(src.shape[0]):
                reproject(
                    src[b],
                    out[b],
                    src_transform=asset.transform,
                    src_crs=asset.crs,
                    src_nodata=np.nan,
                    dst_transform=grid.transform,
                    dst_crs=grid.crs,
                    dst_nodata=np.nan,
                    resampling=Resampling.nearest,
                )
        return out

    return LazyImage(list(asset.band_names), [asset.data.dtype.name] * asset.data.shape[0], render)


_GDAL_LOCK = threading.Lock()


def _aligned_window(asset: Asset, grid: PixelGrid) -> tuple[int, int] | None:
    """(row, col) offset of ``grid`` in the asset's pixels when both share CRS and lattice."""
    if (
        str(asset.crs).upper() != str(grid.crs).upper()
        or grid.transform[:2] != asset.transform[:2]
        or grid.transform[3:5] != asset.transform[3:5]
    ):
        return None
    col, row = ~asset.transform @ (grid.transform.c, grid.transform.f)
    if abs(col - round(col)) > 1e-9 or abs(row - round(row)) > 1e-9:
        return None
    return int(round(row)), int(round(col))


def _crop(src: np.ndarray, row: int, col: int, height: int, width: int) -> np.ndarray:
    """``src[:, row:row+height, col:col+width]`` with NaN where it falls outside."""
    out = np.full((src.shape[0], height, width), np.nan)
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + height, src.shape[1]), min(col + width, src.shape[2])
    if r0 < r1 and c0 < c1:
        out[:, r0 - row : r1 - row, c0 - col : c1 - col] = src[:, r0:r1, c0:c1]
    return out


def _as_image(value: Any) -> LazyImage:
    if isinstance(value, LazyImage):
        return value
    return _image_constant(None, value)


def _image_constant(ev: Evaluator | None, value: Any) -> LazyImage:
    consts = value if isinstance(value, list) else [value]
    names = ["constant"] if len(consts) == 1 else [f"constant_{i}" for i in range(len(consts))]
    dtypes = ["int32" if float(c).is_integer() else "float64" for c in consts]

    def render(grid: PixelGrid) -> np.ndarray:
        return np.stack([np.full((grid.height, grid.width), float(c)) for c in consts])

    return LazyImage(names, dtypes, render)


def _projection(ev: Evaluator, crs: Any, transform: Any = None, transformWkt: Any = None) -> dict:
    return {"crs": crs, "transform": transform}


def _image_reproject(
    ev: Evaluator, image: LazyImage, crs: Any, crsTransform: Any = None, scale: Any = None
) -> LazyImage:
    code = crs["crs"] if isinstance(crs, dict) else crs

    def render(grid: PixelGrid) -> np.ndarray:
        if str(code).upper() != str(grid.crs).upper():
            if crsTransform is None:
                raise ExpressionError(
                    f"The fake Earth Engine emulates reproject() into another CRS than the "
                    f"request's ({code}, the request grid is in {grid.crs}) with a "
                    "crsTransform only.",
                    501,
                    "UNIMPLEMENTED",
                )
            return _via_lattice(image, grid, str(code), Affine(*crsTransform[:6]))
        return image.render(grid)

    return LazyImage(image.band_names, image.dtypes, render)


#: Most cells the fake renders on a reproject() lattice for one request (coarse map tiles
#: would need Earth Engine's pyramids).
MAX_LATTICE_CELLS = 4_000_000


def _via_lattice(image: LazyImage, grid: PixelGrid, crs: str, lattice: Affine) -> np.ndarray:
    """``image`` evaluated on the reproject() lattice (``crs``, ``lattice`` transform) over
    the request's footprint, then resampled (nearest) onto the request grid, as when a map
    tile in Web Mercator shows an image reprojected onto a UTM grid."""
    from rasterio.warp import transform_bounds

    t = grid.transform
    west, north = t.c, t.f
    east, south = t @ (grid.width, grid.height)
    bounds = transform_bounds(grid.crs, crs, min(west, east), min(south, north),
                              max(west, east), max(south, north), densify_pts=21)  # fmt: skip
    corners = [~lattice @ (x, y) for x in bounds[0::2] for y in bounds[1::2]]
    c0, r0 = (math.floor(min(v)) - 1 for v in zip(*corners, strict=True))
    c1, r1 = (math.ceil(max(v)) + 1 for v in zip(*corners, strict=True))
    if (r1 - r0) * (c1 - c0) > MAX_LATTICE_CELLS:
        raise ExpressionError(
            f"The fake Earth Engine renders at most {MAX_LATTICE_CELLS} reprojected cells "
            "per request (zoom in).",
            501,
            "UNIMPLEMENTED",
        )
    source = PixelGrid(crs, lattice @ Affine.translation(c0, r0), r1 - r0, c1 - c0)
    data = image.render(source)
    out = np.full((data.shape[0], grid.height, grid.width), np.nan)
    with _GDAL_LOCK:
        for b in range(data.shape[0]):
            reproject(data[b], out[b], src_transform=source.transform, src_crs=crs,
                      src_nodata=np.nan, dst_transform=grid.transform, dst_crs=grid.crs,
                      dst_nodata=np.nan, resampling=Resampling.nearest)  # fmt: skip
    return out


def _cast(dtype: str) -> Callable[..., LazyImage]:
    """A cast that rounds the pixels as Earth Engine does (float32 rounding; integers
    truncated toward zero and clamped to the type's range), masks kept as NaN."""
    target = np.dtype(dtype)

    def cast(data: np.ndarray) -> np.ndarray:
        if target.kind == "f":
            return data.astype(target).astype("float64")
        info = np.iinfo(target)
        return np.where(np.isnan(data), np.nan, np.clip(np.trunc(data), info.min, info.max))

    def impl(ev: Evaluator, value: LazyImage) -> LazyImage:
        return LazyImage(
            value.band_names, [dtype] * len(value.band_names), lambda g: cast(value.render(g))
        )

    return impl


def _image_add_bands(
    ev: Evaluator, dstImg: LazyImage, srcImg: LazyImage, names: Any = None, overwrite: Any = False
) -> LazyImage:
    if names is not None:
        raise ExpressionError("The fake emulates addBands without 'names'.", 501, "UNIMPLEMENTED")

    def render(grid: PixelGrid) -> np.ndarray:
        return np.concatenate([dstImg.render(grid), srcImg.render(grid)])

    return LazyImage(dstImg.band_names + srcImg.band_names, dstImg.dtypes + srcImg.dtypes, render)


def _image_rename(ev: Evaluator, input: LazyImage, names: list[str]) -> LazyImage:  # noqa: A002
    if len(names) != len(input.band_names):
        raise ExpressionError(
            f"Image.rename: Can't rename {len(input.band_names)} bands to {len(names)} names."
        )
    return LazyImage(list(names), input.dtypes, input.render)


def _image_select(
    ev: Evaluator,
    input: LazyImage,
    bandSelectors: list,
    newNames: Any = None,  # noqa: A002
) -> LazyImage:
    idx = []
    for sel in bandSelectors:
        if isinstance(sel, int):
            idx.append(sel)
        elif sel in input.band_names:
            idx.append(input.band_names.index(sel))
        else:
            raise ExpressionError(
                f"Image.select: Pattern '{sel}' did not match any bands. "
                f"Available bands: [{', '.join(input.band_names)}]"
            )
    names = list(newNames) if newNames else [input.band_names[i] for i in idx]
    return LazyImage(names, [input.dtypes[i] for i in idx], lambda grid: input.render(grid)[idx])


def _image_unmask(
    ev: Evaluator,
    input: LazyImage,
    value: Any = None,
    sameFootprint: Any = True,  # noqa: A002
) -> LazyImage:
    fill = _as_image(0 if value is None else value)

    def render(grid: PixelGrid) -> np.ndarray:
        data = input.render(grid)
        filler = np.broadcast_to(fill.render(grid), data.shape)
        return np.where(np.isnan(data), filler, data)

    return LazyImage(input.band_names, input.dtypes, render)


def _gradients(dem: np.ndarray, grid: PixelGrid) -> tuple[np.ndarray, np.ndarray]:
    """4-connected central differences (as Earth Engine's Terrain): dz/dx east, dz/dy north."""
    res_x, res_y = abs(grid.transform.a), abs(grid.transform.e)
    dzdx = (dem[1:-1, 2:] - dem[1:-1, :-2]) / (2 * res_x)
    dzdy = (dem[:-2, 1:-1] - dem[2:, 1:-1]) / (2 * res_y)
    return dzdx, dzdy


def terrain_slope(dem: np.ndarray, grid: PixelGrid) -> np.ndarray:
    """Slope in degrees of the inner cells of a DEM padded by one cell (NumPy reference)."""
    dzdx, dzdy = _gradients(dem, grid)
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy)))


def terrain_aspect(dem: np.ndarray, grid: PixelGrid) -> np.ndarray:
    """Aspect in degrees clockwise from north (downslope direction) of the inner cells."""
    dzdx, dzdy = _gradients(dem, grid)
    return np.mod(np.degrees(np.arctan2(-dzdx, -dzdy)), 360.0)


def _terrain(func: Callable[[np.ndarray, PixelGrid], np.ndarray], band: str):
    def impl(ev: Evaluator, input: LazyImage) -> LazyImage:  # noqa: A002
        def render(grid: PixelGrid) -> np.ndarray:
            padded = grid.padded(1)
            dem = input.render(padded)[0]
            return func(dem, padded)[np.newaxis]

        return LazyImage([band], ["float32"], render)

    return impl


def _number_op(op: Callable[[float, float], float]):
    def impl(ev: Evaluator, left: Any, right: Any) -> float:
        return op(left, right)

    return impl


def _band_names(ev: Evaluator, image: LazyImage) -> list[str]:
    return list(image.band_names)


def emulates(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an emulation of the algorithms ``names`` (``"Image.convolve"``, ...).

    Emulations live in modules named ``emulate_*.py`` next to this one, each for one area
    (terrain kernels, imagery collections, vectors, models); ``ee_fake/__init__.py`` imports
    them so that they register before the server starts.
    """

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            if name in _FUNCTIONS:
                raise RuntimeError(f"{name} is emulated twice")
            _FUNCTIONS[name] = impl
        return impl

    return register


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "Image.load": _image_load,
    "Image.constant": _image_constant,
    "Projection": _projection,
    "Image.reproject": _image_reproject,
    "Image.toFloat": _cast("float32"),
    "Image.toDouble": _cast("float64"),
    "Image.toUint8": _cast("uint8"),
    "Image.toInt8": _cast("int8"),
    "Image.toInt16": _cast("int16"),
    "Image.toUint16": _cast("uint16"),
    "Image.toInt32": _cast("int32"),
    "Image.toUint32": _cast("uint32"),
    "Image.addBands": _image_add_bands,
    "Image.rename": _image_rename,
    "Image.select": _image_select,
    "Image.unmask": _image_unmask,
    "Image.bandNames": _band_names,
    "Terrain.slope": _terrain(terrain_slope, "slope"),
    "Terrain.aspect": _terrain(terrain_aspect, "aspect"),
    "Number.add": _number_op(lambda a, b: a + b),
    "Number.subtract": _number_op(lambda a, b: a - b),
    "Number.multiply": _number_op(lambda a, b: a * b),
    "Number.sqrt": lambda ev, input: math.sqrt(input),  # noqa: A006
}
