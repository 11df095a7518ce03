"""The ``output`` section: where a run's files go and how large a strip of the windowed
stages is."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from lsgh_ee.config.strict import Strict


class OutputConfig(Strict):
    dir: Path = Field(Path("runs/region"), description="run folder (relative to the config)")
    strip_pixels: int = Field(
        1_000_000,
        ge=1,
        description="pixels per strip of the windowed stages (export-factors, sample, "
        "predict, evaluate's agreement with evaluation.truth, zone): rows per strip = this / "
        "the grid's width, so memory stays the same however large the region; the results "
        "do not change (evaluate's within 1e-9)",
    )
    strip_rows: int | None = Field(
        None,
        ge=0,
        description="rows per strip instead of strip_pixels (0 = the whole grid at once, "
        "the reference computation; memory then grows with the region)",
    )

    def rows_per_strip(self, width: int) -> int:
        """Rows per strip on a grid ``width`` pixels wide: ``strip_rows`` when set (0 = the
        whole grid), else ``strip_pixels // width`` (at least :data:`MIN_STRIP_ROWS`)."""
        if self.strip_rows is not None:
            return self.strip_rows
        return max(MIN_STRIP_ROWS, self.strip_pixels // max(width, 1))


#: The fewest rows a strip sized by ``output.strip_pixels`` gets (a very wide grid would
#: otherwise get strips thinner than a terrain halo).
MIN_STRIP_ROWS = 16
