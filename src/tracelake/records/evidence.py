"""The evidence behind batch and device records, read from the lake for a job or one serial.

Each function returns JSON-ready rows (lists of dicts, timestamps as UTC datetimes) for either a
whole job (``job_id``) or one unit (``serial``), so a BMR of 500 units costs one query per
section, not one per unit.
"""

from __future__ import annotations

from typing import Any

import duckdb

from tracelake.derived.calibration.status import status_sql

__all__ = ["Scope", "calibration_at_use", "firmware", "labels", "ncrs", "operations",
           "rows", "shipments", "signoffs", "test_results", "unit_components", "units"]


class Scope:
    """A job or one serial: the WHERE clause on ``units`` and its parameters."""

    def __init__(self, *, job_id: str | None = None, serial: str | None = None) -> None:
        if (job_id is None) == (serial is None):
            raise ValueError("a scope is a job or a serial")
        self.job_id = job_id
        self.serial = serial

    def units_where(self, alias: str = "u") -> str:
        """SQL condition selecting the scope's units."""
        return (f"{alias}.job_id = $key" if self.job_id is not None
                else f"{alias}.serial_number = $key")

    @property
    def params(self) -> dict[str, Any]:
        """Query parameters for ``$key``."""
        return {"key": self.job_id if self.job_id is not None else self.serial}


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | list[Any] | None = None
         ) -> list[dict[str, Any]]:
    """A query's rows as dicts (lineage columns dropped except ``_source_file`` and ``_row``)."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]  # type: ignore[union-attr]
    keep = [i for i, n in enumerate(names)
            if not n.startswith("_") or n in ("_source_file", "_row")]
    return [{names[i]: r[i] for i in keep} for r in cur.fetchall()]


def units(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """The scope's units, in serial order."""
    return rows(con, f"SELECT u.* FROM units u WHERE {scope.units_where()} "
                     "ORDER BY u.serial_number", scope.params)


def operations(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Operations carried out: the unit's own and the batch-level steps of its job, with the MBR
    step's description and acceptance criteria; in time order."""
    if scope.job_id is not None:
        where, params = "o.job_id = $key", scope.params
    else:
        where = ("(o.serial_number = $key OR (o.serial_number IS NULL AND o.job_id = "
                 "(SELECT job_id FROM units WHERE serial_number = $key)))")
        params = scope.params
    return rows(con, f"""
        SELECT o.*, m.description, m.acceptance_criteria, m.first_article,
               m.needs_calibrated_equipment, o.serial_number IS NULL AS batch_step,
               row_number() OVER (PARTITION BY o.job_id, o.op_seq, o.serial_number
                                  ORDER BY o.started_at) AS attempt
        FROM operations o JOIN jobs j USING (job_id)
        LEFT JOIN mbr_operations m ON m.product_code = j.product_code
             AND m.mbr_revision = j.mbr_revision AND m.op_seq = o.op_seq
        WHERE {where}
        ORDER BY o.started_at, o.op_seq, o.serial_number""", params)


def test_results(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Test and inspection results with limits, attempt, the calibration in force at the time and
    the calibration status at use (:mod:`tracelake.derived.calibration.status`)."""
    scoped = f"""(SELECT r.*, u.job_id,
               CASE WHEN r.value IS NULL OR (r.low_limit IS NULL AND r.high_limit IS NULL) THEN NULL
                    ELSE coalesce(r.value >= r.low_limit, true) AND coalesce(r.value <= r.high_limit, true)
               END AS within_limits
        FROM test_results r JOIN units u USING (serial_number)
        WHERE {scope.units_where()})"""
    return rows(con, f"""SELECT * FROM ({status_sql(con, scoped)})
                         ORDER BY serial_number, tested_at, test_step, measurement""", scope.params)


def calibration_at_use(con: duckdb.DuckDBPyConnection, scope: Scope, *,
                       per_unit: bool = False) -> list[dict[str, Any]]:
    """Each piece of equipment used on the scope, one row per calibration in force and status at
    use (:mod:`tracelake.derived.calibration.status`): first and last use, how many uses and
    units, the certificate and due date, and for a suspect window the certificate that found the
    equipment out of tolerance (``found_oot_by``, ``found_oot_at``) and where the window opens
    (``suspect_from``). ``per_unit`` splits the rows by unit (``serial_number``), so a batch
    record gets every unit page's equipment from one query."""
    op_where = "o.job_id = $key" if scope.job_id is not None else "o.serial_number = $key"
    uses = f"""(
            SELECT r.equipment_id, r.tested_at AS used_at, 'test' AS how, r.serial_number
            FROM test_results r JOIN units u USING (serial_number) WHERE {scope.units_where()}
            UNION ALL
            SELECT o.equipment_id, o.started_at, 'operation', o.serial_number
            FROM operations o WHERE {op_where} AND o.equipment_id IS NOT NULL)"""
    unit = "st.serial_number," if per_unit else ""
    return rows(con, f"""
        WITH st AS ({status_sql(con, uses, at="used_at")})
        SELECT {unit} st.equipment_id, e.description, e.kind,
               min(used_at) AS first_use, max(used_at) AS last_use, count(*) AS uses,
               count(DISTINCT st.serial_number) AS units,
               st.certificate_no, st.calibrated_at, st.due_at, any_value(c.lab) AS lab,
               st.calibration_status AS status, st.found_oot_by, st.found_oot_at,
               st.suspect_from, st.suspect_reason
        FROM st LEFT JOIN equipment e USING (equipment_id)
        LEFT JOIN calibrations c ON c.equipment_id = st.equipment_id
                                AND c.calibrated_at = st.calibrated_at
        {"WHERE st.serial_number IS NOT NULL" if per_unit else ""}
        GROUP BY ALL
        ORDER BY {unit} st.equipment_id, first_use""", scope.params)


def unit_components(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Serialised parts and lots fitted into the scope's units, removals included."""
    return rows(con, f"""
        SELECT c.* FROM unit_components c JOIN units u USING (serial_number)
        WHERE {scope.units_where()}
        ORDER BY c.serial_number, c.fitted_at, c.component_code""", scope.params)


def ncrs(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """NCRs against the job or its units, with the parts removed under each and the re-test run."""
    where = "(n.job_id = $key OR u.job_id = $key)" if scope.job_id is not None else "n.serial_number = $key"
    found = rows(con, f"""
        SELECT n.*, coalesce(n.job_id, u.job_id) AS the_job
        FROM ncrs n LEFT JOIN units u USING (serial_number)
        WHERE {where} ORDER BY n.raised_at, n.ncr_id""", scope.params)
    for n in found:
        n["removed_parts"] = rows(con, """
            SELECT serial_number, component_code, component_serial, lot_number, removed_at, removed_by
            FROM unit_components WHERE removal_ncr_id = ? ORDER BY removed_at""", [n["ncr_id"]])
        n["retest"] = rows(con, """
            SELECT serial_number, test_step, measurement, value, units, low_limit, high_limit,
                   result, tested_at, attempt, equipment_id
            FROM test_results WHERE run_id = ? ORDER BY tested_at, measurement""",
                           [n["retest_ref"]]) if n.get("retest_ref") else []
    return found


def firmware(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Firmware loads on the scope's units."""
    return rows(con, f"""
        SELECT f.* FROM firmware_loads f JOIN units u USING (serial_number)
        WHERE {scope.units_where()} ORDER BY f.serial_number, f.loaded_at""", scope.params)


def labels(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Label checks of the scope's units with the product's GTIN to check them against."""
    return rows(con, f"""
        SELECT l.*, p.gtin AS product_gtin FROM label_checks l JOIN units u USING (serial_number)
        JOIN products p USING (product_code)
        WHERE {scope.units_where()} ORDER BY l.serial_number, l.checked_at""", scope.params)


def shipments(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Where the scope's units went."""
    return rows(con, f"""
        SELECT s.* FROM shipments s JOIN units u USING (serial_number)
        WHERE {scope.units_where()} ORDER BY s.serial_number, s.shipped_at""", scope.params)


def signoffs(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Signatures on the job, its operations, its NCRs and its units (or on one unit's records)."""
    if scope.job_id is not None:
        where = """(s.record_type IN ('job', 'release') AND s.record_id = $key)
                OR (s.record_type = 'operation' AND split_part(s.record_id, '/', 1) = $key)
                OR (s.record_type = 'unit' AND s.record_id IN (SELECT serial_number FROM units
                                                               WHERE job_id = $key))
                OR (s.record_type = 'ncr' AND s.record_id IN (
                        SELECT n.ncr_id FROM ncrs n LEFT JOIN units u USING (serial_number)
                        WHERE n.job_id = $key OR u.job_id = $key))"""
    else:
        where = """(s.record_type = 'operation' AND split_part(s.record_id, '/', 3) = $key)
                OR (s.record_type = 'unit' AND s.record_id = $key)
                OR (s.record_type = 'ncr' AND s.record_id IN (
                        SELECT ncr_id FROM ncrs WHERE serial_number = $key))"""
    return rows(con, f"SELECT s.* FROM signoffs s WHERE {where} ORDER BY s.signed_at",
                scope.params)
