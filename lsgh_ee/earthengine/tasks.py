"""Following Earth Engine long-running operations (export and ingestion tasks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lsgh_ee.errors import LsghError

DONE_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def operation_state(operation: dict) -> str:
    """The state of an operation dict (PENDING, RUNNING, SUCCEEDED, FAILED, ...)."""
    return str(operation.get("metadata", {}).get("state", "UNKNOWN"))


def wait_for_operation(
    name: str,
    *,
    poll_s: float = 10.0,
    timeout_s: float | None = None,
    on_state: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll ``ee.data.getOperation(name)`` until it is done; returns the final operation.

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
        if operation.get("done") or state in DONE_STATES:
            if state == "SUCCEEDED":
                return operation
            message = operation.get("error", {}).get("message", "no message")
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


def list_operations() -> list[dict[str, Any]]:
    """All operations of the session's project (``ee.data.listOperations``)."""
    import ee

    return list(ee.data.listOperations())
