"""Following Earth Engine long-running operations (export and ingestion tasks).

:func:`wait_for_operation` polls an operation and reports every poll to a callback as a
:class:`TaskStatus`; :class:`TaskDisplay` is the command line's rendering of those reports.
"""

from __future__ import annotations

import logging
import random
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
) -> dict[str, Any]:
    """Poll ``ee.data.getOperation(name)`` every ``poll_s`` seconds until it is done;
    returns the final operation.

    Args:
        on_state: called with the state string after each poll.
        on_progress: called with a :class:`TaskStatus` after each poll (state, progress).

    Raises:
        LsghError: the operation failed or was cancelled (with the server's message), or
            ``timeout_s`` passed first.
    """
    import ee

    start = time.monotonic()
    while True:
        try:
            operation = ee.data.getOperation(name)
        except ee.ee_exception.EEException as exc:
            raise LsghError(f"cannot read Earth Engine task {name}: {exc}") from None
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

    from lsgh_ee.earthengine.download import first_line, is_retryable

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
