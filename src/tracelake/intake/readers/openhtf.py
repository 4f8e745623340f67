"""OpenHTF JSON test records (``openhtf.output.callbacks.json_factory``) into ``test_results``.

A record holds ``dut_id`` (the serial), ``station_id``, ``start_time_millis`` and ``phases``;
each phase holds ``measurements`` (a map of name to ``{name, outcome, measured_value, units,
validators}``, or a list of them) with its own ``start_time_millis``. One row per measurement
(per coordinate of a dimensioned measurement, named ``name[coordinates]``); limits come from
the validators' text (``1.0 <= x <= 2.0``, ``x >= 1``, ``x <= 2``), kept as written beside them.
Measurement outcome ``PASS``/``FAIL`` gives the verdict; a phase that ended in ``ERROR`` is
quarantined (it broke down); an ``UNSET`` measurement, a skipped phase and a phase without
measurements measured nothing and are counted as skipped. Rows are numbered by measurement in
document order. Operator: ``metadata.operator`` (or ``operator_name``, ``user``) if present.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import RawFrame
from tracelake.intake.readers.json_records import json_refusal
from tracelake.intake.readers.results import ResultRows, verdict

__all__ = ["read_openhtf"]

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
RANGE = re.compile(rf"^\s*{_NUM}\s*(<=|<)\s*x\s*(<=|<)\s*{_NUM}\s*$")
LOWER = re.compile(rf"^\s*x\s*(>=|>)\s*{_NUM}\s*$")
UPPER = re.compile(rf"^\s*x\s*(<=|<)\s*{_NUM}\s*$")
EQUAL = re.compile(rf"^\s*'?x'?\s*(?:==|is equal to)\s*'?{_NUM}'?\s*$")


def _millis(value: object) -> str | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="milliseconds")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _units(units: object) -> str | None:
    if isinstance(units, dict):
        return _text(units.get("suffix") or units.get("name") or units.get("code"))
    return _text(units)


def _limits(validators: object) -> tuple[str | None, str | None, str | None]:
    """(low, high, validators as written) from OpenHTF validator text."""
    if not isinstance(validators, list):
        return None, None, None
    low = high = None
    for text in map(str, validators):
        if m := RANGE.match(text):
            low, high = m.group(1), m.group(4)
        elif m := LOWER.match(text):
            low = m.group(2)
        elif m := UPPER.match(text):
            high = m.group(2)
        elif m := EQUAL.match(text):
            low = high = m.group(1)
    return low, high, "; ".join(map(str, validators)) or None


def read_openhtf(path: Path, *, stream: bool = False) -> RawFrame:
    """Read one OpenHTF JSON test record."""
    try:
        record = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FileRejected(str(path), f"is not valid JSON ({exc})") from None
    except (RecursionError, ValueError) as exc:
        raise FileRejected(str(path), json_refusal(exc)) from None
    if not isinstance(record, dict) or not isinstance(record.get("phases"), list):
        raise FileRejected(str(path), "is not an OpenHTF test record (no 'phases' list)")
    serial = _text(record.get("dut_id"))
    if not serial or not serial.strip():
        raise FileRejected(str(path), "the OpenHTF record names no dut_id (the unit's serial), "
                           "so its results cannot be tied to a unit; nothing of it is loaded")
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    station = _text(record.get("station_id"))
    start = _millis(record.get("start_time_millis"))
    rows = ResultRows(str(path), "OpenHTF", stream=stream)
    ordinal = 0
    for phase in record["phases"]:
        if not isinstance(phase, dict):
            continue
        measurements = phase.get("measurements") or {}
        items = list(measurements.values()) if isinstance(measurements, dict) else \
            list(measurements)
        phase_outcome = str(phase.get("outcome") or "").upper()
        if not items or phase_outcome == "SKIP":
            rows.skip("phase without measurements" if not items else "skipped phase")
            continue
        for m in items:
            if not isinstance(m, dict):
                continue
            for name, value in _values(m):
                ordinal += 1
                low, high, written = _limits(m.get("validators"))
                row = {"test_step": _text(phase.get("name")) or "", "measurement": name,
                       "value": value, "units": _units(m.get("units")), "low_limit": low,
                       "high_limit": high, "limits": written,
                       "tested_at": _millis(phase.get("start_time_millis")) or start,
                       "status": _text(m.get("outcome")), "step_type": "phase",
                       "step_id": _text(phase.get("descriptor_id"))}
                outcome = str(m.get("outcome") or "").upper()
                if phase_outcome == "ERROR":
                    rows.quarantine(ordinal, "step_error", f"OpenHTF phase {row['test_step']!r} "
                                    "ended in ERROR: it broke down, so its measurements are no "
                                    "verdict on the unit; re-test the unit", row)
                elif outcome == "UNSET":
                    ordinal -= 1
                    rows.skip("unset measurement")
                elif verdict(outcome) is None:
                    rows.quarantine(ordinal, "no_verdict", f"OpenHTF measurement {name!r} has "
                                    f"outcome {outcome or 'none'!r}: no pass/fail verdict", row)
                else:
                    row["result"] = verdict(outcome)
                    rows.add(ordinal, row)
    run = {"serial_number": serial.strip(), "equipment_id": station,
           "operator": _text(meta.get("operator") or meta.get("operator_name")
                             or meta.get("user")),
           "software_version": _text(meta.get("test_version") or meta.get("version")),
           "run_id": f"{station or 'station'}@{start}" if start else None}
    rows.scope(run)
    return rows.finish()


def _values(m: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(measurement name, value) pairs: one, or one per coordinate of a dimensioned measurement."""
    name = str(m.get("name") or "")
    value = m.get("measured_value")
    if m.get("dimensions") and isinstance(value, list):
        out = []
        for entry in value:
            if isinstance(entry, list) and entry:
                coords = ",".join(str(c) for c in entry[:-1])
                out.append((f"{name}[{coords}]", _text(entry[-1])))
        return out or [(name, None)]
    return [(name, _text(value))]
