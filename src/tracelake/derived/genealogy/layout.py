"""What the genealogy index is made of and shares between its build and its upkeep: the version,
the lake tables it reads, the edge sources, the depth limit, IndexStats and has_index."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

#: tables whose changed rows (not just new ones) force a full rebuild: edges may disappear
EDGE_TABLES = frozenset({"units", "unit_components", "material_issues"})


#: Bump when the index tables change shape: an index of another version is rebuilt, not extended.
INDEX_VERSION = 3


GENEALOGY_TABLES = ("units", "unit_components", "material_issues", "shipments", "jobs")


MAX_DEPTH = 64


#: where an edge comes from, stored in one byte
SOURCE_NAMES = ("unit_components", "material_issues", "lot")


SOURCE = "ENUM(" + ", ".join(f"'{name}'" for name in SOURCE_NAMES) + ")"


@dataclass
class IndexStats:
    """What a build did, for logs, Dagster metadata and the benchmark."""

    nodes: int
    edges: int
    closure_rows: int
    cycles: int
    multi_parent: int
    seconds: float
    mode: str = "full"


def has_index(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the lake holds a genealogy index of this version of tracelake."""
    # this database's tables or views (the lake as of a point attaches the snapshot, whose
    # tables are listed too, and may hold its index as views over the snapshot's)
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'genealogy' AND table_name IN ('closure_by_anc', 'meta')"
    ).fetchone()[0]  # type: ignore[index]
    if present != 2:
        return False
    row = con.execute("SELECT version FROM genealogy.meta").fetchone()
    return row is not None and row[0] == INDEX_VERSION


def _count(con: duckdb.DuckDBPyConnection):  # type: ignore[no-untyped-def]
    def count(table: str) -> int:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
    return count
