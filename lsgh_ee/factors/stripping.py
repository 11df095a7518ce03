"""Cutting a grid into strips of rows (the unit of every windowed computation)."""

from __future__ import annotations

from collections.abc import Iterator

from lsgh_ee.grid import Grid


def strips(height: int, rows: int) -> Iterator[tuple[int, int]]:
    """``(first row, end row)`` of consecutive strips of ``rows`` rows (0 = one strip)."""
    step = rows if rows > 0 else max(height, 1)
    for row0 in range(0, height, step):
        yield row0, min(row0 + step, height)


def strip_grid(grid: Grid, row0: int, rows: int) -> Grid:
    """Rows ``row0 .. row0 + rows`` of ``grid``, every column (:meth:`Grid.strip`)."""
    return grid.strip(row0, rows)
