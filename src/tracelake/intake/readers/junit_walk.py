"""The walk over a JUnit / xUnit XML file: cases, suites and their verdicts as plain Python values.

What :mod:`.junit` reads (see there for what a case becomes), without polars or anything of
the lake: the walk hands what it finds to a :class:`Sink` (buffered cases as tuples of
:data:`FIELDS`; suites ended, skips and errored cases as they come), and :mod:`.junit` turns
them into rows. Kept to lxml and the standard library so that it can run in a process of its
own (``python -m tracelake.intake.readers.junit_walk FILE [SERIAL_FROM [CHUNK]]``, ~35 MB):
a 200 MB file is then walked on one core while the ingest types, checks and writes the rows
already walked on the other. That process writes its events to stdout as ``marshal``ed
batches, each preceded by its length (8 bytes, little-endian): plain values only, never code.

Read as a stream (``junitparser`` loads the whole tree and builds an object per element, so it
is not used for reading): a case is a few attribute reads and one tuple, freed at once.
"""

from __future__ import annotations

import marshal
import struct
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from tracelake.errors import FileRejected
from tracelake.intake.readers.values import number_text, offset_time
from tracelake.intake.readers.xml_safe import safe_iterparse

__all__ = ["FIELDS", "Sink", "walk"]

SERIAL_PROPS = ("serial_number", "serialnumber", "serial", "sn", "dut_id", "uut_serial")
CASE_PROPS = {"value": "value", "measured_value": "value", "units": "units", "unit": "units",
              "low_limit": "low_limit", "lower_limit": "low_limit", "low": "low_limit",
              "high_limit": "high_limit", "upper_limit": "high_limit", "high": "high_limit",
              "measurement": "measurement", "comparison": "comparison"}
_CASE_PROP = CASE_PROPS.get
#: cases handed to the sink at a time
CHUNK = 20_000
OUTCOMES = ("failure", "error", "skipped")
#: one buffered case: these, in this order (value and limits as written; ``_row`` the case's
#: line, ``_scope`` its suite, ``_offset`` its time on the suite's clock when it has no time)
FIELDS = ("test_step", "sequence", "tested_at", "value", "units", "low_limit", "high_limit",
          "measurement", "comparison", "status", "result", "_row", "_scope", "_offset")
RUN_PROPS = {"operator": "operator", "operator_id": "operator", "user": "operator",
             "station": "equipment_id", "station_id": "equipment_id",
             "equipment_id": "equipment_id", "software_version": "software_version",
             "version": "software_version", "run_id": "run_id"}


class Sink(Protocol):
    """Where the walk puts what it finds (:class:`~.results.ResultRows` behind an adapter)."""

    def cases(self, buffer: list[tuple[Any, ...]]) -> None: ...  # pragma: no cover

    def skip(self, kind: str) -> None: ...  # pragma: no cover

    def quarantine(self, row: int, rule: str, message: str, values: dict[str, str | None],
                   offset: float | None) -> None: ...  # pragma: no cover

    def scope(self, values: dict[str, object]) -> None: ...  # pragma: no cover

    def next_scope(self) -> None: ...  # pragma: no cover


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


class _Walk:
    def __init__(self, path: Path, sink: Sink, serial_from: str | None,
                 chunk: int = CHUNK) -> None:
        self.path, self.sink, self.serial_from, self.chunk = path, sink, serial_from, chunk
        self.buffer: list[tuple[Any, ...]] = []
        self.current = 0  # the suite (scope) being read

    def flush(self) -> None:
        if self.buffer:
            buffer, self.buffer = self.buffer, []
            self.sink.cases(buffer)

    def run(self) -> None:
        path = self.path
        suite: _Suite | None = None
        suite_el: Any = None
        outer: dict[str, str] | None = None  # properties of the <testsuites> around the suites
        suites = 0
        # end events only (one per case): a suite is met through its first case's parent,
        # when its attributes and the <properties> before its cases are already parsed
        for _event, el in safe_iterparse(path, events=("end",), tag=["testsuite", "testcase"]):
            if el.tag == "testcase":
                parent = el.getparent()
                if parent is not suite_el:  # a new suite (checked once, not per case)
                    if parent is None or parent.tag != "testsuite":
                        raise FileRejected(str(path), f"<testcase> at line {el.sourceline} is "
                                           "not inside a <testsuite>")
                    if outer is None:
                        around = parent.getparent()
                        outer = _own_props(around) if around is not None else {}
                    suite, suite_el = _Suite(parent, outer), parent
                self.case(el, suite)  # type: ignore[arg-type]
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
                self.close(suite)  # type: ignore[arg-type]
                suites += 1
                suite = suite_el = None
                el.clear(keep_tail=False)
        if not suites:
            raise FileRejected(str(path), "holds no <testsuite>: not a JUnit report")
        self.flush()

    def serial(self, suite: _Suite) -> str:
        lowered = {k.lower(): v for k, v in suite.props.items()}
        serial_from = self.serial_from
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
            raise FileRejected(str(self.path), f"the JUnit suite {suite.name!r} (line "
                               f"{suite.line}) gives no UUT serial in {where}; set serial_from "
                               "(property:NAME or suite_name) in the mapping; nothing of the "
                               "file is loaded")
        return serial.strip()

    def close(self, suite: _Suite) -> None:
        values: dict[str, object] = {"serial_number": self.serial(suite),
                                     "equipment_id": suite.host, "base": 0.0,
                                     "start": suite.start if suite.start is not None
                                     and suite.start.tzinfo is None else None}
        lowered = {k.lower(): v for k, v in suite.props.items()}
        for prop, column in RUN_PROPS.items():
            if lowered.get(prop) and not values.get(column):
                values[column] = lowered[prop]
        self.sink.scope(values)
        self.sink.next_scope()
        self.current += 1

    def case(self, el: Any, suite: _Suite) -> None:
        """One case: a tuple of :data:`FIELDS` into the buffer (handed on every
        :data:`CHUNK`), a count (skipped) or a quarantined result (error). Called 4,000 times a
        MB: kept to a few attribute reads and no allocation beyond the tuple."""
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
        else:  # plant-local suite time: the row's time is filled from the suite's start later
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
                self.sink.skip("skipped testcase")
                return
            detail_text = f": {detail.splitlines()[0][:200]}" if detail else ""
            status, result = f"{outcome}{detail_text}", "fail"
            if outcome == "error":
                self.errored(el, name, status, detail_text, when, offset, fields)
                return
        f = fields.get
        buffer = self.buffer
        buffer.append((name, get("classname"), when, f("value"), f("units"), f("low_limit"),
                       f("high_limit"), f("measurement"), f("comparison"), status, result,
                       el.sourceline, self.current, offset))
        if len(buffer) >= self.chunk:
            self.flush()

    def errored(self, el: Any, name: str, status: str, detail_text: str, when: str | None,
                offset: float | None, fields: dict[str, str]) -> None:
        """A case that ended in ``<error>``: it broke down, so it is quarantined, not loaded."""
        row: dict[str, str | None] = {"test_step": name, "sequence": el.get("classname"),
                                      "tested_at": when, "status": status, **fields}
        for key in ("value", "low_limit", "high_limit"):
            row[key] = number_text(row.get(key))
        row.setdefault("measurement", "verdict")
        self.sink.quarantine(el.sourceline, "step_error", f"JUnit testcase {name!r} ended in "
                             f"error{detail_text}; it broke down, so it is no verdict on the "
                             "unit; re-test the unit", row, offset)


def walk(path: Path, sink: Sink, serial_from: str | None = None, *, chunk: int = CHUNK) -> None:
    """Walk a JUnit/xUnit file, handing what it holds to ``sink`` in document order.

    Raises:
        FileRejected: the file is no JUnit report, is broken or unsafe XML, or a suite gives
            no serial (``serial_from`` as the mapping says: ``property:NAME``, ``suite_name``).
    """
    _Walk(path, sink, serial_from, chunk).run()


# -- the walk in a process of its own ---------------------------------------------------------

class _Recorder:
    """A sink that writes events to a binary stream in batches (one per buffer of cases)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.events: list[tuple[Any, ...]] = []

    def send(self) -> None:
        data = marshal.dumps(self.events)
        self.events = []
        self.out.write(struct.pack("<Q", len(data)))
        self.out.write(data)
        self.out.flush()

    def cases(self, buffer: list[tuple[Any, ...]]) -> None:
        self.events.append(("cases", buffer))
        self.send()

    def skip(self, kind: str) -> None:
        self.events.append(("skip", kind))

    def quarantine(self, row: int, rule: str, message: str, values: dict[str, str | None],
                   offset: float | None) -> None:
        self.events.append(("quarantine", row, rule, message, values, offset))

    def scope(self, values: dict[str, object]) -> None:
        start = values.get("start")
        values = {**values, "start": start.isoformat() if isinstance(start, datetime) else None}
        self.events.append(("scope", values))

    def next_scope(self) -> None:
        self.events.append(("next",))


def replay(events: list[tuple[Any, ...]], sink: Sink) -> tuple[Any, ...] | None:
    """Apply one batch of a walking process's events to ``sink``; the last event, ``("end",)``
    or ``("rejected", reason)``, when the batch holds it, else None."""
    for event in events:
        kind = event[0]
        if kind == "cases":
            sink.cases(event[1])
        elif kind == "scope":
            values = dict(event[1])
            start = values.get("start")
            values["start"] = datetime.fromisoformat(start) if start else None
            sink.scope(values)
        elif kind == "next":
            sink.next_scope()
        elif kind == "skip":
            sink.skip(event[1])
        elif kind == "quarantine":
            sink.quarantine(*event[1:])
        else:
            return event
    return None


def main(argv: list[str]) -> int:
    """The walking process (arguments: FILE [SERIAL_FROM [CHUNK]]): events on stdout; a
    rejection is an event too (exit 0)."""
    path = Path(argv[0])
    serial_from = argv[1] if len(argv) > 1 and argv[1] else None
    chunk = int(argv[2]) if len(argv) > 2 else CHUNK
    recorder = _Recorder(sys.stdout.buffer)
    try:
        walk(path, recorder, serial_from, chunk=chunk)
    except FileRejected as exc:
        recorder.events.append(("rejected", exc.reason))
    else:
        recorder.events.append(("end",))
    recorder.send()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process by .junit
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # the ingest stopped reading (it failed or was interrupted)
        sys.exit(1)
