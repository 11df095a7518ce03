"""TFRecord table exports of the fake, as Earth Engine documents them (guides/tfrecord): one
``tf.train.Example`` per feature, each numeric property a ``float_list`` (every number is
coerced to float32), the file GZIP-compressed, exactly one file per export
(``<prefix>.tfrecord.gz``). Non-numeric properties are left out."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any


def tfrecord_table(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    """The rows as a GZIP TFRecord file's bytes (TensorFlow writes it)."""
    import tensorflow as tf

    def feature(value: Any) -> Any:
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.tfrecord.gz"
        with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
            for row in rows:
                numeric = [c for c in columns if isinstance(row.get(c), (int, float))]
                features = {c: feature(row[c]) for c in numeric}
                example = tf.train.Example(features=tf.train.Features(feature=features))
                writer.write(example.SerializeToString())
        return path.read_bytes()
