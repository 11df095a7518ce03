"""A loopback fake of the Earth Engine REST API for tests (see :mod:`ee_fake.server`)."""

from .expressions import PixelGrid, terrain_aspect, terrain_slope
from .keys import ServiceAccountKey, make_service_account_key
from .server import FakeEarthEngine, Fault

__all__ = [
    "FakeEarthEngine",
    "Fault",
    "PixelGrid",
    "ServiceAccountKey",
    "make_service_account_key",
    "terrain_aspect",
    "terrain_slope",
]
