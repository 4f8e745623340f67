"""Synthetic test-executive reports in the layouts real executives write, for tests and benchmarks.

NI TestStand legacy XML (``<Reports><Report Type='UUT'>`` with ``<Prop>`` trees), IEEE 1636.1 ATML
TestResults, OpenHTF JSON records and JUnit XML. Small reports are built from :class:`Step`
lists; :func:`write_big_teststand` and :func:`write_big_junit` stream reports of a given size
(the readers benchmark) without holding them in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "Step",
    "atml_report",
    "junit_report",
    "legacy_report",
    "openhtf_record",
    "write_big_junit",
    "write_big_teststand",
]


@dataclass
class Step:
    """One step of a sequence. ``kind``: numeric, passfail, string, multi, action, call, label."""

    name: str
    kind: str = "numeric"
    status: str = "Passed"
    value: str | None = None
    units: str | None = None
    low: str | None = None
    high: str | None = None
    comp: str = "GELE"
    measurements: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    children: list[Step] = field(default_factory=list)  # a sequence call's steps
    offset: float = 0.0  # seconds after the root step started
    error: tuple[int, str] | None = None
    #: AdditionalResults: (name, value, units, low, high, comp, status); with no limits the
    #: item is written as a bare String prop (a log), as TestStand writes a LIN log
    additional: list[tuple[str, str, str | None, str | None, str | None, str | None,
                           str | None]] = field(default_factory=list)


# ---------------------------------------------------------------- TestStand legacy XML

def _prop(name: str, ptype: str, value: str | None, flags: str = "0x0") -> str:
    return (f"<Prop Name='{name}' Type='{ptype}' Flags='{flags}'>\n"
            f"<Value>{escape(value or '')}</Value>\n</Prop>\n")


def _ts_result(step: Step, engine_start: float, index: int, ident: int) -> Iterator[str]:
    """One ``<Prop Type='TEResult'>``, children's results before the TS props as TestStand does."""
    yield "<Prop Type='TEResult' Flags='0x0'>\n"
    code, msg = step.error or (0, "")
    yield ("<Prop Name='Error' Type='Obj' TypeName='Error' Flags='0x400000'>\n"
           + _prop("Code", "Number", str(code)) + _prop("Msg", "String", msg)
           + _prop("Occurred", "Boolean", "True" if step.error else "False") + "</Prop>\n")
    yield _prop("Status", "String", step.status, "0x400000")
    if step.kind == "numeric":
        yield _prop("Numeric", "Number", step.value)
        if step.units:
            yield _prop("Units", "String", step.units)
        yield ("<Prop Name='Limits' Type='Obj' Flags='0x3000'>\n" + _prop("Low", "Number", step.low)
               + _prop("High", "Number", step.high) + "</Prop>\n")
        yield _prop("Comp", "String", step.comp)
    elif step.kind == "passfail":
        yield _prop("PassFail", "Boolean", step.value)
    elif step.kind == "string":
        yield _prop("String", "String", step.value)
        yield ("<Prop Name='Limits' Type='Obj' Flags='0x3000'>\n"
               + _prop("String", "String", step.low) + "</Prop>\n")
        yield _prop("Comp", "String", step.comp)
    elif step.kind == "multi":
        n = len(step.measurements)
        yield (f"<Prop Name='Measurement' Type='Array' LBound='[0]' HBound='[{n - 1}]' "
               "ElementType='Obj' Flags='0x0'>\n")
        for i, (name, value, units, low, high, status) in enumerate(step.measurements):
            yield (f"<Value ID='[{i}]'>\n<Prop Name='{name}' Type='Obj' "
                   "TypeName='NI_LimitMeasurement' Flags='0x0'>\n"
                   + _prop("Data", "Number", value) + _prop("Units", "String", units)
                   + "<Prop Name='Limits' Type='Obj' Flags='0x0'>\n" + _prop("Low", "Number", low)
                   + _prop("High", "Number", high) + "</Prop>\n" + _prop("Comp", "String", "GELE")
                   + _prop("Status", "String", status) + "</Prop>\n</Value>\n")
        yield "</Prop>\n"
    yield _prop("ReportText", "String", "", "0x400000")
    if step.additional:
        yield from _additional_results(step.additional)
    yield "<Prop Name='TS' Type='Obj' Flags='0x0'>\n"
    if step.kind == "call":
        n = len(step.children)
        yield ("<Prop Name='SequenceCall' Type='Obj' Flags='0x0'>\n"
               f"<Prop Name='ResultList' Type='Array' LBound='[0]' HBound='[{n - 1}]' "
               "ElementType='Obj' Flags='0x0'>\n<ArrayElementPrototype Type='TEResult' "
               "Flags='0x0'>\n</ArrayElementPrototype>\n")
        for i, child in enumerate(step.children):
            yield f"<Value ID='[{i}]'>\n"
            yield from _ts_result(child, engine_start, i, ident * 100 + i)
            yield "</Value>\n"
        yield ("</Prop>\n" + _prop("SequenceFile", "String", "C:\\Tests\\Board.seq")
               + _prop("SequenceFileVersion", "String", "2.4.1.0")
               + _prop("Sequence", "String", step.name) + _prop("Status", "String", step.status)
               + "</Prop>\n")
    step_type = {"numeric": "NumericLimitTest", "passfail": "PassFailTest",
                 "string": "StringValueTest", "multi": "NI_MultipleNumericLimitTest",
                 "action": "Action", "call": "SequenceCall", "label": "Label"}[step.kind]
    yield (_prop("StartTime", "Number", f"{engine_start + step.offset:.7f}")
           + _prop("TotalTime", "Number", "0.0123") + _prop("Index", "Number", str(index))
           + _prop("StepName", "String", step.name) + _prop("StepGroup", "String", "Main")
           + _prop("StepId", "String", f"ID#:{ident:022d}") + _prop("Id", "Number", str(ident))
           + _prop("StepType", "String", step_type) + "</Prop>\n</Prop>\n")


def _additional_results(items: list[tuple[str, str, str | None, str | None, str | None,
                                          str | None, str | None]]) -> Iterator[str]:
    yield (f"<Prop Name='AdditionalResults' Type='Array' LBound='[0]' HBound='[{len(items) - 1}]' "
           "ElementType='Obj' Flags='0x0'>\n")
    for i, (name, value, units, low, high, comp, status) in enumerate(items):
        yield f"<Value ID='[{i}]'>\n"
        if low is None and high is None:
            yield _prop(name, "String", value, "0x2000")
        else:
            limits = "".join(_prop(k, "Number", v) for k, v in (("Low", low), ("High", high))
                             if v is not None)
            yield (f"<Prop Name='{name}' Type='Obj' Flags='0x0'>\n" + _prop("Data", "Number", value)
                   + (_prop("Units", "String", units) if units else "")
                   + "<Prop Name='Limits' Type='Obj' Flags='0x0'>\n" + limits + "</Prop>\n"
                   + (_prop("Comp", "String", comp) if comp else "")
                   + (_prop("Status", "String", status) if status else "") + "</Prop>\n")
        yield "</Value>\n"
    yield "</Prop>\n"


def _ts_header(serial: str, station: str, login: str, start: datetime, steps: int) -> str:
    uut = ("<Prop Name='UUT' Type='Obj' TypeName='UUT' Flags='0x0'>\n"
           + _prop("SerialNumber", "String", serial) + _prop("UUTLoopIndex", "Number", "0")
           + _prop("BatchSerialNumber", "String", "") + _prop("PartNumber", "String", "")
           + "</Prop>\n")
    time = ("<Prop Name='StartTime' Type='Obj' TypeName='TimeDetails' Flags='0x4'>\n"
            + _prop("Text", "String", start.strftime("%I:%M:%S %p"))
            + _prop("Hours", "Number", str(start.hour))
            + _prop("Minutes", "Number", str(start.minute))
            + _prop("Seconds", "Number", str(start.second))
            + _prop("Milliseconds", "Number", str(start.microsecond // 1000)) + "</Prop>\n")
    date = ("<Prop Name='StartDate' Type='Obj' TypeName='DateDetails' Flags='0x4'>\n"
            + _prop("ShortText", "String", start.strftime("%m/%d/%Y"))
            + _prop("Year", "Number", str(start.year)) + _prop("Month", "Number", str(start.month))
            + _prop("MonthDay", "Number", str(start.day)) + "</Prop>\n")
    info = ("<Prop Name='StationInfo' Type='Obj' TypeName='NI_StationInfo' Flags='0x0'>\n"
            + _prop("StationID", "String", station) + _prop("LoginName", "String", login)
            + "</Prop>\n")
    return (f"<Report Type='UUT' Title='UUT Report' UUTResult='Passed' StepCount='{steps}'>\n"
            + uut + time + date + info)


def legacy_report(serial: str, steps: list[Step], *, station: str = "RIG-7",
                     login: str = "jsmith", start: datetime = datetime(2026, 11, 25, 9, 30, 5),
                     engine_start: float = 19897.25) -> bytes:
    """A TestStand legacy XML report (ISO-8859-1, as TestStand writes it) of one UUT."""
    root = Step("MainSequence Callback", "call", children=steps)
    body = "".join(_ts_result(root, engine_start, 0, 1))
    text = ("<?xml version=\"1.0\" encoding=\"iso-8859-1\" ?><?xml-stylesheet type=\"text/xsl\" "
            "href=\"C:\\Program Files\\NI\\report.xsl\"?>\n<Reports>\n"
            + _ts_header(serial, station, login, start, len(steps)) + body
            + "</Report>\n</Reports>\n")
    return text.encode("iso-8859-1")


def write_big_teststand(path: Path, target_bytes: int, *, serial: str = "SN-BIG-0001") -> int:
    """Stream a TestStand legacy report of about ``target_bytes``: a flat main sequence of
    numeric, pass/fail and action steps, with one nested sequence call every 50 steps.
    Returns the number of measuring steps written."""
    start = datetime(2026, 11, 25, 8, 0, 0)
    with path.open("w", encoding="iso-8859-1") as fh:
        fh.write("<?xml version=\"1.0\" encoding=\"iso-8859-1\" ?>\n<Reports>\n")
        fh.write(_ts_header(serial, "RIG-BENCH", "bench", start, 0))
        fh.write("<Prop Type='TEResult' Flags='0x0'>\n" + _prop("Status", "String", "Passed")
                 + "<Prop Name='TS' Type='Obj' Flags='0x0'>\n<Prop Name='SequenceCall' "
                 "Type='Obj' Flags='0x0'>\n<Prop Name='ResultList' Type='Array' "
                 "ElementType='Obj' Flags='0x0'>\n")
        measuring = i = 0
        while fh.tell() < target_bytes:
            step = _bench_step(i)
            measuring += _measuring(step)
            fh.write(f"<Value ID='[{i}]'>\n")
            for part in _ts_result(step, 1000.0, i, 10_000 + i):
                fh.write(part)
            fh.write("</Value>\n")
            i += 1
        fh.write("</Prop>\n" + _prop("SequenceFileVersion", "String", "1.0.0.0") + "</Prop>\n"
                 + _prop("StartTime", "Number", "1000.0") + _prop("StepName", "String", "Main")
                 + _prop("StepType", "String", "SequenceCall") + "</Prop>\n</Prop>\n"
                 "</Report>\n</Reports>\n")
    return measuring


def _bench_step(i: int) -> Step:
    t = i * 0.05
    if i % 50 == 49:
        return Step(f"Sub {i}", "call", offset=t, children=[
            Step(f"Rail {i}.{k}", value=f"{3.3 + k / 100:.3f}", units="V", low="3.1",
                 high="3.5", offset=t + k * 0.001) for k in range(3)])
    if i % 5 == 4:
        return Step(f"Set relay {i}", "action", status="Done", offset=t)
    if i % 5 == 3:
        return Step(f"Self test {i}", "passfail", value="True", offset=t)
    return Step(f"Current {i}", value=f"{0.120 + (i % 7) / 1000:.4f}", units="A", low="0.1",
                high="0.2", offset=t)


def _measuring(step: Step) -> int:
    if step.kind == "call":
        return sum(_measuring(c) for c in step.children)
    return 0 if step.kind in ("action", "label") else 1


# ---------------------------------------------------------------- ATML TestResults

ATML_NS = ('xmlns:trc="urn:IEEE-1636.1:2011:01:TestResultsCollection" '
           'xmlns:tr="urn:IEEE-1636.1:2011:01:TestResults" xmlns:c="urn:IEEE-1671:2010:Common" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           'xmlns:ts="www.ni.com/TestStand/ATMLTestResults/2.0"')


def _atml_props(step_type: str) -> str:
    return ("<tr:Extension><ts:TSStepProperties><ts:StepType>" + step_type
            + "</ts:StepType></ts:TSStepProperties></tr:Extension>\n")


def _atml_step(step: Step, start: datetime, ident: int) -> str:
    when = (start.timestamp() + step.offset)
    stamp = datetime.fromtimestamp(when).isoformat(timespec="milliseconds")
    attrs = f'ID="{ident}" name={quoteattr(step.name)} startDateTime="{stamp}"'
    if step.kind in ("action", "label"):
        return (f"<tr:SessionAction {attrs}>\n{_atml_props('Action')}"
                f'<tr:ActionOutcome value="Done"/>\n</tr:SessionAction>\n')
    if step.kind == "call":
        inner = "".join(_atml_step(c, start, ident * 100 + i) for i, c in enumerate(step.children))
        return (f"<tr:TestGroup {attrs}>\n{_atml_props('SequenceCall')}"
                f'<tr:Outcome value="{step.status}"/>\n{inner}</tr:TestGroup>\n')
    outcome = (f'<tr:Outcome value="UserDefined" qualifier="{step.status}"/>'
               if step.status in ("Skipped", "Terminated") else
               f'<tr:Outcome value="{step.status}"/>')
    unit = f' nonStandardUnit="{step.units}"' if step.units else ""
    if step.kind == "numeric":
        dtype = "ts:TS_hexadecimal" if (step.value or "").startswith("0x") else "ts:TS_double"
        data = f'<c:Datum value="{step.value}" xsi:type="{dtype}"{unit}/>'
        limits = ('<tr:TestLimits><tr:Limits><c:LimitPair operator="AND">'
                  f'<c:Limit comparator="GE"><c:Datum value="{step.low}" xsi:type="ts:TS_double"/>'
                  f'</c:Limit><c:Limit comparator="LE"><c:Datum value="{step.high}" '
                  'xsi:type="ts:TS_double"/></c:Limit></c:LimitPair></tr:Limits></tr:TestLimits>')
        name = "Numeric"
    elif step.kind == "passfail":
        data = f'<c:Datum value="{step.value}" xsi:type="ts:TS_boolean"/>'
        limits, name = "", "PassFail"
    else:
        data = (f'<c:Datum xsi:type="ts:TS_string"><c:Value>{escape(step.value or "")}'
                "</c:Value></c:Datum>")
        limits = ('<tr:TestLimits><tr:Limits><c:Expected comparator="EQ"><c:Datum '
                  f'xsi:type="ts:TS_string"><c:Value>{escape(step.low or "")}</c:Value>'
                  "</c:Datum></c:Expected></tr:Limits></tr:TestLimits>")
        name = "String"
    return (f"<tr:Test {attrs}>\n{_atml_props(step.kind)}{outcome}\n"
            f'<tr:TestResult ID="tr-{ident}" name="{name}">\n<tr:TestData>{data}</tr:TestData>\n'
            f"{limits}\n</tr:TestResult>\n</tr:Test>\n")


def atml_report(serial: str | None, steps: list[Step], *, station: str = "EOL-2",
                operator: str = "mjones", start: datetime = datetime(2026, 11, 25, 14, 0, 0),
                uuid: str = "5f1c2d3e-0000-4000-8000-000000000001") -> bytes:
    """An ATML 5 TestResultsCollection as TestStand 2019 writes it (UUT after the results)."""
    body = "".join(_atml_step(s, start, 100 + i) for i, s in enumerate(steps))
    uut = (f"<tr:UUT><c:SerialNumber>{escape(serial)}</c:SerialNumber></tr:UUT>\n"
           if serial is not None else "")
    text = (f'<?xml version="1.0" encoding="utf-8" ?>\n<trc:TestResultsCollection {ATML_NS}>\n'
            f'<trc:TestResults uuid="{uuid}">\n<tr:Personnel><tr:SystemOperator ID="{operator}" '
            f'name="{operator}"/></tr:Personnel>\n<tr:ResultSet ID="1" name="Main.seq#MainSequence" '
            f'startDateTime="{start.isoformat()}">\n<tr:Outcome value="Passed"/>\n{body}'
            "</tr:ResultSet>\n<tr:TestStation><c:SerialNumber>" + escape(station)
            + "</c:SerialNumber></tr:TestStation>\n" + uut
            + "</trc:TestResults>\n</trc:TestResultsCollection>\n")
    return text.encode("utf-8")


# ---------------------------------------------------------------- OpenHTF JSON

def openhtf_record(dut_id: str | None, phases: list[dict[str, object]], *,
                   station: str = "htf-station-1", start_ms: int = 1_795_600_000_000,
                   metadata: dict[str, object] | None = None) -> dict[str, object]:
    """An OpenHTF test record as ``json_factory`` writes it (``TestRecord.as_base_types``)."""
    return {"dut_id": dut_id, "station_id": station, "start_time_millis": start_ms,
            "end_time_millis": start_ms + 60_000, "outcome": "PASS", "outcome_details": [],
            "code_info": {"name": "board_test.py", "docstring": None, "sourcecode": ""},
            "metadata": {"test_name": "board_test", "config": {}, **(metadata or {})},
            "phases": phases, "diagnoses": [], "log_records": []}


# ---------------------------------------------------------------- JUnit XML

def junit_report(suites: list[dict[str, object]]) -> bytes:
    """JUnit XML: ``suites`` of ``{name, timestamp, hostname, properties, cases}``; a case is
    ``{name, classname, time, failure, error, skipped, properties}``."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="rig run">\n']
    for suite in suites:
        out.append(_junit_suite(suite))
    out.append("</testsuites>\n")
    return "".join(out).encode("utf-8")


def _junit_props(props: object) -> str:
    if not props:
        return ""
    items = "".join(f"<property name={quoteattr(str(k))} value={quoteattr(str(v))}/>"
                    for k, v in dict(props).items())  # type: ignore[call-overload]
    return f"<properties>{items}</properties>\n"


def _junit_case(case: dict[str, object]) -> str:
    inner = _junit_props(case.get("properties"))
    for kind in ("failure", "error", "skipped"):
        if case.get(kind) is not None:
            inner += f"<{kind} message={quoteattr(str(case[kind]))}/>\n"
    return (f"<testcase name={quoteattr(str(case['name']))} "
            f"classname={quoteattr(str(case.get('classname', 'rig.tests')))} "
            f"time=\"{case.get('time', 0.5)}\">\n{inner}</testcase>\n")


def _junit_suite(suite: dict[str, object]) -> str:
    cases = list(suite.get("cases", []))  # type: ignore[call-overload]
    fails = sum(1 for c in cases if c.get("failure") is not None)
    return (f"<testsuite name={quoteattr(str(suite['name']))} tests=\"{len(cases)}\" "
            f"failures=\"{fails}\" timestamp=\"{suite.get('timestamp', '2026-11-25T10:00:00')}\" "
            f"hostname={quoteattr(str(suite.get('hostname', 'rig-3')))}>\n"
            + _junit_props(suite.get("properties")) + "".join(_junit_case(c) for c in cases)
            + "</testsuite>\n")


def write_big_junit(path: Path, target_bytes: int) -> int:
    """Stream a JUnit file of about ``target_bytes``: suites of 200 cases, one per serial.
    Returns the number of test cases written."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bench">\n')
        s = 0
        while fh.tell() < target_bytes:
            cases = [{"name": f"rail_{k}", "classname": "board.power", "time": 0.012,
                      "properties": {"value": f"{3.3 + (k % 9) / 100:.2f}", "units": "V",
                                     "low_limit": "3.1", "high_limit": "3.5"},
                      "failure": "out of limits" if k % 97 == 0 else None}
                     for k in range(200)]
            fh.write(_junit_suite({"name": f"board-{s}", "hostname": "rig-bench",
                                   "timestamp": "2026-11-25T10:00:00",
                                   "properties": {"serial_number": f"SN-{s:07d}",
                                                  "operator": "bench"},
                                   "cases": cases}))
            n += len(cases)
            s += 1
        fh.write("</testsuites>\n")
    return n


def dump_json(record: dict[str, object], fh: IO[str]) -> None:
    """Write a record as OpenHTF's json_factory does (indented)."""
    json.dump(record, fh, indent=2, sort_keys=True)
