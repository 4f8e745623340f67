"""Time travel: the lake as it stood at a point, from its own history (no engine's time travel).

Every row version carries the run that loaded it (``_run_id``); a superseded version sits in
``history.<table>`` with the run that superseded it (``_superseded_by_run``). So the lake as it
stood right after run R is: the versions loaded by a run committed by then and not superseded by
one. :func:`resolve` turns ``--as-of WHEN`` into that set of runs; :func:`open_as_of` gives an
in-memory DuckDB connection that attaches the published snapshot read-only and holds views named
exactly as the lake's tables (``units``, ``history.units``, ``ingest_runs``, ``review_entries``,
``genealogy.*`` ...) with the rows as of then, so every query, record and export runs on it
unchanged. Works in every storage mode: it reads only the lineage columns both modes keep.

``WHEN`` is an ISO 8601 date (the end of that day in the plant's time zone), an ISO 8601 time
(UTC when it has no offset, as the CLI contract says) or an ingest run id (the lake as that run
left it). Review entries (append-only, timestamped) count when signed at or before the point.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from tracelake.errors import InputError, LakeError, LakeNotFound
from tracelake.lake.paths import IN_FILTER_KEYS, LakePaths
from tracelake.lake.plant_time import DEFAULT_ZONE, stamp

__all__ = ["AsOf", "as_of_connection", "committed_runs", "open_as_of", "resolve"]

#: The catalog name the snapshot is attached under (queries of ``tracelake sql`` may not name it).
SOURCE = "asof_source"
#: Runs after the point, above this many, are held in a table instead of an IN list.
_LIST_LIMIT = 500
_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Ledger tables: (run column, what else) — filtered to the runs committed by the point.
_LEDGER = {"ingest_runs": "run_id", "ingest_files": "run_id"}


@dataclass(frozen=True)
class AsOf:
    """A point the lake is read at: the last run committed by then and everything before it."""

    asked: str
    at: dt.datetime  # UTC: review entries signed at or before it count
    run_id: str  # the last run committed at or before the point
    committed_at: dt.datetime  # when that run committed (UTC)
    runs: tuple[str, ...]  # every run committed by then, oldest first
    later: tuple[str, ...]  # runs committed after the point (their rows are left out)
    zone: str

    @property
    def latest(self) -> bool:
        """True when no run has committed since the point (the lake still stands so)."""
        return not self.later

    def label(self) -> str:
        """``as the lake stood on 2026-10-22 11:52 BST (after run …, committed …)``."""
        zone = _zone(self.zone)
        if self.at == self.committed_at:
            return (f"as the lake stood on {stamp(self.at, zone, seconds=True)}, as run "
                    f"{self.run_id} left it")
        return (f"as the lake stood on {stamp(self.at, zone)} (after run {self.run_id}, "
                f"committed {stamp(self.committed_at, zone, seconds=True)})")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, as records and answers carry it."""
        return {"asked": self.asked, "at": self.at, "run_id": self.run_id,
                "committed_at": self.committed_at, "runs": len(self.runs),
                "later_runs": len(self.later), "timezone": self.zone, "label": self.label()}


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def committed_runs(con: duckdb.DuckDBPyConnection, catalog: str | None = None
                   ) -> list[tuple[str, dt.datetime, str | None]]:
    """(run id, committed at UTC, time zone) of every committed run, in commit order."""
    table = f'"{catalog}".main.ingest_runs' if catalog else "ingest_runs"
    try:
        rows = con.execute(f"""
            SELECT run_id, coalesce(finished_at, started_at) AS done_at, timezone FROM {table}
            WHERE coalesce(status, 'committed') = 'committed' ORDER BY done_at, run_id""").fetchall()
    except duckdb.CatalogException:
        return []
    return [(r, a, z) for r, a, z in rows]


def resolve(con: duckdb.DuckDBPyConnection, when: str, *, catalog: str | None = None) -> AsOf:
    """The point ``when`` names, on a connection to the lake or its snapshot.

    Raises:
        InputError: ``when`` is neither a date, a time nor a run id of this lake, or it lies
            before the lake's first run.
    """
    text = when.strip()
    runs = committed_runs(con, catalog)
    if not runs:
        raise InputError(f"--as-of {when!r}: the lake has no committed ingest run yet")
    zone_name = next((z for _, _, z in reversed(runs) if z), None) or DEFAULT_ZONE
    by_id = {r: a for r, a, _ in runs}
    if text in by_id:
        at = by_id[text]
    elif _RUN_ID.match(text):
        raise InputError(f"--as-of {when!r}: no ingest run of this lake has that id (tracelake "
                         "sql \"SELECT run_id, finished_at FROM ingest_runs\" lists them)")
    else:
        at = _parse_time(text, when, _zone(zone_name))
    done = [(r, a) for r, a, _ in runs if a <= at]
    if not done:
        first = runs[0][1]
        raise InputError(f"--as-of {when!r}: the lake has no run committed by then (its first "
                         f"run committed {stamp(first, _zone(zone_name), seconds=True)})")
    later = tuple(r for r, a, _ in runs if a > at)
    return AsOf(asked=when, at=at, run_id=done[-1][0], committed_at=done[-1][1],
                runs=tuple(r for r, _ in done), later=later, zone=zone_name)


def _parse_time(text: str, asked: str, zone: ZoneInfo) -> dt.datetime:
    """A date (the end of that day in the plant's zone) or a time (UTC without an offset)."""
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
            return (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {asked!r} is neither an ISO 8601 date or time (e.g. "
                         "2026-10-01 or 2026-10-01T08:00+01:00) nor an ingest run id") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


# ------------------------------------------------------------------ the connection

#: Builds the genealogy index on a connection (``tracelake.derived.genealogy.build_index``: the
#: lake layer does not import the layers above it, so readers pass it in).
IndexBuilder = Callable[[duckdb.DuckDBPyConnection], object]
#: The tables the genealogy index is built from (``derived.genealogy.GENEALOGY_TABLES``).
INDEX_SOURCES = ("units", "unit_components", "material_issues", "shipments", "jobs")


def open_as_of(lake: LakePaths, when: str | AsOf, *, external_access: bool = False,
               memory_limit: str | None = None, index: IndexBuilder | None = None
               ) -> tuple[duckdb.DuckDBPyConnection, AsOf]:
    """A read-only connection holding the lake as it stood at ``when``, and the point.

    The published snapshot is attached read-only; the lake's tables are views over it keeping
    the row versions of that time. The snapshot's genealogy index serves when no run since the
    point changed what it is built from; else ``index`` builds one for the point, in memory
    (without ``index`` the connection then has no ``genealogy`` tables). File and network
    access are switched off afterwards, as on :func:`~tracelake.lake.snapshot.open_snapshot`.

    Raises:
        LakeNotFound: nothing has been published at this lake yet.
        InputError: the point is not one of this lake (see :func:`resolve`).
    """
    if not lake.serving.exists():
        raise LakeNotFound(f"{lake.root}: no lake here yet; build one with "
                           f"'tracelake ingest PATH --lake {lake.root}'")
    config = lake.config
    if config is not None:  # scale-out: the snapshot's views name the DuckLake, attached below
        from tracelake.lake import ducklake

        con = ducklake.connect()
    else:
        con = duckdb.connect(":memory:")
    allowed: list[str] = []
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        if memory_limit is not None:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET dynamic_or_filter_threshold = {IN_FILTER_KEYS}")
        path = str(lake.serving).replace("'", "''")
        try:
            con.execute(f"ATTACH '{path}' AS {SOURCE} (READ_ONLY)")
        except duckdb.Error as exc:
            raise LakeError(f"{lake.serving}: the readers' snapshot cannot be opened "
                            f"({' '.join(str(exc).split())[:200]})") from None
        if config is not None:  # the lake at the snapshot this machine's indexes were built at
            row = con.execute(f"SELECT max(snapshot_id) FROM {SOURCE}.main.serving_meta").fetchone()
            ducklake.attach(con, config, read_only=True,
                            snapshot=int(row[0]) if row and row[0] is not None else None)
            allowed = [config.data_path()]
        point = when if isinstance(when, AsOf) else resolve(con, when, catalog=SOURCE)
        _create_views(con, point)
        _genealogy(con, point, index)
        if not external_access:
            if allowed:  # the lake's own data files stay readable; nothing else
                con.execute("SET allowed_directories = ?", [allowed])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con, point


@contextmanager
def as_of_connection(lake: LakePaths, when: str | AsOf, **options: object
                     ) -> Iterator[tuple[duckdb.DuckDBPyConnection, AsOf]]:
    """:func:`open_as_of` as a context manager (closed when the block ends)."""
    con, point = open_as_of(lake, when, **options)  # type: ignore[arg-type]
    try:
        yield con, point
    finally:
        con.close()


def _objects(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    """(schema, name) -> columns of every table and view of the attached snapshot."""
    rows = con.execute("""
        SELECT schema_name, table_name, list(column_name ORDER BY column_index)
        FROM duckdb_columns() WHERE database_name = ? GROUP BY ALL""", [SOURCE]).fetchall()
    return {(s, t): list(c) for s, t, c in rows}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _later(point: AsOf) -> str:
    """SQL naming the runs after the point: an IN list, or a table when they are many."""
    if len(point.later) <= _LIST_LIMIT:
        return "(" + ", ".join(f"'{_lit(r)}'" for r in point.later) + ")"
    return "(SELECT run_id FROM as_of.later_runs)"


def _create_views(con: duckdb.DuckDBPyConnection, point: AsOf) -> None:
    """Views named as the lake's tables, holding the row versions as of the point."""
    from tracelake.contracts import CONTRACTS  # the contract tables (pandera: only when used)

    objects = _objects(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS history")
    if len(point.later) > _LIST_LIMIT:
        con.execute("CREATE SCHEMA as_of")
        con.execute("CREATE TABLE as_of.later_runs (run_id VARCHAR)")
        con.executemany("INSERT INTO as_of.later_runs VALUES (?)", [[r] for r in point.later])
    later = _later(point)
    some = bool(point.later)
    src = SOURCE

    def after(column: str) -> str:  # the column names a run after the point
        return f"{column} IN {later}" if some else "false"

    for name in CONTRACTS:
        cols = objects.get(("main", name))
        if cols is None:
            continue
        select = ", ".join(_q(c) for c in cols)
        hist = objects.get(("history", name))
        union = ""
        if hist is not None:
            union = (f" UNION ALL SELECT {select} FROM {src}.history.{_q(name)} "
                     f"WHERE {after('_superseded_by_run')} AND NOT {after('_run_id')}")
            hselect = ", ".join(_q(c) for c in hist)
            con.execute(f"CREATE VIEW history.{_q(name)} AS SELECT {hselect} FROM "
                        f"{src}.history.{_q(name)} WHERE NOT {after('_superseded_by_run')} "
                        f"AND NOT {after('_run_id')}")
        con.execute(f"CREATE VIEW main.{_q(name)} AS SELECT {select} FROM {src}.main.{_q(name)} "
                    f"WHERE NOT {after('_run_id')}{union}")
    handled = {("main", n) for n in CONTRACTS} | {("history", n) for n in CONTRACTS}
    for (schema, name), cols in sorted(objects.items()):
        if schema != "main" or (schema, name) in handled:
            continue
        target = f"main.{_q(name)}"
        source = f"{src}.main.{_q(name)}"
        if name == "quarantine":
            shown = ", ".join(f"CASE WHEN {after('superseded_by_run')} THEN NULL ELSE "
                              f"superseded_by_run END AS superseded_by_run"
                              if c == "superseded_by_run" else _q(c) for c in cols)
            sql = f"SELECT {shown} FROM {source} WHERE NOT {after('run_id')}"
        elif name == "lake_version":
            con.execute(f"CREATE VIEW {target} AS SELECT '{_lit(point.run_id)}'::VARCHAR AS "
                        f"run_id, '{point.committed_at.isoformat()}'::TIMESTAMPTZ AS committed_at")
            continue
        elif name == "review_entries":
            sql = (f"SELECT * FROM {source} WHERE signed_at <= "
                   f"'{point.at.isoformat()}'::TIMESTAMPTZ")
        elif name == "review_head":  # the newest entry signed by then
            sql = (f"SELECT seq, entry_hash FROM {src}.main.review_entries"
                   f" WHERE signed_at <= '{point.at.isoformat()}'::TIMESTAMPTZ "
                   f"ORDER BY seq DESC LIMIT 1")
        elif name == "orphan_references":
            from tracelake.lake.orphans import select_all

            sql = select_all()
        elif name in _LEDGER or "run_id" in cols:
            sql = f"SELECT * FROM {source} WHERE NOT {after('run_id')}"
        elif "_run_id" in cols:
            sql = f"SELECT * FROM {source} WHERE NOT {after('_run_id')}"
        else:  # a table with no run in it: as it is (nothing to tell its versions apart)
            sql = f"SELECT * FROM {source}"
        con.execute(f"CREATE VIEW {target} AS {sql}")


def _lit(text: str) -> str:
    return text.replace("'", "''")


def _genealogy(con: duckdb.DuckDBPyConnection, point: AsOf, build: IndexBuilder | None) -> None:
    """The genealogy index for the point: the snapshot's when no run since changed a table it is
    built from, else built here (in memory, from the views) by ``build``."""
    objects = _objects(con)
    index = sorted(n for s, n in objects if s == "genealogy")
    if not index:
        return  # no index in the snapshot: the reader says so, as without --as-of
    if point.later and _changed_since(con, point, INDEX_SOURCES, objects):
        if build is not None:
            build(con)
        return
    con.execute("CREATE SCHEMA IF NOT EXISTS genealogy")
    for name in index:
        con.execute(f"CREATE VIEW genealogy.{_q(name)} AS "
                    f"SELECT * FROM {SOURCE}.genealogy.{_q(name)}")


def _changed_since(con: duckdb.DuckDBPyConnection, point: AsOf, tables: tuple[str, ...],
                   objects: dict[tuple[str, str], list[str]]) -> bool:
    """Whether a run after the point added, changed or retired a row of any of ``tables``."""
    later = _later(point)
    for name in tables:
        checks = []
        if ("main", name) in objects:
            checks.append(f"SELECT 1 FROM {SOURCE}.main.{_q(name)} WHERE _run_id IN {later}")
        if ("history", name) in objects:
            checks.append(f"SELECT 1 FROM {SOURCE}.history.{_q(name)} "
                          f"WHERE _superseded_by_run IN {later}")
        for sql in checks:
            if con.execute(sql + " LIMIT 1").fetchone():
                return True
    return False
