"""The review chain: the lake's own append-only record of dispositions and signatures.

Every review entry is one row of ``review_entries`` in ``lake.duckdb``. Rows are only ever
inserted (21 CFR 11.10(e)): a correction is a new entry whose ``supersedes`` names the entry it
corrects. Each entry carries ``prev_hash``, the ``entry_hash`` of the entry before it, and its own
``entry_hash``, the sha256 of its content (every column but ``entry_hash``, as canonical JSON), so
an entry changed or removed with plain SQL breaks the chain at that entry, and :func:`verify_chain`
names it. Ingest never touches this table (it writes contract, ledger and index tables only).

``review_head`` holds one row, the newest entry's ``seq`` and ``entry_hash``, rewritten by every
append. It does two jobs: entries removed from the END of the chain (which no ``prev_hash`` can
show) are named by :func:`verify_chain`; and in the scale-out mode, where several sites may sign
at the same moment, two appends that overlap both rewrite that row, so DuckLake refuses the later
COMMIT (a conflict, run again by ``review.store``) instead of letting both take the same ``seq``
and fork the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import duckdb

__all__ = ["GENESIS", "TABLE", "ChainBreak", "Entry", "append", "create_table", "entries",
           "has_table", "verify_chain"]

TABLE = "review_entries"
#: one row: the newest entry's seq and hash (see the module docstring)
HEAD = "review_head"
#: ``prev_hash`` of the first entry.
GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    """One review entry: a disposition of a finding, or a signature of a batch's release/rejection.

    ``signed_at`` is UTC; ``record_hash`` is the hash of the batch record the signer saw (see
    ``tracelake.records.record_hash``); ``meaning`` is the signature's meaning (11.50(a)(3)).
    """

    seq: int
    kind: str  # "disposition" | "signature"
    job_id: str
    finding_key: str | None
    finding_rule: str | None
    finding_severity: str | None
    finding_serial: str | None
    finding_record: str | None
    finding_message: str | None
    disposition: str | None  # accepted | ncr_raised | corrected_at_source | rejected
    ncr_id: str | None
    rationale: str | None
    meaning: str
    signer: str
    printed_name: str
    role: str
    signed_at: dt.datetime
    record_hash: str
    supersedes: int | None
    prev_hash: str
    entry_hash: str

    def content(self) -> dict[str, Any]:
        """What the entry hash covers: every field but ``entry_hash``."""
        out = asdict(self)
        del out["entry_hash"]
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


_TYPES = {"seq": "BIGINT", "supersedes": "BIGINT", "signed_at": "TIMESTAMPTZ"}
COLUMNS = [f.name for f in fields(Entry)]


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def hash_content(content: dict[str, Any]) -> str:
    """sha256 of an entry's content as canonical JSON (sorted keys, UTC microsecond times)."""
    text = json.dumps({k: _canonical(v) for k, v in content.items()}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def create_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``review_entries`` (idempotent). Only :func:`append` writes to it."""
    cols = ", ".join(f"{c} {_TYPES.get(c, 'VARCHAR')}" for c in COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({cols})")
    con.execute(f"CREATE TABLE IF NOT EXISTS {HEAD} (seq BIGINT, entry_hash VARCHAR)")
    # a row from the start (entry 0, the genesis hash): the first two appends must both rewrite
    # a row for DuckLake to see them overlap (deleting from an empty table conflicts with nothing)
    if not con.execute(f"SELECT count(*) FROM {HEAD}").fetchone()[0]:  # type: ignore[index]
        last = con.execute(f"SELECT seq, entry_hash FROM {TABLE} ORDER BY seq DESC "
                           "LIMIT 1").fetchone()
        con.execute(f"INSERT INTO {HEAD} VALUES (?, ?)", list(last) if last else [0, GENESIS])


def has_table(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the lake has a review chain (the first review write creates it)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
                            "AND table_name = ?", [TABLE]).fetchone()[0])  # type: ignore[index]


def entries(con: duckdb.DuckDBPyConnection, job_id: str | None = None) -> list[Entry]:
    """Every entry in chain order (of one job, if given); none when the lake has no chain."""
    if not has_table(con):
        return []
    where, params = ("WHERE job_id = ?", [job_id]) if job_id is not None else ("", [])
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} {where} ORDER BY seq",
                       params).fetchall()
    return [Entry(*r) for r in rows]


def append(con: duckdb.DuckDBPyConnection, **values: Any) -> Entry:
    """Append one entry at the end of the chain (inside the caller's transaction).

    ``values`` are the entry's fields but ``seq``, ``signed_at``, ``prev_hash`` and
    ``entry_hash``, which the chain fills in.
    """
    create_table(con)
    last = con.execute(f"SELECT seq, entry_hash FROM {TABLE} ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    now = dt.datetime.now(dt.UTC)
    content = {c: None for c in COLUMNS if c != "entry_hash"} | values | {
        "seq": seq, "signed_at": now, "prev_hash": prev}
    entry = Entry(**content, entry_hash=hash_content(content))
    con.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES "
                f"({', '.join('?' for _ in COLUMNS)})", [getattr(entry, c) for c in COLUMNS])
    con.execute(f"DELETE FROM {HEAD}")
    con.execute(f"INSERT INTO {HEAD} VALUES (?, ?)", [entry.seq, entry.entry_hash])
    return entry


def _head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The head row (None without one: a chain written before the head was kept, or a lake as
    of a time before its first entry; more than one: two sites made the table at once and no
    entry has been appended since, so the head says nothing yet)."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
                       "AND table_name = ?", [HEAD]).fetchone()[0]:  # type: ignore[index]
        return None
    row = con.execute(f"SELECT seq, entry_hash FROM {HEAD}").fetchall()
    return (int(row[0][0]), str(row[0][1])) if len(row) == 1 else None


@dataclass(frozen=True)
class ChainBreak:
    """The first entry at which the chain does not hold, and why."""

    seq: int
    job_id: str | None
    reason: str

    def message(self) -> str:
        """One line naming the entry."""
        job = f" (job {self.job_id})" if self.job_id else ""
        return f"review entry {self.seq}{job}: {self.reason}"


def verify_chain(con: duckdb.DuckDBPyConnection) -> tuple[int, ChainBreak | None]:
    """Check every entry: numbering without gaps, each ``prev_hash`` the hash of the entry before,
    each ``entry_hash`` the hash of its own content. Returns (entries checked, first break)."""
    found = entries(con)
    prev_hash, expected_seq = GENESIS, 1
    for e in found:
        if e.seq != expected_seq:
            reason = (f"entry {expected_seq} is missing (deleted?): the chain goes from "
                      f"{expected_seq - 1} to {e.seq}" if e.seq > expected_seq
                      else f"entry {e.seq} appears more than once")
            return len(found), ChainBreak(e.seq, e.job_id, reason)
        if e.entry_hash != hash_content(e.content()):
            return len(found), ChainBreak(e.seq, e.job_id,
                                          "its content does not match its hash: the row was "
                                          "changed after it was written")
        if e.prev_hash != prev_hash:
            return len(found), ChainBreak(e.seq, e.job_id,
                                          "it does not carry the hash of the entry before it: "
                                          "an entry before it was changed, removed or inserted")
        prev_hash, expected_seq = e.entry_hash, expected_seq + 1
    head = _head(con)
    last = found[-1] if found else None
    if head is not None and head != ((last.seq, last.entry_hash) if last else (0, GENESIS)):
        if last is None or head[0] > last.seq:
            shown = "no entry is left" if last is None else f"the last entry is {last.seq}"
            return len(found), ChainBreak(head[0], None,
                                          f"the chain's head names entry {head[0]}, but "
                                          f"{shown}: entries at the end were removed")
        return len(found), ChainBreak(last.seq, last.job_id,
                                      "the chain's head does not carry the hash of the last "
                                      "entry: it was changed after it was written")
    return len(found), None
