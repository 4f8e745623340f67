"""The dashboards' only door to the lake: a cached read-only snapshot connection and cached library calls.

The connection is opened once per published snapshot (keyed on the file's mtime and inode, so a new
snapshot from the next ingest run is picked up on the next page view; see ``_Snapshot``) and
every query runs on its own cursor, as DuckDB connections are not shared between Streamlit's
session threads. Results are
cached per snapshot and arguments with ``st.cache_data``. Pages never see a connection: they call
the functions below, which call the library (``tracelake.*``).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import streamlit as st

from tracelake import review
from tracelake.derived.calibration import register as equipment
from tracelake.derived.calibration import status as calibration_status
from tracelake.derived.calibration.impact import calibration_impact, calibration_status_at_use
from tracelake.derived.genealogy import has_index, supplier_recall, where_used
from tracelake.derived.genealogy.trace import WhereUsed
from tracelake.derived.overview import overview as build_overview
from tracelake.derived.quality import data_quality as dataquality
from tracelake.derived.quality import lot_effects as lot_effect_lib
from tracelake.derived.quality import lot_moves as lot_moves_lib
from tracelake.derived.quality import spc, trends
from tracelake.derived.quality.trends import (  # pure functions over frames the pages already hold
    AGE_BUCKETS,
    TrendFilter,
    defect_pareto,
    ncr_counts,
    open_ncr_ageing,
)
from tracelake.derived.quality.trends import summary as trend_summary
from tracelake.derived.search import find as find_records
from tracelake.derived.search import parse_label
from tracelake.errors import LakeError, LakeNotFound, TracelakeError
from tracelake.exports.epcis import Selection, export_epcis
from tracelake.exports.recall import recall_frame, write_recall
from tracelake.exports.sheets import to_csv, write_xlsx
from tracelake.lake import catalog
from tracelake.lake.query import read_query
from tracelake.lake.query_process import keep_child_ready, run_sql_in_child
from tracelake.lake.snapshot import open_snapshot
from tracelake.lake.storage import LakePaths
from tracelake.records import batch_record as build_bmr
from tracelake.records import device_record as build_dhr
from tracelake.records import render_pdf
from tracelake.records.signing import record_dispositions, record_signature

__all__ = ["AGE_BUCKETS", "TrendFilter", "defect_pareto", "ncr_counts", "open_ncr_ageing",
           "trend_summary"]

Snapshot = tuple[str, int, int]
DEFAULT_TIMEZONE = "Europe/London"
#: Session keys of the "as of" control: the point picked (as asked: a run id, a date or a
#: time), and the pages showing the control (only they read the lake as of the point).
AS_OF_VALUE = "_as_of_value"
AS_OF_PAGES = "_as_of_pages"
#: The query parameter carrying the point, so a view as of a point can be shared as a link.
AS_OF_PARAM = "as_of"


# ------------------------------------------------------------------ the snapshot

def lake_path() -> Path:
    """The lake folder: ``--lake PATH`` after ``--`` on the streamlit command line, else
    ``$TRACELAKE_LAKE``, else ``./lake``."""
    argv = sys.argv
    if "--lake" in argv[:-1]:
        return Path(argv[argv.index("--lake") + 1])
    return Path(os.environ.get("TRACELAKE_LAKE", "lake"))


def snapshot() -> Snapshot:
    """The published snapshot's path and version (mtime, inode); LakeNotFound if there is none."""
    paths = LakePaths.of(lake_path())
    try:
        stat = paths.serving.stat()
    except FileNotFoundError:
        raise LakeNotFound(f"no lake yet at {paths.root}: build one with "
                           f"`tracelake ingest PATH --lake {paths.root}` "
                           "(or `tracelake demo` for the sample plant)") from None
    return str(paths.serving), stat.st_mtime_ns, stat.st_ino


class _Snapshot:
    """The one open connection to a lake's published snapshot, renewed when a new one is published.

    DuckDB keeps one instance per database file in a process and hands it to every later
    ``connect`` of that path while any connection to it (or a cursor of one) is open: a new
    snapshot renamed over the old file is only read once every connection to the old one has
    closed. So a new version waits for the cursors still reading the old one (short: one library
    call each), closes it, then opens the new file.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._version: Snapshot | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._readers = 0

    @contextmanager
    def cursor(self, snap: Snapshot) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            if self._version is None or (snap != self._version and snap[1] >= self._version[1]):
                if not self._lock.wait_for(lambda: self._readers == 0, timeout=60):
                    raise LakeError("the dashboards are still reading the previous snapshot; "
                                    "reload the page in a moment")
                if self._con is not None:
                    self._con.close()
                self._con, self._version = None, None
                self._con = open_snapshot(LakePaths.of(snap[0]))
                self._version = snap
            cur = self._con.cursor()  # type: ignore[union-attr]
            self._readers += 1
        try:
            yield cur
        finally:
            cur.close()
            with self._lock:
                self._readers -= 1
                self._lock.notify_all()


_SNAPSHOTS: dict[str, _Snapshot] = {}  # by the snapshot's path: one per lake served
_SNAPSHOTS_LOCK = threading.Lock()


class _AsOfConnections:
    """Connections to the lake as of a point (``tracelake.lake.asof``), one per snapshot and point,
    the few most recently used kept open (each holds its views, and a genealogy index when a
    later run changed it). A connection is closed only when no cursor of it is reading."""

    KEEP = 3

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._open: dict[tuple[Snapshot, str], tuple[duckdb.DuckDBPyConnection, Any]] = {}
        self._readers: dict[tuple[Snapshot, str], int] = {}

    @contextmanager
    def cursor(self, snap: Snapshot, when: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, Any]]:
        from tracelake.derived.genealogy import build_index
        from tracelake.lake.asof import open_as_of

        key = (snap, when)
        with self._lock:
            if key not in self._open:
                self._open[key] = open_as_of(LakePaths.of(snap[0]), when, index=build_index)
            else:  # most recently used last
                self._open[key] = self._open.pop(key)
            con, point = self._open[key]
            cur = con.cursor()
            self._readers[key] = self._readers.get(key, 0) + 1
        try:
            yield cur, point
        finally:
            cur.close()
            with self._lock:
                self._readers[key] -= 1
                for old in [k for k in self._open if not self._readers.get(k)]:
                    if len(self._open) <= self.KEEP:
                        break
                    self._open.pop(old)[0].close()


_AS_OF = _AsOfConnections()
_CURRENT = threading.local()  # the point of the library call running in this thread


@contextmanager
def cursor(snap: Snapshot | None = None, as_of: str | None = None
           ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the cached snapshot connection (or on the lake as it stood at ``as_of``), for
    one query or one library call."""
    snap = snap or snapshot()
    if as_of is not None:
        with _AS_OF.cursor(snap, as_of) as (cur, point):
            _CURRENT.point = point
            try:
                yield cur
            finally:
                _CURRENT.point = None
        return
    with _SNAPSHOTS_LOCK:
        holder = _SNAPSHOTS.setdefault(snap[0], _Snapshot())
    with holder.cursor(snap) as cur:
        yield cur


def _point() -> dict[str, Any] | None:
    """The point (``AsOf.as_dict()``) of the as-of cursor this thread is using, else None."""
    point = getattr(_CURRENT, "point", None)
    return point.as_dict() if point is not None else None


_CALLS: dict[str, Callable[..., Any]] = {}


@st.cache_data(show_spinner=False, max_entries=512, ttl="1h")
def _cached(name: str, snap: Snapshot, as_of: str | None, args: tuple[Any, ...]) -> Any:
    with cursor(snap, as_of) as cur:
        return _CALLS[name](cur, *args)


def _lake_call(fn: Callable[..., Any] | None = None, *, now: bool = False) -> Any:
    """Cache ``fn(cursor, *args)`` per snapshot, point and arguments. On a page showing the
    "as of" control the call reads the lake as of the point picked, unless ``now`` (calls about
    the lake itself: its last run, search)."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        _CALLS[fn.__name__] = fn

        def call(*args: Any) -> Any:
            return _cached(fn.__name__, snapshot(), None if now else as_of_here(), args)

        call.__name__ = fn.__name__
        call.__doc__ = fn.__doc__
        return call
    return wrap(fn) if fn is not None else wrap


# ------------------------------------------------------------------ the lake as of a point

def _page() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else None


def show_as_of_here() -> None:
    """Make this page read the lake as of the point picked (the "as of" control calls it)."""
    pages = set(st.session_state.get(AS_OF_PAGES, ()))
    pages.add(_page())
    st.session_state[AS_OF_PAGES] = pages


def as_of_here() -> str | None:
    """The point this page reads the lake at (a run id, date or time as picked); None: now, or
    a page without the control."""
    if _page() not in st.session_state.get(AS_OF_PAGES, ()):
        return None
    return st.session_state.get(AS_OF_VALUE)


def set_as_of(when: str | None) -> None:
    """Pick the point the pages with the control read the lake at (None: now)."""
    st.session_state[AS_OF_VALUE] = when or None


@_lake_call(now=True)
def runs(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, dt.datetime]]:
    """Every committed ingest run (id, committed at, UTC), newest first: the points to pick."""
    from tracelake.lake.asof import committed_runs

    return [(r, at) for r, at, _ in reversed(committed_runs(cur))]


@_lake_call(now=True)
def as_of_point(cur: duckdb.DuckDBPyConnection, when: str) -> dict[str, Any]:
    """The point ``when`` names (``AsOf.as_dict()``); InputError for a bad one."""
    from tracelake.lake.asof import resolve

    return resolve(cur, when).as_dict()


@_lake_call(now=True)
def lake_info(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """When the snapshot was published, the plant's time zone and what the lake holds."""
    health = dataquality.health(cur)
    tz = cur.sql("SELECT timezone FROM ingest_runs WHERE timezone IS NOT NULL "
                 "ORDER BY finished_at DESC LIMIT 1").fetchone()
    counts = trends.unit_counts(cur)
    return {"last_run": health["last_run"], "timezone": tz[0] if tz else DEFAULT_TIMEZONE,
            "units": counts["devices"] + counts["sub_assemblies"], **counts,
            "genealogy": has_index(cur)}


def published_at() -> dt.datetime:
    """When the snapshot file was last replaced."""
    return dt.datetime.fromtimestamp(snapshot()[1] / 1e9, tz=dt.UTC)


def timezone() -> str:
    """The plant's time zone (from the last ingest run) that the pages show times in."""
    try:
        return str(lake_info()["timezone"])
    except LakeError:
        return DEFAULT_TIMEZONE


# ------------------------------------------------------------------ recall / where-used

def _genealogy(cur: duckdb.DuckDBPyConnection) -> None:
    if not has_index(cur):
        raise LakeError("the lake has no genealogy index (or one built by another version of "
                        "tracelake): run `tracelake ingest` on it, any new run builds it")


@_lake_call
def lots(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every traceable lot with its supplier."""
    return catalog.lots(cur)


@_lake_call
def suppliers(cur: duckdb.DuckDBPyConnection, component_code: str) -> list[str]:
    """Suppliers of a component."""
    return catalog.suppliers(cur, component_code)


@_lake_call
def trace_lot(cur: duckdb.DuckDBPyConnection, component_code: str, lot_number: str,
              include_removed: bool) -> WhereUsed:
    """Where-used of one lot."""
    _genealogy(cur)
    return where_used(cur, component_code, lot_number, include_removed=include_removed)


@_lake_call
def trace_supplier(cur: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                   issued_from: dt.date | None, issued_to: dt.date | None,
                   include_removed: bool) -> WhereUsed:
    """Where-used of every lot of a component from one supplier issued in a window."""
    _genealogy(cur)
    return supplier_recall(cur, component_code, supplier, issued_from, issued_to,
                           include_removed=include_removed)


def recall_table(answer: WhereUsed) -> pl.DataFrame:
    """The recall list (one row per affected unit)."""
    return recall_frame(answer)


def recall_csv(answer: WhereUsed) -> bytes:
    """The recall list as CSV (UTC timestamps, as ``tracelake trace forward --format csv``)."""
    return to_csv(recall_frame(answer)).encode("utf-8")


def recall_epcis(answer: WhereUsed, as_of: str | None = None) -> bytes:
    """The recall as a GS1 EPCIS 2.0 document (its units marked ``recalled``), as
    ``tracelake export epcis --component C --lot L`` (``--as-of``: the page's ``as_of_here()``,
    taken when the page is drawn: the download runs outside the page)."""
    return _epcis(Selection(answer=answer), as_of)


def batch_epcis(job: str, as_of: str | None = None) -> bytes:
    """One job as a GS1 EPCIS 2.0 document, as ``tracelake export epcis --job J``."""
    return _epcis(Selection(job=job), as_of)


def _epcis(selection: Selection, as_of: str | None) -> bytes:
    buf = io.StringIO()
    with cursor(as_of=as_of) as cur:
        export_epcis(cur, buf, selection)
    return buf.getvalue().encode("utf-8")


def recall_xlsx(answer: WhereUsed) -> bytes:
    """The recall list as an XLSX workbook (affected units and a summary sheet)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_recall(answer, Path(tmp) / "recall.xlsx")
        return path.read_bytes()


# ------------------------------------------------------------------ jobs and serials

@_lake_call
def jobs(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every job, newest first."""
    return catalog.jobs(cur)


@_lake_call(now=True)
def serial_suggestions(cur: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    """Serials the user may have meant: what ``tracelake find`` answers for the text (a typo,
    a separator left out, a prefix), else serials containing it."""
    try:
        hits = find_records(cur, text, kind="serial", limit=10).hits
    except TracelakeError:  # no search index yet
        hits = []
    near = list(dict.fromkeys(str(h["id"]) for h in hits if h.get("id") != text))
    return near or catalog.serials_like(cur, text)


# ------------------------------------------------------------------ trends

@_lake_call
def trend_bounds(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Dates and products for the trend filters."""
    return trends.bounds(cur)


@_lake_call
def ncrs(cur: duckdb.DuckDBPyConnection, where: TrendFilter) -> pl.DataFrame:
    """NCRs raised in the window."""
    return trends.ncrs(cur, where)


@_lake_call
def first_pass_yield(cur: duckdb.DuckDBPyConnection, where: TrendFilter,
                     period: str | None) -> pl.DataFrame:
    """First-pass yield per product and test step (and period)."""
    return trends.first_pass_yield(cur, where, period)  # type: ignore[arg-type]


@_lake_call
def rework(cur: duckdb.DuckDBPyConnection, where: TrendFilter) -> pl.DataFrame:
    """Rework per product."""
    return trends.rework(cur, where)


@_lake_call
def yield_over_time(cur: duckdb.DuckDBPyConnection, where: TrendFilter,
                    period: str) -> pl.DataFrame:
    """First-pass yield per week or month, product and test step."""
    return trends.first_pass_yield(cur, where, period)  # type: ignore[arg-type]


@_lake_call
def rework_over_time(cur: duckdb.DuckDBPyConnection, where: TrendFilter,
                     period: str) -> pl.DataFrame:
    """Rework per week or month and product."""
    return trends.rework_over_time(cur, where, period)  # type: ignore[arg-type]


# ------------------------------------------------------------------ overview

@_lake_call
def overview(cur: duckdb.DuckDBPyConnection, due_within_days: int) -> dict[str, Any]:
    """What needs attention now (cached per snapshot: a new ingest run refreshes it)."""
    return build_overview(cur, due_within_days=due_within_days)


# ------------------------------------------------------------------ SPC and lot effects

@_lake_call
def capability_table(cur: duckdb.DuckDBPyConnection, where: TrendFilter) -> pl.DataFrame:
    """Capability of every product, test step and measurement, worst Cpk first."""
    return spc.capability_table(cur, where)


@_lake_call
def spc_chart(cur: duckdb.DuckDBPyConnection, product: str, step: str, measurement: str,
              where: TrendFilter) -> spc.SpcChart:
    """The I-MR chart of one series."""
    return spc.chart(cur, product, step, measurement, where)


@_lake_call
def lot_effects(cur: duckdb.DuckDBPyConnection, product: str | None, step: str,
                measurement: str, where: TrendFilter) -> lot_effect_lib.LotEffects:
    """The component lots that move a measurement."""
    _genealogy(cur)
    return lot_effect_lib.lot_effects(cur, step, measurement, product_code=product, where=where)


@_lake_call
def lot_moves(cur: duckdb.DuckDBPyConnection, component: str, lot: str) -> lot_moves_lib.LotMoves:
    """The measurements one lot moves (the lot's page)."""
    _genealogy(cur)
    return lot_moves_lib.lot_moves(cur, component, lot)


# ------------------------------------------------------------------ calibration

@_lake_call
def equipment_status(cur: duckdb.DuckDBPyConnection, due_within_days: int) -> pl.DataFrame:
    """The calibration register as it stands now."""
    return equipment.equipment_status(cur, due_within_days=due_within_days)


@_lake_call
def oot_events(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Out-of-tolerance findings."""
    return equipment.oot_events(cur)


@_lake_call
def calibration_history(cur: duckdb.DuckDBPyConnection, equipment_id: str | None) -> pl.DataFrame:
    """Calibrations of one piece of equipment (of all if None)."""
    return equipment.calibration_history(cur, equipment_id)


@_lake_call
def uses_out_of_calibration(cur: duckdb.DuckDBPyConnection, equipment_id: str) -> pl.DataFrame:
    """Results taken with the equipment while it was overdue, or before any calibration."""
    rows = calibration_status_at_use(cur, equipment_id)
    schema = {"serial_number": pl.String, "test_step": pl.String, "measurement": pl.String,
              "tested_at": pl.Datetime("us", "UTC"), "calibration_status": pl.String,
              "certificate_no": pl.String, "due_at": pl.Datetime("us", "UTC")}
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


@_lake_call
def suspect_windows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every suspect window of status.py: ``kind`` "found" (from the last good calibration to
    the out-of-tolerance finding) and "left" (from a calibration that left the equipment out of
    tolerance to its next one, ``to`` None while there is none)."""
    return ([w | {"kind": "found"} for w in calibration_status.suspect_windows(cur)]
            + [w | {"kind": "left"} for w in calibration_status.left_windows(cur)])


@_lake_call
def oot_impact(cur: duckdb.DuckDBPyConnection, equipment_id: str) -> dict[str, Any]:
    """Suspect results, units and customers of an out-of-tolerance finding."""
    _genealogy(cur)
    return equipment.impact_tables(calibration_impact(cur, equipment_id))


# ------------------------------------------------------------------ data quality

@_lake_call
def dq_health(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Headline figures of the ingest ledger."""
    return dataquality.health(cur)


@_lake_call
def dq_runs(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every ingest run."""
    return dataquality.runs(cur)


@_lake_call
def dq_files(cur: duckdb.DuckDBPyConnection, run_id: str | None) -> pl.DataFrame:
    """Files of a run."""
    return dataquality.files(cur, run_id)


@_lake_call
def dq_rules(cur: duckdb.DuckDBPyConnection, run_id: str | None) -> pl.DataFrame:
    """Quarantined rows by table and rule."""
    return dataquality.quarantine_rules(cur, run_id)


@_lake_call
def dq_quarantined(cur: duckdb.DuckDBPyConnection, run_id: str | None,
                   table: str | None) -> pl.DataFrame:
    """Quarantined rows with their rules."""
    return dataquality.quarantined_rows(cur, run_id, table)


@_lake_call
def dq_orphans(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Orphan references."""
    return dataquality.orphans(cur)


@_lake_call
def dq_lineage(cur: duckdb.DuckDBPyConnection, table: str, column: str,
               value: str) -> dataquality.Lineage:
    """Rows of a table matching a value, with their source file and row."""
    return dataquality.lineage(cur, table, column, value)


# ------------------------------------------------------------------ ask the lake

@_lake_call
def tables(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The tables SQL can read."""
    return catalog.tables(cur)


@_lake_call
def columns(cur: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """Columns of one table, documented."""
    return catalog.columns(cur, table)


def ready_for_queries() -> None:
    """Have the query child started before the user asks (the Ask page calls it as it opens)."""
    keep_child_ready()


def run_query(sql: str) -> pl.DataFrame:
    """One read-only query (QueryRefused for anything else, InputError if it fails,
    QueryStopped past its time or memory limit), run in a child process so that it cannot
    starve the other users of the dashboards; on the lake as of the page's point."""
    read_query(sql)
    return _run_query(snapshot(), sql, as_of_here())


@st.cache_data(show_spinner=False, max_entries=64, ttl="1h")
def _run_query(snap: Snapshot, sql: str, as_of: str | None = None) -> pl.DataFrame:
    return run_sql_in_child(LakePaths.of(snap[0]), sql, as_of=as_of, spare=True)


def frame_csv(frame: pl.DataFrame) -> bytes:
    """Any result as CSV (list and struct columns as JSON text, formula-like cells defused)."""
    return to_csv(frame).encode("utf-8")


def frame_xlsx(frame: pl.DataFrame, sheet: str = "result") -> bytes:
    """Any result as an XLSX workbook (every text cell a string, never a formula)."""
    return write_xlsx({sheet: frame})


@_lake_call(now=True)
def _find(cur: duckdb.DuckDBPyConnection, text: str) -> tuple[list[dict[str, Any]], str | None]:
    answer = find_records(cur, text)
    return list(answer.hits), answer.message


def find(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """Every record that names ``text``, best first, and a message when there is none."""
    return _find(text)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ records (DHR, BMR)

def serial_from_scan(text: str) -> tuple[str, str | None]:
    """The serial in what was typed or scanned: AI 21 of a GS1 label (element string or Digital
    Link, read with biip), else the text itself; and the GTIN the label carried, if any."""
    text = text.strip()
    label = parse_label(text) if text else None
    if label is not None and label.serial:
        return label.serial, label.gtin
    return text, None


@_lake_call
def device_record(cur: duckdb.DuckDBPyConnection, serial: str) -> dict[str, Any]:
    """The unit's DHR document (RecordNotFound for an unknown serial); as of the page's point,
    it carries ``as_of`` (the record says so)."""
    return build_dhr(cur, serial, as_of=_point())


@_lake_call
def batch_record(cur: duckdb.DuckDBPyConnection, job_id: str) -> dict[str, Any]:
    """The job's BMR document without its unit pages (the page links each serial to its DHR;
    building every unit's page is what takes the time on a large job). RecordNotFound for an
    unknown job."""
    return build_bmr(cur, job_id, with_units=False, as_of=_point())


def record_pdf(kind: str, key: str, as_of: str | None = None) -> bytes:
    """The DHR (``kind`` "dhr", key a serial) or the whole BMR with a DHR page per serial ("bmr",
    a job) as PDF, made when the download is asked for (on the lake as of ``as_of``: the page's
    ``as_of_here()``, taken when the page is drawn)."""
    with cursor(as_of=as_of) as cur:
        if kind == "dhr":
            return render_pdf(build_dhr(cur, key, as_of=_point()))
        return render_pdf(build_bmr(cur, key, as_of=_point()))


# ------------------------------------------------------------------ review: users and signatures

def users_exist() -> bool:
    """True once any user has been added to this lake (the dashboards then ask for a login)."""
    return review.has_users(LakePaths.of(lake_path()))


def login(name: str, password: str) -> review.User:
    """The user, if name and password match (AuthError otherwise)."""
    return review.authenticate(LakePaths.of(lake_path()), name, password)


def _signer(name: str, password: str) -> review.User:
    user = login(name, password)  # both components again at every signing (11.200)
    if not user.can_sign:
        raise review.AuthError(f"{user.name} is a {user.role}: only a reviewer or approver may sign")
    return user


def sign_dispositions(name: str, password: str, job_id: str, keys: list[str], disposition: str,
                      rationale: str | None, ncr_id: str | None,
                      seen_hash: str) -> list[Any]:
    """Sign the disposition of the findings with these keys, on the record the user looked at;
    writes the lake (writer lock) and publishes a new snapshot."""
    user = _signer(name, password)
    return record_dispositions(
        LakePaths.of(lake_path()), user, job_id,
        lambda r: [f for f in r["findings"] if f["key"] in keys], disposition,
        rationale=rationale, ncr_id=ncr_id, seen_hash=seen_hash)


def sign_batch(name: str, password: str, job_id: str, meaning: str, comment: str | None,
               seen_hash: str) -> Any:
    """Sign the job's release or rejection on the record the user looked at."""
    user = _signer(name, password)
    return record_signature(LakePaths.of(lake_path()), user, job_id, meaning, comment=comment,
                            seen_hash=seen_hash)
