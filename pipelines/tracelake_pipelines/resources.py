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
    #: several sites: the landing folder holds one folder per site (LANDING/<site>/...); the
    #: sensor starts one ingest per site whose folder changed, its rows tagged with the site
    sites: list[str] = []  # noqa: RUF012 - pydantic copies field defaults

    def site_landing(self, site: str | None) -> str:
        """The landing folder of ``site`` (the landing folder itself without sites)."""
        from pathlib import Path

        return str(Path(self.landing) / site) if site else self.landing

    def lake_paths(self) -> LakePaths:
        """The lake's files."""
        return LakePaths.of(self.lake)

    def load_mapping(self) -> Mapping:
        """The mapping file, or the defaults."""
        from pathlib import Path

        return load_mapping(Path(self.mapping) if self.mapping else None)


def default_resource() -> TracelakeResource:
    """The resource as configured by the environment (the sample plant by default)."""
    sites = [s.strip() for s in os.environ.get("TRACELAKE_SITES", "").split(",") if s.strip()]
    return TracelakeResource(landing=os.environ.get("TRACELAKE_LANDING", "data/sample"),
                             lake=os.environ.get("TRACELAKE_LAKE", "lake"),
                             mapping=os.environ.get("TRACELAKE_MAPPING") or None, sites=sites)
