"""The base of every config section: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config section: extra keys are refused (a typo is an error), fields are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
