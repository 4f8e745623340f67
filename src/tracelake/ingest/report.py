"""What an ingest run reports, file by file: the JSON document of ``tracelake ingest --format json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FileReport", "IngestReport"]


@dataclass
class FileReport:
    """The outcome of one file: loaded, duplicate, rejected or unrecognised."""

    path: str
    table: str | None
    sha256: str | None  # None for a file never opened (a link out, a FIFO, a device)
    status: str  # loaded | duplicate | rejected | unrecognised
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    extra_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    source: str | None = None
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    #: test-executive reports: steps that measure nothing (actions, flow control), counted only
    steps_skipped: int = 0
    #: v2: read again because its mapping changed (or --reread); what that replaced
    reread: bool = False
    rows_retired: int = 0  # rows of the earlier reading this one no longer gives (to history)
    quarantine_closed: int = 0  # the earlier reading's quarantine rows, now superseded

    def as_dict(self) -> dict[str, Any]:
        """The file's entry in the JSON report (contract keys first)."""
        return asdict(self)


@dataclass
class IngestReport:
    """The outcome of one run over many files."""

    run_id: str
    files: list[FileReport]
    orphan_references: int = 0
    published: bool = False
    genealogy: dict[str, Any] | None = None  # what the genealogy index build did, if it ran
    search: dict[str, Any] | None = None  # what the search index build did, if it ran
    #: v2: e.g. a mapping pattern that matched no file of the run
    warnings: list[str] = field(default_factory=list)
    #: seconds per phase of the run (read, load, orphans, genealogy, search, commit, publish):
    #: where a run's time went, for the benchmarks and ``--json`` readers
    seconds: dict[str, float] = field(default_factory=dict)
    #: scale-out: how often the run lost its commit to another writer and ran again
    conflicts: int = 0
    #: scale-out: files the last attempt wrote from an earlier attempt's reading, after a lost
    #: commit: not read, typed or checked again (``seconds`` adds up every attempt's phases, so
    #: ``read`` and ``check`` are the first attempt's; ``keep``: writing the readings aside)
    files_reused: int = 0

    @property
    def totals(self) -> dict[str, int]:
        """Files and rows over the whole run."""
        return {
            "files": len(self.files),
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_loaded": sum(f.rows_loaded for f in self.files),
            "rows_quarantined": sum(f.rows_quarantined for f in self.files),
        }

    def by_table(self) -> dict[str, dict[str, int]]:
        """Rows loaded and quarantined, and files rejected, per table."""
        out: dict[str, dict[str, int]] = {}
        for f in self.files:
            if f.table is None:
                continue
            t = out.setdefault(f.table, {"files": 0, "rows_loaded": 0, "rows_quarantined": 0,
                                         "files_rejected": 0})
            t["files"] += 1
            t["rows_loaded"] += f.rows_loaded
            t["rows_quarantined"] += f.rows_quarantined
            t["files_rejected"] += f.status == "rejected"
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON document the CLI contract specifies (plus added keys)."""
        return {"run_id": self.run_id, "files": [f.as_dict() for f in self.files],
                "totals": self.totals, "orphan_references": self.orphan_references,
                "published": self.published, "genealogy": self.genealogy, "search": self.search,
                "warnings": self.warnings, "seconds": self.seconds,
                "conflicts": self.conflicts, "files_reused": self.files_reused}
