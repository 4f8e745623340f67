"""Rows of ``test_results`` as a report reader gathers them: columns of text, then a RawFrame.

Report readers stream a file and call :meth:`ResultRows.add` for every measurement and
:meth:`ResultRows.quarantine` for a result that cannot stand (an errored step); values that the
report gives once for the whole run (serial, station, operator, software version, run id) are
filled in by :meth:`ResultRows.finish`, since some formats write them after the results.
Columns the contract does not know (``step_type``, ``comparison``, ``status``, ``sequence``,
``step_id``) ride along and are kept in ``_extra``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta

import polars as pl

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import PROBLEM_SCHEMA, ROW, RawFrame, no_problems

__all__ = ["COLUMNS", "ResultRows", "number_text", "offset_time", "verdict"]

#: Columns a report reader fills: the contract's, then what the report says beside them.
COLUMNS = ("serial_number", "equipment_id", "test_step", "measurement", "value", "units",
           "low_limit", "high_limit", "result", "tested_at", "operator", "software_version",
           "run_id", "comparison", "limits", "status", "step_type", "sequence", "step_id")
RUN_FIELDS = ("serial_number", "equipment_id", "operator", "software_version", "run_id")

#: TestStand / ATML / OpenHTF / JUnit verdicts -> the contract's result
PASS_WORDS = {"passed", "pass", "ok", "true"}
FAIL_WORDS = {"failed", "fail", "false"}
#: verdicts that say the step broke down: its reading is no verdict on the unit
BROKEN_WORDS = {"error", "terminated", "aborted", "timeout", "running", "notstarted"}


def verdict(status: str | None) -> str | None:
    """``pass`` / ``fail`` for a passing or failing status; None for anything else."""
    word = (status or "").strip().lower().replace(" ", "")
    if word in PASS_WORDS:
        return "pass"
    if word in FAIL_WORDS:
        return "fail"
    return None


def number_text(raw: str | None) -> str | None:
    """A report's number as the contract reads it: hex (``0x1A``) as decimal, others as written."""
    if raw is None:
        return None
    text = raw.strip()
    if text[:2].lower() == "0x":
        try:
            return str(int(text, 16))
        except ValueError:
            return text
    return text


def offset_time(start: datetime | None, seconds: float | None) -> str | None:
    """An ISO time ``seconds`` after ``start`` (plant-local when ``start`` has no offset)."""
    if start is None:
        return None
    if seconds is None or math.isnan(seconds):
        return start.isoformat(timespec="milliseconds")
    return (start + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


class ResultRows:
    """test_results rows gathered column by column (small in memory, one dict per row avoided)."""

    def __init__(self, path: str, report_format: str) -> None:
        self.path = path
        self.report_format = report_format
        self.cols: dict[str, list[str | None]] = {c: [] for c in COLUMNS}
        self.rows: list[int] = []
        self.problems: list[dict[str, object]] = []
        self.skipped: Counter[str] = Counter()
        self.notes: list[str] = []

    def add(self, row: int, **values: str | None) -> None:
        """One measurement; ``row`` is its element's line (or ordinal) in the report."""
        unknown = set(values) - set(self.cols)
        if unknown:  # pragma: no cover - a reader bug
            raise KeyError(f"no report column(s) {sorted(unknown)}")
        for name, column in self.cols.items():
            column.append(values.get(name))
        self.rows.append(row)

    def quarantine(self, row: int, rule: str, message: str, column: str | None = None,
                   **values: str | None) -> None:
        """A result kept out of the lake, with its reason and what the report said."""
        raw = {k: v for k, v in values.items() if v is not None}
        self.problems.append({ROW: row, "column": column, "rule": rule, "message": message,
                              "raw": raw})

    def fill(self, start: int, problem_start: int, values: dict[str, str | None]) -> None:
        """Fill run-wide values into rows (and quarantined results) from the given positions on,
        where they have none: for reports that name the unit or station after the results."""
        for name, value in values.items():
            if value is None or name not in self.cols:
                continue
            column = self.cols[name]
            for i in range(start, len(column)):
                if column[i] is None:
                    column[i] = value
        for p in self.problems[problem_start:]:
            raw = p["raw"]
            for name, value in values.items():
                if value is not None and not raw.get(name):  # type: ignore[attr-defined]
                    raw[name] = value  # type: ignore[index]

    def skip(self, kind: str, n: int = 1) -> None:
        """Count a step that measures nothing (an action, a label, flow control)."""
        self.skipped[kind] += n

    def finish(self, run: dict[str, str | None], *, serial_required: bool = True) -> RawFrame:
        """The RawFrame: run-wide values filled where a row has none; a report naming no serial
        is rejected whole."""
        if serial_required and not run.get("serial_number") and \
                not any(self.cols["serial_number"]):
            raise FileRejected(self.path, f"the {self.report_format} report names no UUT serial "
                               "number, so its results cannot be tied to a unit; nothing of it "
                               "is loaded")
        if len(set(self.rows)) != len(self.rows):  # several results on one line: number them
            self.rows = list(range(1, len(self.rows) + 1))
            self.notes.append("rows are numbered by result order (the report puts several "
                              "results on one line)")
        frame = pl.DataFrame({**self.cols, ROW: self.rows},
                             schema={**{c: pl.String for c in COLUMNS}, ROW: pl.Int64})
        fills = [pl.col(c).fill_null(pl.lit(run[c], dtype=pl.String)) for c in RUN_FIELDS
                 if run.get(c)]
        if fills:
            frame = frame.with_columns(fills)
        frame = frame.select([c for c in frame.columns if frame[c].null_count() < frame.height
                              or c in COLUMNS[:13] or c == ROW])
        problems = no_problems()
        if self.problems:
            filled = []
            for p in self.problems:
                raw = dict(p["raw"])  # type: ignore[call-overload]
                for c in RUN_FIELDS:
                    if run.get(c) and not raw.get(c):
                        raw[c] = run[c]
                filled.append({**p, "raw": json.dumps(raw, ensure_ascii=False)})
            problems = pl.DataFrame(filled, schema=PROBLEM_SCHEMA)
        notes = list(self.notes)
        total = sum(self.skipped.values())
        if total:
            kinds = ", ".join(f"{n} {k}" for k, n in self.skipped.most_common())
            notes.append(f"{total} step(s) that measure nothing skipped ({kinds})")
        notes.append(f"read as a test-executive report ({self.report_format})")
        return RawFrame(frame, problems, notes=notes, skipped=total,
                        report_format=self.report_format)
