"""How ``find`` reads the index the upkeep keeps (``upkeep.py``): the base minus its dead
entries, plus the delta, merged in the base's order (``SORT_KEY``), so answers equal a rebuild's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from tracelake.derived.search.index import ORD_OF_KIND, SORT_KEY

__all__ = ["DELTA_ORDER", "ENTRY_COLUMNS", "KEYED_COLUMNS", "Delta", "dead_between", "delta_of",
           "merged", "order"]

ENTRY_COLUMNS = "eid, kind, id, component, record, context, page, params"
#: With what a row sorts by in the index (``SORT_KEY``): to merge the base with the delta.
KEYED_COLUMNS = f"{ENTRY_COLUMNS}, lower(id), {ORD_OF_KIND}"
#: ``SORT_KEY`` for the delta, whose rows have no ``ord`` column.
DELTA_ORDER = SORT_KEY.replace("ord", ORD_OF_KIND, 1)


@dataclass
class Delta:
    """What the upkeep keeps beside the base (see ``upkeep.py``): base eids no longer current,
    and how many entries the delta holds; both empty right after a build."""

    base: int
    dead: int
    entries: int


def delta_of(con: duckdb.DuckDBPyConnection) -> Delta:
    """The delta's state, read once per lookup (two counts of small tables)."""
    base, dead, entries = con.execute(
        "SELECT base_entries, (SELECT count(*) FROM search.dead), "
        "(SELECT count(*) FROM search.entries_delta) FROM search.meta").fetchone()  # type: ignore[misc]
    return Delta(int(base), int(dead), int(entries))


def dead_between(con: duckdb.DuckDBPyConnection, lo: int, hi: int) -> set[int]:
    """Eids in [lo, hi) of base entries no longer current."""
    return {r[0] for r in con.execute("SELECT eid FROM search.dead WHERE eid >= ? AND eid < ?",
                                      [lo, hi]).fetchall()}


def _nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, "" if value is None else value)


def order(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A keyed row's place in the index (``SORT_KEY``: key, kind, record, id, context, ...)."""
    _eid, _kind, id_, component, record, context, page, params, k, ord_ = row
    return (k, ord_, record, id_, context, _nulls_last(component), page, _nulls_last(params))


def merged(base: list[tuple[Any, ...]], delta: list[tuple[Any, ...]],
           lead: Callable[[tuple[Any, ...]], Any] | None = None) -> list[tuple[Any, ...]]:
    """Keyed rows of the base and the delta in index order (after ``lead(row)`` if given), as
    plain entry rows."""
    rows = sorted(base + delta, key=lambda r: (lead(r), order(r)) if lead else order(r))
    return [r[:8] for r in rows]


