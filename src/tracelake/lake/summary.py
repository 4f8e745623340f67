"""A lake at a glance: rows per table, what was quarantined and why, rejected files, orphans,
and the run the published snapshot holds."""

from __future__ import annotations

from typing import Any

import duckdb

from tracelake.contracts import CONTRACTS
from tracelake.lake.paths import LakePaths
from tracelake.lake.snapshot import open_snapshot

__all__ = ["lake_summary"]


def lake_summary(lake: LakePaths) -> dict[str, Any]:
    """Rows loaded and quarantined per table, rejected files, quarantine rules and orphans."""
    con = open_snapshot(lake)
    try:
        return _summary(con)
    finally:
        con.close()


def _summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    quarantined = dict(con.execute(
        "SELECT table_name, count(DISTINCT (source_file, row_number)) FROM quarantine "
        "WHERE superseded_by_run IS NULL GROUP BY ALL").fetchall())
    tables = []
    for name in CONTRACTS:
        rows = con.execute(f'SELECT count(*) FROM main."{name}"').fetchone()[0]  # type: ignore[index]
        history = con.execute(f'SELECT count(*) FROM history."{name}"').fetchone()[0]  # type: ignore[index]
        tables.append({"table": name, "rows": rows, "rows_quarantined": quarantined.get(name, 0),
                       "superseded_versions": history})
    rules = [{"table": t, "rule": r, "rows": n} for t, r, n in con.execute(
        "SELECT table_name, rule, count(DISTINCT (source_file, row_number)) FROM quarantine "
        "WHERE superseded_by_run IS NULL GROUP BY ALL ORDER BY 1, 2").fetchall()]
    rejected = [{"path": p, "reason": r} for p, r in con.execute(
        "SELECT DISTINCT path, reason FROM ingest_files WHERE status = 'rejected' "
        "AND (sha256 IS NULL OR sha256 NOT IN (SELECT sha256 FROM ingest_files "
        "WHERE status = 'loaded' AND sha256 IS NOT NULL)) "
        "ORDER BY path").fetchall()]
    orphans = [{"kind": k, "table": t, "references": n, "values": v} for k, t, n, v in
               con.execute("SELECT kind, table_name, count(*), list(DISTINCT value ORDER BY value)"
                           " FROM orphan_references GROUP BY ALL ORDER BY 1, 2").fetchall()]
    last = con.execute("SELECT run_id, finished_at FROM ingest_runs ORDER BY finished_at DESC "
                       "LIMIT 1").fetchone()
    try:  # the run the snapshot holds (snapshots from before lake_version do not say)
        held = con.execute("SELECT run_id, committed_at FROM lake_version LIMIT 1").fetchone()
    except duckdb.CatalogException:
        held = None
    return {"last_run": {"run_id": last[0], "finished_at": last[1]} if last else None,
            "snapshot": {"run_id": held[0], "committed_at": held[1]} if held else None,
            "tables": tables, "quarantine_rules": rules, "rejected_files": rejected,
            "orphan_references": orphans}
