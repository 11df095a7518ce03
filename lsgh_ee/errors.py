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


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what a
    one-line error quotes of a library's exception."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
