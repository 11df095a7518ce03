"""Finding Earth Engine credentials in the standard places, without ever printing them."""

from __future__ import annotations

import os
from pathlib import Path

from lsgh_ee.errors import LsghError


def credentials_path() -> Path | None:
    """The credentials file the ``ee`` client would use: a service-account key named by
    ``GOOGLE_APPLICATION_CREDENTIALS``, or the persistent credentials written by
    ``earthengine authenticate``; None when neither exists."""
    key = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key and Path(key).is_file():
        return Path(key)
    config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    persistent = config_home / "earthengine" / "credentials"
    return persistent if persistent.is_file() else None


def require_credentials() -> Path:
    """The credentials path, or one clear error saying how to get credentials."""
    found = credentials_path()
    if found is None:
        raise LsghError(
            "the Earth Engine backend needs credentials: run 'earthengine authenticate' or "
            "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"
        )
    return found
