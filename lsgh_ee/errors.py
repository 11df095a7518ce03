"""The one exception type for users' mistakes.

Anything a user can fix (a wrong config key, a file in the wrong projection, an empty
inventory) raises :class:`LsghError` with one line that names the problem and the fix.
The CLI prints that line and exits non-zero; every other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations


class LsghError(Exception):
    """A user-fixable problem: ``str(error)`` is one line naming the problem and the fix."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
