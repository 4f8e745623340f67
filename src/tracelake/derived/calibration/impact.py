"""Calibration impact (ISO 13485 7.6): when equipment is found out of tolerance, which earlier
results are suspect, and which units, jobs and customers they concern.

A calibration whose ``as_found`` is ``out_of_tolerance`` makes suspect every result taken with
the equipment since it was last known good: the latest earlier calibration that left it in
tolerance (``as_left``), or found it so where nothing was adjusted. With no such calibration,
every earlier result is suspect. Results taken while the equipment was overdue for calibration,
or with equipment that has no calibration record at all, are listed too.

An answer can run to hundreds of thousands of results (a test rig used for a year), so its
lists are kept as Arrow tables and turned into dicts only when read; its summary counts come
from the columns.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tracelake.derived.calibration.status import (
    has_column,
    left_windows,
    status_sql,
    suspect_windows,
)
from tracelake.derived.genealogy.columns import ZONE_PROBE, Records

__all__ = ["CalibrationImpact", "calibration_impact", "calibration_status_at_use"]


_LISTS = ("results", "units", "operations", "overdue_results", "uncalibrated_results")


class CalibrationImpact:
    """The answer of ``tracelake impact calibration``.

    ``results``, ``units``, ``operations``, ``overdue_results`` and ``uncalibrated_results``
    are lists of dicts; an answer built by :func:`calibration_impact` holds them as columns
    and builds each list the first time it is read.
    """

    def __init__(self, equipment_id: str, windows: list[dict[str, Any]] | None = None,
                 results: list[dict[str, Any]] | Records | None = None,
                 units: list[dict[str, Any]] | Records | None = None,
                 operations: list[dict[str, Any]] | Records | None = None,
                 overdue_results: list[dict[str, Any]] | Records | None = None,
                 uncalibrated_results: list[dict[str, Any]] | Records | None = None,
                 message: str | None = None) -> None:
        self.equipment_id = equipment_id
        self.windows = windows if windows is not None else []
        self._lists: dict[str, list[dict[str, Any]] | Records] = {
            "results": results if results is not None else [],
            "units": units if units is not None else [],
            "operations": operations if operations is not None else [],
            "overdue_results": overdue_results if overdue_results is not None else [],
            "uncalibrated_results": uncalibrated_results if uncalibrated_results is not None
            else []}
        self.message = message

    def _list(self, name: str) -> list[dict[str, Any]]:
        held = self._lists[name]
        if isinstance(held, Records):
            held = self._lists[name] = held.rows()
        return held

    def _set(self, name: str, value: list[dict[str, Any]] | Records) -> None:
        self._lists[name] = value

    results = property(lambda self: self._list("results"),
                       lambda self, v: self._set("results", v),
                       doc="Suspect test results, in time order.")
    units = property(lambda self: self._list("units"), lambda self, v: self._set("units", v),
                     doc="The measured units and the top-level units holding them.")
    operations = property(lambda self: self._list("operations"),
                          lambda self, v: self._set("operations", v),
                          doc="Operations done with the equipment in a suspect window.")
    overdue_results = property(lambda self: self._list("overdue_results"),
                               lambda self, v: self._set("overdue_results", v),
                               doc="Results taken while the equipment was overdue.")
    uncalibrated_results = property(lambda self: self._list("uncalibrated_results"),
                                    lambda self, v: self._set("uncalibrated_results", v),
                                    doc="Results taken with no calibration on record.")

    def _column(self, name: str, key: str) -> list[Any]:
        held = self._lists[name]
        return held.column(key) if isinstance(held, Records) else [r[key] for r in held]

    @property
    def summary(self) -> dict[str, Any]:
        """Counts of suspect results, units, jobs and customers."""
        customers = Counter(c for c in self._column("units", "customer") if c)
        return {"results": len(self._lists["results"]), "units": len(self._lists["units"]),
                "jobs": len({j for j in self._column("units", "job_id") if j}),
                "customers": len(customers), "by_customer": dict(customers.most_common()),
                "operations": len(self._lists["operations"]),
                "overdue_results": len(self._lists["overdue_results"]),
                "uncalibrated_results": len(self._lists["uncalibrated_results"])}

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document (plus operations and the overdue/uncalibrated lists)."""
        out = {"equipment_id": self.equipment_id, "windows": self.windows,
               "results": self.results, "units": self.units, "summary": self.summary,
               "operations": self.operations, "overdue_results": self.overdue_results,
               "uncalibrated_results": self.uncalibrated_results}
        if self.message:
            out["message"] = self.message
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CalibrationImpact) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"CalibrationImpact(equipment_id={self.equipment_id!r}, windows={self.windows!r}, "
                + ", ".join(f"{k}=<{len(self._lists[k])}>" for k in _LISTS)
                + f", message={self.message!r})")


def calibration_impact(con: duckdb.DuckDBPyConnection, equipment_id: str) -> CalibrationImpact:
    """Every suspect result of one piece of equipment, and what it concerns.

    Each use's status is the calibration status at use (:mod:`tracelake.derived.calibration.
    status`), the one definition the findings, the records and the dashboards read: suspect
    results and operations are those whose status is ``suspect``, overdue results those
    ``past_due``, uncalibrated results those ``uncalibrated``.
    """
    answer = CalibrationImpact(equipment_id)
    params = {"e": equipment_id}
    head = con.execute(f"""
        SELECT (SELECT count(*) FROM equipment WHERE equipment_id = $e::VARCHAR),
               (SELECT count(*) FROM calibrations WHERE equipment_id = $e::VARCHAR),
               {ZONE_PROBE}""", params).fetchone()
    known, calibrations, probe = head  # type: ignore[misc]
    zone = probe.tzinfo
    # the windows status.py reads: before a finding, and after one that left it out of tolerance
    answer.windows = sorted(
        [{"from": w["from"], "to": w["to"], "certificate_no": w["certificate_no"],
          "kind": "found_out_of_tolerance_after"} for w in suspect_windows(con, equipment_id)]
        + [{"from": w["from"], "to": w["to"], "certificate_no": w["certificate_no"],
            "kind": "left_out_of_tolerance"} for w in left_windows(con, equipment_id)],
        key=lambda w: (w["from"] or w["to"], w["kind"]))
    results = _results_status(con, equipment_id)
    suspect = results.filter(pc.equal(results.column("calibration_status"), "suspect"))
    operations = con.execute(f"""
        SELECT job_id, op_seq, op_code, serial_number, started_at, operator
        FROM ({status_sql(con, _OPERATIONS, at="started_at")})
        WHERE calibration_status = 'suspect'
        ORDER BY started_at, job_id, op_seq""", params).to_arrow_table()
    answer.results = Records(suspect.select(list(_RESULT_COLUMNS)), zone)
    answer.operations = Records(operations, zone)
    if suspect.num_rows or operations.num_rows:
        answer.units = Records(_units_of(con, suspect, operations), zone)
    past_due = pc.fill_null(results.column("past_due"), False)
    answer.overdue_results = Records(results.filter(past_due).select(list(_STATUS_COLUMNS)),
                                     zone)
    answer.uncalibrated_results = Records(results.filter(pc.equal(
        results.column("calibration_status"), "uncalibrated")).select(list(_STATUS_COLUMNS)), zone)
    if not known and not calibrations:
        answer.message = f"no equipment {equipment_id} in the lake"
    elif not _required(con, equipment_id):
        answer.message = (f"{equipment_id} needs no calibration (equipment register): its "
                          "results are not judged by calibration")
    elif not answer.windows:
        answer.message = (f"{equipment_id} has never been found out of tolerance"
                          if calibrations else f"{equipment_id} has no calibration record")
    return answer


def calibration_status_at_use(con: duckdb.DuckDBPyConnection,
                              equipment_id: str | None = None) -> list[dict[str, Any]]:
    """Results taken with equipment that was past its due date, or never calibrated, at the
    time of test (the status's ``past_due`` or ``uncalibrated``).

    Each row names the calibration in force (the latest one before the test) and its due date,
    ``calibration_status`` (the word of :mod:`tracelake.derived.calibration.status`: ``overdue``
    or ``uncalibrated``, or what came first, ``suspect`` or ``out_of_service``, for a use past
    due) and ``past_due``. Results within a calibration's validity are not listed.
    """
    zone = con.execute(f"SELECT {ZONE_PROBE}").fetchone()[0].tzinfo  # type: ignore[index]
    uses = ("test_results" if equipment_id is None else
            "(SELECT * FROM test_results WHERE equipment_id = $e::VARCHAR)")
    table = con.execute(f"""
        SELECT {", ".join(_STATUS_COLUMNS)} FROM ({status_sql(con, uses)})
        WHERE past_due OR calibration_status = 'uncalibrated'
        ORDER BY equipment_id, tested_at, serial_number""",
        {"e": equipment_id} if equipment_id is not None else {}).to_arrow_table()
    return Records(table, zone).rows()


#: a suspect result as impact lists it
_RESULT_COLUMNS = ("serial_number", "test_step", "measurement", "tested_at", "value", "units",
                   "low_limit", "high_limit", "result", "run_id", "calibration_status")
#: an overdue or uncalibrated result as impact lists it
_STATUS_COLUMNS = ("equipment_id", "serial_number", "test_step", "measurement", "tested_at",
                   "certificate_no", "calibrated_at", "due_at", "calibration_status", "past_due")
_OPERATIONS = """(SELECT equipment_id, job_id, op_seq, op_code, serial_number, started_at,
                         operator FROM operations WHERE equipment_id = $e::VARCHAR)"""


def _required(con: duckdb.DuckDBPyConnection, equipment_id: str) -> bool:
    """Whether the register says the equipment needs calibration (true where it does not say)."""
    if not has_column(con, "equipment", "calibration_required"):
        return True
    row = con.execute("SELECT bool_and(coalesce(calibration_required, true)) FROM equipment "
                      "WHERE equipment_id = $e::VARCHAR", {"e": equipment_id}).fetchone()
    return row is None or row[0] is not False


def _results_status(con: duckdb.DuckDBPyConnection, equipment_id: str) -> pa.Table:
    """The results taken with the equipment that impact lists (suspect, past due or
    uncalibrated at use), with their calibration status at use, in time order."""
    # the status on the natural key only (a rig's year of results), the rest for the few listed
    key = "equipment_id, serial_number, test_step, measurement, tested_at"
    uses = f"(SELECT {key} FROM test_results WHERE equipment_id = $e::VARCHAR)"
    return con.execute(f"""
        WITH s AS (SELECT * FROM ({status_sql(con, uses)})
                   WHERE calibration_status IN ('suspect', 'uncalibrated') OR past_due)
        SELECT s.*, r.value, r.units, r.low_limit, r.high_limit, r.result, r.run_id
        FROM s JOIN test_results r USING ({key})
        ORDER BY tested_at, serial_number, test_step, measurement""",
        {"e": equipment_id}).to_arrow_table()


def _units_of(con: duckdb.DuckDBPyConnection, results: pa.Table,
              operations: pa.Table) -> pa.Table:
    """The measured units and the top-level units holding them, with where they are now.

    The measured serials go to DuckDB as a registered Arrow table (binding a Python list costs
    ~90 us per element). They are spread over the plant's history, so the lookups are joins
    (DuckDB prunes by their least and greatest key), not key ranges.
    """
    serials = pc.unique(pc.drop_null(pa.chunked_array(
        results.column("serial_number").chunks + operations.column("serial_number").chunks,
        pa.string()).combine_chunks()))
    con.register("_measured_arrow", pa.table({"serial_number": serials}))
    try:
        return con.execute("""
            WITH measured AS (
                SELECT k.node_id, k.serial_number FROM genealogy.serial_keys k
                SEMI JOIN _measured_arrow m ON m.serial_number = k.serial_number
            ), holders AS (
                SELECT m.serial_number AS measured, m.node_id FROM measured m
                UNION ALL
                SELECT m.serial_number, c.des FROM measured m
                JOIN genealogy.closure_by_anc c ON c.anc = m.node_id
            )
            SELECT u.serial_number, u.job_id, u.status, u.customer, u.order_ref, u.shipped_at,
                   u.product_code,
                   list(DISTINCT h.measured ORDER BY h.measured) AS measured_serials,
                   bool_or(h.measured = u.serial_number) AS measured_directly
            FROM holders h JOIN genealogy.unit_info u ON u.node_id = h.node_id
            WHERE u.top OR h.measured = u.serial_number
            GROUP BY ALL ORDER BY u.serial_number""").to_arrow_table()
    finally:
        con.unregister("_measured_arrow")
