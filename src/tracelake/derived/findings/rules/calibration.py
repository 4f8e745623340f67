"""Calibration traceability: equipment calibrated, in date, found in tolerance, in service, with
its as-found result recorded (ISO 13485 7.6)."""

from __future__ import annotations

from typing import Any

from tracelake.derived.calibration.status import status_sql
from tracelake.derived.findings.engine import Finding, RuleContext, rule
from tracelake.derived.findings.rules._shared import (
    _OPS_WITH_STEP,
    _op_name,
    _op_record,
    _result_record,
    op_uses,
    result_uses,
)
from tracelake.lake.plant_time import stamp

# Every use of equipment meets its calibration through the calibration status
# (tracelake.derived.calibration.status): the calibration in force (certificate_no,
# calibrated_at, due_at; NULL before the first) and equipment that needs none (status
# not_required: contract v2 calibration_required false), which is never overdue and whose use is
# no finding. Only the uses a rule flags come back, with the job of their unit.


def _result_status(ctx: RuleContext, condition: str) -> list[dict[str, Any]]:
    """Test results in scope whose calibration at use meets ``condition``, with their job."""
    return ctx.rows(f"""
        SELECT s.*, s.tested_at AS used_at, u.job_id
        FROM ({status_sql(ctx.con, result_uses(ctx))}) s
        LEFT JOIN units u ON u.serial_number = s.serial_number
        WHERE s.calibration_status IS DISTINCT FROM 'not_required' AND ({condition})
        ORDER BY u.job_id, s.serial_number, s.tested_at""")


def _op_status(ctx: RuleContext, condition: str) -> list[dict[str, Any]]:
    """Operations in scope naming equipment whose calibration at use meets ``condition``."""
    return ctx.rows(f"""
        SELECT * FROM ({status_sql(ctx.con, op_uses(ctx), at="used_at")})
        WHERE calibration_status IS DISTINCT FROM 'not_required' AND ({condition})
        ORDER BY job_id, op_seq, serial_number""")


@rule("calibration_not_traceable", "critical")
def calibration_not_traceable(ctx: RuleContext) -> list[Finding]:
    """A step that needs calibrated equipment names none, or a measurement or step used equipment
    with no calibration record in force on the day of use."""
    out = [Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                   _op_record(r), f"{_op_name(r)} of {r['job_id']} needs calibrated equipment "
                                  "(MBR) but names none")
           for r in ctx.rows(f"""SELECT job_id, op_seq, serial_number, op_code
                                 FROM ({_OPS_WITH_STEP})
                                 WHERE needs_calibrated_equipment AND equipment_id IS NULL
                                 ORDER BY job_id, op_seq, serial_number""")]
    for r in _op_status(ctx, "calibrated_at IS NULL AND needs_calibrated_equipment"):
        out.append(Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                           _op_record(r), f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                                          f"{stamp(r['used_at'], ctx.zone)}, which has no calibration "
                                          "record on or before that date"))
    for r in _result_status(ctx, "s.calibrated_at IS NULL"):
        out.append(Finding("calibration_not_traceable", "critical", r["job_id"], r["serial_number"],
                           _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was measured "
                           f"with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}, which has no "
                           "calibration record on or before that date"))
    return out


@rule("calibration_overdue_at_use", "major")
def calibration_overdue_at_use(ctx: RuleContext) -> list[Finding]:
    """Equipment used after its calibration fell due (and before it was calibrated again): the
    status's ``past_due``, whatever else the use is (suspect, out of service)."""
    out = []
    for r in _op_status(ctx, "past_due"):
        out.append(Finding("calibration_overdue_at_use", "major", r["job_id"], r["serial_number"],
                           _op_record(r),
                           f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                           f"{stamp(r['used_at'], ctx.zone)}; its calibration {r['certificate_no']} "
                           f"was due {stamp(r['due_at'], ctx.zone)}"))
    for r in _result_status(ctx, "s.past_due"):
        out.append(Finding("calibration_overdue_at_use", "major", r["job_id"], r["serial_number"],
                           _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was measured "
                           f"with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}; its "
                           f"calibration {r['certificate_no']} was due {stamp(r['due_at'], ctx.zone)}"))
    return out


@rule("calibration_out_of_tolerance", "major")
def calibration_out_of_tolerance(ctx: RuleContext) -> list[Finding]:
    """Results whose calibration status at use is ``suspect`` (status.py: taken in a suspect
    window, from the last calibration that left the equipment known good up to a calibration
    that found it out of tolerance, or after one that left it out of tolerance): one finding
    per job and finding, asking for the assessment
    ISO 13485 7.6 requires. The same results the device and batch records mark suspect."""
    return [Finding(
        "calibration_out_of_tolerance", "major", r["job_id"], None,
        f"calibrations:{r['equipment_id']}/{r['certificate_no']}",
        f"{r['results']} result(s) on {r['units']} unit(s) of {r['job_id']} were measured with "
        f"{r['equipment_id']} between {stamp(r['first_use'], ctx.zone)} and "
        f"{stamp(r['last_use'], ctx.zone)}; its calibration {r['certificate_no']} "
        f"({stamp(r['found_at'], ctx.zone)}) found it out of tolerance"
        + (" and did not leave it in tolerance" if r["reason"] == "left_out_of_tolerance"
           else "")
        + ": assess these results "
        f"(see tracelake impact calibration --equipment {r['equipment_id']})")
        for r in ctx.rows(f"""
        SELECT u.job_id, s.equipment_id, s.found_oot_by AS certificate_no,
               s.found_oot_at AS found_at, s.suspect_reason AS reason, count(*) AS results,
               count(DISTINCT s.serial_number) AS units, min(s.tested_at) AS first_use,
               max(s.tested_at) AS last_use
        FROM ({status_sql(ctx.con, result_uses(ctx))}) s
        LEFT JOIN units u ON u.serial_number = s.serial_number
        WHERE s.calibration_status = 'suspect'
        GROUP BY ALL ORDER BY u.job_id, s.equipment_id, found_at""")]


# ---------------------------------------------------------------- v2: equipment

@rule("equipment_out_of_service_at_use", "major")
def equipment_out_of_service_at_use(ctx: RuleContext) -> list[Finding]:
    """Equipment whose register says it is out of service (inactive, out for repair, scrapped,
    missing) used for an operation or a measurement. The status is the register's current one."""
    out = []
    for r in ctx.rows(f"""
        SELECT u.*, e.status AS equipment_status FROM {op_uses(ctx)} u
        JOIN equipment e USING (equipment_id) WHERE e.status <> 'active'
        ORDER BY job_id, op_seq, serial_number"""):
        out.append(Finding("equipment_out_of_service_at_use", "major", r["job_id"],
                           r["serial_number"], _op_record(r),
                           f"{_op_name(r)} of {r['job_id']} used {r['equipment_id']} on "
                           f"{stamp(r['used_at'], ctx.zone)}; the equipment register has it "
                           f"{r['equipment_status'].replace('_', ' ')}"))
    for r in ctx.rows(f"""
        SELECT r.*, r.tested_at AS used_at, e.status AS equipment_status, u.job_id
        FROM {result_uses(ctx)} r JOIN equipment e USING (equipment_id)
        LEFT JOIN units u ON u.serial_number = r.serial_number
        WHERE e.status <> 'active'
        ORDER BY u.job_id, r.serial_number, r.tested_at"""):
        out.append(Finding("equipment_out_of_service_at_use", "major", r["job_id"],
                           r["serial_number"], _result_record(r, ctx.zone),
                           f"{r['test_step']}/{r['measurement']} on {r['serial_number']} was "
                           f"measured with {r['equipment_id']} on {stamp(r['used_at'], ctx.zone)}; "
                           f"the equipment register has it "
                           f"{r['equipment_status'].replace('_', ' ')}"))
    return out


@rule("calibration_as_found_not_recorded", "major")
def calibration_as_found_not_recorded(ctx: RuleContext) -> list[Finding]:
    """Equipment with calibrations that record no as-found result: earlier results taken with it
    cannot be judged (ISO 13485 7.6). One finding per piece of equipment (a register that never
    records as-found would otherwise raise one per calibration), naming its latest such
    calibration and how many more; major where the lake holds a use of the equipment before that
    calibration, minor where it holds none (nothing in the lake waits on the judgement). With a
    job in scope, only equipment that job used."""
    out = []
    for r in ctx.rows(f"""
        WITH used AS (SELECT equipment_id, min(used_at) AS first_use FROM (
                          SELECT equipment_id, used_at FROM {op_uses(ctx)}
                          UNION ALL SELECT equipment_id, tested_at FROM {result_uses(ctx)})
                      WHERE equipment_id IS NOT NULL GROUP BY equipment_id)
        SELECT c.equipment_id, CAST($job AS VARCHAR) AS job, count(*) AS n,
               arg_max(c.certificate_no, c.calibrated_at) AS certificate_no,
               max(c.calibrated_at) AS calibrated_at, any_value(u.first_use) AS first_use
        FROM calibrations c LEFT JOIN used u USING (equipment_id)
        WHERE c.as_found = 'not_recorded'
          AND (CAST($job AS VARCHAR) IS NULL OR u.equipment_id IS NOT NULL)
        GROUP BY c.equipment_id ORDER BY c.equipment_id"""):
        more = (f" (nor do its {r['n'] - 1} earlier calibrations)" if r["n"] > 2
                else " (nor does its earlier calibration)" if r["n"] == 2 else "")
        used = r["first_use"] is not None and r["first_use"] < r["calibrated_at"]
        out.append(Finding(
            "calibration_as_found_not_recorded", "major" if used else "minor", r["job"], None,
            f"calibrations:{r['equipment_id']}/{r['certificate_no']}",
            f"calibration {r['certificate_no']} of {r['equipment_id']} "
            f"({stamp(r['calibrated_at'], ctx.zone)}) records no as-found result{more}, so the "
            + ("results taken with it before cannot be judged" if used else
               "results taken with it before could not be judged; the lake holds none")))
    return out
