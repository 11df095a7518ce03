"""Config sections for elevation and Earth Engine: where the DEM comes from and how Earth
Engine is reached (project, credentials, exports)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from lsgh_ee.config.strict import Strict


class DemConfig(Strict):
    """The elevation source the terrain factors are derived from."""

    path: Path | None = None
    source: Literal["local", "ee"] = "local"
    ee_asset: str = Field(
        "USGS/SRTMGL1_003",
        min_length=1,
        description="Earth Engine DEM (for source: ee): an image id, e.g. NASA/NASADEM_HGT/001, "
        "or the Copernicus collection COPERNICUS/DEM/GLO30_2024_1 (mosaicked; it supersedes "
        "COPERNICUS/DEM/GLO30)",
    )
    ee_band: str | None = Field(
        None,
        min_length=1,
        description="elevation band of ee_asset (default: the dataset's own, e.g. 'elevation' "
        "for SRTM and NASADEM, 'DEM' for Copernicus; else the first band)",
    )

    @model_validator(mode="after")
    def _has_source(self) -> DemConfig:
        if self.source == "local" and self.path is None:
            raise ValueError("give 'path' (a DEM GeoTIFF) or 'source: ee'")
        return self


class EarthEngineConfig(Strict):
    """Earth Engine settings (used by ``--backend ee``); credentials come from the standard
    places (``earthengine authenticate``, ``GOOGLE_APPLICATION_CREDENTIALS``)."""

    project: str | None = Field(
        None, description="Google Cloud project registered for Earth Engine (else LSGH_EE_PROJECT)"
    )
    api_url: str | None = Field(None, description="API endpoint (else LSGH_EE_API_URL)")
    key_file: Path | None = Field(None, description="a service-account JSON key file")
    workers: int = Field(4, ge=1, le=32, description="concurrent download requests")
    export: Literal["download", "gcs", "asset", "drive"] = Field(
        "download",
        description="how pixels leave Earth Engine: download (tiled computePixels), gcs "
        "(batch export to the Cloud Storage bucket), asset (batch export to an image asset, "
        "then download), drive (batch export to Google Drive; cannot be fetched back)",
    )
    bucket: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$",
        description="Cloud Storage bucket for gcs exports and upload staging (name only, no gs://)",
    )
    storage_url: str | None = Field(
        None, description="Cloud Storage JSON API endpoint (else LSGH_EE_STORAGE_URL)"
    )
    asset_folder: str | None = Field(
        None,
        pattern=r"^projects/[a-z][a-z0-9-]{4,61}[a-z0-9]/assets(/[A-Za-z0-9_-]+)*$",
        description="Earth Engine folder for exported and uploaded assets (default "
        "projects/<project>/assets/lsgh-ee)",
    )
    drive_folder: str = Field("lsgh-ee", min_length=1, description="Google Drive folder")
    poll_seconds: float = Field(
        10.0, gt=0, le=600, description="seconds between polls of a running task"
    )
    deadline_seconds: float | None = Field(
        None,
        gt=0,
        description="deadline of each Earth Engine request in seconds (else LSGH_EE_DEADLINE, "
        "else 330): a hung request ends and is retried instead of waiting forever",
    )

    @model_validator(mode="after")
    def _bucket_for_gcs(self) -> EarthEngineConfig:
        if self.export == "gcs" and self.bucket is None:
            raise ValueError(
                "earthengine.bucket is needed for export: gcs; name a Cloud Storage bucket "
                "you can write to"
            )
        return self
