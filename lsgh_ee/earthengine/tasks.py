"""Following Earth Engine long-running operations (export and ingestion tasks).

:func:`wait_for_operation` polls an operation and reports every poll to a callback as a
:class:`TaskStatus`; :class:`TaskDisplay` is the command line's rendering of those reports.
"""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from lsgh_ee.errors import LsghError

log = logging.getLogger(__name__)

DONE_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass(frozen=True)
class TaskStatus:
    """One poll of an operation: its name, ``state`` (PENDING, RUNNING, SUCCEEDED, ...),
    ``progress`` as a fraction 0..1 (None when the server gives none), its description and
    the seconds since waiting began."""

    name: str
    state: str
    progress: float | None
    description: str
    elapsed_s: float

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES


def operation_state(operation: dict) -> str:
    """The state of an operation dict (PENDING, RUNNING, SUCCEEDED, FAILED, ...)."""
    return str(operation.get("metadata", {}).get("state", "UNKNOWN"))


def _status(name: str, operation: dict, elapsed_s: float) -> TaskStatus:
    meta = operation.get("metadata", {})
    state = operation_state(operation)
    raw = meta.get("progress")
    progress = min(max(float(raw), 0.0), 1.0) if isinstance(raw, int | float) else None
    if state == "SUCCEEDED":
        progress = 1.0
    return TaskStatus(name, state, progress, str(meta.get("description", "")), elapsed_s)


def wait_for_operation(
    name: str,
    *,
    poll_s: float = 10.0,
    timeout_s: float | None = None,
    on_state: Callable[[str], None] | None = None,
    on_progress: Callable[[TaskStatus], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retries: int = 8,
    backoff_s: float = 2.0,
) -> dict[str, Any]:
    """Poll ``ee.data.getOperation(name)`` every ``poll_s`` seconds until it is done;
    returns the final operation.

    A poll that fails with a retryable error (429, 5xx, a timeout, a lost connection) is
    retried with exponential back-off (``backoff_s`` doubling, at most ``retries`` times in
    a row): the task runs on the server whatever happens to one poll, so an hour-long
    export must not end on one answer of "service unavailable".

    Args:
        on_state: called with the state string after each poll.
        on_progress: called with a :class:`TaskStatus` after each poll (state, progress).
        retries: failed polls in a row tolerated before giving up.
        backoff_s: first back-off delay in seconds.

    Raises:
        LsghError: the operation failed or was cancelled (with the server's message), a
            poll failed for good, or ``timeout_s`` passed first.
    """
    import ee

    from lsgh_ee.earthengine.download import is_retryable
    from lsgh_ee.errors import first_line

    start = time.monotonic()
    failed = 0
    while True:
        try:
            operation = ee.data.getOperation(name)
            if not isinstance(operation, dict):
                raise LsghError(
                    f"Earth Engine answered the poll of task {name} with "
                    f"{type(operation).__name__}, not an operation; run the command again"
                )
        except (ee.ee_exception.EEException, ConnectionError, TimeoutError) as exc:
            if failed < retries and is_retryable(exc):
                delay = backoff_s * 2**failed * (0.5 + random.random() / 2)
                failed += 1
                log.warning("polling %s: %s; retry %d/%d in %.1f s", name, first_line(exc),
                            failed, retries, delay)  # fmt: skip
                sleep(delay)
                continue
            raise LsghError(
                f"cannot read Earth Engine task {name}: {first_line(exc)}; the task keeps "
                "running on the server: run the command again to resume waiting for it"
            ) from None
        failed = 0
        state = operation_state(operation)
        if on_state is not None:
            on_state(state)
        if on_progress is not None:
            on_progress(_status(name, operation, time.monotonic() - start))
        if operation.get("done") or state in DONE_STATES:
            if state == "SUCCEEDED":
                return operation
            message = operation.get("error", {}).get("message", "no message")
            message = " ".join(str(message).split())
            raise LsghError(
                f"Earth Engine task {name} ended {state}: {message}; fix the cause and "
                "start the task again"
            )
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise LsghError(
                f"Earth Engine task {name} is still {state} after {timeout_s:g} s; it keeps "
                "running on the server: follow it in the Code Editor's task list"
            )
        sleep(poll_s)


def start_with_retries(
    start: Callable[[], Any], what: str, *, retries: int = 5, backoff_s: float = 1.0
) -> Any:
    """``start()`` (a task start or ingestion request), retried on 429 / 5xx / connection
    errors with exponential back-off; returns its result. ``start`` must carry the same
    request id on every attempt, so the server starts one task however often it is sent.

    Raises:
        LsghError: the server refused for good: "Earth Engine refused to start <what>: ...".
    """
    import ee

    from lsgh_ee.earthengine.download import is_retryable
    from lsgh_ee.errors import first_line

    attempt = 0
    while True:
        try:
            return start()
        except Exception as exc:
            if attempt < retries and is_retryable(exc):
                delay = backoff_s * 2**attempt * (0.5 + random.random() / 2)
                attempt += 1
                log.warning("starting %s: %s; retry %d/%d in %.1f s", what, first_line(exc),
                            attempt, retries, delay)  # fmt: skip
                time.sleep(delay)
                continue
            if isinstance(exc, ee.ee_exception.EEException | ConnectionError | TimeoutError):
                raise LsghError(
                    f"Earth Engine refused to start {what}: {first_line(exc)}"
                ) from None
            raise


def start_once(
    start: Callable[[], Any],
    what: str,
    find_started: Callable[[float], str | None],
    *,
    retries: int = 5,
    backoff_s: float = 1.0,
) -> str:
    """Start a task whose request carries no request id (image ingestion: the ``ee``
    client's ``_startIngestion`` sends none), so that a lost answer never starts it twice:
    after a retryable failure, ``find_started(since)`` looks for an operation this call
    already started (``since``: ``time.time()`` before the first attempt) and that one is
    followed instead of sending the start again. Returns the operation name.

    Raises:
        LsghError: the server refused for good: "Earth Engine refused to start <what>: ...".
    """
    import ee

    from lsgh_ee.earthengine.download import is_retryable
    from lsgh_ee.errors import first_line

    since = time.time()
    attempt = 0
    while True:
        try:
            answer = start()
            name = answer.get("name") if isinstance(answer, dict) else None
            if not name:
                raise LsghError(
                    f"Earth Engine answered the start of {what} without an operation name "
                    f"({type(answer).__name__}); run the command again"
                )
            return str(name)
        except (ee.ee_exception.EEException, ConnectionError, TimeoutError) as exc:
            if attempt >= retries or not is_retryable(exc):
                raise LsghError(
                    f"Earth Engine refused to start {what}: {first_line(exc)}"
                ) from None
            delay = backoff_s * 2**attempt * (0.5 + random.random() / 2)
            attempt += 1
            log.warning("starting %s: %s; checking whether it started", what, first_line(exc))
            time.sleep(delay)
            try:
                found = find_started(since)
            except (ee.ee_exception.EEException, ConnectionError, TimeoutError):
                found = None  # cannot tell yet: the next failure looks again
            if found is not None:
                log.info("%s did start (%s): following it", what, found)
                return found


def ingestion_started(asset_name: str, since: float) -> str | None:
    """The name of an ingestion into ``asset_name`` (``projects/P/assets/...``) listed
    since ``since`` (epoch seconds; a minute of clock skew allowed) or still pending or
    running, else None. Earth Engine's operation metadata carries the asset in
    ``destinationUris`` and in the description (``Ingest image: "<asset>"``)."""
    import datetime as dt

    for op in list_operations():
        meta = op.get("metadata", {}) if isinstance(op, dict) else {}
        if meta.get("type") not in (None, "INGEST_IMAGE", "INGEST"):
            continue
        uris = [str(uri) for uri in meta.get("destinationUris") or []]
        text = " ".join([str(meta.get("description", "")), *uris])
        if not re.search(re.escape(asset_name) + r"(?![\w/-])", text):
            continue
        state = str(meta.get("state", ""))
        created = meta.get("createTime")
        recent = False
        if isinstance(created, str):
            try:
                stamp = dt.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
                recent = stamp >= since - 60
            except ValueError:
                recent = False
        if state in ("PENDING", "RUNNING") or (recent and state not in ("FAILED", "CANCELLED")):
            return str(op["name"])
    return None


def list_operations() -> list[dict[str, Any]]:
    """All operations of the session's project (``ee.data.listOperations``)."""
    import ee

    return list(ee.data.listOperations())


class TaskDisplay:
    """Renders :class:`TaskStatus` reports on ``stream`` (stderr by default): one updating
    line (state, percent, elapsed time) on a terminal, one plain line per change of state
    or progress otherwise (logs, CI). Use as the ``on_progress`` callback and ``close()``
    (or ``with``) when done."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last: tuple[str, int | None] | None = None
        self._width = 0

    def __call__(self, status: TaskStatus) -> None:
        percent = None if status.progress is None else int(round(status.progress * 100))
        line = f"{self.label}: {status.state}"
        if percent is not None:
            line += f" {percent:3d}%"
        if self.tty:
            line += f" ({status.elapsed_s:.0f} s)"
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            if status.done:
                self.stream.write("\n")
                self._width = 0
            self.stream.flush()
        elif (status.state, percent) != self._last:
            self.stream.write(line + "\n")
            self.stream.flush()
        self._last = (status.state, percent)

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> TaskDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
