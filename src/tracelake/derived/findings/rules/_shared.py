"""SQL and record names the findings rules share: operations with their MBR step, test
results, calibration in force at each use."""

from __future__ import annotations

from typing import Any

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

# test results, with the job of their unit
_RESULTS = """
    SELECT r.*, u.job_id FROM test_results r LEFT JOIN units u USING (serial_number)
    WHERE (CAST($job AS VARCHAR) IS NULL OR u.job_id = $job)
"""


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

# equipment that needs no calibration (contract v2: calibration_required false) is never
# overdue and its use is no finding
_CAL_IN_FORCE = """
    SELECT * FROM (
    SELECT u.*, c.certificate_no, c.calibrated_at, c.due_at
    FROM ({uses}) u ASOF LEFT JOIN calibrations c
      ON c.equipment_id = u.equipment_id AND u.used_at >= c.calibrated_at) x
    WHERE NOT EXISTS (SELECT 1 FROM equipment e WHERE e.equipment_id = x.equipment_id
                      AND e.calibration_required = false)
"""

_OP_USES = f"""SELECT *, started_at AS used_at FROM ({_OPS_WITH_STEP}) WHERE equipment_id IS NOT NULL"""
_RESULT_USES = f"""SELECT *, tested_at AS used_at FROM ({_RESULTS})"""


