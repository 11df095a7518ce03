"""Small tables out of Earth Engine: a FeatureCollection exported to Cloud Storage as CSV
(``ee.batch.Export.table.toCloudStorage``), waited for and read back as a DataFrame; the
numbers of one region reduction (``Image.reduceRegion`` on the analysis grid).

These are the only downloads of the Earth Engine-native run: their size grows with the
number of samples and histogram buckets, never with the region's pixel count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lsgh_ee.earthengine.exports import ExportSettings, safe_name
from lsgh_ee.earthengine.geometry import crs_code, crs_transform, grid_region
from lsgh_ee.earthengine.tables import fetch_table
from lsgh_ee.earthengine.tasks import start_with_retries, wait_for_operation
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid

log = logging.getLogger(__name__)

#: Most pixels one region reduction may visit (Earth Engine's ``maxPixels``): enough for a
#: continental grid at 30 m.
MAX_PIXELS = 1e13


def collection_to_frame(
    collection: Any, columns: Sequence[str], settings: ExportSettings, name: str
) -> Any:
    """Export ``collection`` (its ``columns``) to ``gs://<bucket>/<prefix>/<name>.csv``,
    wait for the task and read the CSV back as a pandas DataFrame.

    Raises:
        LsghError: no bucket configured, a refused start, or a failed task.
    """
    import ee

    bucket = settings.require_bucket("the Earth Engine-native sample table")
    prefix = f"{settings.prefix}/{safe_name(name)}"
    task = ee.batch.Export.table.toCloudStorage(
        collection=collection,
        description=safe_name(f"lsgh_{name}"),
        bucket=bucket,
        fileNamePrefix=prefix,
        fileFormat="CSV",
        selectors=list(columns),
    )
    start_with_retries(task.start, f"table export {name}")
    log.info("Earth Engine table export %s to gs://%s/%s.csv", task.name, bucket, prefix)
    wait_for_operation(str(task.name), poll_s=settings.poll_s)
    frame = fetch_table(settings, prefix)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise LsghError(
            f"the table gs://{bucket}/{prefix}.csv lacks columns {', '.join(missing)}; "
            "delete it and run again"
        )
    return frame


def reduce_grid(image: Any, reducer: Any, grid: Grid) -> dict[str, Any]:
    """``image.reduceRegion(reducer)`` over the grid's pixels (its CRS and lattice):
    ``{output name: value}``."""
    result = image.reduceRegion(
        reducer=reducer,
        geometry=grid_region(grid),
        crs=crs_code(grid),
        crsTransform=crs_transform(grid),
        maxPixels=MAX_PIXELS,
    ).getInfo()
    return dict(result or {})


def histogram_counts(image: Any, grid: Grid, low: float, high: float, steps: int) -> Any:
    """Counts per bucket of ``Reducer.fixedHistogram(low, high, steps)`` of each band of
    ``image`` over the grid: ``{band: int64 array (steps,)}`` (masked pixels and values
    outside ``[low, high)`` not counted)."""
    import ee
    import numpy as np

    out = reduce_grid(image, ee.Reducer.fixedHistogram(low, high, steps), grid)
    counts = {}
    for band, table in out.items():
        rows = np.asarray(table if table is not None else np.zeros((steps, 2)), dtype="float64")
        counts[band] = np.rint(rows.reshape(-1, 2)[:, 1]).astype(np.int64)
    return counts
