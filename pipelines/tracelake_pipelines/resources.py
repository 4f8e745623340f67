"""The one resource the pipelines need: where the landing folder and the lake are."""

from __future__ import annotations

import os

import dagster as dg

from tracelake.intake.mapping import Mapping, load_mapping
from tracelake.lake.storage import LakePaths

__all__ = ["TracelakeResource", "default_resource"]


class TracelakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Landing folder, lake folder and mapping file; defaults come from ``TRACELAKE_*``."""

    landing: str
    lake: str
    mapping: str | None = None
    #: file patterns (relative to the landing folder) to leave out; the sample's bad-input corpus
    exclude: list[str] = ["bad/*"]  # noqa: RUF012 - pydantic copies field defaults

    def lake_paths(self) -> LakePaths:
        """The lake's files."""
        return LakePaths.of(self.lake)

    def load_mapping(self) -> Mapping:
        """The mapping file, or the defaults."""
        from pathlib import Path

        return load_mapping(Path(self.mapping) if self.mapping else None)


def default_resource() -> TracelakeResource:
    """The resource as configured by the environment (the sample plant by default)."""
    return TracelakeResource(landing=os.environ.get("TRACELAKE_LANDING", "data/sample"),
                             lake=os.environ.get("TRACELAKE_LAKE", "lake"),
                             mapping=os.environ.get("TRACELAKE_MAPPING") or None)
