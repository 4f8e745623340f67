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

from tracelake.derived.calibration.status import overdue_sql, suspect_windows
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
    """Every suspect result of one piece of equipment, and what it concerns."""
    answer = CalibrationImpact(equipment_id)
    head = con.execute(f"""
        SELECT (SELECT count(*) FROM equipment WHERE equipment_id = $e::VARCHAR),
               (SELECT count(*) FROM calibrations WHERE equipment_id = $e::VARCHAR),
               {ZONE_PROBE}""", {"e": equipment_id}).fetchone()
    known, calibrations, probe = head  # type: ignore[misc]
    zone = probe.tzinfo
    # the suspect windows are status.py's: the same windows every page and record shows
    windows = [(w["from"], w["to"], w["certificate_no"])
               for w in suspect_windows(con, equipment_id)]
    answer.windows = [{"from": f, "to": t, "certificate_no": cert} for f, t, cert in windows]
    if windows:
        params: dict[str, Any] = {"e": equipment_id}
        bounds = []
        for i, (f, t, _) in enumerate(windows):
            params[f"f{i}"], params[f"t{i}"] = f, t
            bounds.append(f"({{col}} >= coalesce(${f'f{i}'}::TIMESTAMPTZ, "
                          f"'-infinity'::TIMESTAMPTZ) AND {{col}} < ${f't{i}'}::TIMESTAMPTZ)")
        in_window = " OR ".join(bounds)
        results = con.execute(f"""
            SELECT serial_number, test_step, measurement, tested_at, value, units, low_limit,
                   high_limit, result, run_id, 'suspect' AS calibration_status
            FROM test_results WHERE equipment_id = $e::VARCHAR
                 AND ({in_window.format(col="tested_at")})
            ORDER BY tested_at, serial_number, test_step, measurement""", params).to_arrow_table()
        operations = con.execute(f"""
            SELECT job_id, op_seq, op_code, serial_number, started_at, operator
            FROM operations WHERE equipment_id = $e::VARCHAR
                 AND ({in_window.format(col="started_at")})
            ORDER BY started_at, job_id, op_seq""", params).to_arrow_table()
        answer.results = Records(results, zone)
        answer.operations = Records(operations, zone)
        answer.units = Records(_units_of(con, results, operations), zone)
    status = _status_at_use(con, equipment_id)
    answer.overdue_results = Records(status.filter(
        pc.equal(status.column("calibration_status"), "overdue")), zone)
    answer.uncalibrated_results = Records(status.filter(
        pc.equal(status.column("calibration_status"), "uncalibrated")), zone)
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
    ``calibration_status`` is ``overdue`` or ``uncalibrated`` (the words of
    :mod:`tracelake.derived.calibration.status`). Results within a calibration's validity
    are not listed.
    """
    zone = con.execute(f"SELECT {ZONE_PROBE}").fetchone()[0].tzinfo  # type: ignore[index]
    return Records(_status_at_use(con, equipment_id), zone).rows()


_STATUS_COLUMNS = """r.equipment_id, r.serial_number, r.test_step, r.measurement, r.tested_at"""


def _status_at_use(con: duckdb.DuckDBPyConnection, equipment_id: str | None) -> pa.Table:
    if equipment_id:
        return _status_of_one(con, equipment_id)
    return con.execute(f"""
        SELECT {_STATUS_COLUMNS}, c.certificate_no, c.calibrated_at, c.due_at,
               CASE WHEN c.calibrated_at IS NULL THEN 'uncalibrated' ELSE 'overdue' END
                   AS calibration_status
        FROM test_results r
        ASOF LEFT JOIN calibrations c
          ON c.equipment_id = r.equipment_id AND r.tested_at >= c.calibrated_at
        WHERE c.calibrated_at IS NULL OR {overdue_sql("r.tested_at", "c.due_at", "c.calibrated_at")}
        ORDER BY r.equipment_id, r.tested_at, r.serial_number""").to_arrow_table()


def _status_of_one(con: duckdb.DuckDBPyConnection, equipment_id: str) -> pa.Table:
    """``_status_at_use`` for one piece of equipment: its calibrations (a few) cut time into
    periods, each result falls in one (the latest calibration at or before it is in force, as
    an ASOF join would pick; before the first, none), and the overdue ones are those after
    their period's due date: one pass over the equipment's results, no join of 10^6 rows."""
    cals = con.execute("""SELECT calibrated_at, due_at, certificate_no FROM calibrations
                          WHERE equipment_id = $e::VARCHAR AND calibrated_at IS NOT NULL
                          ORDER BY calibrated_at""", {"e": equipment_id}).fetchall()
    params: dict[str, Any] = {"e": equipment_id}
    period = "CASE " + "".join(f"WHEN r.tested_at >= $a{i}::TIMESTAMPTZ THEN {i} "
                               for i in range(len(cals), 0, -1)) + "ELSE 0 END" if cals else "0"
    periods = ["(0, NULL::VARCHAR, NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ)"]
    for i, (at, due, cert) in enumerate(cals, start=1):
        params[f"a{i}"], params[f"d{i}"], params[f"n{i}"] = at, due, cert
        periods.append(f"({i}, $n{i}::VARCHAR, $a{i}::TIMESTAMPTZ, $d{i}::TIMESTAMPTZ)")
    return con.execute(f"""
        WITH r AS (SELECT {_STATUS_COLUMNS}, {period} AS period FROM test_results r
                   WHERE r.equipment_id = $e::VARCHAR),
        c(period, certificate_no, calibrated_at, due_at) AS (VALUES {", ".join(periods)})
        SELECT {_STATUS_COLUMNS}, c.certificate_no, c.calibrated_at, c.due_at,
               CASE WHEN c.calibrated_at IS NULL THEN 'uncalibrated' ELSE 'overdue' END
                   AS calibration_status
        FROM r JOIN c USING (period)
        WHERE c.calibrated_at IS NULL OR {overdue_sql("r.tested_at", "c.due_at", "c.calibrated_at")}
        ORDER BY r.equipment_id, r.tested_at, r.serial_number""", params).to_arrow_table()


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
