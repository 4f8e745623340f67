"""Calibration traceability: equipment calibrated, in date, found in tolerance, in service, with
its as-found result recorded (ISO 13485 7.6)."""

from __future__ import annotations

from tracelake.derived.findings.engine import Finding, RuleContext, rule
from tracelake.derived.findings.rules._shared import (
    _CAL_IN_FORCE,
    _OP_USES,
    _OPS_WITH_STEP,
    _RESULT_USES,
    _op_name,
    _op_record,
    _result_record,
)
from tracelake.lake.plant_time import stamp


@rule("calibration_not_traceable", "critical")
def calibration_not_traceable(ctx: RuleContext) -> list[Finding]:
    """A step that needs calibrated equipment names none, or a measurement or step used equipment
    with no calibration record in force on the day of use."""
    out = [Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                   _op_record(r), f"{_op_name(r)} of {r['job_id']} needs calibrated equipment "
                                  "(MBR) but names none")
           for r in ctx.rows(f"""SELECT * FROM ({_OPS_WITH_STEP})
                                 WHERE needs_calibrated_equipment AND equipment_id IS NULL
                                 ORDER BY job_id, op_seq, serial_number""")]
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_OP_USES)})
                          WHERE calibrated_at IS NULL AND needs_calibrated_equipment
                          ORDER BY job_id, op_seq, serial_number"""):
        out.append(Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                           _op_record(r), f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                                          f"{stamp(r['used_at'], ctx.zone)}, which has no calibration "
                                          "record on or before that date"))
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_RESULT_USES)})
                          WHERE calibrated_at IS NULL
                          ORDER BY job_id, serial_number, tested_at"""):
        out.append(Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                           _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was measured "
                           f"with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}, which has no "
                           "calibration record on or before that date"))
    return out


@rule("calibration_overdue_at_use", "major")
def calibration_overdue_at_use(ctx: RuleContext) -> list[Finding]:
    """Equipment used after its calibration fell due (and before it was calibrated again)."""
    out = []
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_OP_USES)})
                          WHERE used_at > due_at ORDER BY job_id, op_seq, serial_number"""):
        out.append(Finding("calibration_overdue_at_use", "major", r["job_id"], r["serial_number"],
                           _op_record(r),
                           f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                           f"{stamp(r['used_at'], ctx.zone)}; its calibration {r['certificate_no']} "
                           f"was due {stamp(r['due_at'], ctx.zone)}"))
    for r in ctx.rows(f"""SELECT * FROM ({_CAL_IN_FORCE.format(uses=_RESULT_USES)})
                          WHERE used_at > due_at ORDER BY job_id, serial_number, tested_at"""):
        out.append(Finding("calibration_overdue_at_use", "major", r["job_id"], r["serial_number"],
                           _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was measured "
                           f"with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}; its "
                           f"calibration {r['certificate_no']} was due {stamp(r['due_at'], ctx.zone)}"))
    return out


@rule("calibration_out_of_tolerance", "major")
def calibration_out_of_tolerance(ctx: RuleContext) -> list[Finding]:
    """Results taken with equipment that its next calibration found out of tolerance: one finding
    per job and event, asking for the assessment ISO 13485 7.6 requires."""
    return [Finding(
        "calibration_out_of_tolerance", "major", r["job_id"], None,
        f"calibrations:{r['equipment_id']}/{r['certificate_no']}",
        f"{r['results']} result(s) on {r['units']} unit(s) of {r['job_id']} were measured with "
        f"{r['equipment_id']} between {stamp(r['first_use'], ctx.zone)} and "
        f"{stamp(r['last_use'], ctx.zone)}; its next calibration ({r['certificate_no']}, "
        f"{stamp(r['found_at'], ctx.zone)}) found it out of tolerance: assess these results "
        f"(see tracelake impact calibration --equipment {r['equipment_id']})")
        for r in ctx.rows(f"""
        WITH uses AS ({_RESULT_USES}),
        nxt AS (SELECT u.*, c.certificate_no, c.calibrated_at AS found_at, c.as_found
                FROM uses u ASOF JOIN calibrations c
                  ON c.equipment_id = u.equipment_id AND u.used_at < c.calibrated_at)
        SELECT job_id, equipment_id, certificate_no, found_at, count(*) AS results,
               count(DISTINCT serial_number) AS units, min(used_at) AS first_use,
               max(used_at) AS last_use
        FROM nxt WHERE as_found = 'out_of_tolerance'
        GROUP BY ALL ORDER BY job_id, equipment_id, found_at""")]


# ---------------------------------------------------------------- v2: equipment

@rule("equipment_out_of_service_at_use", "major")
def equipment_out_of_service_at_use(ctx: RuleContext) -> list[Finding]:
    """Equipment whose register says it is out of service (inactive, out for repair, scrapped,
    missing) used for an operation or a measurement. The status is the register's current one."""
    out = []
    for r in ctx.rows(f"""
        SELECT u.*, e.status AS equipment_status FROM ({_OP_USES}) u
        JOIN equipment e USING (equipment_id) WHERE e.status <> 'active'
        ORDER BY job_id, op_seq, serial_number"""):
        out.append(Finding("equipment_out_of_service_at_use", "major", r["job_id"],
                           r["serial_number"], _op_record(r),
                           f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                           f"{stamp(r['used_at'], ctx.zone)}; the equipment register has it "
                           f"{r['equipment_status'].replace('_', ' ')}"))
    for r in ctx.rows(f"""
        SELECT u.*, e.status AS equipment_status FROM ({_RESULT_USES}) u
        JOIN equipment e USING (equipment_id) WHERE e.status <> 'active'
        ORDER BY job_id, serial_number, tested_at"""):
        out.append(Finding("equipment_out_of_service_at_use", "major", r["job_id"],
                           r["serial_number"], _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was "
                           f"measured with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}; "
                           f"the equipment register has it "
                           f"{r['equipment_status'].replace('_', ' ')}"))
    return out


@rule("calibration_as_found_not_recorded", "major")
def calibration_as_found_not_recorded(ctx: RuleContext) -> list[Finding]:
    """A calibration with no as-found result: earlier results taken with the equipment cannot be
    judged (ISO 13485 7.6). With a job in scope, only equipment that job used."""
    return [Finding(
        "calibration_as_found_not_recorded", "major", r["job"], None,
        f"calibrations:{r['equipment_id']}/{r['certificate_no']}",
        f"calibration {r['certificate_no']} of {r['equipment_id']} "
        f"({stamp(r['calibrated_at'], ctx.zone)}) records no as-found result, so the results "
        "taken with it before cannot be judged")
        for r in ctx.rows(f"""
        SELECT c.*, CAST($job AS VARCHAR) AS job FROM calibrations c
        WHERE c.as_found = 'not_recorded'
          AND (CAST($job AS VARCHAR) IS NULL
               OR c.equipment_id IN (SELECT equipment_id FROM ({_OP_USES})
                                     UNION SELECT equipment_id FROM ({_RESULT_USES})))
        ORDER BY c.equipment_id, c.calibrated_at""")]
