"""A loopback fake of the Earth Engine REST API for tests (see :mod:`ee_fake.server`)."""

# importing the emulation modules registers their algorithms
from . import (  # noqa: F401
    emulate_collections,  # before emulate_terrain: it owns the geometries
    emulate_features,
    emulate_hydrology,
    emulate_image_math,
    emulate_model,
    emulate_reductions,  # after emulate_terrain's region grid and emulate_image_math
    emulate_tables,
    emulate_terrain,
    emulate_visualize,
)
from .emulate_collections import CollectionImage, time_start
from .expressions import PixelGrid, terrain_aspect, terrain_slope
from .keys import ServiceAccountKey, make_service_account_key
from .server import FakeEarthEngine, Fault

__all__ = [
    "CollectionImage",
    "FakeEarthEngine",
    "Fault",
    "PixelGrid",
    "ServiceAccountKey",
    "make_service_account_key",
    "terrain_aspect",
    "terrain_slope",
    "time_start",
]
