"""Starting TensorFlow without its start-up noise.

TensorFlow's C++ runtime prints several lines to the process's stderr when it is
imported and when it first looks for a GPU (oneDNN notices, "could not find cuda
drivers", a failed ``cuInit`` on machines without one). They are not errors, and
``TF_CPP_MIN_LOG_LEVEL`` no longer hides them, so the import runs with the native stderr
pointed at /dev/null. Python exceptions still surface. Set ``LSGH_EE_TF_LOGS=1`` to see
the messages (e.g. to debug a GPU set-up).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (C/C++ output included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


_started = False


def start_tensorflow() -> None:
    """Import TensorFlow and probe for GPUs quietly (a no-op for other Keras backends).

    Every module that imports Keras calls this first; only the first call does the work.
    """
    global _started
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _started or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    _started = True
    quiet = os.environ.get("LSGH_EE_TF_LOGS", "") in ("", "0")
    with native_stderr_silenced() if quiet else contextlib.nullcontext():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
