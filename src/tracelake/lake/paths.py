"""Where a lake's files live, and the reader settings every connection shares.

Standard library only: the CLI imports this at start, so ``tracelake --help`` and
``tracelake sql`` never pay for the contracts (pandera, pandas) they do not use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tracelake.lake.config import LakeConfig, read_config

__all__ = ["IN_FILTER_KEYS", "MEMORY_LIMIT", "LakePaths", "memory_limit"]

#: A join whose smaller side has at most this many keys hands them to the scan of the larger
#: side as an IN filter, which zone maps prune by (DuckDB's default is 50). Lookups of a few
#: hundred measured serials or holders then read the row groups holding them, not the table:
#: 300 serials among 5M took 86 ms by a full scan, 10 ms so.
IN_FILTER_KEYS = 2048

#: DuckDB's memory limit in every connection that writes the lake or its derived indexes (the
#: ingest's writer, the scale-out refresh of ``derived.duckdb``); ``TRACELAKE_MEMORY_LIMIT``
#: overrides it. Past it DuckDB evicts the lake's blocks it has cached and spills what it
#: works on (staged rows, index builds, joins and sorts) to ``.tmp`` in the lake folder
#: (:meth:`LakePaths.spill`), so the writer's memory is this plus what the ingest holds in
#: Python (one file's text as read, one chunk of it typed). 512 MB holds the 100,000-unit
#: plant's ingest (2.65M rows, indexes and snapshot included) under 1.5 GB of peak RSS
#: (2 GB let it reach 1.7 GB: DuckDB keeps what it cached up to its limit).
MEMORY_LIMIT = "512MB"


def memory_limit() -> str:
    """The writer's DuckDB memory limit: ``TRACELAKE_MEMORY_LIMIT``, else :data:`MEMORY_LIMIT`."""
    return os.environ.get("TRACELAKE_MEMORY_LIMIT") or MEMORY_LIMIT


@dataclass(frozen=True)
class LakePaths:
    """Where a lake's files live."""

    root: Path

    @property
    def database(self) -> Path:
        """The writer's database."""
        return self.root / "lake.duckdb"

    @property
    def serving(self) -> Path:
        """The published snapshot readers open."""
        return self.root / "serving.duckdb"

    @property
    def derived(self) -> Path:
        """Scale-out mode: this machine's derived indexes (genealogy, search), kept current
        from the lake's runs and published to ``serving`` for its readers."""
        return self.root / "derived.duckdb"

    @property
    def spill(self) -> Path:
        """Where DuckDB writes what does not fit in its memory limit (removed when it closes)."""
        return self.root / ".tmp"

    @property
    def config(self) -> LakeConfig | None:
        """The scale-out settings (``tracelake.toml``); None for an embedded lake."""
        return read_config(self.root)

    @property
    def scaleout(self) -> bool:
        """Whether the lake's system of record is DuckLake (``tracelake init --catalog``)."""
        return (self.root / "tracelake.toml").exists()

    @classmethod
    def of(cls, lake: str | Path) -> LakePaths:
        """Paths of the lake folder ``lake`` (a path ending in ``.duckdb`` names its database)."""
        path = Path(lake)
        return cls(path.parent if path.suffix == ".duckdb" else path)
