"""Calibration status at use, one truth: for each test result (or any use of equipment), whether
its equipment was in calibration, in a suspect window, overdue, uncalibrated, out of service, or
needed no calibration. Every page, record and export takes its answer from here.

Definitions (ISO 13485 7.6):

* ``suspect``: the use falls in a suspect window: from the last calibration that left the
  equipment known good (``as_left`` in tolerance, or found in tolerance with nothing adjusted)
  up to a calibration that found it out of tolerance. With no good calibration before the
  finding, the window opens at the equipment's first use. A use after a calibration that found
  or left the equipment out of tolerance and did not leave it known good (not adjusted, sent for
  repair) is suspect too, until the next calibration: that calibration is the finding.
* ``overdue``: used after the due date of the calibration in force (the latest one before use).
  A verification with no recall interval (``due_at = calibrated_at``: a register's "verification
  only", frequency 0) vouches for the day it was made (24 hours from its date) and nothing after:
  a later use is overdue, never in calibration forever.
* ``uncalibrated``: used with no calibration on record before the use.
* ``out_of_service``: the equipment's register status (contract v2 ``equipment.status``) is not
  ``active``; read when the column is there, else every piece of equipment is active.
* ``not_required``: the register says the equipment needs no calibration (contract v2
  ``equipment.calibration_required`` false; true when the column is not there).
* ``in_calibration``: none of these.

The first that holds, in the order ``not_required``, ``uncalibrated``, ``suspect``,
``out_of_service``, ``overdue``, ``in_calibration``. A result with no equipment has no status
(NULL). Out of service comes after suspect and uncalibrated: the register's status is today's,
the others are the equipment's state on the day of use (a gauge found out of tolerance and then
scrapped keeps its suspect results).

Beside the one word, ``past_due`` says whether the calibration in force was past its due date at
use (:func:`overdue_sql`; false for equipment that needs none or has no calibration in force):
a use can be suspect, or out of service, and past due too. Impact's ``overdue_results``, the
finding ``calibration_overdue_at_use`` and the records read this column.
"""

from __future__ import annotations

from typing import Any

import duckdb

__all__ = ["BAD", "GOOD_SQL", "LEFT_BAD_SQL", "STATUSES", "has_column", "left_windows",
           "overdue_sql", "periods_sql", "status_sql", "suspect_windows", "window_periods_sql",
           "windows_sql"]

#: The statuses, worst first.
STATUSES = ("suspect", "uncalibrated", "out_of_service", "overdue", "in_calibration",
            "not_required")
#: Statuses that put a result in question.
BAD = ("suspect", "uncalibrated", "out_of_service", "overdue")

#: SQL: the calibration ``p`` left the equipment known good.
GOOD_SQL = ("(p.as_left = 'in_tolerance' OR (p.as_left = 'not_applicable' "
            "AND p.as_found = 'in_tolerance'))")


#: SQL: the calibration ``p`` found or left the equipment out of tolerance and did not leave it
#: known good: the equipment was out of tolerance when it was next used.
LEFT_BAD_SQL = (f"(NOT coalesce({GOOD_SQL}, false) AND (p.as_found = 'out_of_tolerance' "
                "OR p.as_left = 'out_of_tolerance'))")


def overdue_sql(at: str, due: str, cal: str) -> str:
    """SQL: a use at ``at`` is past the calibration in force (``due``, ``cal`` its due and
    calibration times). A verification with no interval (due = calibrated) covers 24 hours.

    The 24 hours are counted in microseconds since the epoch: ``due + INTERVAL 1 DAY`` on a
    TIMESTAMPTZ is calendar arithmetic in the session's zone, ~30x slower per row."""
    return (f"({at} > {due} AND NOT ({due} = {cal} "
            f"AND epoch_us({at}) < epoch_us({due}) + 86400000000))")


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether the lake's ``table`` has ``column`` (columns added by a later contract)."""
    row = con.execute("""SELECT count(*) FROM duckdb_columns()
                         WHERE table_name = ? AND column_name = ? AND schema_name = 'main'""",
                      [table, column]).fetchone()
    return bool(row and row[0])


def windows_sql() -> str:
    """SQL of every suspect window: ``equipment_id, from_at`` (NULL: since first use), ``to_at``
    (the out-of-tolerance finding), ``certificate_no`` (of that finding)."""
    return f"""
        SELECT c.equipment_id,
               (SELECT max(p.calibrated_at) FROM calibrations p
                WHERE p.equipment_id = c.equipment_id AND p.calibrated_at < c.calibrated_at
                  AND {GOOD_SQL}) AS from_at,
               c.calibrated_at AS to_at, c.certificate_no
        FROM calibrations c WHERE c.as_found = 'out_of_tolerance'"""


def suspect_windows(con: duckdb.DuckDBPyConnection,
                    equipment_id: str | None = None) -> list[dict[str, Any]]:
    """The suspect windows of one piece of equipment (of all if None), in time order."""
    rows = con.execute(f"""SELECT * FROM ({windows_sql()})
                           WHERE $e::VARCHAR IS NULL OR equipment_id = $e::VARCHAR
                           ORDER BY equipment_id, to_at""", {"e": equipment_id}).fetchall()
    return [{"equipment_id": e, "from": f, "to": t, "certificate_no": c} for e, f, t, c in rows]


def left_windows(con: duckdb.DuckDBPyConnection,
                 equipment_id: str | None = None) -> list[dict[str, Any]]:
    """The periods after a calibration that found or left the equipment out of tolerance and did
    not leave it known good, up to the next calibration (``to`` None while it is the latest):
    every use in one is suspect. A period that a later finding's suspect window already covers
    (the next calibration found the equipment out of tolerance) is not listed again."""
    rows = con.execute(f"""
        SELECT equipment_id, _from, _to, _cert FROM (
            SELECT p.equipment_id, p.calibrated_at AS _from, p.certificate_no AS _cert,
                   {LEFT_BAD_SQL} AS _bad,
                   lead(p.calibrated_at) OVER w AS _to, lead(p.as_found) OVER w AS _next_found
            FROM calibrations p
            WHERE $e::VARCHAR IS NULL OR p.equipment_id = $e::VARCHAR
            WINDOW w AS (PARTITION BY p.equipment_id ORDER BY p.calibrated_at))
        WHERE _bad AND _next_found IS DISTINCT FROM 'out_of_tolerance'
        ORDER BY equipment_id, _from""", {"e": equipment_id}).fetchall()
    return [{"equipment_id": e, "from": f, "to": t, "certificate_no": c} for e, f, t, c in rows]


def periods_sql() -> str:
    """SQL of every piece of equipment's calibration periods: ``equipment_id``, ``_from``,
    ``_to`` (a use at ``t`` falls in the period with ``_from <= t < _to``), and the calibration in
    force then: ``_cert``, ``_cal``, ``_due`` (NULL in the period before its first calibration)
    and ``_bad`` (it found or left the equipment out of tolerance and not known good).

    The same answer as an ASOF join on the latest calibration at or before the use, as a handful
    of rows a range join reads instead of a sort of every use (the natural key of a calibration,
    equipment and time, makes the periods disjoint)."""
    return f"""
        SELECT equipment_id, calibrated_at AS _from,
               coalesce(lead(calibrated_at) OVER (PARTITION BY equipment_id ORDER BY calibrated_at),
                        'infinity'::TIMESTAMPTZ) AS _to,
               certificate_no AS _cert, calibrated_at AS _cal, due_at AS _due,
               {LEFT_BAD_SQL} AS _bad
        FROM calibrations p
        UNION ALL
        SELECT equipment_id, '-infinity'::TIMESTAMPTZ, min(calibrated_at), NULL, NULL, NULL,
               false
        FROM calibrations GROUP BY equipment_id"""


def window_periods_sql() -> str:
    """SQL of the suspect windows as periods: a use at ``t`` with ``_from <= t < _to`` has this
    window's finding (``_wto``, ``_wcert``) as the next out-of-tolerance finding after it, and is
    suspect when the window opens before it (``_wfrom`` NULL or at most ``t``)."""
    return f"""
        SELECT equipment_id,
               coalesce(lag(to_at) OVER (PARTITION BY equipment_id ORDER BY to_at),
                        '-infinity'::TIMESTAMPTZ) AS _from,
               to_at AS _to, from_at AS _wfrom, to_at AS _wto, certificate_no AS _wcert
        FROM ({windows_sql()})"""


def status_sql(con: duckdb.DuckDBPyConnection, uses: str, *, at: str = "tested_at") -> str:
    """SQL adding the calibration status to a relation of uses of equipment.

    ``uses`` is a SQL relation (a table name or ``(SELECT ...)``) with ``equipment_id`` and the
    time of use in column ``at``; the answer has every column of it plus ``calibration_status``,
    ``past_due``, ``certificate_no``, ``calibrated_at``, ``due_at`` (the calibration in force),
    and for a suspect use ``suspect_from``, ``suspect_to`` (the window; ``suspect_to`` NULL while
    a calibration that left the equipment out of tolerance is still the latest),
    ``found_oot_by`` and ``found_oot_at`` (the calibration that found it out of tolerance) and
    ``suspect_reason``: ``found_out_of_tolerance_after`` (a later calibration found it out of
    tolerance) or ``left_out_of_tolerance`` (used after one that left it so).

    Uses meet the calibrations as periods (:func:`periods_sql`, :func:`window_periods_sql`), a
    few rows per piece of equipment, by a range join: no sort of the uses, so a million results
    take a fraction of a second. Pass only the columns the answer needs: every one is carried.
    """
    state = ("coalesce(e.status, 'active')" if has_column(con, "equipment", "status")
             else "'active'")
    required = ("coalesce(e.calibration_required, true)"
                if has_column(con, "equipment", "calibration_required") else "true")
    return f"""
        WITH _u AS (SELECT * FROM {uses}),
        _p AS ({periods_sql()}),
        _wp AS ({window_periods_sql()}),
        _s AS (SELECT _u.*, p._cert, p._cal, p._due, p._bad, nullif(p._to, 'infinity') AS _next,
                      w._wfrom, w._wto, w._wcert,
                      {state} AS _state, {required} AS _required
               FROM _u
               LEFT JOIN _p p ON p.equipment_id = _u.equipment_id
                             AND _u.{at} >= p._from AND _u.{at} < p._to
               LEFT JOIN _wp w ON w.equipment_id = _u.equipment_id
                              AND _u.{at} >= w._from AND _u.{at} < w._to
               LEFT JOIN equipment e ON e.equipment_id = _u.equipment_id),
        _w AS (SELECT _s.*, _wto IS NOT NULL AND (_wfrom IS NULL OR _s.{at} >= _wfrom) AS _inw
               FROM _s),
        _t AS (SELECT _w.*, _inw OR coalesce(_bad, false) AS _suspect FROM _w)
        SELECT _t.* EXCLUDE (_cert, _cal, _due, _bad, _next, _wfrom, _wto, _wcert, _inw, _suspect,
                             _state, _required),
               CASE WHEN _t.equipment_id IS NULL THEN NULL
                    WHEN NOT _required THEN 'not_required'
                    WHEN _cal IS NULL THEN 'uncalibrated'
                    WHEN _suspect THEN 'suspect'
                    WHEN _state <> 'active' THEN 'out_of_service'
                    WHEN {overdue_sql(f"_t.{at}", "_due", "_cal")} THEN 'overdue'
                    ELSE 'in_calibration' END AS calibration_status,
               CASE WHEN _t.equipment_id IS NULL THEN NULL
                    WHEN NOT _required OR _cal IS NULL THEN false
                    ELSE {overdue_sql(f"_t.{at}", "_due", "_cal")} END AS past_due,
               _cert AS certificate_no, _cal AS calibrated_at, _due AS due_at,
               CASE WHEN _inw THEN _wfrom WHEN _suspect THEN _cal END AS suspect_from,
               CASE WHEN _inw THEN _wto WHEN _suspect THEN _next END AS suspect_to,
               CASE WHEN _inw THEN _wcert WHEN _suspect THEN _cert END AS found_oot_by,
               CASE WHEN _inw THEN _wto WHEN _suspect THEN _cal END AS found_oot_at,
               CASE WHEN _inw THEN 'found_out_of_tolerance_after'
                    WHEN _suspect THEN 'left_out_of_tolerance' END AS suspect_reason
        FROM _t"""
