"""A record's history: every value of its rows that a later file changed, before and after, with
the run and file that changed it (from ``history.<table>``, so on a connection to the lake as of a
point it is the history as it stood then).

Rows of a job are those naming it (``job_id``) or one of its units (``serial_number``); rows of a
unit, those naming its serial. One entry per changed column; a version no later reading gave at
all (retired by a re-read under a changed mapping) is one entry with ``column`` None.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from tracelake.contracts import CONTRACTS
from tracelake.lake.plant_time import plant_zone, stamp
from tracelake.lake.storage import LINEAGE

__all__ = ["record_history"]

_HIDDEN = {c for c in LINEAGE if c != "_extra"}


def _has_history(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = "
                            "'history' AND table_name = ? AND column_name = '_superseded_by_run'",
                            [table]).fetchone()[0])  # type: ignore[index]


def record_history(con: duckdb.DuckDBPyConnection, *, job_id: str | None = None,
                   serial: str | None = None) -> list[dict[str, Any]]:
    """The changes to a job's (or a unit's) rows, oldest change first."""
    out: list[dict[str, Any]] = []
    zone = plant_zone(con)

    def shown(value: Any) -> str:  # a key part as a person reads it (times in plant time)
        if value is None:
            return ""
        return stamp(value, zone, seconds=True) if isinstance(value, dt.datetime) else str(value)

    for name, contract in CONTRACTS.items():
        cols = contract.dtypes
        if serial is not None and "serial_number" in cols:
            where, params = "serial_number = ?", [serial]
        elif job_id is not None and "job_id" in cols:
            where, params = "job_id = ?", [job_id]
        elif job_id is not None and "serial_number" in cols:
            where = "serial_number IN (SELECT serial_number FROM main.units WHERE job_id = ?)"
            params = [job_id]
        else:
            continue
        if not _has_history(con, name):
            continue
        old = _rows(con, f'SELECT * FROM history."{name}" WHERE {where} '
                         "ORDER BY _superseded_at, _row", params)
        if not old:
            continue
        key = list(contract.natural_key)
        compared = [c for c in [*cols, "_extra"] if c not in _HIDDEN]
        select = ", ".join(f'"{c}"' for c in [*cols, *LINEAGE])
        match = " AND ".join(f'n."{k}" IS NOT DISTINCT FROM o."{k}"' for k in key)
        # every version that superseded one of them, in one read (not one query per change)
        newer = _rows(con, f"""
            WITH o AS (SELECT {", ".join(f'"{k}"' for k in key)}, _superseded_by_run
                       FROM history."{name}" WHERE {where})
            SELECT n.* FROM (SELECT {select} FROM main."{name}"
                             UNION ALL SELECT {select} FROM history."{name}") n
            SEMI JOIN o ON {match} AND n._run_id = o._superseded_by_run""", params)
        by_key = {(tuple(r[k] for k in key), r["_run_id"]): r for r in newer}
        for row in old:
            successor = by_key.get((tuple(row[k] for k in key), row["_superseded_by_run"]))
            base = {"table": name, "key": "/".join(shown(row[k]) for k in key),
                    "changed_at": row["_superseded_at"], "run_id": row["_superseded_by_run"],
                    "file": row["_superseded_by_file"], "loaded_by_run": row["_run_id"]}
            if successor is None:
                out.append({**base, "column": None, "before": None,
                            "after": "(no longer given by its file)"})
                continue
            for c in compared:
                if row.get(c) != successor.get(c):
                    out.append({**base, "column": c, "before": row.get(c),
                                "after": successor.get(c)})
    out.sort(key=lambda e: (e["changed_at"], e["table"], e["key"]))
    return out


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]  # type: ignore[union-attr]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
