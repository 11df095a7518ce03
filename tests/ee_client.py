"""The Earth Engine tests' client side: a session signed by a service-account key the
loopback fake trusts, and an image's pixels fetched through ``computePixels``."""

from __future__ import annotations

from pathlib import Path

import ee
import numpy as np
import rasterio
from ee_fake import FakeEarthEngine, ServiceAccountKey, make_service_account_key

from lsgh_ee.earthengine.download import download_image
from lsgh_ee.earthengine.session import EarthEngineSession, open_session
from lsgh_ee.grid import Grid


def trusted_key(fake: FakeEarthEngine, path: Path) -> ServiceAccountKey:
    """A new service-account key file at ``path`` that ``fake`` accepts."""
    key = make_service_account_key(path, token_uri=fake.token_uri)
    fake.trust_key(key.private_key_id, key.public_key_pem, key.client_email)
    return key


def fake_session(fake: FakeEarthEngine, folder: Path, project: str) -> EarthEngineSession:
    """An Earth Engine session of ``project`` on ``fake``, with a trusted key in ``folder``."""
    key = trusted_key(fake, folder / "key.json")
    return open_session(project, key_file=key.path, api_url=fake.url, client_retries=0)


def pixels(image: ee.Image, folder: Path, grid: Grid) -> np.ndarray:
    """All bands of ``image`` on ``grid`` as float64 ``(bands, rows, cols)``, NaN = masked
    (each call downloads into a new GeoTIFF in ``folder``)."""
    names = image.bandNames().getInfo()
    out = download_image(
        image, grid, folder / f"img{len(list(folder.glob('*.tif')))}.tif",
        band_names=names, dtype="float64", workers=1,
    )  # fmt: skip
    with rasterio.open(out) as src:
        return src.read()
