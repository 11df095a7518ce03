"""The Cloud Storage JSON API part of the fake: buckets of objects in memory.

Served (as the real ``google-cloud-storage`` client calls them): object metadata
``GET /storage/v1/b/B/o/NAME``, media ``GET /download/storage/v1/b/B/o/NAME?alt=media``
(or ``?alt=media`` on the metadata path), listing ``GET /storage/v1/b/B/o?prefix=``,
``DELETE /storage/v1/b/B/o/NAME``, multipart and media uploads
``POST /upload/storage/v1/b/B/o``. Objects are also written and read directly by the fake's
export and ingestion tasks.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import google_crc32c

ROUTES = [
    ("storageUpload", "POST", re.compile(r"^/upload/storage/v1/b/([^/]+)/o$")),
    ("storageMedia", "GET", re.compile(r"^/download/storage/v1/b/([^/]+)/o/(.+)$")),
    ("storageList", "GET", re.compile(r"^/storage/v1/b/([^/]+)/o$")),
    ("storageObject", "GET", re.compile(r"^/storage/v1/b/([^/]+)/o/(.+)$")),
    ("storageDelete", "DELETE", re.compile(r"^/storage/v1/b/([^/]+)/o/(.+)$")),
    ("storageBucket", "GET", re.compile(r"^/storage/v1/b/([^/]+)$")),
]
KINDS = {kind for kind, _, _ in ROUTES}


class StorageError(Exception):
    """An error the Cloud Storage API answers with (HTTP ``code``)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    generation: int


class FakeStorage:
    """Buckets (created with :meth:`add_bucket`) and their objects."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, StoredObject]] = {}
        self.meta: dict[str, dict[str, Any]] = {}  # bucket -> location, class (buckets.get)
        self.corrupt_downloads = 0  # the next n media downloads answer damaged bytes
        self._lock = threading.Lock()

    def add_bucket(self, name: str, *, location: str = "US", location_type: str = "multi-region",
                   storage_class: str = "STANDARD",
                   data_locations: list[str] | None = None) -> None:  # fmt: skip
        """A bucket (default: the US multi-region, Standard class)."""
        self.buckets.setdefault(name, {})
        self.meta[name] = {"location": location, "locationType": location_type,
                           "storageClass": storage_class,
                           "dataLocations": list(data_locations or [])}  # fmt: skip

    def bucket_meta(self, name: str) -> dict[str, Any]:
        self._bucket(name)
        return self.meta.get(name) or {"location": "US", "locationType": "multi-region",
                                       "storageClass": "STANDARD", "dataLocations": []}  # fmt: skip

    def _bucket(self, name: str) -> dict[str, StoredObject]:
        if name not in self.buckets:
            raise StorageError(404, "The specified bucket does not exist.")
        return self.buckets[name]

    def put(self, bucket: str, name: str, data: bytes, content_type: str = "") -> StoredObject:
        with self._lock:
            obj = StoredObject(data, content_type or "application/octet-stream", time.time_ns())
            self._bucket(bucket)[name] = obj
            return obj

    def get(self, bucket: str, name: str) -> bytes:
        objects = self._bucket(bucket)
        if name not in objects:
            raise StorageError(404, f"No such object: {bucket}/{name}")
        return objects[name].data

    def names(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(n for n in self._bucket(bucket) if n.startswith(prefix))

    # -- HTTP -------------------------------------------------------------------------

    def handle(
        self, kind: str, match: re.Match, query: dict[str, str], headers: Any, raw: bytes
    ) -> tuple[int, bytes, str, dict[str, str]]:
        """Answer one request: (status, body, content type, extra headers)."""
        bucket = match.group(1)
        name = urllib.parse.unquote(match.group(2)) if match.lastindex == 2 else ""
        if kind == "storageUpload":
            return self._upload(bucket, query, headers, raw)
        if kind == "storageBucket":
            meta = self.bucket_meta(bucket)
            doc = {"kind": "storage#bucket", "id": bucket, "name": bucket, **meta}
            regions = doc.pop("dataLocations")
            if regions:  # a configurable dual-region, as the JSON API spells it
                doc["customPlacementConfig"] = {"dataLocations": regions}
            return _json(doc)
        if kind == "storageList":
            items = [self._resource(bucket, n) for n in self.names(bucket, query.get("prefix", ""))]
            return _json({"kind": "storage#objects", "items": items})
        if kind == "storageDelete":
            with self._lock:
                objects = self._bucket(bucket)
                if name not in objects:
                    raise StorageError(404, f"No such object: {bucket}/{name}")
                del objects[name]
            return 204, b"", "application/json", {}
        if kind == "storageMedia" or query.get("alt") == "media":
            data = self.get(bucket, name)
            md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
            with self._lock:
                corrupt, self.corrupt_downloads = self.corrupt_downloads > 0, max(
                    0, self.corrupt_downloads - 1)  # fmt: skip
            if corrupt:  # bytes damaged on the way: the checksum header no longer matches
                data = data[: len(data) // 2] + bytes(len(data) - len(data) // 2)
            crc = base64.b64encode(google_crc32c.value(self.get(bucket, name)).to_bytes(4, "big"))
            digests = f"crc32c={crc.decode()},md5={md5}"
            return 200, data, "application/octet-stream", {"x-goog-hash": digests}
        self.get(bucket, name)  # 404 when missing
        return _json(self._resource(bucket, name))

    def _resource(self, bucket: str, name: str) -> dict:
        obj = self._bucket(bucket)[name]
        return {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/{obj.generation}",
            "name": name,
            "bucket": bucket,
            "generation": str(obj.generation),
            "metageneration": "1",
            "contentType": obj.content_type,
            "size": str(len(obj.data)),
            "md5Hash": base64.b64encode(hashlib.md5(obj.data).digest()).decode(),
        }

    def _upload(
        self, bucket: str, query: dict[str, str], headers: Any, raw: bytes
    ) -> tuple[int, bytes, str, dict[str, str]]:
        upload_type = query.get("uploadType", "")
        if upload_type == "media":
            name = query.get("name", "")
            self.put(bucket, name, raw, headers.get("Content-Type", ""))
            return _json(self._resource(bucket, name))
        if upload_type != "multipart":
            raise StorageError(
                400, f"The fake serves multipart and media uploads, not {upload_type!r}"
            )
        head = f"Content-Type: {headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        parts = list(message.iter_parts())
        if len(parts) != 2:
            raise StorageError(400, "A multipart upload has a metadata part and a media part.")
        metadata = json.loads(parts[0].get_payload(decode=True))
        media = parts[1].get_payload(decode=True)
        name = metadata.get("name") or query.get("name", "")
        content_type = metadata.get("contentType") or parts[1].get_content_type()
        self.put(bucket, name, media, content_type)
        return _json(self._resource(bucket, name))


def _json(doc: dict) -> tuple[int, bytes, str, dict[str, str]]:
    return 200, json.dumps(doc).encode(), "application/json", {}


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """(bucket, object name) of ``gs://bucket/name``."""
    m = re.fullmatch(r"gs://([^/]+)/(.+)", uri)
    if m is None:
        raise StorageError(400, f"Not a Cloud Storage URI: {uri}")
    return m.group(1), m.group(2)
