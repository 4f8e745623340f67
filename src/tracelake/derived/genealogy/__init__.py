"""The lot-to-serial genealogy: where-used, where-from, recall and calibration impact.

Build the index with :func:`build_index` (ingest does it after every run that changes units,
fitments, issues or shipments), then ask :func:`where_used`, :func:`where_from` or
:func:`supplier_recall` on any connection to the lake or its snapshot.
"""

from __future__ import annotations

from tracelake.derived.genealogy.index import (
    GENEALOGY_TABLES,
    IndexStats,
    build_index,
    has_index,
    rebuild_lake_index,
    update_index,
)
from tracelake.derived.genealogy.trace import (
    WhereFrom,
    WhereUsed,
    supplier_lots,
    supplier_recall,
    where_from,
    where_used,
)

__all__ = [
    "GENEALOGY_TABLES",
    "IndexStats",
    "WhereFrom",
    "WhereUsed",
    "build_index",
    "has_index",
    "rebuild_lake_index",
    "supplier_lots",
    "supplier_recall",
    "update_index",
    "where_from",
    "where_used",
]
