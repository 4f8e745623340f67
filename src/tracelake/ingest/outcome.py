"""A file's rows written to the lake, and its reading kept so that a lost commit writes, not reads, again.

The last step of a file in an ingest run (run.py) is the one that depends on the lake: its valid
rows upserted (or, read again under a new mapping, the earlier reading's rows retired), its bad
rows quarantined with their reasons (:func:`write_rows`). Everything before it (reading, mapping,
typing, checking) depends on the file's bytes and its mapping only.

In the scale-out mode a run that loses its COMMIT to another writer (a DuckLake transaction
conflict) is rolled back and goes again. Its first attempt keeps what each file's reading gave
(:class:`Readings`): the valid typed rows and the quarantine rows as Parquet files in a private
folder of the lake folder (outside the transaction, which the rollback empties, and on disk, so
no file's rows wait in memory), and the file's report (counts, notes, encoding, decisions). A
retry then redoes only what depends on the lake at its new snapshot: whether the file is now a
duplicate, the upsert, the quarantine and the closing of an earlier reading's, the ledger
(:func:`reuse`, :func:`replay`). The folder goes when the run ends: committed, failed, or lost
too often.
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import polars as pl

from tracelake.contracts import CONTRACTS, TableContract
from tracelake.ingest.report import FileReport
from tracelake.ingest.stage import DirectLoad, Stage
from tracelake.intake.mapping import Source
from tracelake.intake.readers import ROW
from tracelake.lake import ledger
from tracelake.lake.storage import UpsertCounts, retire_rows, upsert

__all__ = ["KEPT", "Keep", "Reading", "Readings", "as_duplicate", "loaded_before",
           "quarantine_rows", "remove_dead_runs", "replay", "reuse", "write_rows"]

#: keeps a file's reading: (its report as read and checked, its stage holding the checked rows
#: or None for a rejected file, its quarantine rows or None)
Keep = Callable[[FileReport, "Stage | DirectLoad | None", "pl.DataFrame | None"], None]


@dataclass
class Reading:
    """What one file's reading gave, whatever the lake holds: its report (loaded or rejected;
    the lake's counts cleared when it is used), and for a loaded file its valid rows and
    quarantine rows."""

    report: FileReport
    valid: str | None = None  # Parquet: the contract's columns, _row, _extra
    quarantine: str | None = None  # Parquet: _row, column, rule, message, raw

    def fresh(self) -> FileReport:
        """A copy of the report as the first attempt ended it (notes added after the file's
        rows were kept included), its counts of what the lake did cleared, to fill in at the
        lake's new state."""
        report = copy.deepcopy(self.report)
        report.rows_inserted = report.rows_updated = report.rows_unchanged = 0
        report.rows_retired = report.quarantine_closed = 0
        report.reread = False
        return report


#: the name of a run's folder of kept readings: this, then ``PID@HOST.`` and a random part
KEPT = ".tracelake-kept-"


def _host() -> str:
    return socket.gethostname().replace("/", "_") or "localhost"


def remove_dead_runs(root: Path) -> int:
    """Delete the kept readings of runs on this machine whose process is gone (a run killed
    with SIGKILL cannot delete its own); another machine's, and a live run's, stay."""
    removed = 0
    for folder in root.glob(KEPT + "*@*"):
        pid_text, _, rest = folder.name[len(KEPT):].partition("@")
        if not pid_text.isdigit() or rest.rsplit(".", 1)[0] != _host():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # alive (or a process of another user's): kept
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


class Readings:
    """The readings of one run's files, kept on disk across its attempts (a context manager:
    the folder, made at the first file kept, is deleted when the run ends).

    The folder is ``.tracelake-kept-PID@HOST.*`` in the lake folder, beside the spill folder
    (``.tmp``), not in it: a DuckDB that made ``.tmp`` deletes it whole when it closes, and
    another writer on this machine may close while this run is still going. A run killed before
    it could delete its folder leaves it; the next run on the machine deletes it
    (:func:`remove_dead_runs`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir: Path | None = None
        self.reused = 0  # files of the current attempt written from a kept reading
        self._kept: dict[int, Reading] = {}
        self._gone: weakref.finalize | None = None

    def _folder(self) -> Path:
        if self.dir is None:
            self.root.mkdir(parents=True, exist_ok=True)
            remove_dead_runs(self.root)
            self.dir = Path(tempfile.mkdtemp(prefix=f"{KEPT}{os.getpid()}@{_host()}.",
                                             dir=self.root))
            self._gone = weakref.finalize(self, shutil.rmtree, self.dir, ignore_errors=True)
        self.dir.mkdir(exist_ok=True)  # deleted from outside: made again
        return self.dir

    def get(self, key: int) -> Reading | None:
        """The kept reading of the run's ``key``-th file, if an earlier attempt kept one (and
        its files are still there: deleted from outside, the file is read again)."""
        kept = self._kept.get(key)
        if kept is not None and not all(Path(p).is_file() for p in (kept.valid, kept.quarantine)
                                        if p):
            del self._kept[key]
            return None
        return kept

    def keeper(self, key: int) -> Keep:
        """What keeps the reading of the run's ``key``-th file (called once it is checked)."""
        def keep(report: FileReport, stage: Stage | DirectLoad | None,
                 quarantine: pl.DataFrame | None) -> None:
            self.keep(key, report, stage, quarantine)
        return keep

    def keep(self, key: int, report: FileReport, stage: Stage | DirectLoad | None,
             quarantine: pl.DataFrame | None) -> None:
        """Keep a file's reading: its report (the object: copied when it is used, as the
        attempt ended it), its stage's valid rows, its quarantine rows (written before the
        file's rows go to the lake)."""
        folder = self._folder()
        valid = bad = None
        if stage is not None:
            if not isinstance(stage, Stage):  # pragma: no cover - DirectLoad is embedded-only
                raise TypeError("a directly loaded file's rows cannot be kept")
            valid = str(folder / f"{key:07d}-valid.parquet")
            stage.save_valid(valid)
        if quarantine is not None:
            bad = str(folder / f"{key:07d}-quarantine.parquet")
            quarantine.write_parquet(bad)
        self._kept[key] = Reading(report, valid, bad)

    def close(self) -> None:
        """Delete the folder and what it holds (idempotent)."""
        self._kept.clear()
        if self._gone is not None:
            self._gone()

    def __enter__(self) -> Readings:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def loaded_before(readings: set[str | None] | None, source: Source, reread: bool) -> bool:
    """Whether the file's identity (bytes, table, mapping) is in the ledger as loaded: a
    duplicate. A ledger row from before v2 has no fingerprint and counts as the same reading."""
    return readings is not None and not reread and (source.fingerprint() in readings
                                                    or None in readings)


def as_duplicate(report: FileReport) -> FileReport:
    """The report of a file loaded before: nothing to do."""
    report.status = "duplicate"
    report.reason = ("the same bytes were loaded before under the same mapping: nothing to "
                     "do (--reread reads them again)")
    return report


def reuse(con, kept: Reading, source: Source, run_id: str,  # type: ignore[no-untyped-def]
          seen: dict[tuple[str, str], set[str | None]], reread: bool,
          writing: list[bool]) -> FileReport:
    """A file whose reading an earlier attempt kept, at the lake's state now: a duplicate if
    another writer has loaded it meanwhile, else its kept rows written again (nothing read)."""
    report = kept.fresh()
    readings = seen.get((report.sha256 or "", report.table or ""))
    if loaded_before(readings, source, reread):
        return as_duplicate(FileReport(path=report.path, table=report.table,
                                       sha256=report.sha256, status="loaded",
                                       source=report.source))
    report.reread = readings is not None
    if report.status == "loaded" and report.table:
        replay(con, kept, CONTRACTS[report.table], report, run_id, writing)
    return report


def replay(con, reading: Reading, contract: TableContract,  # type: ignore[no-untyped-def]
           report: FileReport, run_id: str, writing: list[bool]) -> None:
    """Write a kept reading's rows to the lake at its state now (an attempt after a lost
    commit): staged from the kept Parquet, upserted, quarantined, as the first attempt did."""
    stage = Stage(con, contract, writing)
    try:
        if reading.valid is not None:
            stage.restore_valid(reading.valid)
        rows = pl.read_parquet(reading.quarantine) if reading.quarantine else None
        write_rows(con, stage, contract, report, rows, run_id, writing, datetime.now(UTC))
    finally:
        stage.drop()


def write_rows(con, stage: Stage | DirectLoad,  # type: ignore[no-untyped-def]
               contract: TableContract, report: FileReport, quarantine: pl.DataFrame | None,
               run_id: str, writing: list[bool], now: datetime) -> None:
    """A checked file's valid rows upserted from its stage, and its quarantine rows written:
    the part of a file's load that depends on what the lake holds."""
    path = report.path
    writing[0] = True  # from here a failure leaves rows of this file in the transaction
    valid = stage.valid_view(path=path, sha256=report.sha256 or "", run_id=run_id, now=now)
    if report.reread:  # rows the earlier reading loaded and this one does not: to history
        report.rows_retired = retire_rows(con, contract, valid, sha256=report.sha256,
                                          run_id=run_id, source_file=path)
        report.quarantine_closed = ledger.close_quarantine(con, report.sha256, contract.name,
                                                           run_id)
    counts = UpsertCounts(inserted=report.rows_loaded) if stage.direct else \
        upsert(con, contract, valid, run_id=run_id, source_file=path)
    report.rows_inserted, report.rows_updated, report.rows_unchanged = \
        counts.inserted, counts.updated, counts.unchanged
    if quarantine is not None:
        _record_quarantine(con, quarantine, report, run_id, now)


def quarantine_rows(raw_rows: pl.DataFrame | None, problems: pl.DataFrame,
                    failures: pl.DataFrame) -> pl.DataFrame:
    """One row per failure with the source row's raw values as JSON (the reader's own text
    for a row it could not split), in row order: what the quarantine holds of a file."""
    if raw_rows is None:
        raw_rows = pl.DataFrame(schema={ROW: pl.Int64, "raw": pl.String})
    problem_raw = problems.select(ROW, pl.col("raw").alias("problem_raw"))
    return (failures.join(raw_rows.unique(ROW), on=ROW, how="left")
            .join(problem_raw.unique(ROW), on=ROW, how="left")
            .with_columns(pl.coalesce("raw", "problem_raw").alias("raw"))
            .sort(ROW).select(ROW, "column", "rule", "message", "raw"))


def _record_quarantine(con, rows: pl.DataFrame, report: FileReport,  # type: ignore[no-untyped-def]
                       run_id: str, now: datetime) -> None:
    """Write the quarantine rows of :func:`quarantine_rows` with the file's and run's names."""
    ledger.record_quarantine(con, rows.select(
        pl.lit(run_id).alias("run_id"), pl.lit(report.path).alias("source_file"),
        pl.lit(report.sha256).alias("sha256"), pl.lit(report.table).alias("table_name"),
        pl.col(ROW).alias("row_number"), pl.col("column").alias("column_name"), "rule",
        "message", "raw", pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("quarantined_at")))
