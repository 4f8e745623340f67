"""IEEE 1636.1 ATML ``TestResults`` (as NI TestStand writes them) into ``test_results``.

Every ``TestResult`` element is one row: its ``Test`` (or ``TestGroup``) names the step and gives
the time (``startDateTime``) and the verdict (``Outcome``); the ``TestResult`` names the
measurement and holds the value (``TestData/Datum``, or a ``Collection`` / ``IndexedArray``, kept
as JSON text), its unit (``nonStandardUnit`` / ``standardUnit``) and its limits (``LimitPair``,
``SingleLimit``, ``Expected``). The unit's serial (``UUT/SerialNumber``), the station
(``TestStation/SerialNumber``), the operator (``Personnel/SystemOperator``) and the run id (the
``TestResults`` uuid) are filled into every row; ATML writes the unit and station after the
results, so rows are completed at the end of each ``TestResults``. ``SessionAction`` steps and
steps or sequence calls without a ``TestResult`` measure nothing and are counted as skipped.
Read as a stream: each step is taken at its end tag and freed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import RawFrame
from tracelake.intake.readers.results import ResultRows
from tracelake.intake.readers.values import BROKEN_WORDS, number_text, verdict
from tracelake.intake.readers.xml_safe import local, release, safe_iterparse

__all__ = ["read_atml"]

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
STEPS = {"Test", "TestGroup", "SessionAction"}
TAGS = [f"{{*}}{t}" for t in ("TestResults", "SystemOperator", "Test", "TestGroup",
                                "SessionAction", "ResultSet", "TestStation", "UUT",
                                "TestProgram")]
#: comparators of a limit pair -> (is low bound, is high bound)
LOW = {"GE", "GT"}
HIGH = {"LE", "LT"}


def _child(element: Any, name: str) -> Any:
    for c in element:
        if local(c.tag) == name:
            return c
    return None


def _text(element: Any) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


class _Run:
    def __init__(self) -> None:
        self.serial: str | None = None
        self.station: str | None = None
        self.operator: str | None = None
        self.run_id: str | None = None


def read_atml(path: Path, *, stream: bool = False) -> RawFrame:
    """Read an ATML TestResults (or TestResultsCollection) document, streaming; ``stream``:
    hand the rows back chunk by chunk (:class:`~.results.RowChunks`)."""
    rows = ResultRows(str(path), "ATML", stream=stream)
    try:
        return _read(path, rows)
    except BaseException:
        rows.discard()
        raise


def _read(path: Path, rows: ResultRows) -> RawFrame:
    run: _Run | None = None
    closed = 0
    for event, el in safe_iterparse(path, events=("start", "end"), tag=TAGS):
        name = local(el.tag)
        if event == "start":
            if name == "TestResults":
                run = _Run()
                run.run_id = el.get("uuid")
            continue
        if run is None:  # a TestResults element must hold everything else
            run = _Run()
        if name == "SystemOperator":
            run.operator = el.get("ID") or el.get("name")
        elif name in ("Test", "TestGroup", "ResultSet"):
            _step(el, rows)
            if name != "ResultSet":
                _free(el)
        elif name == "SessionAction":
            rows.skip("SessionAction")
            _free(el)
        elif name == "TestStation":
            run.station = _text(_child(el, "SerialNumber"))
            release(el)
        elif name == "UUT":
            run.serial = _text(_child(el, "SerialNumber"))
            release(el)
        elif name == "TestProgram":
            release(el)
        elif name == "TestResults":
            if not run.serial:
                raise FileRejected(str(path), "the ATML report names no UUT serial number "
                                   "(UUT/SerialNumber is missing or empty), so its results "
                                   "cannot be tied to a unit; nothing of it is loaded")
            rows.scope({"serial_number": run.serial, "equipment_id": run.station,
                        "operator": run.operator, "run_id": run.run_id})
            rows.next_scope()
            closed += 1
            run = None
            release(el)
    if not closed:
        raise FileRejected(str(path), "holds no ATML <TestResults>: not a test report")
    return rows.finish()


def _free(el: Any) -> None:
    """Clear a step already read, and drop the steps read before it beside it."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is None:
        return
    prev = el.getprevious()
    while prev is not None and local(prev.tag) in STEPS:
        before = prev.getprevious()
        parent.remove(prev)
        prev = before


def _step(el: Any, rows: ResultRows) -> None:
    """Rows for the TestResults directly under one Test, TestGroup or ResultSet."""
    results = [c for c in el if local(c.tag) == "TestResult"]
    step_type = _text(_path(el, "Extension", "TSStepProperties", "StepType"))
    kind = local(el.tag)
    outcome = _child(el, "Outcome")
    status = outcome.get("value") if outcome is not None else None
    qualifier = outcome.get("qualifier") if outcome is not None else None
    word = (qualifier or status or "").strip().lower() if (status or "").lower() in \
        ("userdefined", "") else (status or "").strip().lower()
    if not results:
        if kind != "ResultSet":
            rows.skip(step_type or kind)
        return
    if word == "skipped":
        rows.skip(f"{step_type or kind} (outcome Skipped)", len(results))
        return
    step = el.get("name") or ""
    for tr in results:
        own = _child(tr, "Outcome") if _child(tr, "Outcome") is not None else \
            _child(tr, "TestOutcome")
        own_status = own.get("value") if own is not None else None
        value, units, _dtype = _data(_child(tr, "TestData"))
        low, high, comparison, limits = _limits(_child(tr, "TestLimits"))
        row = {"test_step": step, "measurement": tr.get("name") or tr.get("ID") or "",
               "value": value, "units": units, "low_limit": low, "high_limit": high,
               "comparison": comparison, "limits": limits, "tested_at": el.get("startDateTime"),
               "status": own_status or (qualifier or status), "step_type": step_type or kind,
               "step_id": el.get("ID"), "sequence": None}
        verdict_word = (own_status or "").lower() or word
        result = verdict(verdict_word)
        line = tr.sourceline
        if verdict_word in BROKEN_WORDS:
            rows.quarantine(line, "step_error", f"ATML step {step!r} ended {own_status or status}"
                            f"{' (' + qualifier + ')' if qualifier else ''}: the step broke "
                            "down, so its reading is no verdict on the unit; re-test the unit",
                            row)
        elif result is None:
            rows.quarantine(line, "no_verdict", f"ATML step {step!r} has outcome "
                            f"{own_status or status!r}: it gave no pass/fail verdict", row)
        else:
            row["result"] = result
            rows.add(line, row)


def _path(el: Any, *names: str) -> Any:
    for name in names:
        if el is None:
            return None
        el = _child(el, name)
    return el


def _datum_value(datum: Any) -> str | None:
    value = datum.get("value")
    if value is None:
        value = _text(_child(datum, "Value"))
    return value


def _data(test_data: Any) -> tuple[str | None, str | None, str | None]:
    """(value as text, units, ATML data type) of a TestResult's TestData."""
    if test_data is None or not len(test_data):
        return None, None, None
    node = test_data[0]
    kind = local(node.tag)
    dtype = node.get(XSI_TYPE)
    units = node.get("nonStandardUnit") or node.get("standardUnit")
    if kind == "Datum":
        value = _datum_value(node)
        return (value if dtype and "string" in dtype.lower() else number_text(value)), units, dtype
    return json.dumps(_structured(node), ensure_ascii=False), units, dtype


def _structured(node: Any) -> object:
    """A Collection as an object of its items, an IndexedArray as a list (values as written)."""
    kind = local(node.tag)
    if kind == "Datum":
        return _datum_value(node)
    if kind == "Collection":
        out: dict[str, object] = {}
        for item in node:
            if local(item.tag) == "Item" and len(item):
                out[item.get("name") or str(len(out))] = _structured(item[0])
        return out
    if kind == "IndexedArray":
        return [e.get("value") if e.get("value") is not None else _text(e) for e in node
                if local(e.tag) == "Element"]
    return _text(node)


def _limits(test_limits: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(low_limit, high_limit, comparison, limits as written) of a TestResult's TestLimits."""
    limits = _child(test_limits, "Limits") if test_limits is not None else None
    if limits is None:
        return None, None, None, None
    low = high = None
    comps: list[str] = []
    written: list[str] = []
    for node in limits:
        kind = local(node.tag)
        if kind == "LimitPair":
            for limit in node:
                if local(limit.tag) != "Limit":
                    continue
                comp = (limit.get("comparator") or "").upper()
                datum = _child(limit, "Datum")
                value = number_text(_datum_value(datum)) if datum is not None else None
                comps.append(comp)
                written.append(f"{comp} {value}")
                if comp in LOW and node.get("operator", "AND").upper() == "AND":
                    low = value
                elif comp in HIGH and node.get("operator", "AND").upper() == "AND":
                    high = value
        elif kind in ("SingleLimit", "Expected"):
            comp = (node.get("comparator") or "").upper()
            datum = _child(node, "Datum")
            value = _datum_value(datum) if datum is not None else None
            comps.append(comp)
            written.append(f"{comp} {value if value is not None else ''}".strip())
            numeric = datum is not None and "string" not in (datum.get(XSI_TYPE) or "").lower()
            if numeric:
                value = number_text(value)
                if comp in LOW:
                    low = value
                elif comp in HIGH:
                    high = value
                elif comp == "EQ":
                    low = high = value
    return low, high, "".join(comps) or None, "; ".join(written) or None
