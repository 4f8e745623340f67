"""Ingest: read plant exports, type and check them against the contract, load or quarantine every row."""

from __future__ import annotations

from tracelake.ingest.report import FileReport, IngestReport
from tracelake.ingest.run import discover_files, ingest

__all__ = ["FileReport", "IngestReport", "discover_files", "ingest"]
