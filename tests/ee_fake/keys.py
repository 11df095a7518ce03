"""Throwaway Google service-account keys for tests (a real RSA key, a real JSON key file)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class ServiceAccountKey:
    """A generated key: its file, the secrets it holds and the public half for the fake."""

    path: Path
    client_email: str
    private_key_id: str
    private_key_pem: str
    public_key_pem: str
    project_id: str


def make_service_account_key(
    path: Path, *, token_uri: str, project_id: str = "lsgh-test", name: str = "lsgh-runner"
) -> ServiceAccountKey:
    """Write a service-account JSON key file in Google's format whose ``token_uri`` is
    ``token_uri`` (the fake's ``/token``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    email = f"{name}@{project_id}.iam.gserviceaccount.com"
    key_id = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    document = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": private_pem,
        "client_email": email,
        "client_id": str(uuid.uuid4().int)[:21],
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return ServiceAccountKey(path, email, key_id, private_pem, public_pem, project_id)
