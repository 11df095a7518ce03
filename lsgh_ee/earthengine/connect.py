"""One way to reach Earth Engine from a region config: the session and the export settings.

Every stage, study and report that talks to Earth Engine opens it here, so the config's
``earthengine`` section (project, key file, endpoint, bucket, asset folder) is read in one
place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lsgh_ee.config import RegionConfig
    from lsgh_ee.earthengine.exports import ExportSettings
    from lsgh_ee.earthengine.session import EarthEngineSession


def session_for(config: RegionConfig, *, reuse: bool = False) -> EarthEngineSession:
    """The Earth Engine session of ``config.earthengine``.

    Args:
        reuse: keep the session already open in this process (if the client is still
            initialised) instead of opening a new one.
    """
    import ee

    from lsgh_ee.earthengine.session import current_session, open_session

    if reuse:
        session = current_session()
        if session is not None and ee.data.is_initialized():
            return session
    settings = config.earthengine
    # The ee client's own retries stay on (its default, 5, with back-off on 429 / 5xx): a
    # long hosted or batch run must survive a hiccup of any request, not only the ones this
    # package retries itself. The request deadline: ``earthengine.deadline_seconds`` where
    # the config has it, else LSGH_EE_DEADLINE, else the session's default.
    return open_session(settings.project, key_file=settings.key_file, api_url=settings.api_url,
                        deadline_s=settings.deadline_seconds)  # fmt: skip


def export_settings_for(config: RegionConfig, session: EarthEngineSession) -> ExportSettings:
    """Where this region's batch exports and uploads go, for the session's project; the
    run's objects in the bucket sit under ``lsgh-ee/<region name>``."""
    from lsgh_ee.earthengine.exports import ExportSettings

    return ExportSettings.from_config(config.earthengine, session.project,
                                      f"lsgh-ee/{config.name}")  # fmt: skip


def connect(config: RegionConfig) -> tuple[EarthEngineSession, ExportSettings]:
    """Open the session of ``config`` and return it with its export settings."""
    session = session_for(config)
    return session, export_settings_for(config, session)
