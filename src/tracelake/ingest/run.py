"""One ingest run: files in, every row loaded or quarantined, the lake changed in one transaction.

The run reads each file (readers), maps its headers (mapping), types it (coerce), checks it against
its contract (quality), upserts the valid rows and quarantines the rest with their reasons (lake,
ledger), refreshes the orphan list, commits, and publishes a new read-only snapshot. If anything
fails part-way the transaction is rolled back and the lake is as it was.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tracelake.contracts import CONTRACTS, TableContract
from tracelake.derived.genealogy import GENEALOGY_TABLES, has_index, update_index
from tracelake.derived.search import SEARCH_TABLES, build_search_index, has_search_index
from tracelake.errors import FileRejected, LakeError
from tracelake.ingest.report import FileReport, IngestReport
from tracelake.intake.checks import check_frame, missing_required_columns
from tracelake.intake.coerce import coerce_frame
from tracelake.intake.dates import decide_date_orders
from tracelake.intake.mapping import Mapping, Source, resolve_headers
from tracelake.intake.readers import REPORT_TABLE, ROW, SUFFIXES, RawFrame, read_source, report_format
from tracelake.lake import ledger, orphans, snapshot
from tracelake.lake.storage import LakePaths, connect_writer, retire_rows, upsert

__all__ = ["discover_files", "ingest"]

#: Files in a landing folder that are documentation or configuration, never data.
SKIPPED_SUFFIXES = {".md", ".yaml", ".yml", ".txt", ".rst", ".py"}
Progress = Callable[[int, int, str], None]


def discover_files(paths: Iterable[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """Every data file under the given files and folders (folders searched recursively).

    Hidden files, documentation and mapping files are skipped, and so are files whose path
    relative to a given folder matches one of the ``exclude`` patterns (e.g. ``bad/*``).
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(p.startswith(".") for p in rel.parts) \
                        and child.suffix.lower() not in SKIPPED_SUFFIXES \
                        and not any(fnmatch.fnmatch(rel.as_posix(), pat) for pat in exclude):
                    found.append(child)
        elif path.exists():
            found.append(path)
        else:
            raise FileRejected(str(path), "no such file or folder")
    return found


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
           reread: bool = False) -> IngestReport:
    """Ingest files and folders into the lake, in one transaction, and publish a snapshot.

    Args:
        paths: files and folders (searched recursively).
        lake: the lake folder.
        mapping: how to read the plant's exports; default: names and canonical headers.
        tables: only ingest files feeding these tables (the others are not reported).
        exclude: path patterns, relative to a given folder, of files to leave out.
        publish: publish a new read-only snapshot after a run that changed the lake.
        genealogy: bring the genealogy index up to date when the run changed what it is
            built from (orchestrators that rebuild it as a step of their own pass False).
        search: rebuild the search index (``find``) when the run changed what it is built
            from or quarantined rows (orchestrators that rebuild it as a step pass False).
        progress: called with (files done, files in all, current file) as the run goes.
        reread: read the files again whatever their identity (``tracelake ingest --reread``).
    """
    mapping = mapping or Mapping()
    lake_paths = lake if isinstance(lake, LakePaths) else LakePaths.of(lake)
    found = discover_files([Path(p) for p in paths], exclude)
    warnings = mapping.unmatched_patterns(found)
    files = _order(found, mapping)
    if tables is not None:
        files = [(f, s) for f, s in files if s.table in tables]
    run_id = new_run_id()
    started = datetime.now(UTC)
    reports: list[FileReport] = []
    with connect_writer(lake_paths) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            seen = ledger.loaded_identities(con)
            for done, (path, source) in enumerate(files):
                if progress:
                    progress(done, len(files), str(path))
                report = _ingest_file(con, path, source, run_id, seen, reread)
                if report.status == "loaded" and report.table:
                    seen.setdefault((report.sha256, report.table), set()).add(
                        source.fingerprint())
                reports.append(report)
            changed = {r.table for r in reports if r.status == "loaded" and r.table and
                       (r.rows_inserted or r.rows_updated or r.rows_retired)}
            n_orphans = orphans.refresh(con, changed)
            result = IngestReport(run_id, reports, orphan_references=n_orphans,
                                  warnings=warnings)
            if genealogy and (changed & set(GENEALOGY_TABLES) or not has_index(con)):
                updated = {r.table for r in reports if r.table and
                           (r.rows_updated or r.rows_retired)}
                result.genealogy = asdict(update_index(con, run_id, updated))
            if search and (changed & SEARCH_TABLES or not has_search_index(con)
                           or any(r.rows_quarantined or r.quarantine_closed for r in reports)):
                result.search = asdict(build_search_index(con, run_id))
            totals = result.totals
            ledger.record_run(con, {
                "run_id": run_id, "started_at": started, "finished_at": datetime.now(UTC),
                "status": "committed", "files": totals["files"], "rows_read": totals["rows_read"],
                "rows_loaded": totals["rows_loaded"],
                "rows_quarantined": totals["rows_quarantined"], "mapping": mapping.path,
                "timezone": mapping.timezone, "tracelake_version": _version()})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if progress:
            progress(len(files), len(files), "")
        news = any(r.status in ("loaded", "rejected") for r in reports) or bool(result.search)
        if publish and (news or not lake_paths.serving.exists()):
            try:
                snapshot.publish(con, lake_paths)
            except Exception as exc:  # the run is committed; only the reader copy failed
                raise LakeError(f"{lake_paths.serving}: the run was committed but the snapshot "
                                f"for readers could not be published ({exc})") from exc
            result.published = True
    return result


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tracelake")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _ingest_file(con, path: Path, source: Source, run_id: str,  # type: ignore[no-untyped-def]
                 seen: dict[tuple[str, str], set[str | None]], reread: bool) -> FileReport:
    report = _examine_file(con, path, source, run_id, seen, reread)
    _record(con, report, run_id, path, source)
    return report


def _examine_file(con, path: Path, source: Source, run_id: str,  # type: ignore[no-untyped-def]
                  seen: dict[tuple[str, str], set[str | None]], reread: bool) -> FileReport:
    sha = sha256_of(path)
    table = source.table
    report = FileReport(path=str(path), table=table, sha256=sha, status="loaded",
                        source=None if source.name == "default" else source.name)
    if table is None:
        report.status = "unrecognised"
        supported = path.suffix.lower() in SUFFIXES
        report.reason = ("the file name matches no table of the import contract; name it after "
                         "its table (e.g. material_issues_2026-11.csv) or map it in a mapping file"
                         if supported else
                         f"{path.suffix or 'this'} files are not read (expected .csv, .xlsx, "
                         ".jsonl, .json, or an .xml test report) and the name matches no table")
        return report
    # identity (contract v2): bytes, table and the mapping entries that read them; a ledger row
    # from before v2 has no fingerprint and counts as the same reading
    readings = seen.get((sha, table))
    if readings is not None and not reread and (source.fingerprint() in readings
                                               or None in readings):
        report.status = "duplicate"
        report.reason = ("the same bytes were loaded before under the same mapping: nothing to "
                         "do (--reread reads them again)")
        return report
    report.reread = readings is not None
    contract = CONTRACTS[table]
    try:
        raw = read_source(path, encoding=source.encoding, header=source.header,
                          columns=list(source.columns) or None, sheet=source.sheet, table=table,
                          serial_from=source.serial_from, json_key=source.json_key)
        _load(con, raw, contract, source, report, run_id)
    except FileRejected as exc:
        report.status = "rejected"
        report.reason = exc.reason
        report.rows_read = report.rows_loaded = report.rows_quarantined = 0
    return report


def _load(con, raw: RawFrame, contract: TableContract,  # type: ignore[no-untyped-def]
          source: Source, report: FileReport, run_id: str) -> None:
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
    frame = _apply_mapping(raw.frame.rename(renames), source, Path(path).name)
    missing = missing_required_columns(frame.columns, contract)
    if missing:
        rows = raw.rows_read
        raise FileRejected(path, f"missing required column(s): {', '.join(missing)} "
                           f"(the file has: {', '.join(headers) or 'no header'}); nothing of "
                           f"its {rows} row(s) is loaded", column=missing[0])
    report.extra_columns = [h for h in headers if h not in renames]
    if report.extra_columns:
        report.notes.append("extra columns kept in _extra: " + ", ".join(report.extra_columns))
    decided = decide_date_orders(frame, contract, dayfirst=source.dayfirst,
                                 date_formats=source.date_formats, path=path, source=source.name)
    if decided:
        report.notes.append("date order read from the data: " + "; ".join(
            f"{c} as {', '.join(f)}" for c, f in decided.items()))
    typed = coerce_frame(frame, contract, dayfirst=source.dayfirst, timezone=source.timezone,
                         decimal_comma=raw.delimiter == ";", date_formats=source.date_formats,
                         column_formats=decided)
    failures = pl.concat([typed.failures, check_frame(typed.frame, contract, typed.failures),
                          raw.problems.select(ROW, "column", "rule", "message")])
    if source.values and failures.height:
        failures = _name_value_maps(failures, raw.frame.rename(renames), source)
    bad_rows = failures[ROW].unique()
    valid = typed.frame.filter(~pl.col(ROW).is_in(bad_rows.implode()))
    report.rows_read = raw.rows_read
    report.rows_quarantined = bad_rows.len()
    report.rows_loaded = valid.height
    if report.rows_read != report.rows_loaded + report.rows_quarantined:  # never expected
        raise RuntimeError(f"{path}: {report.rows_read} rows read but {report.rows_loaded} "
                           f"loaded and {report.rows_quarantined} quarantined")
    now = datetime.now(UTC)
    if report.reread:  # rows the earlier reading loaded and this one does not: to history
        report.rows_retired = retire_rows(con, contract, valid, sha256=report.sha256,
                                          run_id=run_id, source_file=path)
        report.quarantine_closed = ledger.close_quarantine(con, report.sha256, contract.name,
                                                           run_id)
    counts = upsert(con, contract, valid.with_columns(
        _source_file=pl.lit(path), _sha256=pl.lit(report.sha256), _run_id=pl.lit(run_id),
        _loaded_at=pl.lit(now, dtype=pl.Datetime("us", "UTC"))), run_id=run_id,
        source_file=path)
    report.rows_inserted, report.rows_updated, report.rows_unchanged = \
        counts.inserted, counts.updated, counts.unchanged
    if failures.height:
        report.quarantined_by_rule = dict(
            failures.group_by("rule").agg(pl.col(ROW).n_unique()).sort("rule").iter_rows())
        _quarantine(con, raw, frame, failures, report, run_id, now)


def _apply_mapping(frame: pl.DataFrame, source: Source, file_name: str) -> pl.DataFrame:
    """Constants, generated columns and value maps of the source, on canonical column names."""
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


def _clashes(renames: dict[str, str]) -> tuple[str, list[str]] | None:
    by_target: dict[str, list[str]] = {}
    for header, column in renames.items():
        by_target.setdefault(column, []).append(header)
    for column, headers in by_target.items():
        if len(headers) > 1:
            return column, headers
    return None


def _quarantine(con, raw: RawFrame, frame: pl.DataFrame,  # type: ignore[no-untyped-def]
                failures: pl.DataFrame, report: FileReport, run_id: str, now: datetime) -> None:
    """Write one quarantine row per failure, with the source row's raw values as JSON."""
    text_cols = [c for c in raw.frame.columns if c != ROW]
    raw_rows = raw.frame.filter(pl.col(ROW).is_in(failures[ROW].unique().implode())).select(
        ROW, pl.struct(text_cols).struct.json_encode().alias("raw") if text_cols
        else pl.lit("{}").alias("raw"))
    problem_raw = raw.problems.select(ROW, pl.col("raw").alias("problem_raw"))
    rows = (failures.join(raw_rows, on=ROW, how="left")
            .join(problem_raw.unique(ROW), on=ROW, how="left")
            .with_columns(pl.coalesce("raw", "problem_raw").alias("raw"))
            .sort(ROW))
    ledger.record_quarantine(con, rows.select(
        pl.lit(run_id).alias("run_id"), pl.lit(report.path).alias("source_file"),
        pl.lit(report.sha256).alias("sha256"), pl.lit(report.table).alias("table_name"),
        pl.col(ROW).alias("row_number"), pl.col("column").alias("column_name"), "rule",
        "message", "raw", pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("quarantined_at")))


def _record(con, report: FileReport, run_id: str, path: Path,  # type: ignore[no-untyped-def]
            source: Source) -> None:
    ledger.record_file(con, {
        "run_id": run_id, "path": report.path, "file_name": path.name,
        "table_name": report.table, "sha256": report.sha256,
        "size_bytes": path.stat().st_size, "status": report.status,
        "rows_read": report.rows_read, "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined, "rows_inserted": report.rows_inserted,
        "rows_updated": report.rows_updated, "rows_unchanged": report.rows_unchanged,
        "reason": report.reason, "extra_columns": report.extra_columns, "notes": report.notes,
        "encoding": report.encoding, "delimiter": report.delimiter, "sheet": report.sheet,
        "mapping_source": report.source, "ingested_at": datetime.now(UTC),
        "mapping_fingerprint": source.fingerprint()})
