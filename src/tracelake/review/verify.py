"""``tracelake verify``: the review chain and the ingest ledger, checked on the lake's own database.

The chain: every entry numbered without gaps, carrying the hash of the one before, its own hash
matching its content. The ledger: every file row belongs to a recorded run, every loaded file's
rows read = loaded + quarantined, and the quarantine holds as many rows as the file says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from tracelake.errors import LakeError, LakeNotFound
from tracelake.lake.storage import LakePaths
from tracelake.review.chain import ChainBreak, verify_chain

__all__ = ["Verification", "verify_lake"]


@dataclass
class Verification:
    """What was checked and the first break found (None when intact)."""

    review_entries: int = 0
    ingest_runs: int = 0
    ingest_files: int = 0
    chain_break: ChainBreak | None = None
    ledger_problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """True when nothing is broken."""
        return self.chain_break is None and not self.ledger_problems

    def first_problem(self) -> str | None:
        """The first broken entry, in one line."""
        if self.chain_break is not None:
            return self.chain_break.message()
        return self.ledger_problems[0] if self.ledger_problems else None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"intact": self.intact, "review_entries": self.review_entries,
                "ingest_runs": self.ingest_runs, "ingest_files": self.ingest_files,
                "first_break": self.first_problem(),
                "chain_break": None if self.chain_break is None else {
                    "entry": self.chain_break.seq, "job_id": self.chain_break.job_id,
                    "reason": self.chain_break.reason},
                "ledger_problems": self.ledger_problems}


def _ledger(con: duckdb.DuckDBPyConnection, result: Verification) -> None:
    result.ingest_runs = int(con.sql("SELECT count(*) FROM ingest_runs").fetchone()[0])  # type: ignore[index]
    result.ingest_files = int(con.sql("SELECT count(*) FROM ingest_files").fetchone()[0])  # type: ignore[index]
    for run_id, path in con.sql("""
            SELECT run_id, path FROM ingest_files
            WHERE run_id NOT IN (SELECT run_id FROM ingest_runs) ORDER BY run_id, path""").fetchall():
        result.ledger_problems.append(f"ingest_files: {path} names run {run_id}, "
                                      "which is not in ingest_runs")
    for run_id, path, read, loaded, quarantined in con.sql("""
            SELECT run_id, path, rows_read, rows_loaded, rows_quarantined FROM ingest_files
            WHERE status = 'loaded' AND rows_read IS DISTINCT FROM rows_loaded + rows_quarantined
            ORDER BY run_id, path""").fetchall():
        result.ledger_problems.append(f"ingest_files: {path} (run {run_id}) read {read} rows but "
                                      f"loaded {loaded} and quarantined {quarantined}")
    for run_id, path, said, held in con.sql("""
            WITH q AS (SELECT run_id, source_file, count(DISTINCT row_number) AS n
                       FROM quarantine GROUP BY ALL)
            SELECT f.run_id, f.path, f.rows_quarantined, coalesce(q.n, 0) FROM ingest_files f
            LEFT JOIN q ON q.run_id = f.run_id AND q.source_file = f.path
            WHERE f.status = 'loaded' AND f.rows_quarantined <> coalesce(q.n, 0)
            ORDER BY f.run_id, f.path""").fetchall():
        result.ledger_problems.append(f"quarantine: {path} (run {run_id}) quarantined {said} "
                                      f"rows but the quarantine holds {held}")


def verify_lake(lake: LakePaths) -> Verification:
    """Check the review chain and the ingest ledger of the lake's writer database (read-only).

    Raises:
        LakeNotFound: no lake here.
        LakeError: the lake is being written (run again when that has finished).
    """
    config = lake.config
    if config is not None:  # scale-out: the lake's latest snapshot, read-only
        from tracelake.lake import ducklake

        con = ducklake.connect()
        try:
            ducklake.attach(con, config, read_only=True)
            con.execute(f"USE {ducklake.ALIAS}")
        except BaseException:
            con.close()
            raise
    elif not lake.database.exists():
        raise LakeNotFound(f"{lake.root}: no lake here")
    else:
        try:
            con = duckdb.connect(str(lake.database), read_only=True)
        except duckdb.IOException as exc:
            raise LakeError(f"{lake.database}: cannot open the lake to verify it ({exc}); if "
                            "another process is writing it, run again when it has finished"
                            ) from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        result = Verification()
        result.review_entries, result.chain_break = verify_chain(con)
        _ledger(con, result)
        return result
    finally:
        con.close()
