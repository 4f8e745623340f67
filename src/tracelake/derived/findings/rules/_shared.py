"""SQL and record names the findings rules share: operations with their MBR step, test
results, calibration in force at each use."""

from __future__ import annotations

from typing import Any

from tracelake.derived.findings.engine import RuleContext
from tracelake.lake.plant_time import stamp

# ---------------------------------------------------------------- helpers

_JOB_SCOPE = "(CAST($job AS VARCHAR) IS NULL OR {col} = $job)"

# operations, with the MBR step they execute
_OPS_WITH_STEP = """
    SELECT o.*, m.op_code AS mbr_op_code, m.needs_calibrated_equipment, m.first_article
    FROM operations o JOIN jobs j USING (job_id)
    LEFT JOIN mbr_operations m ON m.product_code = j.product_code
         AND m.mbr_revision = j.mbr_revision AND m.op_seq = o.op_seq
    WHERE (CAST($job AS VARCHAR) IS NULL OR o.job_id = $job)
"""


def _units_in_scope(ctx: RuleContext, column: str) -> str:
    """SQL keeping rows whose serial (``column``, with its leading WHERE or AND) is a unit of the
    job in scope; empty with every job in scope (no join, no filter)."""
    if ctx.job_id is None:
        return ""
    return f"{column} IN (SELECT serial_number FROM units WHERE job_id = $job)"


def _op_record(r: dict[str, Any]) -> str:
    serial = f"/{r['serial_number']}" if r.get("serial_number") else ""
    return f"operations:{r['job_id']}/{r['op_seq']}{serial}"


def _op_name(r: dict[str, Any]) -> str:
    where = f" on {r['serial_number']}" if r.get("serial_number") else " (batch)"
    return f"op {r['op_seq']} {r.get('op_code') or ''}".rstrip() + where


def _result_record(r: dict[str, Any], zone: Any) -> str:
    return (f"test_results:{r['serial_number']}/{r['test_step']}/{r['measurement']}/"
            f"{stamp(r['tested_at'], zone)}")



# ---------------------------------------------------------------- calibration

def result_uses(ctx: RuleContext) -> str:
    """SQL of the test results in scope as uses of equipment, only the columns a finding names
    (the calibration status carries every column it is given)."""
    return f"""(SELECT serial_number, test_step, measurement, equipment_id, tested_at
                FROM test_results {_units_in_scope(ctx, "WHERE serial_number")})"""


def op_uses(ctx: RuleContext) -> str:
    """SQL of the operations in scope that name equipment, as uses of it, with whether their MBR
    step needs calibrated equipment."""
    scope = "" if ctx.job_id is None else "AND o.job_id = $job"
    return f"""(SELECT o.job_id, o.op_seq, o.serial_number, o.op_code, o.equipment_id,
                       o.started_at AS used_at, m.needs_calibrated_equipment
                FROM operations o JOIN jobs j USING (job_id)
                LEFT JOIN mbr_operations m ON m.product_code = j.product_code
                     AND m.mbr_revision = j.mbr_revision AND m.op_seq = o.op_seq
                WHERE o.equipment_id IS NOT NULL {scope})"""
