"""JUnit / xUnit XML (``<testsuites>`` / ``<testsuite>``) into ``test_results``.

One row per ``testcase``: the test step is the case's ``name`` (its ``classname`` is kept as
``sequence``); the verdict is ``fail`` with a ``<failure>``, ``pass`` without one; a case with
``<error>`` broke down and is quarantined; a ``<skipped>`` case measured nothing and is counted.
A case's own ``<properties>`` may carry the reading (``value``, ``units``, ``low_limit``,
``high_limit``, ``measurement``), as hardware-test runners write them. The time is the case's
``timestamp`` if it has one, else the suite's ``timestamp`` plus the ``time`` of the cases
before it. The station is the suite's ``hostname`` (or a ``station`` property).

The serial comes from where the mapping says (``serial_from: property:NAME`` or
``serial_from: suite_name``); without that, from a suite property named like a serial
(``serial_number``, ``serial``, ``sn``, ``dut_id``, ``uut_serial``). A suite name is never taken
as a serial unless the mapping says so: a report with no serial is rejected. Read as a stream
(``junitparser`` loads the whole tree and builds an object per element, so it is not used for
reading): a case is a few attribute reads and one tuple, freed at once; every :data:`CHUNK`
cases become a polars frame, where hex values, defaults and verdicts are worked out
column-wise (a JUnit case is ~250 bytes, so per-case Python work, not parsing, sets the pace).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import ROW, RawFrame
from tracelake.intake.readers.results import OFFSET, SCOPE, ResultRows, number_text, offset_time
from tracelake.intake.readers.xml_safe import safe_iterparse

__all__ = ["read_junit"]

SERIAL_PROPS = ("serial_number", "serialnumber", "serial", "sn", "dut_id", "uut_serial")
CASE_PROPS = {"value": "value", "measured_value": "value", "units": "units", "unit": "units",
              "low_limit": "low_limit", "lower_limit": "low_limit", "low": "low_limit",
              "high_limit": "high_limit", "upper_limit": "high_limit", "high": "high_limit",
              "measurement": "measurement", "comparison": "comparison"}
_CASE_PROP = CASE_PROPS.get
CHUNK = 20_000
_NUMBERS = ("value", "low_limit", "high_limit")
OUTCOMES = ("failure", "error", "skipped")
#: one buffered case: these, in this order (value/limits as written; see _Cases.flush)
_FIELDS = ("test_step", "sequence", "tested_at", "value", "units", "low_limit", "high_limit",
           "measurement", "comparison", "status", "result", ROW, SCOPE, OFFSET)
_SCHEMA = {**dict.fromkeys(_FIELDS[:11], pl.String), ROW: pl.Int64, SCOPE: pl.Int64,
           OFFSET: pl.Float64}
RUN_PROPS = {"operator": "operator", "operator_id": "operator", "user": "operator",
             "station": "equipment_id", "station_id": "equipment_id",
             "equipment_id": "equipment_id", "software_version": "software_version",
             "version": "software_version", "run_id": "run_id"}


def _props(element: Any) -> dict[str, str]:
    out = {}
    for p in element:
        if p.tag == "property":
            value = p.get("value")
            out[p.get("name") or ""] = value if value is not None else (p.text or "")
    return out


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _own_props(el: Any) -> dict[str, str]:
    """The properties an element (a suite, or the <testsuites> around them) holds itself."""
    out: dict[str, str] = {}
    for child in el:
        if child.tag == "properties":
            out.update(_props(child))
        elif child.tag in ("testcase", "testsuite"):
            break  # properties come first; cleared cases and suites follow
    return out


class _Suite:
    def __init__(self, el: Any, outer: dict[str, str]) -> None:
        self.name = el.get("name") or ""
        self.start = _time(el.get("timestamp"))
        self.host = el.get("hostname")
        self.props: dict[str, str] = {**outer, **_own_props(el)}
        self.elapsed = 0.0
        self.line = el.sourceline
        self.aware = self.start is not None and self.start.tzinfo is not None


class _Cases:
    """Cases gathered as tuples and handed to :class:`ResultRows` a frame at a time (the
    tuples turned into columns in one ``zip``: polars builds a column from a list faster than
    a frame from rows)."""

    def __init__(self, rows: ResultRows) -> None:
        self.rows = rows
        self.buffer: list[tuple[object, ...]] = []

    def flush(self) -> None:
        if not self.buffer:
            return
        frame = pl.DataFrame(dict(zip(_FIELDS, zip(*self.buffer, strict=True), strict=True)),
                             schema=_SCHEMA)
        self.buffer = []
        self.rows.add_frame(_numbers(frame).with_columns(
            pl.col("measurement").fill_null("verdict")))


def _numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`number_text` column-wise on the value and limits: stripped, and hex (``0x1A``)
    as decimal; the hex conversion is worked out only for a chunk that holds any."""
    frame = frame.with_columns(pl.col(*_NUMBERS).str.strip_chars())
    hexed = frame.select(pl.any_horizontal(
        pl.col(c).str.slice(0, 2).str.to_lowercase() == "0x" for c in _NUMBERS).any()).item()
    return frame.with_columns(_number(c) for c in _NUMBERS) if hexed else frame


def _number(column: str) -> pl.Expr:
    """:func:`number_text` column-wise: hex (``0x1A``) as decimal, others as written."""
    text = pl.col(column).str.strip_chars()
    hexed = text.str.slice(2).str.to_integer(base=16, strict=False).cast(pl.String)
    return (pl.when(text.str.slice(0, 2).str.to_lowercase() == "0x", hexed.is_not_null())
            .then(hexed).otherwise(text).alias(column))


def read_junit(path: Path, *, serial_from: str | None = None, stream: bool = False) -> RawFrame:
    """Read a JUnit/xUnit XML file, streaming; ``serial_from`` as the mapping says; ``stream``:
    hand the rows back chunk by chunk (:class:`~.results.RowChunks`)."""
    rows = ResultRows(str(path), "JUnit", stream=stream)
    try:
        return _read(path, rows, serial_from)
    except BaseException:
        rows.discard()
        raise


def _read(path: Path, rows: ResultRows, serial_from: str | None) -> RawFrame:
    cases = _Cases(rows)
    suite: _Suite | None = None
    suite_el: Any = None
    outer: dict[str, str] | None = None  # properties of the <testsuites> around the suites
    suites = 0
    # end events only (one per case): a suite is met through its first case's parent, when its
    # attributes and the <properties> before its cases are already parsed
    for _event, el in safe_iterparse(path, events=("end",), tag=["testsuite", "testcase"]):
        if el.tag == "testcase":
            parent = el.getparent()
            if parent is not suite_el:  # a new suite (checked once, not per case)
                if parent is None or parent.tag != "testsuite":
                    raise FileRejected(str(path), f"<testcase> at line {el.sourceline} is not "
                                       "inside a <testsuite>")
                if outer is None:
                    around = parent.getparent()
                    outer = _own_props(around) if around is not None else {}
                suite, suite_el = _Suite(parent, outer), parent
            _case(el, cases, suite)  # type: ignore[arg-type]
            el.clear(keep_tail=False)
            prev = el.getprevious()
            while prev is not None and prev.tag == "testcase":
                parent.remove(prev)
                prev = el.getprevious()
        else:
            if el is not suite_el:  # a suite without cases
                suite, suite_el = _Suite(el, outer or {}), el
            for child in el:  # properties written after the cases
                if child.tag == "properties":
                    suite.props.update(_props(child))  # type: ignore[union-attr]
            _close(path, rows, suite, serial_from)  # type: ignore[arg-type]
            suites += 1
            suite = suite_el = None
            el.clear(keep_tail=False)
    if not suites:
        raise FileRejected(str(path), "holds no <testsuite>: not a JUnit report")
    cases.flush()
    return rows.finish()


def _serial(path: Path, suite: _Suite, serial_from: str | None) -> str:
    lowered = {k.lower(): v for k, v in suite.props.items()}
    if serial_from == "suite_name":
        serial: str | None = suite.name
        where = "its name"
    elif serial_from:
        name = serial_from.split(":", 1)[1]
        serial = suite.props.get(name) or lowered.get(name.lower())
        where = f"property {name!r}"
    else:
        serial = next((lowered[k] for k in SERIAL_PROPS if lowered.get(k)), None)
        where = "a property named like a serial (" + ", ".join(SERIAL_PROPS) + ")"
    if not serial or not serial.strip():
        raise FileRejected(str(path), f"the JUnit suite {suite.name!r} (line {suite.line}) gives "
                           f"no UUT serial in {where}; set serial_from (property:NAME or "
                           "suite_name) in the mapping; nothing of the file is loaded")
    return serial.strip()


def _close(path: Path, rows: ResultRows, suite: _Suite, serial_from: str | None) -> None:
    values: dict[str, object] = {"serial_number": _serial(path, suite, serial_from),
                                 "equipment_id": suite.host, "base": 0.0,
                                 "start": suite.start if suite.start is not None
                                 and suite.start.tzinfo is None else None}
    lowered = {k.lower(): v for k, v in suite.props.items()}
    for prop, column in RUN_PROPS.items():
        if lowered.get(prop) and not values.get(column):
            values[column] = lowered[prop]
    rows.scope(values)
    rows.next_scope()


def _case(el: Any, cases: _Cases, suite: _Suite) -> None:
    """One case: a tuple of :data:`_FIELDS` into the buffer (a frame every :data:`CHUNK`), a
    count (skipped) or a quarantined result (error). Called 4,000 times a MB: kept to a few
    attribute reads and no allocation beyond the tuple."""
    get = el.get
    name = get("name") or ""
    text = get("time")
    try:
        seconds = float(text) if text else 0.0
    except ValueError:
        seconds = 0.0
    stamp = get("timestamp")
    own = _time(stamp) if stamp else None
    offset: float | None = None
    if own is not None:
        when = offset_time(own, 0.0)
    elif suite.aware:
        when = offset_time(suite.start, suite.elapsed)
    else:  # plant-local suite time: the row's time is filled from the suite's start at the end
        when, offset = None, suite.elapsed
    suite.elapsed += seconds
    outcome = detail = None
    fields: dict[str, str] = {}
    for child in el:
        kind = child.tag
        if kind == "properties":
            for prop in child:
                key = prop.get("name") or ""
                column = _CASE_PROP(key) or _CASE_PROP(key.lower())
                if column is not None and prop.tag == "property":
                    value = prop.get("value")
                    fields[column] = value if value is not None else (prop.text or "")
        elif outcome is None and kind in OUTCOMES:
            outcome = kind
            detail = child.get("message") or (child.text or "").strip() or child.get("type")
    if outcome is None:
        status, result = None, "pass"
    else:
        if outcome == "skipped":
            cases.rows.skip("skipped testcase")
            return
        detail_text = f": {detail.splitlines()[0][:200]}" if detail else ""
        status, result = f"{outcome}{detail_text}", "fail"
        if outcome == "error":
            _errored(el, cases, name, status, detail_text, when, offset, fields)
            return
    f = fields.get
    buffer = cases.buffer
    buffer.append((name, get("classname"), when, f("value"), f("units"), f("low_limit"),
                   f("high_limit"), f("measurement"), f("comparison"), status, result,
                   el.sourceline, cases.rows.current, offset))
    if len(buffer) >= CHUNK:
        cases.flush()


def _errored(el: Any, cases: _Cases, name: str, status: str, detail_text: str,
             when: str | None, offset: float | None, fields: dict[str, str]) -> None:
    """A case that ended in ``<error>``: it broke down, so it is quarantined, not loaded."""
    row: dict[str, str | None] = {"test_step": name, "sequence": el.get("classname"),
                                  "tested_at": when, "status": status, **fields}
    for key in ("value", "low_limit", "high_limit"):
        row[key] = number_text(row.get(key))
    row.setdefault("measurement", "verdict")
    cases.rows.quarantine(el.sourceline, "step_error", f"JUnit testcase {name!r} ended in "
                          f"error{detail_text}; it broke down, so it is no verdict on the "
                          "unit; re-test the unit", row, offset=offset)
