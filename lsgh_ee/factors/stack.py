"""The factor stack (float values per factor) and the class-code stack (uint8 model input).

On disk, in the run folder:

- ``factors.tif``: float32, one band per factor in its units, NaN = nodata;
- ``class_codes.tif``: uint8, one band per factor, codes 1..k, 0 = nodata;
- ``factor_schema.json``: names, kinds, units, breaks and class names per factor (the
  schema a model bundle is checked against).

Band descriptions are the factor names; band tags carry units and class names, so the
files are self-describing in QGIS and ``gdalinfo``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lsgh_ee.atomic import write_text
from lsgh_ee.grid import Grid
from lsgh_ee.rasters import read_stack, write_geotiff
from lsgh_ee.runfolder import RunFolder


@dataclass
class FactorLayer:
    """One factor on the grid.

    Attributes:
        values: float32 ``(rows, cols)`` in ``units`` (class codes for categorical
            factors), NaN = nodata.
        codes: uint8 ``(rows, cols)`` class codes 1..len(classes), 0 = nodata.
        classes: class names in code order.
        breaks: class breaks (continuous and distance factors).
        method: how it was computed (recipe, parameters), for reports and manifests.
    """

    name: str
    kind: str
    units: str
    values: np.ndarray
    codes: np.ndarray
    classes: tuple[str, ...]
    breaks: tuple[float, ...] = ()
    method: dict = field(default_factory=dict)

    def schema(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "units": self.units,
            "breaks": list(self.breaks),
            "classes": list(self.classes),
            "n_classes": len(self.classes),
            "method": self.method,
        }


@dataclass
class FactorStack:
    """All factors of a region on one grid."""

    grid: Grid
    layers: list[FactorLayer]

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def values(self) -> np.ndarray:
        """float32 ``(factors, rows, cols)``."""
        return np.stack([layer.values for layer in self.layers])

    @property
    def codes(self) -> np.ndarray:
        """uint8 ``(factors, rows, cols)``."""
        return np.stack([layer.codes for layer in self.layers])

    def schema(self) -> dict:
        return {"grid": self.grid.to_dict(), "factors": [layer.schema() for layer in self.layers]}

    #: File tags of ``factors.tif`` and ``class_codes.tif``.
    VALUE_TAGS = {"content": "lsgh-ee factor values"}
    CODE_TAGS = {"content": "lsgh-ee class codes (0 = nodata)"}

    def band_tags(self) -> tuple[list[dict], list[dict]]:
        """Band tags of ``factors.tif`` (units, kind) and ``class_codes.tif`` (classes, kind)."""
        tags = [{"units": ly.units, "kind": ly.kind} for ly in self.layers]
        code_tags = [
            {"classes": json.dumps(list(ly.classes)), "kind": ly.kind} for ly in self.layers
        ]
        return tags, code_tags

    def write(self, run_dir: str | os.PathLike) -> list[Path]:
        """Write the two stacks and the schema into ``run_dir`` (atomically, each)."""
        run_dir = Path(run_dir)
        tags, code_tags = self.band_tags()
        paths = [
            write_geotiff(
                RunFolder(run_dir).factors,
                self.values,
                self.grid,
                descriptions=self.names,
                band_tags=tags,
                tags=self.VALUE_TAGS,
            ),
            write_geotiff(
                RunFolder(run_dir).codes,
                self.codes,
                self.grid,
                nodata=0,
                descriptions=self.names,
                band_tags=code_tags,
                tags=self.CODE_TAGS,
            ),
        ]
        paths.append(self.write_schema(run_dir))
        return paths

    def write_schema(self, run_dir: str | os.PathLike) -> Path:
        """Write ``factor_schema.json`` into ``run_dir`` (atomically)."""
        path = RunFolder(run_dir).factor_schema
        write_text(path, json.dumps(self.schema(), indent=2))
        return path

    @classmethod
    def read(cls, run_dir: str | os.PathLike) -> FactorStack:
        """Read a stack written by :meth:`write`."""
        run_dir = Path(run_dir)
        schema = json.loads((RunFolder(run_dir).factor_schema).read_text(encoding="utf-8"))
        values, grid, _ = read_stack(RunFolder(run_dir).factors)
        codes, _, _ = read_stack(RunFolder(run_dir).codes)
        layers = [
            FactorLayer(
                name=f["name"],
                kind=f["kind"],
                units=f["units"],
                values=values[i],
                codes=codes[i],
                classes=tuple(f["classes"]),
                breaks=tuple(f["breaks"]),
                method=f.get("method", {}),
            )
            for i, f in enumerate(schema["factors"])
        ]
        return cls(grid=grid, layers=layers)
