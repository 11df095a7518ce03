"""A loopback fake of the Earth Engine REST API, driven by the real ``ee`` client over HTTP.

The client is built from the discovery document shipped inside the earthengine-api wheel
(served with its root URL rewritten to this server), and every expression is checked
against the algorithm signatures shipped with it. Served: ``$discovery/rest``, ``/token``
(OAuth2 JWT-bearer and refresh-token grants), ``algorithms.list``, ``value.compute``,
``image.computePixels`` (NPY, GEO_TIFF), ``operations.get`` / ``operations.list``.
Faults are injected with :meth:`FakeEarthEngine.inject`.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import ee
import numpy as np
from affine import Affine
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from rasterio.io import MemoryFile

from . import batch, metadata
from . import storage as gcs
from .emulate_collections import CollectionImage
from .emulate_features import table_elements
from .expressions import Asset, Evaluator, ExpressionError, LazyImage, PixelGrid
from .maps import MapStore

EE_TESTS = Path(ee.__file__).parent / "tests"
MAX_REQUEST_BYTES = 48 * 2**20
MAX_SIDE = 32768

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}
_FAULT_MESSAGES = {
    429: "Too many concurrent aggregations.",
    500: "An internal error has occurred (request ID: fake).",
    503: "The service is currently unavailable.",
}


@dataclass
class Fault:
    """An injected fault: the next ``times`` requests of ``kind`` (``None``: all of them)
    that ``match`` accepts wait ``delay_s`` (a hung answer: bounded, and cut short when the
    fake stops) and then answer ``status`` (``None``: answer normally after the delay).

    ``lose_response``: the request is carried out (an operation started, an asset made)
    and then ``status`` (default 503) is answered instead, as when the answer is lost on
    the way back. ``mangle``: the body of a normal 200 answer is passed through it (a
    truncated NPY stream, a GeoTIFF where NPY was asked, ...)."""

    kind: str
    status: int | None = None
    times: int | None = 1
    delay_s: float = 0.0
    match: Callable[[dict], bool] | None = None
    message: str | None = None
    hits: int = 0
    lose_response: bool = False
    mangle: Callable[[bytes], bytes] | None = None


@dataclass
class Operation:
    name: str
    states: list[str]
    error: str | None = None
    description: str = "fake export"
    polls: int = 0
    progress: list[float] | None = None  # per state step, as ``metadata.progress``
    type: str = "EXPORT_IMAGE"
    work: Callable[[], None] | None = None  # run when the state first reaches SUCCEEDED
    destination_uris: list[str] = field(default_factory=list)
    create_time: str = field(  # as metadata.createTime
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )


@dataclass
class Logged:
    kind: str
    method: str
    path: str
    body: dict = field(default_factory=dict)
    status: int = 200


class FakeEarthEngine:
    """The fake server. Use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, *, projects: dict[str, set[str] | None] | None = None) -> None:
        self.discovery = json.loads((EE_TESTS / "cloud_api_discovery_document.json").read_text())
        _add_import_external(self.discovery)
        self.algorithms = json.loads((EE_TESTS / "algorithms.json").read_text())
        self._algorithms_bytes = json.dumps(self.algorithms).encode()
        self.assets: dict[str, Asset] = {}
        self.evaluator = Evaluator(self.algorithms, self.assets)
        # project id -> principals allowed (None: anybody with a valid token)
        self.projects: dict[str, set[str] | None] = (
            projects if projects is not None else {"lsgh-test": None}
        )
        self.trusted_keys: dict[str, tuple[Any, str]] = {}  # key id -> (public key, email)
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> principal
        self.tokens: dict[str, str] = {}  # access token -> principal
        self.refuse_tokens = False
        self.max_request_bytes = MAX_REQUEST_BYTES
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.served: dict[str, int] = {}  # kind -> bytes of the answers' bodies sent
        self.operations: dict[str, Operation] = {}
        self.maps = MapStore(self.evaluator)  # maps.create and their tiles (maps.py)
        self.storage = gcs.FakeStorage()  # the Cloud Storage JSON API (same host and port)
        self.drive: dict[str, bytes] = {}  # "folder/file.tif" -> bytes, from Drive exports
        self.asset_info: dict[str, batch.AssetInfo] = {}  # asset id -> properties, manifest
        self._request_ids: dict[str, str] = {}  # requestId -> operation name (idempotent)
        # asset folders that exist (``projects/P/assets`` roots always do); writes into any
        # other parent are refused, as Earth Engine refuses them
        self.folders: set[str] = set()
        self.metadata_account: str | None = None  # serve the GCE metadata server as him
        self.metadata_project = "lsgh-test"
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeEarthEngine:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # hung answers end now
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeEarthEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    # -- configuration -----------------------------------------------------------------

    def trust_key(self, private_key_id: str, public_key_pem: str, email: str) -> None:
        """Accept JWTs signed by this key (a service account's key registered with Google)."""
        public = serialization.load_pem_public_key(public_key_pem.encode())
        self.trusted_keys[private_key_id] = (public, email)

    def add_asset(
        self,
        asset_id: str,
        data: np.ndarray,
        crs: str,
        transform: Affine,
        band_names: list[str] | None = None,
        nodata: float | None = None,
    ) -> None:
        array = data[np.newaxis] if data.ndim == 2 else data
        names = band_names or [f"b{i + 1}" for i in range(array.shape[0])]
        self.assets[asset_id] = Asset(array, crs, transform, names, nodata)
        self.add_folder(asset_id.rsplit("/", 1)[0])  # test data: its folders exist

    def add_folder(self, folder: str) -> None:
        """An asset folder (and the folders above it) that exists."""
        parts = folder.strip("/").split("/")
        for end in range(1, len(parts) + 1):
            self.folders.add("/".join(parts[:end]))

    def add_collection(self, collection_id: str, images: list[CollectionImage]) -> None:
        """An ImageCollection asset (see ``emulate_collections.py``), in the given order."""
        self.evaluator.collections[collection_id] = list(images)

    def add_table(self, table_id: str, frame: Any) -> None:
        """A table (FeatureCollection) asset from a GeoDataFrame in any CRS."""
        self.evaluator.tables[table_id] = table_elements(frame)

    def add_vertex_endpoint(self, endpoint: str, savedmodel_dir: str | Path) -> Any:
        """Serve the SavedModel in ``savedmodel_dir`` as the Vertex AI endpoint ``endpoint``
        (``projects/P/locations/L/endpoints/E``) for ``Model.predictImage``; returns the
        endpoint record (request and instance counts)."""
        from .emulate_model import add_endpoint

        return add_endpoint(self.evaluator, endpoint, savedmodel_dir)

    def inject(self, kind: str, **kwargs: Any) -> Fault:
        """Add a fault for requests of ``kind`` ('computePixels', 'compute', 'algorithms',
        'discovery', 'token', 'operations', 'imageExport', 'tableExport', 'imageImport',
        'assets', 'storage*' kinds, or '*'). Kind ``task`` makes the next started task
        (export or ingestion) end FAILED with ``message``."""
        fault = Fault(kind, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def add_operation(
        self,
        op_id: str,
        *,
        project: str = "lsgh-test",
        states: list[str] | None = None,
        error: str | None = None,
    ) -> str:
        """An operation whose state advances one step per ``operations.get``."""
        name = f"projects/{project}/operations/{op_id}"
        default = ["PENDING", "RUNNING", "FAILED" if error else "SUCCEEDED"]
        self.operations[name] = Operation(name, states or default, error)
        return name

    def start_task(
        self,
        project: str,
        kind: str,
        description: str,
        work: Callable[[], None],
        body: dict,
        uris: list[str],
    ) -> dict:
        """Create (or, for a repeated ``requestId``, return) an operation that advances
        PENDING → RUNNING → SUCCEEDED one step per poll and runs ``work`` on success."""
        request_id = body.get("requestId")
        with self._lock:
            if request_id and request_id in self._request_ids:
                return _operation_json(self.operations[self._request_ids[request_id]])
        with self._lock:  # only faults of kind "task" (not "*": those hit HTTP requests)
            fault = next((f for f in self.faults if f.kind == "task"
                          and (f.times is None or f.hits < f.times)), None)  # fmt: skip
            if fault is not None:
                fault.hits += 1
        name = f"projects/{project}/operations/{uuid.uuid4().hex.upper()[:24]}"
        states = [s for s, _ in batch.PROGRESS_STEPS]
        progress = [p for _, p in batch.PROGRESS_STEPS]
        error = None
        if fault is not None:
            error = fault.message or "Task failed."
            states[-1], progress[-1] = "FAILED", progress[-2]
        op = Operation(name, states, error, description, 0, progress, kind,
                       None if fault else work, uris)  # fmt: skip
        with self._lock:
            self.operations[name] = op
            if request_id:
                self._request_ids[request_id] = name
        return _operation_json(op)

    def requests(self, kind: str) -> list[Logged]:
        with self._lock:
            return [entry for entry in self.log if entry.kind == kind]

    # -- handling ---------------------------------------------------------------------

    def _take_fault(self, kind: str, body: dict) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.kind not in (kind, "*"):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                if fault.match is not None and not fault.match(body):
                    continue
                fault.hits += 1
                return fault
        return None

    def _record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)


def _add_import_external(discovery: dict) -> None:
    """The shipped test discovery document predates ``image.importExternal``, which the
    1.7 client calls for ``startExternalImageIngestion`` (``ee/data.py`` ``_startIngestion``)
    and the live service serves (REST: ``POST v1/{project}/image:importExternal``): add it,
    shaped as ``image.import``."""
    methods = discovery["resources"]["projects"]["resources"]["image"]["methods"]
    if "importExternal" not in methods:
        method = json.loads(json.dumps(methods["import"]))
        for key in ("path", "flatPath", "id"):
            if key in method:
                method[key] = str(method[key]).replace("image:import", "image:importExternal")
                method[key] = method[key].replace("image.import", "image.importExternal")
        methods["importExternal"] = method


def error_body(code: int, message: str, status: str | None = None) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "status": status or _STATUS.get(code, "")}}
    ).encode()


class _Reply(Exception):
    def __init__(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ):
        self.code = code
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def _fail(code: int, message: str, status: str | None = None) -> _Reply:
    return _Reply(code, error_body(code, message, status))


_ROUTES = [
    ("computePixels", "POST", re.compile(r"^/v1\w*/projects/([^/]+)/image:computePixels$")),
    ("compute", "POST", re.compile(r"^/v1\w*/projects/([^/]+)/value:compute$")),
    ("algorithms", "GET", re.compile(r"^/v1\w*/projects/([^/]+)/algorithms$")),
    ("operations", "GET", re.compile(r"^/v1\w*/projects/([^/]+)/operations(?:/([^/]+))?$")),
    ("maps", "POST", re.compile(r"^/v1\w*/projects/([^/]+)/maps$")),
    ("tiles", "GET", re.compile(r"^/v1\w*/projects/([^/]+)/maps/([^/]+)/tiles/(\d+)/(\d+)/(\d+)$")),  # noqa: E501
    ("imageExport", "POST", re.compile(r"^/v1\w*/projects/([^/]+)/image:export$")),
    ("tableExport", "POST", re.compile(r"^/v1\w*/projects/([^/]+)/table:export$")),
    ("imageImport", "POST", re.compile(r"^/v1\w*/projects/([^/]+)/image:import$")),
    (
        "imageImportExternal",
        "POST",
        re.compile(r"^/v1\w*/projects/([^/]+)/image:importExternal$"),
    ),  # fmt: skip
    ("assetCreate", "POST", re.compile(r"^/v1\w*/projects/([^/]+)/assets$")),
    ("assets", "GET", re.compile(r"^/v1\w*/projects/([^/]+)/assets/(.+)$")),
    ("assets", "DELETE", re.compile(r"^/v1\w*/projects/([^/]+)/assets/(.+)$")),
    *gcs.ROUTES,
]


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeEarthEngine
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.server_fake
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind, route_match = self._route(method, path)
        body: dict = {}
        if raw and "json" in self.headers.get("Content-Type", "application/json"):
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = {}
        entry = Logged(kind, method, path, body)
        if kind == "metadata":
            reply = _Reply(*metadata.handle(fake, path, self.headers))
            entry.status = reply.code
            fake._record(entry)
            self._send(reply)
            return
        fault = None
        try:
            fault = fake._take_fault(kind, body)
            if fault is not None:
                if fault.delay_s:
                    fake._stopping.wait(fault.delay_s)  # hung, but bounded
                if fault.status is not None and not fault.lose_response:
                    if kind == "token":
                        raise _Reply(
                            fault.status,
                            json.dumps(
                                {"error": "invalid_grant", "error_description": "Refused."}
                            ).encode(),
                        )
                    message = fault.message or _FAULT_MESSAGES.get(fault.status, "Injected.")
                    raise _fail(fault.status, message)
            reply = self._handle(kind, route_match, parsed, raw, body)
            if fault is not None and fault.lose_response:  # done, but the answer is lost
                status = fault.status or 503
                raise _fail(status, fault.message or _FAULT_MESSAGES.get(status, "Lost."))
        except _Reply as r:
            reply = r
        if fault is not None and fault.mangle is not None and reply.code == 200:
            reply.body = fault.mangle(reply.body)
        entry.status = reply.code
        fake._record(entry)
        with fake._lock:
            fake.served[kind] = fake.served.get(kind, 0) + len(reply.body)
        self._send(reply)

    def _route(self, method: str, path: str) -> tuple[str, re.Match | None]:
        if path.endswith("/$discovery/rest"):
            return "discovery", None
        if path == "/token":
            return "token", None
        if metadata.is_metadata_path(path):
            return "metadata", None
        for kind, verb, pattern in _ROUTES:
            m = pattern.match(path)
            if m and verb == method:
                return kind, m
        return "unknown", None

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for header, value in reply.headers.items():
            self.send_header(header, value)
        self.end_headers()
        self.wfile.write(reply.body)

    # -- endpoints ----------------------------------------------------------------------

    def _handle(self, kind: str, m: re.Match | None, parsed: Any, raw: bytes, body: dict) -> _Reply:
        fake = self.server_fake
        if kind == "discovery":
            doc = dict(fake.discovery)
            doc["rootUrl"] = doc["baseUrl"] = fake.url + "/"
            return _Reply(200, json.dumps(doc).encode())
        if kind == "token":
            return self._token(raw)
        if kind == "unknown":
            raise _fail(404, f"Method not found: {parsed.path}")
        if kind == "tiles":  # tile URLs carry no credentials: the map name is the capability
            assert m is not None
            try:
                return _Reply(200, *fake.maps.tile(*m.groups()))
            except ExpressionError as exc:
                raise _fail(exc.code, str(exc), exc.status) from exc
        principal = self._authenticate()
        assert m is not None
        if kind in gcs.KINDS:
            query = dict(urllib.parse.parse_qsl(parsed.query))
            try:
                return _Reply(*fake.storage.handle(kind, m, query, self.headers, raw))
            except gcs.StorageError as exc:
                raise _fail(exc.code, str(exc)) from exc
        project = m.group(1)
        self._authorize(project, principal)
        if kind == "algorithms":
            return _Reply(200, fake._algorithms_bytes)
        if kind == "compute":
            return self._compute(body)
        if kind == "computePixels":
            return self._compute_pixels(body)
        if kind == "operations":
            return self._operations(project, m.group(2))
        if kind == "maps":
            try:
                return _Reply(200, json.dumps(fake.maps.create(project, body)).encode())
            except ExpressionError as exc:
                raise _fail(exc.code, str(exc), exc.status) from exc
        try:
            if kind == "imageExport":
                return _json_reply(batch.start_image_export(fake, project, body))
            if kind == "tableExport":
                return _json_reply(batch.start_table_export(fake, project, body))
            if kind == "imageImport":
                return _json_reply(batch.start_ingestion(fake, project, body))
            if kind == "imageImportExternal":
                return _json_reply(batch.import_external(fake, project, body))
            if kind == "assetCreate":
                asset_id = dict(urllib.parse.parse_qsl(parsed.query)).get("assetId", "")
                return _json_reply(batch.create_asset(fake, project, asset_id, body))
            if kind == "assets":
                name = f"projects/{project}/assets/{urllib.parse.unquote(m.group(2))}"
                if self.command == "DELETE":
                    batch.delete_asset(fake, name)
                    return _json_reply({})
                return _json_reply(batch.asset_json(fake, name))
        except batch.TaskError as exc:
            raise _fail(exc.code, str(exc)) from exc
        except gcs.StorageError as exc:
            raise _fail(exc.code, str(exc)) from exc
        except ExpressionError as exc:
            raise _fail(exc.code, str(exc), exc.status) from exc
        raise _fail(404, "not found")

    def _authenticate(self) -> str:
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        principal = self.server_fake.tokens.get(token)
        if principal is None:
            raise _fail(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        return principal

    def _authorize(self, project: str, principal: str) -> None:
        projects = self.server_fake.projects
        if project not in projects:
            raise _fail(
                404,
                f"Project '{project}' not found or deleted.",
            )
        allowed = projects[project]
        if allowed is not None and principal not in allowed:
            raise _fail(
                403,
                f"Caller does not have required permission to use project {project}. Grant the "
                "caller the roles/serviceusage.serviceUsageConsumer role, or a custom role with "
                "the serviceusage.services.use permission.",
            )

    def _token(self, raw: bytes) -> _Reply:
        fake = self.server_fake
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        refused = _Reply(
            400,
            json.dumps(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            ).encode(),
        )
        if fake.refuse_tokens:
            raise refused
        grant = form.get("grant_type", "")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            principal = _verify_jwt(form.get("assertion", ""), fake.trusted_keys)
            if principal is None:
                raise refused
        elif grant == "refresh_token":
            principal = fake.refresh_tokens.get(form.get("refresh_token", ""))
            if principal is None:
                raise _Reply(
                    400,
                    json.dumps(
                        {"error": "invalid_grant", "error_description": "Bad Request"}
                    ).encode(),
                )
        else:
            raise _Reply(400, json.dumps({"error": "unsupported_grant_type"}).encode())
        token = "ya29.fake-" + uuid.uuid4().hex
        fake.tokens[token] = principal
        return _Reply(
            200,
            json.dumps(
                {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
            ).encode(),
        )

    def _compute(self, body: dict) -> _Reply:
        try:
            result = self.server_fake.evaluator.evaluate(body.get("expression"))
        except ExpressionError as exc:
            raise _fail(exc.code, str(exc), exc.status) from exc
        if isinstance(result, LazyImage):
            result = {"type": "Image", "bands": [{"id": b} for b in result.band_names]}
        return _Reply(200, json.dumps({"result": result}).encode())

    def _compute_pixels(self, body: dict) -> _Reply:
        fake = self.server_fake
        try:
            image = fake.evaluator.evaluate(body.get("expression"))
        except ExpressionError as exc:
            raise _fail(exc.code, str(exc), exc.status) from exc
        if not isinstance(image, LazyImage):
            raise _fail(400, "computePixels: the expression is not an Image.")
        grid = _parse_grid(body.get("grid"))
        if body.get("bandIds"):
            names = body["bandIds"]
            missing = [b for b in names if b not in image.band_names]
            if missing:
                raise _fail(400, f"Image has no band(s) {missing}.")
        size = sum(np.dtype(d).itemsize for d in image.dtypes) * grid.height * grid.width
        if size > fake.max_request_bytes:
            raise _fail(
                400,
                f"Total request size ({size} bytes) must be less than or equal to "
                f"{fake.max_request_bytes} bytes.",
            )
        if max(grid.height, grid.width) > MAX_SIDE:
            raise _fail(400, f"Grid dimensions must be at most {MAX_SIDE} pixels per side.")
        try:
            data = image.render(grid)
        except ExpressionError as exc:
            raise _fail(exc.code, str(exc), exc.status) from exc
        data = np.nan_to_num(data, nan=0.0)
        fmt = body.get("fileFormat", "AUTO_JPEG_PNG")
        if fmt == "NPY":
            dtype = np.dtype(list(zip(image.band_names, image.dtypes, strict=True)))
            out = np.zeros((grid.height, grid.width), dtype=dtype)
            for i, name in enumerate(image.band_names):
                out[name] = data[i].astype(image.dtypes[i])
            buffer = io.BytesIO()
            np.save(buffer, out, allow_pickle=False)
            return _Reply(200, buffer.getvalue(), "application/octet-stream")
        if fmt == "GEO_TIFF":
            dtype = np.result_type(*[np.dtype(d) for d in image.dtypes])
            profile = {
                "driver": "GTiff",
                "height": grid.height,
                "width": grid.width,
                "count": len(image.band_names),
                "dtype": dtype.name,
                "crs": grid.crs,
                "transform": grid.transform,
            }
            with MemoryFile() as mem:
                with mem.open(**profile) as dst:
                    dst.write(data.astype(dtype))
                    for i, name in enumerate(image.band_names, start=1):
                        dst.set_band_description(i, name)
                return _Reply(200, mem.read(), "image/tiff")
        raise _fail(400, f"The fake serves NPY and GEO_TIFF pixels, not {fmt}.", "UNIMPLEMENTED")

    def _operations(self, project: str, op_id: str | None) -> _Reply:
        fake = self.server_fake
        if op_id is None:
            ops = [_operation_json(op) for op in fake.operations.values()]
            return _Reply(200, json.dumps({"operations": ops}).encode())
        name = f"projects/{project}/operations/{op_id}"
        op = fake.operations.get(name)
        if op is None:
            raise _fail(404, f"Operation {name} not found.")
        with fake._lock:
            op.polls += 1
            work = op.work if _state_index(op) == len(op.states) - 1 else None
            op.work = None if work else op.work
        if work is not None and op.states[-1] == "SUCCEEDED":
            error = batch.run_work(work)
            if error is not None:
                op.states[-1], op.error = "FAILED", error
        return _Reply(200, json.dumps(_operation_json(op)).encode())


def _json_reply(doc: dict) -> _Reply:
    return _Reply(200, json.dumps(doc).encode())


def _state_index(op: Operation) -> int:
    return min(op.polls, len(op.states)) - 1 if op.polls else 0


def _operation_json(op: Operation) -> dict:
    state = op.states[_state_index(op)]
    done = state in ("SUCCEEDED", "FAILED", "CANCELLED")
    out: dict[str, Any] = {
        "name": op.name,
        "metadata": {
            "@type": "type.googleapis.com/google.earthengine.v1alpha.OperationMetadata",
            "state": state,
            "description": op.description,
            "type": op.type,
            "createTime": op.create_time,
        },
        "done": done,
    }
    if op.progress is not None:
        out["metadata"]["progress"] = op.progress[_state_index(op)]
    if op.destination_uris:
        out["metadata"]["destinationUris"] = op.destination_uris
    if state == "FAILED":
        out["error"] = {"code": 3, "message": op.error or "Task failed."}
    return out


def _parse_grid(grid: Any) -> PixelGrid:
    if not isinstance(grid, dict):
        raise _fail(400, "The fake needs an explicit 'grid' in computePixels requests.")
    try:
        dims = grid["dimensions"]
        t = grid["affineTransform"]
        transform = Affine(
            float(t.get("scaleX", 0)),
            float(t.get("shearX", 0)),
            float(t.get("translateX", 0)),
            float(t.get("shearY", 0)),
            float(t.get("scaleY", 0)),
            float(t.get("translateY", 0)),
        )
        code, wkt = grid.get("crsCode"), grid.get("crsWkt")
        if code and not re.fullmatch(r"[A-Za-z]+:[0-9A-Za-z_]+", str(code)):
            # PixelGrid.crsCode takes a code ("EPSG:4326"); WKT goes in crsWkt
            raise _fail(400, f"Invalid value for PixelGrid.crsCode: '{str(code)[:40]}...'.")
        if not code and not wkt:
            raise _fail(400, "Invalid grid: crsCode or crsWkt is required.")
        crs = str(code) if code else str(wkt)
        return PixelGrid(crs, transform, int(dims["height"]), int(dims["width"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(400, f"Invalid grid: {exc}") from exc


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verify_jwt(assertion: str, trusted: dict[str, tuple[Any, str]]) -> str | None:
    """The service account a JWT-bearer assertion authenticates, or None if invalid."""
    try:
        header_b64, payload_b64, signature_b64 = assertion.split(".")
        header = json.loads(_b64decode(header_b64))
        payload = json.loads(_b64decode(payload_b64))
        public, email = trusted[header["kid"]]
        public.verify(
            _b64decode(signature_b64),
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (ValueError, KeyError, InvalidSignature):
        return None
    if payload.get("iss") != email or payload.get("exp", 0) < time.time():
        return None
    return email


__all__ = ["FakeEarthEngine", "Fault"]
