"""Opening an Earth Engine session: credentials from the standard places, the user's
project, the API endpoint as a setting; every failure is one line that never shows a secret.

Credentials, in order: a key file given as ``key_file``; the key file named by
``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account key, an ``authorized_user`` file, or
any other credential file ``google.auth`` loads, e.g. workload identity federation's
``external_account``); the persistent credentials written by ``earthengine authenticate``,
read where the ``ee`` client reads them (``ee.oauth.get_credentials_path()``:
``~/.config/earthengine/credentials``); else Application Default Credentials
(``google.auth.default()``: gcloud's ``application_default_credentials.json``, Colab, the
Compute Engine / Cloud Run metadata server), as the client itself falls back to them
(``ee.data.get_persistent_credentials`` in earthengine-api 1.7). The project: the
``project`` argument, else ``LSGH_EE_PROJECT``, else the credentials' own project (service
account, ``earthengine set_project``, ADC quota project). The endpoint: ``api_url``, else
``LSGH_EE_API_URL``, else the public Earth Engine API. Every request has a deadline
(``deadline_s``, else ``LSGH_EE_DEADLINE``, else :data:`DEFAULT_DEADLINE_S`), set with
``ee.data.setDeadline``: without one a hung answer would never end.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsgh_ee.errors import LsghError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://earthengine.googleapis.com"
API_URL_ENV = "LSGH_EE_API_URL"
PROJECT_ENV = "LSGH_EE_PROJECT"
KEY_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
DEADLINE_ENV = "LSGH_EE_DEADLINE"
#: Seconds one request may take (``ee.data.setDeadline``): past Earth Engine's own limit of
#: five minutes for an interactive computation, so the server's answer normally comes first.
DEFAULT_DEADLINE_S = 330.0
REGISTER_URL = "https://code.earthengine.google.com/register"


def credentials_path() -> Path | None:
    """The credentials file the ``ee`` client would use: the key named by
    ``GOOGLE_APPLICATION_CREDENTIALS``, the persistent credentials written by
    ``earthengine authenticate``, or gcloud's Application Default Credentials file; None
    when none exists (the metadata server of Compute Engine / Cloud Run may still answer:
    see :func:`credentials_available`)."""
    key = os.environ.get(KEY_ENV)
    if key and Path(key).is_file():
        return Path(key)
    persistent = _persistent_path()
    if persistent.is_file():
        return persistent
    adc = _gcloud_adc_path()
    return adc if adc is not None and adc.is_file() else None


def credentials_available() -> bool:
    """Whether any credentials can be found, Application Default Credentials included
    (this may ask the metadata server, a fraction of a second)."""
    if credentials_path() is not None:
        return True
    try:
        _application_default()
    except LsghError:
        return False
    return True


def require_credentials() -> Path | str:
    """Where the credentials are (a path, or a description of the Application Default
    Credentials found), or one clear error saying how to get credentials."""
    found = credentials_path()
    if found is not None:
        return found
    try:
        return _application_default().source
    except LsghError:
        raise LsghError(
            "the Earth Engine backend needs credentials: run 'earthengine authenticate' or "
            "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"
        ) from None


def _persistent_path() -> Path:
    """Where ``earthengine authenticate`` writes and the ``ee`` client reads its
    credentials (``ee.oauth.get_credentials_path()``: ``~/.config/earthengine/credentials``)."""
    import ee

    return Path(ee.oauth.get_credentials_path())


def _gcloud_adc_path() -> Path | None:
    """gcloud's Application Default Credentials file (``CLOUDSDK_CONFIG`` honoured)."""
    try:
        from google.auth import _cloud_sdk

        return Path(_cloud_sdk.get_application_default_credentials_path())
    except Exception:  # no config folder known: no file
        return None


@dataclass(frozen=True)
class EarthEngineSession:
    """An initialised ``ee`` client. Holds no secret (the ``ee`` module keeps the
    credentials); ``source`` says where they came from, for logs and messages."""

    project: str
    api_url: str
    source: str
    principal: str | None = None

    def describe(self) -> str:
        who = f" as {self.principal}" if self.principal else ""
        return f"Earth Engine project {self.project!r} at {self.api_url}{who} ({self.source})"


@dataclass
class _Found:
    credentials: Any
    source: str
    principal: str | None
    project: str | None
    secrets: list[str]


def _load_key_file(path: Path, origin: str) -> _Found:
    import ee
    from google.oauth2 import service_account

    if not path.is_file():
        raise LsghError(
            f"Earth Engine service-account key {path} ({origin}) does not exist; "
            "fix the path or download a key from the Google Cloud console"
        )
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise LsghError(
            f"Earth Engine key file {path} ({origin}) is not a JSON key file; "
            "download the service account's JSON key again"
        ) from None
    secrets = [str(info.get(k)) for k in ("private_key_id", "private_key") if info.get(k)]
    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        try:
            creds = service_account.Credentials.from_service_account_info(
                info, scopes=ee.oauth.SCOPES
            )
        except (ValueError, KeyError):
            raise LsghError(
                f"Earth Engine key file {path} ({origin}) is an incomplete service-account "
                "key; download the service account's JSON key again"
            ) from None
        return _Found(
            creds,
            f"service-account key {path} ({origin})",
            info.get("client_email"),
            info.get("project_id"),
            secrets,
        )
    if kind == "authorized_user":
        import google.auth

        secrets += [str(info.get(k)) for k in ("refresh_token", "client_secret") if info.get(k)]
        try:
            creds, _ = google.auth.load_credentials_from_file(str(path), scopes=ee.oauth.SCOPES)
        except Exception:
            raise LsghError(
                f"Earth Engine credentials {path} ({origin}) cannot be loaded; run "
                "'gcloud auth application-default login' or 'earthengine authenticate' again"
            ) from None
        return _Found(
            creds,
            f"user credentials {path} ({origin})",
            None,
            info.get("quota_project_id"),
            secrets,
        )
    if kind in ("external_account", "impersonated_service_account",
                "external_account_authorized_user"):  # fmt: skip
        import google.auth

        try:  # workload identity federation, impersonation: google.auth knows them
            creds, project = google.auth.load_credentials_from_file(
                str(path), scopes=ee.oauth.SCOPES
            )
        except Exception:
            raise LsghError(
                f"Earth Engine credentials {path} ({origin}) of type {kind} cannot be loaded; "
                "check the credential configuration file"
            ) from None
        return _Found(creds, f"{kind} credentials {path} ({origin})", None,
                      project or info.get("quota_project_id"), secrets)  # fmt: skip
    raise LsghError(
        f"Earth Engine key file {path} ({origin}) has type {kind!r}, not a service-account "
        "key; point it at the service account's JSON key"
    )


def _application_default() -> _Found:
    """Application Default Credentials (``google.auth.default``), as the ``ee`` client
    falls back to them: gcloud's ADC file, Colab, the metadata server of Compute Engine,
    Cloud Run or GKE (workload identity).

    Raises:
        LsghError: none found, or found but unusable (one line, no secret).
    """
    import ee
    import google.auth
    import google.auth.exceptions

    google_auth_log = logging.getLogger("google.auth")
    level = google_auth_log.level
    google_auth_log.setLevel(logging.ERROR)  # its "metadata server unavailable" is our one line
    try:
        creds, project = google.auth.default(scopes=ee.oauth.SCOPES)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        if "not found" in str(exc).lower() or "could not automatically" in str(exc).lower():
            raise LsghError(
                "no Earth Engine credentials found: run 'earthengine authenticate', or set "
                f"{KEY_ENV} to a service-account JSON key file (or pass key_file)"
            ) from None
        raise LsghError(
            "the Application Default Credentials cannot be loaded; run 'gcloud auth "
            f"application-default login' again or set {KEY_ENV} to a key file"
        ) from None
    finally:
        google_auth_log.setLevel(level)
    adc = _gcloud_adc_path()
    if adc is not None and adc.is_file():
        where = f"gcloud file {adc}"
    elif type(creds).__module__.startswith("google.auth.compute_engine"):
        where = "metadata server"
    else:
        where = type(creds).__name__
    secrets = [str(getattr(creds, attr)) for attr in ("refresh_token", "client_secret")
               if getattr(creds, attr, None)]  # fmt: skip
    email = getattr(creds, "service_account_email", None)
    principal = email if isinstance(email, str) and "@" in email else None
    project = project or getattr(creds, "quota_project_id", None)
    return _Found(creds, f"Application Default Credentials ({where})", principal, project,
                  secrets)  # fmt: skip


def _find_credentials(key_file: Path | None) -> _Found:
    if key_file is not None:
        return _load_key_file(Path(key_file), "key_file argument")
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return _load_key_file(Path(env_key), KEY_ENV)
    persistent = _persistent_path()
    if persistent.is_file():
        import ee

        try:
            stored = json.loads(persistent.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            stored = {}
        if not isinstance(stored, dict) or not stored.get("refresh_token"):
            raise LsghError(
                f"Earth Engine credentials {persistent} are unreadable or hold no refresh "
                "token; run 'earthengine authenticate' again"
            )
        args = {  # as ee.oauth.get_credentials_arguments() builds them
            "token_uri": ee.oauth.TOKEN_URI,
            "refresh_token": stored["refresh_token"],
            "client_id": stored.get("client_id", ee.oauth.CLIENT_ID),
            "client_secret": stored.get("client_secret", ee.oauth.CLIENT_SECRET),
            "scopes": stored.get("scopes", ee.oauth.SCOPES),
            "quota_project_id": stored.get("project"),
        }
        from google.oauth2.credentials import Credentials

        creds = Credentials(None, **args)
        secrets = [str(args[k]) for k in ("refresh_token", "client_secret") if args.get(k)]
        return _Found(
            creds,
            f"persistent credentials {persistent} (earthengine authenticate)",
            None,
            args.get("quota_project_id"),
            secrets,
        )
    return _application_default()


def _scrub(message: str, secrets: list[str]) -> str:
    """``message`` on one line with any secret (and anything token-like) removed."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    message = re.sub(r"ya29\.[\w\-.]+", "***", message)
    message = re.sub(r"-----BEGIN[^-]*-----.*?-----END[^-]*-----", "***", message, flags=re.S)
    return " ".join(message.split())


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an ``EEException`` (the client raises it from HttpError)."""
    from googleapiclient.errors import HttpError

    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, HttpError):
            return int(cur.resp.status)
        cur = cur.__cause__ or cur.__context__
    return None


def _refresh_reason(exc: BaseException) -> str:
    """The OAuth error code of a refused token (e.g. invalid_grant), nothing else."""
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, dict) and isinstance(arg.get("error"), str):
            code = arg["error"]
            if re.fullmatch(r"[a-z_]{1,40}", code):
                return code
    return "refused"


def open_session(
    project: str | None,
    *,
    key_file: Path | None = None,
    api_url: str | None = None,
    client_retries: int | None = None,
    deadline_s: float | None = None,
) -> EarthEngineSession:
    """Initialise the ``ee`` client for ``project`` and check the project can be used.

    Args:
        project: Google Cloud project registered for Earth Engine; None: ``LSGH_EE_PROJECT``,
            else the service account's project, else the one from ``earthengine set_project``.
        key_file: a service-account JSON key (else ``GOOGLE_APPLICATION_CREDENTIALS``, else
            the persistent credentials of ``earthengine authenticate``).
        api_url: the Earth Engine API endpoint (else ``LSGH_EE_API_URL``, else the public one).
        client_retries: retries the ``ee`` client itself makes on 429/5xx (its default is 5);
            :func:`lsgh_ee.earthengine.download.download_image` retries on its own.
        deadline_s: seconds one request may take before it counts as failed (a timeout,
            retried by the callers that retry); None: ``LSGH_EE_DEADLINE``, else
            :data:`DEFAULT_DEADLINE_S`; 0: no limit.

    Raises:
        LsghError: no credentials, refused credentials, no project, an unknown project or
            one the credentials may not use, or an unreachable endpoint; one line, no secret.
    """
    found = _find_credentials(key_file)
    deadline = _deadline(deadline_s)
    url = (api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
    project = project or os.environ.get(PROJECT_ENV) or found.project
    if not project:
        raise LsghError(
            "no Earth Engine project given: pass one (the region config's Earth Engine "
            f"project), set {PROJECT_ENV}, or run 'earthengine set_project PROJECT'"
        )

    import ee
    import google.auth.exceptions

    def fail(text: str) -> LsghError:
        return LsghError(_scrub(text, found.secrets))

    ee.Reset()
    if client_retries is not None:
        ee.data.setMaxRetries(client_retries)  # also governs the discovery requests
    try:
        ee.Initialize(found.credentials, url=url, project=project)
    except google.auth.exceptions.RefreshError as exc:
        raise fail(
            f"Earth Engine refused the credentials from {found.source} "
            f"({_refresh_reason(exc)}): the key may be revoked, disabled or expired; create a "
            "new key or run 'earthengine authenticate' again"
        ) from None
    except google.auth.exceptions.TransportError:
        raise fail(
            f"cannot reach the Google token endpoint for {found.source}; check the network "
            "connection and proxy settings"
        ) from None
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise fail(
            f"cannot reach the Earth Engine API at {url} ({type(exc).__name__}); check the "
            f"network connection, or {API_URL_ENV} if you set it"
        ) from None
    except ee.ee_exception.EEException as exc:
        raise fail(_init_message(exc, project, found, url)) from None
    except Exception as exc:  # discovery errors from googleapiclient and the like
        from googleapiclient.errors import HttpError

        if isinstance(exc, HttpError):
            raise fail(
                f"the Earth Engine API at {url} answered HTTP {exc.resp.status} while "
                f"starting; check {API_URL_ENV} or the network"
            ) from None
        raise
    try:
        ee.data.setDeadline(deadline * 1000.0)  # rebuilds the API client with the timeout
    except Exception as exc:
        raise fail(f"cannot set the Earth Engine request deadline: {type(exc).__name__}") from None
    session = EarthEngineSession(project, url, found.source, found.principal)
    _OPENED.update(credentials=found.credentials, session=session)
    log.info("opened %s", session.describe())
    return session


def _deadline(deadline_s: float | None) -> float:
    """The request deadline in seconds: the argument, else ``LSGH_EE_DEADLINE``, else the
    default; 0 means none."""
    if deadline_s is None:
        raw = os.environ.get(DEADLINE_ENV)
        if not raw:
            return DEFAULT_DEADLINE_S
        try:
            deadline_s = float(raw)
        except ValueError:
            raise LsghError(f"{DEADLINE_ENV}={raw!r} is not a number of seconds") from None
    if not deadline_s >= 0:
        raise LsghError(f"the Earth Engine request deadline must be >= 0 s, got {deadline_s}")
    return float(deadline_s)


# The credentials of the last session opened, for the other Google APIs the session's work
# needs (Cloud Storage); kept here, never in the session object that messages may print.
_OPENED: dict[str, Any] = {}


def current_session() -> EarthEngineSession | None:
    """The session :func:`open_session` opened last in this process, if any."""
    return _OPENED.get("session")


def session_credentials() -> Any:
    """The ``google.auth`` credentials of the session :func:`open_session` opened last.

    Raises:
        LsghError: no session was opened in this process.
    """
    credentials = _OPENED.get("credentials")
    if credentials is None:
        raise LsghError(
            "no Earth Engine session is open; open one first (the CLI does this from the "
            "config's earthengine section)"
        )
    return credentials


def _init_message(exc: BaseException, project: str, found: _Found, url: str) -> str:
    status = http_status(exc)
    server = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    who = found.principal or "your account"
    if status == 401:
        return (
            f"Earth Engine rejected the credentials from {found.source}: {server}; run "
            "'earthengine authenticate' again or use a valid service-account key"
        )
    if status == 404:
        return (
            f"Earth Engine project {project!r} was not found: {server}; check the project id "
            f"(set it with the project argument or {PROJECT_ENV})"
        )
    if status == 403:
        return (
            f"{who} may not use Earth Engine project {project!r}: {server}; register the "
            f"project at {REGISTER_URL} and grant {who} the Earth Engine Resource Viewer and "
            "Service Usage Consumer roles"
        )
    return f"Earth Engine could not start for project {project!r} at {url}: {server}"
