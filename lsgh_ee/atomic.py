"""Atomic file writes: a file appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from lsgh_ee.errors import LsghError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched (an
    earlier complete file under that name survives). The temporary name keeps the suffix
    so drivers that choose a format by extension still work.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LsghError(
            f"cannot create output folder {final.parent}: {exc.strerror}; "
            "choose a writable output folder"
        ) from exc
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.partial{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        _remove(tmp)
        if isinstance(exc, PermissionError | FileNotFoundError) or exc.errno in (28, 30, 13):
            raise LsghError(
                f"cannot write {final}: {exc.strerror or exc}; "
                "free disk space or choose a writable output folder"
            ) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
