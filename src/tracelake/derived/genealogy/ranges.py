"""Reading a scattered set of keys from a table sorted by key, so that zone maps prune.

DuckDB skips the row groups (and vectors) a constant range filter excludes, but it does not
for a join on the keys (it hashes every row of each row group the join's min/max cannot skip)
nor for an OR of several ranges (measured at 1M units: one BETWEEN reads ~90k rows of
``unit_info``, two OR'd BETWEENs read all 5M). So a set of keys is read as a UNION ALL of one
constant range per cluster of keys; the caller matches the rows to the keys exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["key_ranges", "select_in_ranges"]


def key_ranges(keys: np.ndarray, gap: int = 2048, most: int = 24) -> list[tuple[int, int]]:
    """Ranges covering ``keys``: keys closer than ``gap`` share a range, and there are at most
    ``most`` ranges (the narrowest gaps are closed first)."""
    keys = np.unique(np.asarray(keys, dtype=np.int64))
    if not len(keys):
        return []
    gaps = np.diff(keys)
    cut = np.flatnonzero(gaps > gap)
    if len(cut) >= most:  # keep the widest gaps open
        cut = np.sort(cut[np.argsort(gaps[cut], kind="stable")[-(most - 1):]])
    first = np.concatenate([[0], cut + 1])
    last = np.concatenate([cut, [len(keys) - 1]])
    return [(int(keys[a]), int(keys[b])) for a, b in zip(first.tolist(), last.tolist(),
                                                            strict=True)]


def select_in_ranges(select: str, column: str, ranges: list[tuple[int, int]],
                     also: str | None = None) -> str:
    """``select`` (a SELECT ... FROM ... without WHERE) restricted to ``column`` in the ranges
    (and to the condition ``also``), one UNION ALL branch per range; a query that returns
    nothing if there is no range."""
    if not ranges:
        return f"{select} WHERE false"
    extra = f" AND ({also})" if also else ""
    return "\nUNION ALL\n".join(f"{select} WHERE {column} BETWEEN {lo} AND {hi}{extra}"
                                for lo, hi in ranges)
