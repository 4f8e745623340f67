"""Where a lake's files live, and the reader settings every connection shares.

Standard library only: the CLI imports this at start, so ``tracelake --help`` and
``tracelake sql`` never pay for the contracts (pandera, pandas) they do not use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracelake.lake.config import LakeConfig, read_config

__all__ = ["IN_FILTER_KEYS", "LakePaths"]

#: A join whose smaller side has at most this many keys hands them to the scan of the larger
#: side as an IN filter, which zone maps prune by (DuckDB's default is 50). Lookups of a few
#: hundred measured serials or holders then read the row groups holding them, not the table:
#: 300 serials among 5M took 86 ms by a full scan, 10 ms so.
IN_FILTER_KEYS = 2048


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
