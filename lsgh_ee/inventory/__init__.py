"""Reading and checking landslide inventories: vector files (polygons or points, any format
GDAL reads, archives, KML/KMZ), tables with coordinates (CSV, spreadsheets), filters,
dates, location accuracy, and several inventories merged.

Modules: :mod:`~lsgh_ee.inventory.sources` (opening files), ``coordinates`` (tables to
points), ``where`` (the attribute filter), ``dates``, ``accuracy``, ``merge``,
``containers`` (:class:`Inventory`, reports) and ``read`` (:func:`read_inventory`).
"""

from __future__ import annotations

from lsgh_ee.inventory.containers import Inventory, InventoryReport, SourceReport, check_rows
from lsgh_ee.inventory.coordinates import detect_coordinate_columns
from lsgh_ee.inventory.read import read_inventory

__all__ = [
    "Inventory",
    "InventoryReport",
    "SourceReport",
    "check_rows",
    "detect_coordinate_columns",
    "read_inventory",
]
