"""Find anything: every identifier, GS1 label and NCR, ECN or quarantine text in the lake.

``find(con, text)`` answers from the search index (schema ``search``), which ``tracelake ingest``
keeps current after every run that changes what it is built from (``upkeep.py``: a run
costs the entries its rows make), before the snapshot is published.
Each hit carries a ``link`` to the dashboard page that explains it.
"""

from __future__ import annotations

from tracelake.derived.search.gs1 import Gs1Label, parse_label
from tracelake.derived.search.index import (
    KINDS,
    SEARCH_TABLES,
    SearchStats,
    build_search_index,
    has_search_index,
)
from tracelake.derived.search.query import FindAnswer, find
from tracelake.derived.search.upkeep import (
    rebuild_lake_search_index,
    unapplied_runs,
    update_search_index,
)

__all__ = [
    "KINDS",
    "SEARCH_TABLES",
    "FindAnswer",
    "Gs1Label",
    "SearchStats",
    "build_search_index",
    "find",
    "has_search_index",
    "parse_label",
    "rebuild_lake_search_index",
    "unapplied_runs",
    "update_search_index",
]
