"""Calibration impact (ISO 13485 7.6): when equipment is found out of tolerance, which earlier
results are suspect, and which units, jobs and customers they concern.

A calibration whose ``as_found`` is ``out_of_tolerance`` makes suspect every result taken with
the equipment since it was last known good: the latest earlier calibration that left it in
tolerance (``as_left``), or found it so where nothing was adjusted. With no such calibration,
every earlier result is suspect. Results taken while the equipment was overdue for calibration,
or with equipment that has no calibration record at all, are listed too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb

__all__ = ["CalibrationImpact", "calibration_impact", "calibration_status_at_use"]

_GOOD = ("(p.as_left = 'in_tolerance' OR (p.as_left = 'not_applicable' "
         "AND p.as_found = 'in_tolerance'))")


@dataclass
class CalibrationImpact:
    """The answer of ``tracelake impact calibration``."""

    equipment_id: str
    windows: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    overdue_results: list[dict[str, Any]] = field(default_factory=list)
    uncalibrated_results: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """Counts of suspect results, units, jobs and customers."""
        customers = Counter(u["customer"] for u in self.units if u["customer"])
        return {"results": len(self.results), "units": len(self.units),
                "jobs": len({u["job_id"] for u in self.units if u["job_id"]}),
                "customers": len(customers), "by_customer": dict(customers.most_common()),
                "operations": len(self.operations),
                "overdue_results": len(self.overdue_results),
                "uncalibrated_results": len(self.uncalibrated_results)}

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document (plus operations and the overdue/uncalibrated lists)."""
        out = {"equipment_id": self.equipment_id, "windows": self.windows,
               "results": self.results, "units": self.units, "summary": self.summary,
               "operations": self.operations, "overdue_results": self.overdue_results,
               "uncalibrated_results": self.uncalibrated_results}
        if self.message:
            out["message"] = self.message
        return out


def calibration_impact(con: duckdb.DuckDBPyConnection, equipment_id: str) -> CalibrationImpact:
    """Every suspect result of one piece of equipment, and what it concerns."""
    answer = CalibrationImpact(equipment_id)
    known = con.execute("SELECT count(*) FROM equipment WHERE equipment_id = ?",
                        [equipment_id]).fetchone()[0]  # type: ignore[index]
    calibrations = con.execute("SELECT count(*) FROM calibrations WHERE equipment_id = ?",
                               [equipment_id]).fetchone()[0]  # type: ignore[index]
    windows = con.execute(f"""
        SELECT (SELECT max(p.calibrated_at) FROM calibrations p
                WHERE p.equipment_id = c.equipment_id AND p.calibrated_at < c.calibrated_at
                  AND {_GOOD}) AS from_at,
               c.calibrated_at AS to_at, c.certificate_no
        FROM calibrations c
        WHERE c.equipment_id = ? AND c.as_found = 'out_of_tolerance'
        ORDER BY c.calibrated_at""", [equipment_id]).fetchall()
    answer.windows = [{"from": f, "to": t, "certificate_no": cert} for f, t, cert in windows]
    if windows:
        bounds = " OR ".join("(tested_at >= coalesce(?::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ) "
                             "AND tested_at < ?::TIMESTAMPTZ)" for _ in windows)
        params: list[Any] = [equipment_id]
        for f, t, _ in windows:
            params += [f, t]
        answer.results = _records(con, f"""
            SELECT serial_number, test_step, measurement, tested_at, value, units, low_limit,
                   high_limit, result, run_id
            FROM test_results WHERE equipment_id = ? AND ({bounds})
            ORDER BY tested_at, serial_number, test_step, measurement""", params)
        answer.operations = _records(con, f"""
            SELECT job_id, op_seq, op_code, serial_number, started_at, operator
            FROM operations WHERE equipment_id = ? AND
                 ({bounds.replace('tested_at', 'started_at')})
            ORDER BY started_at, job_id, op_seq""", params)
        answer.units = _units_of(con, sorted({r["serial_number"] for r in answer.results}
                                             | {o["serial_number"] for o in answer.operations
                                                if o["serial_number"]}))
    status = calibration_status_at_use(con, equipment_id)
    answer.overdue_results = [r for r in status if r["calibration_status"] == "overdue"]
    answer.uncalibrated_results = [r for r in status if r["calibration_status"] == "none"]
    if not known and not calibrations:
        answer.message = f"no equipment {equipment_id} in the lake"
    elif not windows:
        answer.message = (f"{equipment_id} has never been found out of tolerance"
                          if calibrations else f"{equipment_id} has no calibration record")
    return answer


def calibration_status_at_use(con: duckdb.DuckDBPyConnection,
                              equipment_id: str | None = None) -> list[dict[str, Any]]:
    """Results taken with equipment that was overdue, or never calibrated, at the time of test.

    Each row names the calibration in force (the latest one before the test) and its due date;
    ``calibration_status`` is ``overdue`` or ``none``. Results within a calibration's validity
    are not listed.
    """
    where = "WHERE r.equipment_id = ?" if equipment_id else ""
    return _records(con, f"""
        SELECT r.equipment_id, r.serial_number, r.test_step, r.measurement, r.tested_at,
               c.certificate_no, c.calibrated_at, c.due_at,
               CASE WHEN c.calibrated_at IS NULL THEN 'none' ELSE 'overdue' END
                   AS calibration_status
        FROM test_results r
        ASOF LEFT JOIN calibrations c
          ON c.equipment_id = r.equipment_id AND r.tested_at >= c.calibrated_at
        {where}
        {"AND" if where else "WHERE"} (c.calibrated_at IS NULL OR r.tested_at > c.due_at)
        ORDER BY r.equipment_id, r.tested_at, r.serial_number""",
                    [equipment_id] if equipment_id else [])


def _units_of(con: duckdb.DuckDBPyConnection, serials: list[str]) -> list[dict[str, Any]]:
    """The measured units and the top-level units holding them, with where they are now."""
    if not serials:
        return []
    return _records(con, """
        WITH measured AS (
            SELECT k.node_id, k.serial_number FROM genealogy.serial_keys k
            WHERE k.serial_number IN (SELECT unnest(?::VARCHAR[]))
        ), holders AS (
            SELECT m.serial_number AS measured, m.node_id FROM measured m
            UNION ALL
            SELECT m.serial_number, c.des FROM measured m
            JOIN genealogy.closure_by_anc c ON c.anc = m.node_id
        )
        SELECT u.serial_number, u.job_id, u.status, u.customer, u.order_ref, u.shipped_at,
               u.product_code, list(DISTINCT h.measured ORDER BY h.measured) AS measured_serials,
               bool_or(h.measured = u.serial_number) AS measured_directly
        FROM holders h JOIN genealogy.unit_info u ON u.node_id = h.node_id
        WHERE u.top OR h.measured = u.serial_number
        GROUP BY ALL ORDER BY u.serial_number""", [serials])


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]  # type: ignore[union-attr]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
