"""The ``heatmap`` and ``sampling`` sections of a region config."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from lsgh_ee.config.strict import Strict


class HeatmapConfig(Strict):
    """The Gaussian heatmap around each landslide centre: its diameter in pixels or metres."""

    diameter: int = Field(13, ge=1, description="Gaussian heatmap diameter in pixels (odd)")
    diameter_m: float | None = Field(
        None,
        gt=0,
        description="heatmap diameter in metres instead of pixels: the odd pixel count "
        "nearest to diameter_m / resolution (ties round up), at least 3 (the paper's "
        "7/13/19 pixels at 30 m are 210/390/570 m); set either this or 'diameter'",
    )

    @model_validator(mode="after")
    def _one_diameter(self) -> HeatmapConfig:
        if self.diameter_m is not None and "diameter" in self.model_fields_set:
            raise ValueError(
                "set either diameter (pixels) or diameter_m (metres), not both; remove one"
            )
        return self

    def pixels(self, resolution: float) -> int:
        """The diameter in pixels on a grid of ``resolution`` metres: ``diameter``, or the
        odd count nearest to ``diameter_m / resolution`` (at least 3)."""
        if self.diameter_m is None:
            return self.diameter
        return odd_pixels(self.diameter_m / resolution)


def odd_pixels(size: float) -> int:
    """The odd whole number nearest to ``size`` (pixels; half way between two, the larger),
    at least 3."""
    return max(3, 2 * math.floor((size - 1) / 2 + 0.5) + 1)


class SamplingConfig(Strict):
    seed: int = 42
    importance_samples: int = Field(
        5000, ge=100, description="pixels drawn for the factor report's RF importance"
    )
    positives: Literal["centroid", "polygon"] = Field(
        "centroid",
        description="positive (label 1) samples: each landslide's centre pixel (the paper), "
        "or every pixel of the landslide polygons",
    )
    negatives: Literal["outside_heatmap", "outside_buffer", "low_slope"] = Field(
        "outside_heatmap",
        description="rule for negative (label 0) samples, drawn at random from non-landslide "
        "ground: where the heatmap is 0, farther than 'negative_buffer' metres from any "
        "landslide pixel, or where slope is below 'negative_max_slope' degrees",
    )
    negative_ratio: float = Field(
        1.0, gt=0, description="negatives per positive sample (1.0 = balanced)"
    )
    negative_buffer: float = Field(
        500.0, gt=0, description="metres from any landslide pixel (negatives: outside_buffer)"
    )
    negative_max_slope: float = Field(
        10.0, gt=0, le=90, description="slope in degrees (negatives: low_slope)"
    )
    soft_per_interval: int | None = Field(
        None,
        ge=0,
        description="soft samples per heatmap interval (0.2,0.4], (0.4,0.6], (0.6,0.8]; "
        "default: as many as the positive samples; 0 = no soft samples (plain CNN)",
    )
    soft_share: float | None = Field(
        None,
        ge=0,
        description="soft samples per positive sample per heatmap interval, instead of the "
        "count 'soft_per_interval' (default: 1.0, as many as the positives; the paper's "
        "counts imply about 0.3); set at most one of the two",
    )
    split: Literal["random", "spatial", "temporal"] = Field(
        "random",
        description="train/test split: random (stratified by kind, the paper's 7:3), "
        "spatial (whole square blocks of 'block_size' metres) or temporal (by landslide "
        "year, needs inventory.date_attribute); spatial and temporal draw each side from "
        "its own landslides (heatmap, soft samples, negatives' exclusion zones)",
    )
    test_fraction: float = Field(
        0.3, gt=0, lt=1, description="share of the samples held out for testing (paper: 0.3)"
    )
    block_size: float = Field(
        2000.0, gt=0, description="side of the spatial split's blocks in metres"
    )
    temporal_cutoff: int | None = Field(
        None,
        description="temporal split: landslides up to this year train, later ones test "
        "(default: the year splitting the landslides closest to 1 - test_fraction)",
    )

    @model_validator(mode="after")
    def _one_soft_setting(self) -> SamplingConfig:
        if self.soft_per_interval is not None and self.soft_share is not None:
            raise ValueError(
                "set either soft_per_interval (a count) or soft_share (per positive), "
                "not both; remove one"
            )
        return self

    def soft_count(self, n_positives: int) -> int:
        """Soft samples per heatmap interval for ``n_positives`` positive samples:
        ``soft_per_interval``, else ``round(soft_share * n_positives)``, else
        ``n_positives`` (a share of 1.0)."""
        if self.soft_per_interval is not None:
            return self.soft_per_interval
        share = 1.0 if self.soft_share is None else self.soft_share
        return round(share * n_positives)

    def without_soft(self) -> SamplingConfig:
        """This config drawing no soft samples (a test side)."""
        return self.model_copy(update={"soft_per_interval": 0, "soft_share": None})
