"""The Compute Engine / Cloud Run metadata server part of the fake (Application Default
Credentials without a file), as ``google.auth.compute_engine`` calls it: the ping at the
root, ``instance/service-accounts/default/?recursive=true`` (email, scopes), ``.../token``
(an access token the fake accepts) and ``project/project-id``. Every answer carries
``Metadata-Flavor: Google``; a request without that header is refused (403), as the real
server does. Point the client at it with ``GCE_METADATA_HOST`` / ``GCE_METADATA_IP``.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeEarthEngine

FLAVOR = {"Metadata-Flavor": "Google"}


def is_metadata_path(path: str) -> bool:
    return path == "/" or path.startswith("/computeMetadata/")


def handle(fake: FakeEarthEngine, path: str, headers: Any) -> tuple[int, bytes, str, dict]:
    """(status, body, content type, headers) of one metadata request."""
    account = fake.metadata_account
    if account is None:
        return 404, b"not on Compute Engine", "text/plain", {}
    if headers.get("Metadata-Flavor") != "Google":
        return 403, b"Missing Metadata-Flavor:Google header.", "text/plain", FLAVOR
    if path == "/":
        return 200, b"", "text/plain", FLAVOR
    base = "/computeMetadata/v1/"
    rest = path.removeprefix(base).rstrip("/")
    if rest == "project/project-id":
        return 200, fake.metadata_project.encode(), "text/plain", FLAVOR
    if rest.startswith("instance/service-accounts/"):
        parts = rest.split("/")
        who = parts[2] if len(parts) > 2 else "default"
        if who not in ("default", account):
            return 404, b"not found", "text/plain", FLAVOR
        if len(parts) == 3:
            info = {"email": account, "aliases": ["default"],
                    "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}  # fmt: skip
            return 200, json.dumps(info).encode(), "application/json", FLAVOR
        if parts[3] == "token":
            token = "ya29.fake-metadata-" + uuid.uuid4().hex
            fake.tokens[token] = account
            doc = {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
            return 200, json.dumps(doc).encode(), "application/json", FLAVOR
    if rest == "universe/universe-domain":
        return 200, b"googleapis.com", "text/plain", FLAVOR
    return 404, b"not found", "text/plain", FLAVOR
