"""Files of a saved model: a folder written atomically, JSON metadata, file hashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from lsgh_ee.errors import LsghError

SCHEMA_JSON = "schema.json"


@contextlib.contextmanager
def atomic_folder(folder: str | os.PathLike, marker: str = SCHEMA_JSON) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; on success it becomes ``folder``.

    On any exception the temporary folder is removed and ``folder`` is left as it was, so a
    crash never leaves a half-written model behind. An existing ``folder`` is replaced only
    when it is empty or holds an earlier saved model (its ``marker`` file, ``schema.json``
    by default); anything else is refused, so a mistyped path cannot wipe a user's folder.
    """
    final = Path(folder)
    if final.exists():
        if not final.is_dir():
            raise LsghError(f"{final} is a file, not a model folder; choose another folder")
        if any(final.iterdir()) and not (final / marker).is_file():
            raise LsghError(
                f"{final} exists and is not a saved model (no {marker}); "
                "choose an empty or new folder"
            )
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    except OSError as exc:
        raise LsghError(
            f"cannot create {final}: {exc.strerror or exc}; choose a writable output folder"
        ) from exc
    try:
        yield tmp
        _swap_in(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, PermissionError) or (
            isinstance(exc, OSError) and exc.errno in (28, 30)
        ):  # a full disk or a read-only file system: the user's to fix
            raise LsghError(
                f"cannot write {final}: {exc.strerror or exc}; "
                "free disk space or choose a writable output folder"
            ) from exc
        raise


def _swap_in(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.replace(tmp, final)
        return
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
    os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def read_schema(folder: str | os.PathLike) -> dict:
    """The ``schema.json`` of a saved model folder, with clear errors when it is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LsghError(f"model folder {folder} not found; train a model first or check the path")
    path = folder / SCHEMA_JSON
    if not path.is_file():
        raise LsghError(f"{folder} is not a saved model (no {SCHEMA_JSON}); check the path")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LsghError(
            f"cannot read {path}: {exc}; the model folder is damaged, save the model again"
        ) from exc
    if not isinstance(schema, dict) or "variant" not in schema:
        raise LsghError(f"{path} is not an lsgh-ee model schema; save the model again")
    return schema


def bundle_schema_path(folder: str | os.PathLike) -> Path:
    """The ``schema.json`` of a model folder (whether or not it exists)."""
    return Path(folder) / SCHEMA_JSON


def is_bundle(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a saved model (its ``schema.json``)."""
    return bundle_schema_path(folder).is_file()


def require_bundle(folder: str | os.PathLike, variant: str | None = None) -> Path:
    """``folder`` when it holds a saved model; else one line saying what to do: train
    ``variant`` in this run, or pass a bundle folder."""
    folder = Path(folder)
    if not is_bundle(folder):
        hint = (
            f"run 'lsgh-ee train CONFIG --model {variant}' first"
            if variant is not None
            else f"pass the folder of a model bundle (it holds {SCHEMA_JSON})"
        )
        raise LsghError(f"no model bundle in {folder}; {hint}")
    return folder
