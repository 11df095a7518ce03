"""Earth Engine integration: session and credentials, recipes, tiled download, tasks.

Importing this package does not import ``ee``; the submodules import it when called.
"""

from lsgh_ee.earthengine.session import (
    EarthEngineSession,
    credentials_path,
    open_session,
    require_credentials,
)

__all__ = ["EarthEngineSession", "credentials_path", "open_session", "require_credentials"]
