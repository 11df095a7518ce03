"""Small tables out of Earth Engine: a FeatureCollection exported to Cloud Storage as CSV
or TFRecord (``ee.batch.Export.table.toCloudStorage``), waited for and read back as a
DataFrame; the
numbers of one region reduction (``Image.reduceRegion`` on the analysis grid).

These are the only downloads of the Earth Engine-native run: their size grows with the
number of samples and histogram buckets, never with the region's pixel count.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lsgh_ee.earthengine.exports import ExportSettings, safe_name
from lsgh_ee.earthengine.geometry import crs_code, crs_transform, grid_region
from lsgh_ee.earthengine.tables import TableFormat, fetch_table
from lsgh_ee.earthengine.tasks import start_with_retries, wait_for_operation
from lsgh_ee.errors import LsghError
from lsgh_ee.grid import Grid

log = logging.getLogger(__name__)

#: Most pixels one region reduction may visit (Earth Engine's ``maxPixels``): enough for a
#: continental grid at 30 m.
MAX_PIXELS = 1e13


def collection_to_frame(
    collection: Any,
    columns: Sequence[str],
    settings: ExportSettings,
    name: str,
    file_format: TableFormat = "CSV",
) -> Any:
    """Export ``collection`` (its ``columns``, all numeric) to
    ``gs://<bucket>/<prefix>/<name>.csv`` (or ``.tfrecord.gz``), wait for the task and read
    the table back as a pandas DataFrame.

    Raises:
        LsghError: no bucket configured, an unknown format, a refused start, or a failed
            task.
    """
    import ee

    if file_format not in ("CSV", "TFRecord"):
        raise LsghError(f"the sample table format must be CSV or TFRecord, got {file_format!r}")
    bucket = settings.require_bucket("the Earth Engine-native sample table")
    prefix = f"{settings.prefix}/{safe_name(name)}"
    task = ee.batch.Export.table.toCloudStorage(
        collection=collection,
        description=safe_name(f"lsgh_{name}"),
        bucket=bucket,
        fileNamePrefix=prefix,
        fileFormat=file_format,
        selectors=list(columns),
    )
    start_with_retries(task.start, f"table export {name}")
    log.info("Earth Engine table export %s to gs://%s/%s", task.name, bucket, prefix)
    wait_for_operation(str(task.name), poll_s=settings.poll_s)
    if file_format == "TFRecord":
        with tempfile.TemporaryDirectory() as tmp:
            local = settings.storage().download(f"{prefix}.tfrecord.gz", Path(tmp) / "t.gz")
            frame = read_tfrecord_table(local, columns)
    else:
        frame = fetch_table(settings, prefix)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise LsghError(
            f"the table gs://{bucket}/{prefix} lacks columns {', '.join(missing)}; "
            "delete it and run again"
        )
    return frame


def read_tfrecord_table(path: str | os.PathLike, columns: Sequence[str]) -> Any:
    """A TFRecord table export (GZIP; one ``tf.train.Example`` per feature, every number a
    float32 ``float_list`` of length 1, as Earth Engine writes them) as a DataFrame of
    ``columns`` (float64 holding the float32 values)."""
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    spec = {c: tf.io.FixedLenFeature([1], tf.float32) for c in columns}
    dataset = tf.data.TFRecordDataset(str(path), compression_type="GZIP").batch(65536)
    parts: dict[str, list] = {c: [] for c in columns}
    try:
        for batch in dataset:
            parsed = tf.io.parse_example(batch, spec)
            for c in columns:
                parts[c].append(parsed[c].numpy()[:, 0])
    except tf.errors.OpError as exc:
        raise LsghError(
            f"the table {path} is not a TFRecord table with columns {', '.join(columns)} "
            f"({exc.message.splitlines()[0]}); delete it and run again"
        ) from None
    return pd.DataFrame({c: np.concatenate(v).astype("float64") if v else np.zeros(0)
                         for c, v in parts.items()})  # fmt: skip


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
