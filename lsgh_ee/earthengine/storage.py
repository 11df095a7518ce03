"""A small Cloud Storage client for one bucket: upload, download, list, delete.

Built on ``google-cloud-storage`` (installed with earthengine-api) with the credentials of
the open Earth Engine session, so one login serves both. The JSON API endpoint is a
setting (``storage_url``, else ``LSGH_EE_STORAGE_URL``, else the public one). Every failure
is one :class:`~lsgh_ee.errors.LsghError` line naming the object and the fix, never a
credential.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lsgh_ee.atomic import atomic_path
from lsgh_ee.earthengine.session import session_credentials
from lsgh_ee.errors import LsghError

log = logging.getLogger(__name__)

DEFAULT_STORAGE_URL = "https://storage.googleapis.com"
STORAGE_URL_ENV = "LSGH_EE_STORAGE_URL"


def gs_uri(bucket: str, name: str) -> str:
    """``gs://bucket/name``."""
    return f"gs://{bucket}/{name}"


class CloudStorage:
    """Objects of one bucket, with the Earth Engine session's credentials.

    Args:
        bucket: the bucket name (no ``gs://``).
        project: the Google Cloud project billed for requests.
        api_url: the JSON API endpoint (else ``LSGH_EE_STORAGE_URL``, else the public one).
    """

    def __init__(self, bucket: str, *, project: str, api_url: str | None = None) -> None:
        from google.cloud import storage

        self.bucket_name = bucket
        self.api_url = (api_url or os.environ.get(STORAGE_URL_ENV) or DEFAULT_STORAGE_URL).rstrip(
            "/"
        )
        client = storage.Client(
            project=project,
            credentials=session_credentials(),
            client_options={"api_endpoint": self.api_url},
        )
        self._client = client
        self._bucket = client.bucket(bucket)

    @contextmanager
    def _errors(self, action: str, name: str | None = None) -> Iterator[None]:
        """Turn client errors into one line naming ``action`` and the object."""
        import google.auth.exceptions
        import requests
        from google.api_core import exceptions as gexc
        from google.resumable_media.common import DataCorruption

        where = gs_uri(self.bucket_name, name) if name else f"gs://{self.bucket_name}"
        try:
            yield
        except gexc.NotFound as exc:
            what = "bucket" if "bucket" in str(exc).lower() and name is None else "object"
            raise LsghError(
                f"cannot {action} {where}: the {what} does not exist (check "
                "earthengine.bucket and that the export finished)"
            ) from None
        except gexc.Forbidden:
            raise LsghError(
                f"cannot {action} {where}: permission denied; grant the account Storage "
                f"Object Admin on bucket {self.bucket_name}"
            ) from None
        except gexc.GoogleAPICallError as exc:
            message = " ".join(str(getattr(exc, "message", exc)).split())[:200]
            raise LsghError(
                f"cannot {action} {where}: Cloud Storage answered {exc.code}: {message}"
            ) from None
        except DataCorruption:
            raise LsghError(
                f"cannot {action} {where}: the data Cloud Storage sent does not match its "
                "checksum (a broken transfer); run the command again"
            ) from None
        except google.auth.exceptions.GoogleAuthError:
            raise LsghError(
                f"cannot {action} {where}: the credentials were refused; run "
                "'earthengine authenticate' again or use a valid service-account key"
            ) from None
        except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError):
            raise LsghError(
                f"cannot {action} {where}: Cloud Storage at {self.api_url} is unreachable; "
                f"check the network (or {STORAGE_URL_ENV})"
            ) from None

    def upload(self, local: str | os.PathLike, name: str, content_type: str | None = None) -> str:
        """Upload ``local`` as object ``name``; returns its ``gs://`` URI. The object
        appears only once the upload is complete, so readers never see part of it."""
        blob = self._bucket.blob(name)
        with self._errors("upload to", name):
            blob.upload_from_filename(str(local), content_type=content_type)
        log.info("uploaded %s to %s", local, gs_uri(self.bucket_name, name))
        return gs_uri(self.bucket_name, name)

    def download(self, name: str, local: str | os.PathLike) -> Path:
        """Download object ``name`` to ``local`` (written atomically)."""
        out = Path(local)
        out.parent.mkdir(parents=True, exist_ok=True)
        with self._errors("download", name), atomic_path(out) as tmp:
            self._bucket.blob(name).download_to_filename(str(tmp))
        return out

    def bucket_info(self) -> dict[str, object]:
        """The bucket's ``location`` (e.g. ``US``, ``US-CENTRAL1``, ``NAM4``),
        ``location_type`` (``multi-region``, ``dual-region``, ``region``),
        ``data_locations`` (the regions of a configurable dual-region) and
        ``storage_class`` (``STANDARD``, ``NEARLINE``, ...), from ``buckets.get``."""
        with self._errors("read the metadata of"):
            bucket = self._client.get_bucket(self.bucket_name)
        return {
            "location": str(bucket.location or "").upper(),
            "location_type": str(bucket.location_type or "").lower(),
            "data_locations": [str(x).upper() for x in (bucket.data_locations or [])],
            "storage_class": str(bucket.storage_class or "").upper(),
        }

    def list(self, prefix: str = "") -> list[str]:
        """Names of the objects under ``prefix``, sorted."""
        with self._errors("list", prefix or None):
            return sorted(b.name for b in self._bucket.list_blobs(prefix=prefix))

    def exists(self, name: str) -> bool:
        """Whether object ``name`` exists."""
        with self._errors("look up", name):
            return bool(self._bucket.blob(name).exists())

    def delete(self, name: str) -> None:
        """Delete object ``name`` (an error when it does not exist)."""
        with self._errors("delete", name):
            self._bucket.blob(name).delete()
