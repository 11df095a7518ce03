"""What long stages report while they work, for a progress display (the CLI's, a
notebook's). :class:`Progress` does nothing; subclass it and override what you show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsgh_ee.stages.runner import StageResult


class Progress:
    """Callbacks of :func:`lsgh_ee.stages.run_all` (each a no-op here)."""

    def factor(self, name: str, index: int, total: int) -> None:
        """``export-factors`` starts factor ``index`` (0-based) of ``total``."""

    def task(self, status: Any) -> None:
        """A poll of an Earth Engine batch task (a ``TaskStatus``)."""

    def epoch(self, variant: str, epoch: int, logs: dict) -> None:
        """A network finished ``epoch`` (0-based); ``logs``: loss, val_loss, ..."""

    def mapping(self, variant: str, done: int, total: int) -> None:
        """``predict`` finished ``done`` of ``total`` windows."""

    def stage_done(self, result: StageResult) -> None:
        """A stage finished or was found up to date."""

    def notice(self, message: str) -> None:
        """Something the user should know that did not stop the run."""
