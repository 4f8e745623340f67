"""One ingest run: files in, every row loaded or quarantined, the lake changed in one transaction.

The run reads each file (readers), maps its headers (mapping), types it (coerce), checks it against
its contract (quality), upserts the valid rows and quarantines the rest with their reasons (lake,
ledger), refreshes the orphan list, commits, and publishes a new read-only snapshot. If anything
fails part-way the transaction is rolled back and the lake is as it was. A scale-out run that
loses its COMMIT to another writer goes again from its files' kept readings (outcome.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fnmatch
import hashlib
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from tracelake.contracts import CONTRACTS, TableContract
from tracelake.derived.genealogy import GENEALOGY_TABLES, has_index, update_index
from tracelake.derived.search import (
    SEARCH_TABLES,
    has_search_index,
    unapplied_runs,
    update_search_index,
)
from tracelake.errors import FileRejected, LakeError, TracelakeError
from tracelake.ingest.outcome import (
    Keep,
    Readings,
    as_duplicate,
    loaded_before,
    quarantine_rows,
    reuse,
    write_rows,
)
from tracelake.ingest.report import FileReport, IngestReport
from tracelake.ingest.stage import DirectLoad, Stage
from tracelake.intake.checks import blank_rows, check_frame, missing_required_columns
from tracelake.intake.coerce import coerce_frame
from tracelake.intake.dates import decide_date_orders
from tracelake.intake.fill_down import apply_fill_down, match_fill_down
from tracelake.intake.headers import resolve_headers
from tracelake.intake.mapping import Mapping, Source
from tracelake.intake.readers import REPORT_TABLE, ROW, SUFFIXES, RawFrame, read_source, report_format
from tracelake.intake.readers.live import LiveChunks, Provisional
from tracelake.lake import ledger, orphans, snapshot
from tracelake.lake.ducklake import retry_conflict
from tracelake.lake.storage import LakePaths, check_site, connect_writer, set_site

__all__ = ["discover", "discover_files", "ingest"]

#: Files in a landing folder that are documentation or configuration, never data.
SKIPPED_SUFFIXES = {".md", ".yaml", ".yml", ".txt", ".rst", ".py"}
Progress = Callable[[int, int, str], None]
#: Rows of one file typed, checked and staged at a time: a large file never becomes one frame
#: of typed rows. One DuckDB row group, so the staged rows are compressed and written out as they
#: come (``TRACELAKE_CHUNK_ROWS`` overrides it, e.g. in tests).
CHUNK_ROWS = 122_880


def discover_files(paths: Iterable[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """Every data file under the given files and folders (folders searched recursively).

    Hidden files, documentation and mapping files are skipped, and so are files whose path
    relative to a given folder matches one of the ``exclude`` patterns (e.g. ``bad/*``).
    Only regular files inside the folders are returned: see :func:`discover` for the others.
    """
    return discover(paths, exclude)[0]


def discover(paths: Iterable[Path], exclude: Sequence[str] = ()
             ) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The data files under the given files and folders, and the entries refused, with why.

    Inside a folder only regular files are read: a symbolic link that leads out of the folder,
    a broken link, a FIFO, a device or a socket is refused with a reason, never opened. A file
    named directly is read if it is (or links to) a regular file.
    """
    found: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            for child in sorted(_walk(path)):
                rel = child.relative_to(path)
                if any(p.startswith(".") for p in rel.parts) \
                        or any(fnmatch.fnmatch(rel.as_posix(), pat) for pat in exclude):
                    continue
                why = _refusal(child, root)
                if why == "":  # a folder (searched) or documentation: not a data file
                    continue
                if why is not None:
                    refused.append((child, why))
                elif child.suffix.lower() not in SKIPPED_SUFFIXES:
                    found.append(child)
        elif path.exists() or path.is_symlink():
            why = _refusal(path, None)
            if why:
                refused.append((path, why))
            elif why is None:
                found.append(path)
        else:
            raise FileRejected(_shown(path), "no such file or folder")
    return found, refused


def _walk(folder: Path) -> Iterator[Path]:
    """Every entry under a folder, without following links to folders (no cycles, no escapes)."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for name in dirnames:
            if (base / name).is_symlink():  # reported (and never searched) like a linked file
                yield base / name
        for name in filenames:
            yield base / name


def _refusal(path: Path, root: Path | None) -> str | None:
    """Why an entry is not read (None: a regular file to read; "": a folder, skipped quietly)."""
    try:
        if path.is_symlink():
            target = path.resolve()
            if not target.exists():
                return "a broken symbolic link (its target does not exist): nothing read"
            if root is not None and not target.is_relative_to(root):
                return ("a symbolic link leading out of the folder being ingested: not followed "
                        "(copy the file into the folder, or name it on the command line)")
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot be examined ({exc.strerror or type(exc).__name__}): nothing read"
    if stat.S_ISDIR(mode):
        return "" if root is None or not path.is_symlink() else \
            "a symbolic link to a folder: not followed"
    if stat.S_ISREG(mode):
        return None
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device"
            if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"{kind}, not a regular file: never opened"


def _shown(path: Path | str) -> str:
    """A path as text that can be stored and printed (bytes that are not UTF-8 shown as \ufffd)."""
    return os.fsencode(path).decode("utf-8", "replace")


def _order(files: list[Path], mapping: Mapping) -> list[tuple[Path, Source]]:
    """Files in load order: by table in contract order (master records first), then by name.

    A file that feeds several tables (one source with ``tables:``) appears once per table.
    """
    rank = {t: i for i, t in enumerate(CONTRACTS)}
    pairs = [(f, s) for f in files for s in _sources_for(mapping, f)]
    return sorted(pairs, key=lambda p: (rank.get(p[1].table or "", len(rank)), p[0].name,
                                        str(p[0])))


def _source_for(mapping: Mapping, path: Path) -> Source:
    """The file's source; a test-executive report feeds test_results whatever its name."""
    return _sources_for(mapping, path)[0]


def _sources_for(mapping: Mapping, path: Path) -> list[Source]:
    """The file's sources, one per table it feeds (a register may feed two); a test-executive
    report feeds test_results whatever its name."""
    out = []
    for source in mapping.sources_for(path):
        if (source.table is None or source.name == "default") \
                and path.suffix.lower() in (".xml", ".json") \
                and report_format(path) is not None:
            source = dataclasses.replace(source, table=REPORT_TABLE)
        out.append(source)
    return out


def new_run_id() -> str:
    """A run id that sorts by time: ``20261125T214512Z-3f2a1c``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest(paths: Sequence[Path | str], lake: Path | str | LakePaths, *,
           mapping: Mapping | None = None, tables: set[str] | None = None,
           exclude: Sequence[str] = (), publish: bool = True, genealogy: bool = True,
           search: bool = True, progress: Progress | None = None,
           reread: bool = False, site: str | None = None) -> IngestReport:
    """Ingest files and folders into the lake, in one transaction, and publish a snapshot.

    One bad file never costs the others their load: a file that cannot be read, typed or
    checked is rejected with its reason, and a file whose rows the lake refuses while they
    are written makes the run start again without it (the file rejected with the reason).
    Whatever the files, the readers' snapshot is published when it is behind the lake.
    An interrupt (Ctrl+C, SIGTERM) or a failure of the machine (a full disk) leaves the lake
    either as it was or with the run committed; the exception then carries ``lake_state``, a
    sentence saying which.

    Args:
        paths: files and folders (searched recursively).
        lake: the lake folder.
        mapping: how to read the plant's exports; default: names and canonical headers.
        tables: only ingest files feeding these tables (the others are not reported).
        exclude: path patterns, relative to a given folder, of files to leave out.
        publish: publish a new read-only snapshot when the run leaves it behind the lake.
        genealogy: bring the genealogy index up to date when the run changed what it is
            built from (orchestrators that rebuild it as a step of their own pass False).
        search: rebuild the search index (``find``) when the run changed what it is built
            from or quarantined rows (orchestrators that rebuild it as a step pass False).
        progress: called with (files done, files in all, current file) as the run goes.
        reread: read the files again whatever their identity (``tracelake ingest --reread``).
        site: the site tag of the run and its rows (``_site``); default: the lake's
            configured site, else 'main'.
    """
    mapping = mapping or Mapping()
    lake_paths = lake if isinstance(lake, LakePaths) else LakePaths.of(lake)
    found, refused = discover([Path(p) for p in paths], exclude)
    warnings = mapping.unmatched_patterns(found)
    files = _order(found, mapping)
    refusals = [(f, mapping.source_for(f), why) for f, why in refused]
    if tables is not None:
        files = [(f, s) for f, s in files if s.table in tables]
        refusals = [r for r in refusals if r[1].table in tables]
    config = lake_paths.config
    # scale-out: each file's reading kept on disk, so that a lost commit only writes again
    readings = Readings(lake_paths.root) if config is not None else None
    # scale-out: the derived indexes are each machine's own (refreshed after the commit)
    run = _Run(new_run_id(), datetime.now(UTC), mapping, genealogy and config is None,
               search and config is None, progress, reread=reread, warnings=warnings,
               readings=readings)
    with connect_writer(lake_paths) as con, readings or contextlib.nullcontext():
        set_site(con, check_site(site or (config.site if config else "main")))
        snapshot.remove_leftovers(lake_paths)
        failed: dict[str, str] = {}  # files whose rows the lake refused: rejected next attempt
        conflicts = 0
        while True:
            try:
                result = run.once(con, files, refusals, failed)
                break
            except _WriteFailed as exc:  # rolled back: go again without that file
                if exc.key in failed:  # pragma: no cover - the ledger row itself fails
                    raise RuntimeError(f"{exc.key}: {exc.reason}") from exc
                failed[exc.key] = exc.reason
            except duckdb.Error as exc:  # another site committed first: the run goes again
                conflicts += 1
                if not retry_conflict(exc, conflicts):
                    raise
        result.conflicts = conflicts
        if publish and config is None:
            t = time.perf_counter()
            result.published = _publish_if_behind(con, lake_paths, run.run_id)
            result.seconds["publish"] = round(time.perf_counter() - t, 3)
    if config is not None and (publish or genealogy or search):
        from tracelake.ingest.serving import refresh_serving

        t = time.perf_counter()
        done = refresh_serving(lake_paths, search=search)
        result.seconds["serving"] = round(time.perf_counter() - t, 3)
        result.published = True
        result.genealogy = done.genealogy if genealogy else None
        result.search = done.search
    return result


class _Clock:
    """Seconds per phase of a run (laps added up by name), for the report."""

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = {} if seconds is None else seconds
        self._t = time.perf_counter()

    def lap(self, name: str | None = None) -> None:
        """Add the time since the last lap to ``name`` (None: not counted)."""
        now = time.perf_counter()
        if name is not None:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self._t, 3)
        self._t = now


class _WriteFailed(Exception):
    """The lake refused a file's rows part-way through writing them (the run is rolled back)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


class _Run:
    """One run's settings and the transaction that applies it (attempted again without a file
    whose rows the lake refused)."""

    def __init__(self, run_id: str, started: datetime, mapping: Mapping, genealogy: bool,
                 search: bool, progress: Progress | None, *, reread: bool = False,
                 warnings: list[str] | None = None, readings: Readings | None = None) -> None:
        self.run_id, self.started, self.mapping = run_id, started, mapping
        self.genealogy, self.search, self.progress = genealogy, search, progress
        self.reread, self.warnings = reread, warnings or []
        self.readings = readings  # scale-out: the files' readings, kept across attempts
        self.seconds: dict[str, float] = {}  # every attempt's phases, added up

    def once(self, con, files: list[tuple[Path, Source]],  # type: ignore[no-untyped-def]
             refusals: list[tuple[Path, Source, str]], failed: dict[str, str]) -> IngestReport:
        """The run in one transaction: committed whole, or rolled back and raised."""
        run_id = self.run_id
        reports: list[FileReport] = []
        committing = False
        clock = _Clock(self.seconds)
        if self.readings is not None:
            self.readings.reused = 0
        con.execute("BEGIN TRANSACTION")
        try:
            seen = ledger.loaded_identities(con)
            for done, (path, source) in enumerate(files):
                if self.progress:
                    self.progress(done, len(files), _shown(path))
                report = _ingest_file(con, path, source, run_id, seen, failed, self.reread,
                                      clock, self.readings, done)
                if report.status == "loaded" and report.table:
                    seen.setdefault((report.sha256, report.table), set()).add(
                        source.fingerprint())
                reports.append(report)
            for path, source, why in refusals:
                report = FileReport(path=_shown(path), table=source.table, sha256=None,
                                    status="rejected", reason=why)
                _record(con, report, run_id, path, source)
                reports.append(report)
            changed = {r.table for r in reports if r.status == "loaded" and r.table and
                       (r.rows_inserted or r.rows_updated or r.rows_retired)}
            clock.lap()
            replaced = {r.table for r in reports if r.table and
                        (r.rows_updated or r.rows_retired)}
            n_orphans = orphans.refresh(con, changed, run_id, replaced)
            clock.lap("orphans")
            result = IngestReport(run_id, reports, orphan_references=n_orphans,
                                  warnings=self.warnings, seconds=clock.seconds,
                                  files_reused=self.readings.reused if self.readings else 0)
            if self.genealogy and (changed & set(GENEALOGY_TABLES) or not has_index(con)):
                updated = {r.table for r in reports if r.table and
                           (r.rows_updated or r.rows_retired)}
                result.genealogy = asdict(update_index(con, run_id, updated))
                clock.lap("genealogy")
            if self.search and (changed & SEARCH_TABLES or not has_search_index(con)
                                or any(r.rows_quarantined or r.quarantine_closed
                                       for r in reports)):
                runs = [*(unapplied_runs(con) if has_search_index(con) else []), run_id]
                result.search = asdict(update_search_index(con, runs, run_id))
                clock.lap("search")
            totals = result.totals
            ledger.record_run(con, {
                "run_id": run_id, "started_at": self.started, "finished_at": datetime.now(UTC),
                "status": "committed", "files": totals["files"], "rows_read": totals["rows_read"],
                "rows_loaded": totals["rows_loaded"],
                "rows_quarantined": totals["rows_quarantined"], "mapping": self.mapping.path,
                "timezone": self.mapping.timezone, "tracelake_version": _version()})
            news = any(r.status in ("loaded", "rejected") for r in reports) or bool(result.search)
            ledger.set_lake_version(con, run_id if news else None)
            committing = True
            con.execute("COMMIT")
            clock.lap("commit")
        except BaseException as exc:
            _rollback(con)
            if isinstance(exc, _WriteFailed):
                raise
            state = _state_after(con, run_id, committing)
            if isinstance(exc, TracelakeError):
                raise
            if _interrupt(exc):  # Ctrl+C or SIGTERM seen by DuckDB mid-query
                stop = KeyboardInterrupt()
                stop.lake_state = state  # type: ignore[attr-defined]
                raise stop from None
            if _machine_failure(exc):
                raise LakeError(f"the run stopped: {_one_line(exc)}; {state}") from exc
            exc.lake_state = state  # type: ignore[attr-defined]
            raise
        if self.progress:
            self.progress(len(files), len(files), "")
        return result


def _rollback(con) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(Exception):  # no transaction left (COMMIT went through)
        con.execute("ROLLBACK")


def _state_after(con, run_id: str, committing: bool) -> str:  # type: ignore[no-untyped-def]
    """What an interrupted or failed run left: committed or not, in one sentence."""
    try:
        committed = bool(con.execute("SELECT count(*) FROM ingest_runs WHERE run_id = ?",
                                     [run_id]).fetchone()[0])
    except Exception:  # the connection itself is gone
        if not committing:
            return f"nothing of run {run_id} was committed: the lake is as it was"
        return (f"run {run_id} may or may not have been committed: 'tracelake summary' "
                "shows the last committed run")
    if committed:
        return (f"run {run_id} was committed; the readers' snapshot is brought up to date by "
                "the next run or by 'tracelake publish'")
    return f"nothing of run {run_id} was committed: the lake is as it was"


def _machine_failure(exc: BaseException) -> bool:
    """A failure of the machine or the lake's storage (disk full, I/O, memory), not of one file."""
    if isinstance(exc, OSError | duckdb.IOException | duckdb.OutOfMemoryException |
                  duckdb.FatalException):
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk is full" in text or "out of memory" in text


def _interrupt(exc: BaseException) -> bool:
    """An interrupt DuckDB turned into its own error (it checks for signals while it works)."""
    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and "query interrupted" in str(exc).lower())


def _disk_full(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) == errno.ENOSPC or "no space left" in str(exc).lower()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


def _publish_if_behind(con, lake: LakePaths, run_id: str) -> bool:  # type: ignore[no-untyped-def]
    """Publish the snapshot if it does not hold the lake's last change (True if published)."""
    committed = (f"run {run_id} was committed; the readers' snapshot is brought up to date by "
                 "the next run or by 'tracelake publish'")
    try:
        if not snapshot.is_behind(con, lake):
            return False
        snapshot.publish(con, lake)
    except KeyboardInterrupt as exc:
        exc.lake_state = committed  # type: ignore[attr-defined]
        raise
    except Exception as exc:  # the run is committed; only the reader copy failed
        if _interrupt(exc):  # Ctrl+C or SIGTERM seen by DuckDB during the CHECKPOINT
            stop = KeyboardInterrupt()
            stop.lake_state = committed  # type: ignore[attr-defined]
            raise stop from None
        raise LakeError(f"{_shown(lake.serving)}: the snapshot for readers could not be "
                        f"published ({_one_line(exc)}); {committed}") from exc
    return True


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tracelake")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _ingest_file(con, path: Path, source: Source, run_id: str,  # type: ignore[no-untyped-def]
                 seen: dict[tuple[str, str], set[str | None]], failed: dict[str, str],
                 reread: bool, clock: _Clock | None = None, readings: Readings | None = None,
                 index: int = 0) -> FileReport:
    """One file of the run, to its ledger row (a file whose reading an earlier attempt kept
    is not read again: only its writes are done again, at the lake's state now)."""
    key = str(path)
    if key in failed:
        report = FileReport(path=_shown(path), table=source.table, sha256=None,
                            status="rejected", reason=failed[key])
        _record(con, report, run_id, path, source)
        return report
    writing = [False]
    try:
        kept = readings.get(index) if readings is not None else None
        if kept is not None:
            readings.reused += 1  # type: ignore[union-attr]
            report = reuse(con, kept, source, run_id, seen, reread, writing)
            (clock or _Clock()).lap("load")
        else:
            report = _examine_file(con, path, source, run_id, seen, reread, writing,
                                   clock or _Clock(),
                                   readings.keeper(index) if readings is not None else None)
        _record(con, report, run_id, path, source)
    except _WriteFailed:
        raise
    except Exception as exc:
        if _interrupt(exc):
            raise KeyboardInterrupt from None
        if _machine_failure(exc):
            raise
        if not writing[0]:  # pragma: no cover - _examine_file rejects failures before writing
            raise
        raise _WriteFailed(key, "the lake refused the file's rows while they were written "
                           f"({_one_line(exc)}); nothing of it is loaded") from exc
    return report


def _examine_file(con, path: Path, source: Source, run_id: str,  # type: ignore[no-untyped-def]
                  seen: dict[tuple[str, str], set[str | None]], reread: bool,
                  writing: list[bool], clock: _Clock, keep: Keep | None = None) -> FileReport:
    table = source.table
    report = FileReport(path=_shown(path), table=table, sha256=None, status="loaded",
                        source=None if source.name == "default" else source.name)
    if table is None:
        report.status = "unrecognised"
        supported = path.suffix.lower() in SUFFIXES
        report.reason = ("the file name matches no table of the import contract; name it after "
                         "its table (e.g. material_issues_2026-11.csv) or map it in a mapping file"
                         if supported else
                         f"{path.suffix or 'this'} files are not read (expected .csv, .xlsx, "
                         ".jsonl, .json, or an .xml test report) and the name matches no table")
        report.sha256 = _sha_or_none(path)
        return report
    why = _refusal(path, None)
    if why:  # a file named directly that is not a regular file (e.g. /dev/zero, a FIFO)
        report.status, report.reason = "rejected", why
        return report
    try:
        report.sha256 = sha = sha256_of(path)
    except OSError as exc:
        report.status = "rejected"
        report.reason = f"cannot be read ({exc.strerror or type(exc).__name__}): nothing loaded"
        return report
    # identity (contract v2): bytes, table and the mapping entries that read them; a ledger row
    # from before v2 has no fingerprint and counts as the same reading
    readings = seen.get((sha, table))
    if loaded_before(readings, source, reread):
        return as_duplicate(report)
    report.reread = readings is not None
    contract = CONTRACTS[table]
    try:
        raw = read_source(path, encoding=source.encoding, header=source.header,
                          columns=list(source.columns) or None, sheet=source.sheet, table=table,
                          serial_from=source.serial_from, json_key=source.json_key,
                          stream=True)
        clock.lap("read")

        def again() -> RawFrame:  # the file's text again, to quote rows found bad at the end
            return read_source(path, encoding=source.encoding, header=source.header,
                               columns=list(source.columns) or None, sheet=source.sheet,
                               table=table, serial_from=source.serial_from,
                               json_key=source.json_key)

        try:
            _load(con, raw, contract, source, report, run_id, writing, clock, again, keep)
        finally:
            raw.close()
    except FileRejected as exc:
        _reject(report, exc.reason, keep)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # incl. a reader's Rust panic (BaseException)
        if _interrupt(exc):
            raise KeyboardInterrupt from None
        if writing[0] or _disk_full(exc):
            raise
        _reject(report, _unreadable(exc), keep)
    return report


def _reject(report: FileReport, reason: str, keep: Keep | None = None) -> None:
    report.status = "rejected"
    report.reason = reason
    report.rows_read = report.rows_loaded = report.rows_quarantined = 0
    if keep is not None:  # read and refused: the same on any attempt
        keep(report, None, None)


def _unreadable(exc: BaseException) -> str:
    """A rejection reason for a file that broke a reader or a check in an unforeseen way."""
    if isinstance(exc, MemoryError):
        return "needs more memory than this machine has: nothing of it is loaded"
    if isinstance(exc, RecursionError):
        return "is nested too deeply to be read: nothing of it is loaded"
    return (f"cannot be read ({type(exc).__name__}: {_one_line(exc)[:200]}); nothing of it "
            "is loaded")


def _sha_or_none(path: Path) -> str | None:
    if _refusal(path, None):
        return None
    try:
        return sha256_of(path)
    except OSError:
        return None


def chunk_rows() -> int:
    """Rows typed and checked at a time (``TRACELAKE_CHUNK_ROWS`` overrides :data:`CHUNK_ROWS`)."""
    try:
        return max(1, int(os.environ.get("TRACELAKE_CHUNK_ROWS") or CHUNK_ROWS))
    except ValueError:
        return CHUNK_ROWS


def _load(con, raw: RawFrame, contract: TableContract,  # type: ignore[no-untyped-def]
          source: Source, report: FileReport, run_id: str, writing: list[bool],
          clock: _Clock, again: Callable[[], RawFrame] | None = None,
          keep: Keep | None = None) -> None:
    """Load one file's rows (:func:`_load_once`). A report whose rows come while it is still
    being read (:class:`~tracelake.intake.readers.live.LiveChunks`) and whose whole file turns
    out to contradict what its first rows assumed (:class:`Provisional`) is loaded again from
    its rows on disk, what the first attempt wrote taken out again (the stage is dropped)."""
    if isinstance(raw.chunks, LiveChunks):
        try:
            _load_once(con, raw, contract, source, report, run_id, writing, clock, again, keep)
            return
        except Provisional:
            _load_once(con, raw.chunks.result(), contract, source, report, run_id, writing,
                       clock, again, keep)
            report.notes.append("loaded from disk once the whole report was read: its "
                                "later rows said what its first rows did not (columns "
                                "filled, rows sharing a line, or dates)")
            return
    _load_once(con, raw, contract, source, report, run_id, writing, clock, again, keep)


def _load_once(con, raw: RawFrame, contract: TableContract,  # type: ignore[no-untyped-def]
               source: Source, report: FileReport, run_id: str, writing: list[bool],
               clock: _Clock, again: Callable[[], RawFrame] | None = None,
               keep: Keep | None = None) -> None:
    """Map, type, check, upsert and quarantine one file's rows, :func:`chunk_rows` at a time.

    Each chunk is typed and checked in polars and its typed rows appended to a staging table in
    the run's transaction; checks across rows (duplicate natural keys) then run in DuckDB over
    the whole file's staged rows, and the valid rows are upserted from there in one set-based
    statement. Row numbers stay the file's own. Nothing of a staged file reaches the lake's
    tables until every chunk has been checked, and all of it goes with the run's transaction.

    The first rows of a table (empty when the file begins; not a re-read) skip the stage:
    each chunk's valid rows go straight into the table
    (:class:`~tracelake.ingest.stage.DirectLoad`), the duplicate keys are found there and
    deleted, and a file that fails before its checks are done is taken out again.
    """
    path = report.path
    report.encoding, report.delimiter, report.sheet = raw.encoding, raw.delimiter, raw.sheet
    report.notes = list(raw.notes)
    report.steps_skipped = raw.skipped
    headers = [c for c in raw.frame.columns if c != ROW]
    renames = resolve_headers(headers, contract.name, source)
    clashes = _clashes(renames)
    if clashes:
        raise FileRejected(path, f"headers {clashes[1]} all map to column {clashes[0]!r}; "
                           "keep one or map the others elsewhere")
    if raw.chunks is not None and source.fill_down:  # carried down across the whole file
        raw.frame = pl.concat([raw.frame, *raw.chunks])
        raw.close()
        raw.chunks = None
    # continuation rows take their record's columns; raw.frame stays as written (quarantine)
    read = _fill_down(raw.frame, headers, contract.name, source, report)
    frame = _apply_mapping(read.rename(renames), source, Path(path).name)
    missing = missing_required_columns(frame.columns, contract)
    if missing:
        rows = raw.rows_read
        raise FileRejected(path, f"missing required column(s): {', '.join(missing)} "
                           f"(the file has: {_some(headers) or 'no header'}); nothing of "
                           f"its {rows} row(s) is loaded", column=missing[0])
    report.extra_columns = [h for h in headers if h not in renames]
    if report.extra_columns:
        report.notes.append("extra columns kept in _extra: " + ", ".join(report.extra_columns))
    live = raw.chunks if isinstance(raw.chunks, LiveChunks) else None
    # rows that come as the report is read: its dates are looked at once it is read (settle)
    decided = decide_date_orders(
        frame if live else _date_text(frame, raw, contract, source, renames, path),
        contract, dayfirst=source.dayfirst, date_formats=source.date_formats, path=path,
        source=source.name)
    if decided:
        report.notes.append("date order read from the data: " + "; ".join(
            f"{c} as {', '.join(f)}" for c, f in decided.items()))
    # the file's text from here is held chunk by chunk, each freed once staged (a reader's
    # frame is made of chunks of its own, so most of its memory goes with them; a report read
    # as a stream is read back from disk a chunk at a time and mapped as it comes)
    # rows that come while the report is walked share this process with the replayed walk's
    # buffers: a quarter chunk at a time (the 200 MB JUnit ingest peaked at 462-475 MB with
    # half chunks, 447 with quarters, in the same time; the walking process adds 32)
    size = max(1, chunk_rows() // 4) if live else chunk_rows()
    report.rows_read = 0 if live else raw.rows_read
    text_cols = [c for c in raw.frame.columns if c != ROW]
    parts: Iterator[tuple[pl.DataFrame, pl.DataFrame]]
    if raw.chunks is not None:
        parts = ((_apply_mapping(text.rename(renames), source, Path(path).name), text)
                 for text in _rechunked(raw.chunks, size))
    else:
        parts = iter([(frame.slice(s, size), raw.frame.slice(s, size))
                      for s in range(0, frame.height, size)])
        raw.frame = raw.frame.clear()
    shape = frame.clear()  # the mapped columns, no rows (settle looks at dates with them)
    del frame
    stage: Stage | DirectLoad
    if not report.reread and DirectLoad.usable(con, contract):
        # the table's first rows: written as they are checked, no stage and no upsert
        stage = DirectLoad(con, contract, writing, path=path, sha256=report.sha256 or "",
                           run_id=run_id, now=datetime.now(UTC))
    else:
        stage = Stage(con, contract, writing, in_file=raw.chunks is not None)
    settle = None
    if live is not None:
        def settle() -> None:
            """The whole report read: it must agree with what its first rows assumed."""
            final = live.settle()
            if decide_date_orders(_date_text(shape, final, contract, source, renames, path),
                                  contract, dayfirst=source.dayfirst,
                                  date_formats=source.date_formats, path=path,
                                  source=source.name) != decided:
                raise Provisional
            raw.problems = final.problems
            report.notes[:0] = final.notes
            report.steps_skipped = final.skipped
            report.rows_read = final.rows_read
            clock.lap("read")  # the walk's time, the rows so far checked beside it
    try:
        _load_staged(con, raw, parts, text_cols, contract, source, report, run_id, writing,
                     clock, decided, stage, again, settle, keep)
    finally:
        stage.drop()


def _load_staged(con, raw: RawFrame,  # type: ignore[no-untyped-def]
                 parts: Iterator[tuple[pl.DataFrame, pl.DataFrame]], text_cols: list[str],
                 contract: TableContract, source: Source, report: FileReport, run_id: str,
                 writing: list[bool], clock: _Clock, decided: dict[str, tuple[str, ...]],
                 stage: Stage | DirectLoad, again: Callable[[], RawFrame] | None,
                 settle: Callable[[], None] | None = None,
                 keep: Keep | None = None) -> None:
    path = report.path
    found: list[pl.DataFrame] = []  # failures per chunk: few, kept whole
    quoted: list[pl.DataFrame] = []  # the failing rows' text as read, as JSON
    for chunk, text in parts:
        typed = coerce_frame(chunk, contract, dayfirst=source.dayfirst, timezone=source.timezone,
                             decimal_comma=raw.delimiter == ";",
                             date_formats=source.date_formats, column_formats=decided)
        failures = pl.concat([typed.failures, check_frame(typed.frame, contract, typed.failures,
                                                          duplicates=False)])
        if source.values and failures.height:
            failures = _name_value_maps(failures, chunk, source)
        if failures.height:
            found.append(failures)
            quoted.append(_as_written(text, failures[ROW], text_cols))
        stage.append(typed.frame, failures[ROW], blank_rows(typed.frame, contract))
        del typed, chunk, text
    if settle is not None:
        settle()
    dups = stage.duplicates()
    if dups.height:
        have = pl.concat(quoted)[ROW] if quoted else pl.Series(ROW, [], pl.Int64)
        wanted = dups.filter(~pl.col(ROW).is_in(have.implode()))[ROW]
        if wanted.len() and raw.chunks is not None:  # found bad only at the end: from disk
            quoted += [_as_written(text, wanted, text_cols) for text in raw.chunks]
        elif wanted.len() and again is not None:  # rows found bad only at the end: read again
            quoted.append(_as_written(again().frame, wanted, text_cols))
    found += [dups, raw.problems.select(ROW, "column", "rule", "message")]
    failures = pl.concat(found)
    del found
    report.rows_loaded = stage.valid_rows()
    report.rows_quarantined = failures[ROW].n_unique()
    if report.rows_read != report.rows_loaded + report.rows_quarantined:  # never expected
        raise RuntimeError(f"{path}: {report.rows_read} rows read but {report.rows_loaded} "
                           f"loaded and {report.rows_quarantined} quarantined")
    bad = None
    if failures.height:
        report.quarantined_by_rule = dict(
            failures.group_by("rule").agg(pl.col(ROW).n_unique()).sort("rule").iter_rows())
        bad = quarantine_rows(pl.concat(quoted) if quoted else None, raw.problems, failures)
    del quoted, failures
    clock.lap("check")
    if keep is not None:  # scale-out: kept for an attempt after a lost commit
        keep(report, stage, bad)
        clock.lap("keep")
    now = stage.now if isinstance(stage, DirectLoad) else datetime.now(UTC)
    write_rows(con, stage, contract, report, bad, run_id, writing, now)
    clock.lap("load")


def _rechunked(chunks: Iterable[pl.DataFrame], size: int) -> Iterator[pl.DataFrame]:
    """A reader's chunks cut and joined into chunks of ``size`` rows (the last one shorter)."""
    held: list[pl.DataFrame] = []
    rows = 0
    for chunk in chunks:
        held.append(chunk)
        rows += chunk.height
        while rows >= size:
            whole = pl.concat(held, rechunk=False) if len(held) > 1 else held[0]
            yield whole.slice(0, size)
            rest = whole.slice(size)
            held, rows = ([rest] if rest.height else []), rest.height
    if rows:
        yield pl.concat(held, rechunk=False) if len(held) > 1 else held[0]


def _date_text(frame: pl.DataFrame, raw: RawFrame, contract: TableContract, source: Source,
               renames: dict[str, str], path: str) -> pl.DataFrame:
    """What :func:`decide_date_orders` looks at: the mapped frame, or for a report read as a
    stream, the distinct day/month-looking values of its date columns gathered chunk by chunk
    (nothing else decides an order, so the decision is the one the whole frame gives)."""
    if raw.chunks is None or source.dayfirst or source.date_formats:
        return frame
    names = [n for n, t in contract.dtypes.items()
             if n in frame.columns and (t == pl.Date or isinstance(t, pl.Datetime))]
    if not names:
        return frame
    seen: dict[str, list[pl.Series]] = {n: [] for n in names}
    written = {renames.get(h, h): h for h in raw.frame.columns}
    touched = {*source.constants, *source.generated, *source.values, *source.negate}
    as_read = getattr(raw.chunks, "as_read", None)
    if as_read is not None and all(n in written and n not in touched for n in names):
        # the date columns as the report wrote them (a report's own times, filled in from its
        # run's clock, are ISO and never look day/month-wise): read alone from disk
        texts: Iterable[pl.DataFrame] = (c.rename({written[n]: n for n in names})
                                         for c in as_read([written[n] for n in names]))
    else:
        texts = (_apply_mapping(t.rename(renames), source, Path(path).name) for t in raw.chunks)
    for mapped in texts:
        for name in names:
            values = mapped[name].cast(pl.String).str.strip_chars()
            seen[name].append(values.filter(values.str.contains(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]"))
                              .unique(maintain_order=True))
    columns = {n: pl.concat(v).unique(maintain_order=True) for n, v in seen.items()}
    longest = max((c.len() for c in columns.values()), default=0)
    return pl.DataFrame([c.extend_constant(None, longest - c.len()) for c in columns.values()])


def _fill_down(frame: pl.DataFrame, headers: list[str], table: str, source: Source,
               report: FileReport) -> pl.DataFrame:
    """The source's ``fill_down`` on the file as read, said in the file's notes."""
    if not source.fill_down:
        return frame
    columns = match_fill_down(headers, table, source)
    if not columns:
        report.notes.append("fill_down: the file has none of the columns it names ("
                            + ", ".join(source.fill_down) + "): nothing carried down")
        return frame
    filled, rows = apply_fill_down(frame, columns, ROW)
    if rows:
        report.notes.append(f"fill_down: {rows} continuation row(s) took "
                            f"{', '.join(columns)} from the row that began their record")
    return filled


def _apply_mapping(frame: pl.DataFrame, source: Source, file_name: str) -> pl.DataFrame:
    """Constants, generated columns and value maps of the source, on canonical column names."""
    negate = [c for c in source.negate if c in frame.columns]
    if negate:  # as text, before coercion: "-5" is 5, "5" is -5 (and then fails "> 0")
        frame = frame.with_columns(_negated(c) for c in negate)
    if source.constants:
        frame = frame.with_columns(
            (pl.col(c).fill_null(pl.lit(v)) if c in frame.columns else pl.lit(v).alias(c))
            for c, v in source.constants.items())
    if source.generated:
        frame = frame.with_columns(
            (pl.col(ROW).cast(pl.String) if how == "row" else pl.lit(file_name)).alias(c)
            for c, how in source.generated.items())
    maps = {c: m for c, m in source.values.items() if c in frame.columns}
    if maps:
        frame = frame.with_columns(_mapped(c, m) for c, m in maps.items())
    return frame


def _negated(column: str) -> pl.Expr:
    """A number written as text with its sign turned over; an empty cell stays empty."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return (pl.when(text.str.starts_with("-")).then(text.str.slice(1).str.strip_chars())
            .when(text.str.starts_with("+")).then(pl.lit("-") + text.str.slice(1).str.strip_chars())
            .when(text.replace("", None).is_not_null()).then(pl.lit("-") + text)
            .otherwise(pl.col(column))).alias(column)


def _mapped(column: str, words: dict[str, str]) -> pl.Expr:
    """The source's word replaced by the contract's: as written first, then ignoring case."""
    col = pl.col(column).cast(pl.String).str.strip_chars()
    exact = {k.strip(): v for k, v in words.items()}
    folded = {k.strip().lower(): v for k, v in words.items()}
    return pl.coalesce(col.replace_strict(exact, default=None, return_dtype=pl.String),
                       col.str.to_lowercase().replace_strict(folded, default=None,
                                                              return_dtype=pl.String),
                       col).alias(column)


def _name_value_maps(failures: pl.DataFrame, before: pl.DataFrame,
                     source: Source) -> pl.DataFrame:
    """A value a ``values:`` map does not hold: say so, and name the key that would take it."""
    cols = [c for c in source.values if c in before.columns]
    if not cols:
        return failures
    raw = before.select(ROW, *cols).unpivot(index=ROW, variable_name="column",
                                            value_name="_as_written")
    out = failures.join(raw, on=[ROW, "column"], how="left")
    hint = (pl.lit("; the mapping's values: map of ") + pl.col("column")
            + pl.lit(f" (source {source.name!r}) does not hold '")
            + pl.col("_as_written").str.strip_chars()
            + pl.lit("': add it there (values: {") + pl.col("column") + pl.lit(": {'")
            + pl.col("_as_written").str.strip_chars() + pl.lit("': ...}})"))
    held = pl.col("_as_written").str.strip_chars().str.to_lowercase().is_in(
        pl.lit(sorted({k.strip().lower() for m in source.values.values() for k in m})))
    return out.with_columns(
        pl.when(pl.col("column").is_in(cols) & pl.col("_as_written").is_not_null() & ~held)
        .then(pl.col("message") + hint).otherwise(pl.col("message")).alias("message")
    ).drop("_as_written")


def _some(headers: list[str], shown: int = 12, width: int = 40) -> str:
    """A few header names, each clipped: enough to recognise the file, never its content."""
    names = [h if len(h) <= width else h[:width] + "…" for h in headers[:shown]]
    more = f" and {len(headers) - shown} more" if len(headers) > shown else ""
    return ", ".join(names) + more


def _clashes(renames: dict[str, str]) -> tuple[str, list[str]] | None:
    by_target: dict[str, list[str]] = {}
    for header, column in renames.items():
        by_target.setdefault(column, []).append(header)
    for column, headers in by_target.items():
        if len(headers) > 1:
            return column, headers
    return None


def _as_written(text: pl.DataFrame, rows: pl.Series, text_cols: list[str]) -> pl.DataFrame:
    """The given rows of a file's text as read (headers as written), each as one JSON object."""
    return text.filter(pl.col(ROW).is_in(rows.unique().implode())).select(
        ROW, pl.struct(text_cols).struct.json_encode().alias("raw") if text_cols
        else pl.lit("{}").alias("raw"))


def _record(con, report: FileReport, run_id: str, path: Path,  # type: ignore[no-untyped-def]
            source: Source) -> None:
    ledger.record_file(con, {
        "run_id": run_id, "path": report.path, "file_name": _shown(path.name),
        "table_name": report.table, "sha256": report.sha256,
        "size_bytes": _size(path), "status": report.status,
        "rows_read": report.rows_read, "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined, "rows_inserted": report.rows_inserted,
        "rows_updated": report.rows_updated, "rows_unchanged": report.rows_unchanged,
        "reason": report.reason, "extra_columns": report.extra_columns, "notes": report.notes,
        "encoding": report.encoding, "delimiter": report.delimiter, "sheet": report.sheet,
        "mapping_source": report.source, "ingested_at": datetime.now(UTC),
        "mapping_fingerprint": source.fingerprint()})


def _size(path: Path) -> int | None:
    try:
        return path.lstat().st_size
    except OSError:
        return None
