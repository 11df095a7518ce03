"""Training samples as a table exported from Earth Engine, for inventories too large to
sample locally: the image is sampled at the points in Earth Engine
(``Image.sampleRegions`` on the analysis grid's pixels) and the table is exported to Cloud
Storage as CSV or TFRecord (``ee.batch.Export.table.toCloudStorage``);
:func:`fetch_table` reads a CSV export back as a DataFrame.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from lsgh_ee.earthengine.exports import ExportSettings, safe_name
from lsgh_ee.earthengine.geometry import crs_code, crs_transform
from lsgh_ee.earthengine.tasks import start_with_retries
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid

log = logging.getLogger(__name__)

TableFormat = Literal["CSV", "TFRecord"]
MAX_INLINE_POINTS = 5000  # larger point sets belong in a table asset, not in the request


def points_collection(points: Any, properties: Sequence[str], grid: Grid) -> Any:
    """An inline ``ee.FeatureCollection`` of the point features of ``points`` (a
    GeoDataFrame) in the grid's CRS, each with its ``properties`` columns.

    Raises:
        LsghError: not points, a missing property column, or more than
            ``MAX_INLINE_POINTS`` points.
    """
    import ee

    missing = [p for p in properties if p not in points.columns]
    if missing:
        raise LsghError(
            f"the sample points have no column(s) {', '.join(missing)}; name existing columns"
        )
    if len(points) > MAX_INLINE_POINTS:
        raise LsghError(
            f"{len(points)} sample points are too many to send inline (at most "
            f"{MAX_INLINE_POINTS}); upload them as an Earth Engine table asset"
        )
    if len(points) and not (points.geom_type == "Point").all():
        raise LsghError("the sample points must be Point geometries (use centroids of polygons)")
    crs = crs_code(grid)
    local = points.to_crs(grid.crs)
    features = []
    for geom, (_, row) in zip(local.geometry, local.iterrows(), strict=True):
        values = {p: (row[p].item() if hasattr(row[p], "item") else row[p]) for p in properties}
        features.append(ee.Feature(ee.Geometry.Point([geom.x, geom.y], crs), values))
    return ee.FeatureCollection(features)


def export_sample_table(
    image: Any,
    points: Any,
    *,
    properties: Sequence[str],
    band_names: Sequence[str],
    bucket: str,
    prefix: str,
    grid: Grid,
    file_format: TableFormat = "CSV",
    description: str = "lsgh_samples",
    retries: int = 5,
    backoff_s: float = 1.0,
) -> str:
    """Sample ``image``'s ``band_names`` at ``points`` on the grid's pixels and export the
    table (columns ``properties`` then ``band_names``; points on masked pixels are dropped)
    to ``gs://bucket/prefix.csv`` (or ``.tfrecord.gz``); returns the operation name.

    Raises:
        LsghError: bad points (see :func:`points_collection`) or a refused start.
    """
    import ee

    if file_format not in ("CSV", "TFRecord"):
        raise LsghError(f"file_format must be CSV or TFRecord, got {file_format!r}")
    collection = points_collection(points, properties, grid)
    projection = ee.Projection(crs_code(grid), crs_transform(grid))
    sampled = image.select(list(band_names)).sampleRegions(
        collection=collection, properties=list(properties), projection=projection
    )
    task = ee.batch.Export.table.toCloudStorage(
        collection=sampled,
        description=safe_name(description),
        bucket=bucket,
        fileNamePrefix=prefix,
        fileFormat=file_format,
        selectors=[*properties, *band_names],
    )
    start_with_retries(task.start, f"table export {description}", retries=retries,
                       backoff_s=backoff_s)  # fmt: skip
    log.info("started Earth Engine table export %s to gs://%s/%s", task.name, bucket, prefix)
    return str(task.name)


def fetch_table(
    settings: ExportSettings, prefix: str, out_path: str | os.PathLike | None = None
) -> Any:
    """The CSV export ``gs://<bucket>/<prefix>.csv`` as a pandas DataFrame (also kept at
    ``out_path`` when given).

    Raises:
        LsghError: the object does not exist (the export has not finished) or no bucket.
    """
    import tempfile

    import pandas as pd

    store = settings.storage()
    name = f"{prefix}.csv"
    if out_path is not None:
        return pd.read_csv(store.download(name, out_path))
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_csv(store.download(name, Path(tmp) / "table.csv"))
