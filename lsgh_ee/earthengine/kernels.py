"""Fixed 3×3 kernels of the DEM derivatives, shared by the Earth Engine terrain recipes.

Weights are written as the local NumPy stencils read them (:mod:`lsgh_ee.factors.terrain`):
row 0 is north, column 0 west, the focus in the middle, and ``convolve`` sums
weight × neighbour, so the kernels give the local derivatives cell for cell.
"""

from __future__ import annotations

from typing import Any

from lsgh_ee.grid import Grid


def fixed(weights: Any) -> Any:
    """An ``ee.Kernel.fixed`` of ``weights`` (rows of numbers, north first), not normalised."""
    import ee

    rows = [[float(w) for w in row] for row in weights]
    return ee.Kernel.fixed(len(rows[0]), len(rows), rows, -1, -1, False)


def gradient(dem: Any, grid: Grid, method: str) -> tuple[Any, Any]:
    """(dz/dx east, dz/dy north) as ``terrain.gradient`` computes them: Horn's 3×3 stencil
    (``horn``) or 4-neighbour central differences (``zevenbergen_thorne``, as
    ``ee.Terrain``)."""
    if method == "horn":
        k = 1.0 / (8.0 * grid.resolution)
        east = fixed([[-k, 0, k], [-2 * k, 0, 2 * k], [-k, 0, k]])
        north = fixed([[k, 2 * k, k], [0, 0, 0], [-k, -2 * k, -k]])
    elif method == "zevenbergen_thorne":
        k = 1.0 / (2.0 * grid.resolution)
        east = fixed([[0, 0, 0], [-k, 0, k], [0, 0, 0]])
        north = fixed([[0, k, 0], [0, 0, 0], [0, -k, 0]])
    else:
        raise ValueError(f"unknown gradient method {method!r}")
    return dem.convolve(east), dem.convolve(north)
