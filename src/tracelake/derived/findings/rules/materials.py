"""Goods-in lots (import contract v2): used after expiry, or while rejected, on hold or recalled."""

from __future__ import annotations

from typing import Any

from tracelake.derived.findings.engine import Finding, RuleContext, rule
from tracelake.derived.findings.rules._shared import (
    _JOB_SCOPE,
)
from tracelake.lake.plant_time import stamp

# ---------------------------------------------------------------- v2: goods-in lots

# every use of a lot: issued to a job, or fitted into a unit (with the unit's job)
_LOT_USES = """
    SELECT 'material_issues' AS used_in, m.issue_id AS use_key, m.job_id, NULL AS serial_number,
           m.component_code, m.lot_number, m.issued_at AS used_at
    FROM material_issues m WHERE m.lot_number IS NOT NULL
    UNION ALL
    SELECT 'unit_components', uc.serial_number || '/' || uc.component_code, u.job_id,
           uc.serial_number, uc.component_code, uc.lot_number, uc.fitted_at
    FROM unit_components uc LEFT JOIN units u USING (serial_number)
    WHERE uc.lot_number IS NOT NULL
"""


def _lot_use_rows(ctx: RuleContext, condition: str) -> list[dict[str, Any]]:
    return ctx.rows(f"""
        SELECT x.*, l.supplier, l.supplier_lot, l.expires_at, l.inspection_status,
               l.certificate_ref
        FROM ({_LOT_USES}) x JOIN lots l USING (component_code, lot_number)
        WHERE {_JOB_SCOPE.format(col="x.job_id")} AND {condition}
        ORDER BY x.job_id, x.used_at, x.use_key""")


def _lot_name(r: dict[str, Any]) -> str:
    supplier = f" from {r['supplier']}" + (f" (their lot {r['supplier_lot']})"
                                            if r.get("supplier_lot") else "")
    return f"lot {r['component_code']}/{r['lot_number']}{supplier}"


@rule("lot_expired_at_use", "major")
def lot_expired_at_use(ctx: RuleContext) -> list[Finding]:
    """A goods-in lot issued to a job or fitted into a unit after its expiry date."""
    return [Finding(
        "lot_expired_at_use", "major", r["job_id"], r["serial_number"],
        f"{r['used_in']}:{r['use_key']}",
        f"{_lot_name(r)} was used on {stamp(r['used_at'], ctx.zone)}"
        + (f" in {r['serial_number']}" if r["serial_number"] else f" by {r['job_id']}")
        + f", after it expired ({stamp(r['expires_at'], ctx.zone)})")
        for r in _lot_use_rows(ctx, "l.expires_at IS NOT NULL AND x.used_at > l.expires_at")]


@rule("lot_unusable_at_use", "critical")
def lot_unusable_at_use(ctx: RuleContext) -> list[Finding]:
    """A goods-in lot that incoming inspection rejected, holds, or that was recalled, used anyway.

    The lot's status is the one the lake holds now (goods-in records carry no status history).
    """
    return [Finding(
        "lot_unusable_at_use", "critical", r["job_id"], r["serial_number"],
        f"{r['used_in']}:{r['use_key']}",
        f"{_lot_name(r)} is {r['inspection_status'].replace('_', ' ')} at goods-in but was used "
        f"on {stamp(r['used_at'], ctx.zone)}"
        + (f" in {r['serial_number']}" if r["serial_number"] else f" by {r['job_id']}"))
        for r in _lot_use_rows(ctx, "l.inspection_status IN ('rejected', 'on_hold', 'recalled')")]


