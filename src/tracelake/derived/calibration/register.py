"""The calibration register as it stands: each piece of equipment's last calibration, when it is next
due, whether it is due, overdue or was never calibrated, and the out-of-tolerance events.

The impact of an out-of-tolerance event (suspect results, units, customers) is
:func:`tracelake.derived.calibration.impact.calibration_impact`; :func:`impact_tables` lays its
answer out as tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import polars as pl

from tracelake.derived.calibration.impact import CalibrationImpact
from tracelake.derived.calibration.status import overdue_sql

__all__ = ["STATUSES", "calibration_history", "equipment_status", "impact_tables", "oot_events"]

#: Calibration status of a piece of equipment, worst first.
STATUSES = ("overdue", "out_of_tolerance", "never", "due", "ok", "not_required")


def equipment_status(con: duckdb.DuckDBPyConnection, as_of: dt.datetime | None = None,
                     due_within_days: int = 30) -> pl.DataFrame:
    """Every piece of equipment known to the lake (registered, calibrated or used) with its status.

    ``status`` on ``as_of`` (default now): ``never`` (no calibration record), ``out_of_tolerance``
    (the last calibration left it out of tolerance), ``overdue`` (past its due date), ``due``
    (due within ``due_within_days``), else ``ok``; equipment that needs no calibration
    (``calibration_required`` false) is ``not_required``, never overdue. ``in_service`` is the
    equipment's own status (active, inactive, out_for_repair, scrapped, missing). Worst first.
    """
    as_of = as_of or dt.datetime.now(dt.UTC)
    return con.execute(f"""
        WITH ids AS (
            SELECT equipment_id FROM equipment UNION SELECT equipment_id FROM calibrations
            UNION SELECT DISTINCT equipment_id FROM test_results
            UNION SELECT DISTINCT equipment_id FROM operations WHERE equipment_id IS NOT NULL
        ), last AS (
            SELECT equipment_id, arg_max(calibrated_at, calibrated_at) AS last_calibrated_at,
                   arg_max(due_at, calibrated_at) AS due_at,
                   arg_max(certificate_no, calibrated_at) AS certificate_no,
                   arg_max(as_found, calibrated_at) AS as_found,
                   arg_max(as_left, calibrated_at) AS as_left,
                   arg_max(lab, calibrated_at) AS lab,
                   count(*) AS calibrations,
                   count(*) FILTER (WHERE as_found = 'out_of_tolerance') AS oot_events
            FROM calibrations WHERE calibrated_at <= $as_of GROUP BY ALL
        ), used AS (
            SELECT equipment_id, max(used_at) AS last_used_at FROM (
                SELECT equipment_id, tested_at AS used_at FROM test_results
                UNION ALL SELECT equipment_id, started_at FROM operations
                WHERE equipment_id IS NOT NULL) GROUP BY ALL
        )
        SELECT * FROM (
        SELECT i.equipment_id, e.description, e.kind, e.location,
               CASE WHEN NOT coalesce(e.calibration_required, true) THEN 'not_required'
                    WHEN l.last_calibrated_at IS NULL THEN 'never'
                    WHEN l.as_left = 'out_of_tolerance' THEN 'out_of_tolerance'
                    WHEN {overdue_sql("$as_of", "l.due_at", "l.last_calibrated_at")}
                         THEN 'overdue'
                    WHEN l.due_at < $as_of + to_days($days) THEN 'due'
                    ELSE 'ok' END AS status,
               l.last_calibrated_at, l.certificate_no, l.as_found, l.as_left, l.due_at,
               date_diff('day', $as_of, l.due_at) AS days_to_due,
               coalesce(l.calibrations, 0) AS calibrations,
               coalesce(l.oot_events, 0) AS oot_events, u.last_used_at, l.lab,
               e.equipment_id IS NOT NULL AS registered,
               coalesce(e.status, 'active') AS in_service
        FROM ids i LEFT JOIN equipment e USING (equipment_id)
        LEFT JOIN last l USING (equipment_id) LEFT JOIN used u USING (equipment_id))
        ORDER BY list_position($statuses, status), equipment_id""",
                       {"as_of": as_of, "days": due_within_days, "statuses": list(STATUSES)}).pl()


def oot_events(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Calibrations that found equipment out of tolerance, newest first."""
    return con.sql("""
        SELECT c.equipment_id, e.description, c.calibrated_at, c.certificate_no, c.as_found,
               c.as_left, c.calibrated_by, c.lab
        FROM calibrations c LEFT JOIN equipment e USING (equipment_id)
        WHERE c.as_found = 'out_of_tolerance'
        ORDER BY c.calibrated_at DESC, c.equipment_id""").pl()


def calibration_history(con: duckdb.DuckDBPyConnection,
                        equipment_id: str | None = None) -> pl.DataFrame:
    """Every calibration of one piece of equipment (of all if None), newest first."""
    return con.execute("""
        SELECT equipment_id, calibrated_at, due_at, certificate_no, as_found, as_left,
               calibrated_by, lab, _source_file AS source_file, _row AS source_row
        FROM calibrations WHERE ?::VARCHAR IS NULL OR equipment_id = ?::VARCHAR
        ORDER BY calibrated_at DESC, equipment_id""", [equipment_id, equipment_id]).pl()


_RESULT_SCHEMA = {"serial_number": pl.String, "test_step": pl.String, "measurement": pl.String,
                  "tested_at": pl.Datetime("us", "UTC"), "value": pl.Float64, "units": pl.String,
                  "low_limit": pl.Float64, "high_limit": pl.Float64, "result": pl.String,
                  "run_id": pl.String}
_UNIT_SCHEMA = {"serial_number": pl.String, "product_code": pl.String, "job_id": pl.String,
                "status": pl.String, "customer": pl.String, "order_ref": pl.String,
                "shipped_at": pl.Datetime("us", "UTC"), "measured_serials": pl.List(pl.String),
                "measured_directly": pl.Boolean}
_WINDOW_SCHEMA = {"from": pl.Datetime("us", "UTC"), "to": pl.Datetime("us", "UTC"),
                  "certificate_no": pl.String, "kind": pl.String}


def impact_tables(answer: CalibrationImpact) -> dict[str, Any]:
    """The impact of an out-of-tolerance finding as tables: windows, results, units, customers."""
    units = pl.DataFrame(answer.units, schema=_UNIT_SCHEMA) if answer.units else \
        pl.DataFrame(schema=_UNIT_SCHEMA)
    customers = (units.filter(pl.col("customer").is_not_null())
                 .group_by("customer").agg(pl.len().cast(pl.Int64).alias("units"),
                                           pl.col("order_ref").unique().sort().alias("orders"))
                 .sort(["units", "customer"], descending=[True, False]))
    results = pl.DataFrame([{k: r.get(k) for k in _RESULT_SCHEMA} for r in answer.results],
                           schema=_RESULT_SCHEMA)
    return {"windows": pl.DataFrame(answer.windows, schema=_WINDOW_SCHEMA),
            "results": results, "units": units, "customers": customers,
            "summary": answer.summary, "message": answer.message}
