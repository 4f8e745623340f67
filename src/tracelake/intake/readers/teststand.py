"""NI TestStand legacy XML reports (``<Reports><Report Type='UUT'>``) into ``test_results``.

The report is TestStand's result tree written as ``<Prop>`` elements: a header (UUT serial,
station, login, start date and time) and then one ``<Prop Type='TEResult'>`` per executed step,
sequence calls holding their steps' results in ``ResultList`` arrays (nested to any depth).
Each step's ``TS.StartTime`` is seconds on the engine's clock: a result's time is the UUT's
start plus its offset from the first (root) result. Read as a stream: each result is taken at
its end tag and freed, so memory holds one step at a time, not the report.

Verdicts: a step that measures (``Numeric``, ``PassFail``, ``String`` or a ``Measurement``
array) with status ``Passed``/``Failed`` loads as ``pass``/``fail``; ``Error``, ``Terminated``
or ``Aborted`` is quarantined (the step broke down, so its reading is no verdict on the unit);
``Done`` on a measuring step (logged, not judged) is quarantined; ``Skipped`` measured nothing.
Steps that measure nothing (statements, actions, labels, sequence calls, flow control) are
counted as skipped. A step's ``AdditionalResults`` that carry a value and limits are
measurements of that step (named by the additional result); the others (a LIN log, a text)
are counted as skipped.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import RawFrame
from tracelake.intake.readers.results import ResultRows
from tracelake.intake.readers.values import BROKEN_WORDS, number_text, verdict
from tracelake.intake.readers.xml_safe import release, safe_iterparse

__all__ = ["read_teststand"]

MEASURES = ("Numeric", "PassFail", "String", "Measurement")
#: comparison -> which TestStand limit gives (low_limit, high_limit); single comparisons use Low
LIMITS = {"GELE": ("Low", "High"), "GTLT": ("Low", "High"), "GELT": ("Low", "High"),
          "GTLE": ("Low", "High"), "GE": ("Low", None), "GT": ("Low", None),
          "LE": (None, "Low"), "LT": (None, "Low"), "EQ": ("Low", "Low")}


def _value(prop: Any) -> str | None:
    if prop is None:
        return None
    for child in prop:  # a Prop's <Value> is its first child element
        if child.tag == "Value":
            return child.text or None
    return None


def _props(element: Any) -> dict[str, Any]:
    return {c.get("Name"): c for c in element if c.tag == "Prop"}


class _Report:
    """What one ``<Report>`` says about its run, gathered as its header props go by."""

    def __init__(self) -> None:
        self.serial: str | None = None
        self.station: str | None = None
        self.operator: str | None = None
        self.date: tuple[int, int, int] | None = None
        self.time: tuple[int, int, int, int] | None = None
        self.root_start: float | None = None
        self.version: str | None = None
        self.first_start: float | None = None

    def header(self, name: str, prop: Any) -> None:
        kids = _props(prop)
        if name == "UUT":
            self.serial = _value(kids.get("SerialNumber")) or self.serial
        elif name == "SerialNumber" and not self.serial:
            self.serial = _value(prop)
        elif name == "StationInfo":
            self.station = _value(kids.get("StationID"))
            self.operator = _value(kids.get("LoginName"))
        elif name == "StartDate":
            parts = [_value(kids.get(k)) for k in ("Year", "Month", "MonthDay")]
            if all(parts):
                self.date = tuple(int(float(p)) for p in parts)  # type: ignore[assignment]
        elif name == "StartTime":
            parts = [_value(kids.get(k)) for k in ("Hours", "Minutes", "Seconds", "Milliseconds")]
            if all(p is not None for p in parts):
                self.time = tuple(int(float(p)) for p in parts)  # type: ignore[arg-type,assignment]

    def start(self) -> datetime | None:
        if self.date is None:
            return None
        h, m, s, ms = self.time or (0, 0, 0, 0)
        return datetime(*self.date, h, m, s, ms * 1000)


def read_teststand(path: Path, *, stream: bool = False) -> RawFrame:
    """Read a TestStand legacy XML report (one or more ``<Report Type='UUT'>``), streaming;
    ``stream``: hand the rows back chunk by chunk (:class:`~.results.RowChunks`)."""
    rows = ResultRows(str(path), "TestStand", stream=stream)
    try:
        return _read(path, rows)
    except (ValueError, OverflowError) as exc:  # a header date or a step time that is no number
        rows.discard()
        if isinstance(exc, FileRejected):
            raise
        raise FileRejected(str(path), f"a date, time or number in the TestStand report cannot "
                           f"be read ({str(exc).splitlines()[0][:200]}); nothing of it is "
                           "loaded") from None
    except BaseException:
        rows.discard()
        raise


def _read(path: Path, rows: ResultRows) -> RawFrame:
    report: _Report | None = None
    broken_actions: list[str] = []
    n_reports = 0
    for _event, el in safe_iterparse(path, events=("end",), tag=("Prop", "Report")):
        if el.tag == "Report":
            if report is not None:
                _close(path, rows, report)
                n_reports += 1
            report = None
            release(el)
            continue
        parent = el.getparent()
        if el.get("Type") == "TEResult":
            if report is None:
                report = _Report()
            _result(el, rows, report, broken_actions)
            if parent is not None and parent.tag == "Report":
                release(el)
            else:  # free the step and the finished steps before it in its ResultList
                el.clear(keep_tail=False)
                holder = parent.getparent() if parent is not None else None
                if holder is not None:
                    while parent.getprevious() is not None:
                        del holder[0]
            continue
        if parent is not None and parent.tag == "Report":
            if report is None:
                report = _Report()
            report.header(el.get("Name") or "", el)
            release(el)
    if n_reports == 0:
        raise FileRejected(str(path), "holds no <Report Type='UUT'> with results: not a "
                           "TestStand UUT report")
    if broken_actions:
        shown = ", ".join(broken_actions[:5]) + (" ..." if len(broken_actions) > 5 else "")
        rows.notes.append(f"{len(broken_actions)} step(s) that measure nothing ended in "
                          f"error or failure: {shown}")
    return rows.finish()


def _close(path: Path, rows: ResultRows, report: _Report) -> None:
    """At a report's end: the serial must be known; run-wide values and the clock given."""
    if not report.serial:
        raise FileRejected(str(path), "the TestStand report names no UUT serial number "
                           "(UUT.SerialNumber is empty), so its results cannot be tied to a "
                           "unit; nothing of it is loaded")
    start = report.start()
    run_id = f"{report.station or 'station'}@{start.isoformat(timespec='milliseconds')}" \
        if start else None
    base = report.root_start if report.root_start is not None else report.first_start
    rows.scope({"serial_number": report.serial, "equipment_id": report.station,
                "operator": report.operator, "software_version": report.version,
                "run_id": run_id, "start": start, "base": base})
    rows.next_scope()


def _result(el: Any, rows: ResultRows, report: _Report, broken: list[str]) -> None:
    """One step's result: rows for what it measured, or a count of what it skipped."""
    kids = _props(el)
    ts = _props(kids["TS"]) if "TS" in kids else {}
    start_text = _value(ts.get("StartTime"))
    start = float(start_text) if start_text else None
    if report.first_start is None:
        report.first_start = start
    step_type = _value(ts.get("StepType")) or ""
    name = _value(ts.get("StepName")) or ""
    status = _value(kids.get("Status")) or ""
    call = _props(ts["SequenceCall"]) if "SequenceCall" in ts else {}
    if el.getparent() is not None and el.getparent().tag == "Report":  # the root result
        report.root_start = start
        report.version = _value(call.get("SequenceFileVersion"))
    measured = [k for k in MEASURES if k in kids]
    if "AdditionalResults" in kids:
        _additional(kids["AdditionalResults"], rows, kids, ts, start)
    if not measured:
        rows.skip(step_type or "untyped step")
        if status.lower() in BROKEN_WORDS or status.lower() == "failed":
            broken.append(f"{name!r} ({status})")
        return
    common = {"test_step": name, "step_type": step_type, "status": status,
              "step_id": _value(ts.get("Id")), "sequence": None}
    word = status.strip().lower()
    if word == "skipped":
        rows.skip(f"{step_type} (status Skipped)")
        return
    error = _props(kids["Error"]) if "Error" in kids else {}
    if "Measurement" in kids:
        items = _measurements(kids["Measurement"])
    else:
        key = measured[0]
        items = [(el.sourceline, key, kids[key], kids)]
    for line, mname, value_prop, holder in items:
        comp = _value(holder.get("Comp"))
        limits = _props(holder["Limits"]) if "Limits" in holder else {}
        low_key, high_key = LIMITS.get((comp or "").upper(), (None, None))
        raw_value = _value(value_prop)
        row = {**common, "measurement": mname,
               "value": number_text(raw_value) if mname != "PassFail" else raw_value,
               "units": _value(holder.get("Units")), "comparison": comp,
               "low_limit": number_text(_value(limits.get(low_key))) if low_key else None,
               "high_limit": number_text(_value(limits.get(high_key))) if high_key else None,
               "limits": _limit_text(limits)}
        own = _value(holder.get("Status")) if holder is not kids else None
        result = verdict(own or status)
        if word in BROKEN_WORDS or _value(error.get("Occurred")) == "True":
            code, msg = _value(error.get("Code")), _value(error.get("Msg"))
            detail = f" (error {code}: {msg})" if (code and code != "0") or msg else ""
            rows.quarantine(line, "step_error",
                            f"TestStand step {name!r} ended {status or 'in error'}{detail}: the "
                            "step broke down, so its reading is no verdict on the unit; "
                            "re-test the unit", row, offset=start)
        elif result is None:
            why = ("it was only logged (comparison LOG), not judged against limits"
                   if (comp or "").upper() == "LOG" else "it gave no pass/fail verdict")
            rows.quarantine(line, "no_verdict",
                            f"TestStand step {name!r} has status {status!r}: {why}", row,
                            offset=start)
        else:
            row["result"] = result
            rows.add(line, row, offset=start)


def _additional(prop: Any, rows: ResultRows, kids: dict[str, Any], ts: dict[str, Any],
                start: float | None) -> None:
    """A step's ``AdditionalResults``: each one that carries a value and limits is a
    measurement (its own ``Status``, else judged by its comparison); the rest (logs, texts,
    bare values no limit judges) measured nothing and are counted as skipped."""
    name = _value(ts.get("StepName")) or ""
    status = _value(kids.get("Status")) or ""
    error = _props(kids["Error"]) if "Error" in kids else {}
    broken = status.strip().lower() in BROKEN_WORDS or _value(error.get("Occurred")) == "True"
    for value in prop.iterchildren("Value"):
        for item in value.iterchildren("Prop"):
            fields = _props(item)
            data = next((fields[k] for k in ("Data", "Value", "Numeric", "Measurement")
                         if k in fields), None)
            limits = _props(fields["Limits"]) if "Limits" in fields else {}
            raw_value = _value(data)
            if raw_value is None or not any(_value(v) is not None for v in limits.values()):
                rows.skip("additional result without value and limits")
                continue
            comp = (_value(fields.get("Comp")) or "").upper()
            low_key, high_key = LIMITS.get(comp) or ("Low" if "Low" in limits else None,
                                                      "High" if "High" in limits else None)
            low = number_text(_value(limits.get(low_key))) if low_key else None
            high = number_text(_value(limits.get(high_key))) if high_key else None
            own = _value(fields.get("Status"))
            row = {"test_step": name, "measurement": item.get("Name") or "AdditionalResult",
                   "value": number_text(raw_value), "units": _value(fields.get("Units")),
                   "low_limit": low, "high_limit": high, "comparison": comp or None,
                   "limits": _limit_text(limits), "status": own or status,
                   "step_type": f"{_value(ts.get('StepType')) or ''} (additional result)",
                   "step_id": _value(ts.get("Id")), "sequence": None}
            result = verdict(own) if own else _judged(row["value"], low, high, comp)
            if broken:
                rows.quarantine(item.sourceline, "step_error",
                                f"TestStand step {name!r} ended {status or 'in error'}: the "
                                "step broke down, so its additional result is no verdict on "
                                "the unit; re-test the unit", row, offset=start)
            elif result is None:
                rows.quarantine(item.sourceline, "no_verdict",
                                f"TestStand additional result {row['measurement']!r} of step "
                                f"{name!r} has no status and its value cannot be judged "
                                "against its limits", row, offset=start)
            else:
                row["result"] = result
                rows.add(item.sourceline, row, offset=start)


def _judged(value: str | None, low: str | None, high: str | None, comp: str) -> str | None:
    """pass/fail of a value against its limits by a TestStand comparison (GELE when none)."""
    try:
        x = float(value)  # type: ignore[arg-type]
        lo = float(low) if low is not None else None
        hi = float(high) if high is not None else None
    except (TypeError, ValueError):
        return None
    strict_low, strict_high = comp in ("GT", "GTLT", "GTLE"), comp in ("LT", "GTLT", "GELT")
    if comp == "EQ":
        return "pass" if x == lo else "fail"
    ok = (lo is None or (x > lo if strict_low else x >= lo)) and \
         (hi is None or (x < hi if strict_high else x <= hi))
    return "pass" if ok else "fail"


def _measurements(prop: Any) -> list[tuple[int, str, Any, dict[str, Any]]]:
    """The measurements of a multiple-numeric-limit step: (line, name, value prop, fields)."""
    out = []
    for value in prop.iterchildren("Value"):
        for obj in value.iterchildren("Prop"):
            fields = _props(obj)
            name = obj.get("Name") or f"Measurement{value.get('ID') or ''}"
            out.append((obj.sourceline, name, fields.get("Data"), fields))
    return out


def _limit_text(limits: dict[str, Any]) -> str | None:
    parts = [f"{k}={_value(v)}" for k, v in limits.items() if _value(v) is not None]
    return "; ".join(parts) or None
