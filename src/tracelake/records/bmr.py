"""The Batch Manufacturing Record: one job executed against its approved Master Batch Record.

``batch_record(con, job_id)`` returns a JSON-ready dict (see ``tracelake.records`` for its keys),
findings and the release decision first, then every section, then one DHR page per serial.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import duckdb

from tracelake.derived.findings import (
    BATCH_FINDINGS_COUNT_PER_SERIAL,
    list_findings,
    release_gate,
    unit_finding_counts,
)
from tracelake.errors import RecordNotFound
from tracelake.lake.plant_time import plant_zone
from tracelake.records import evidence
from tracelake.records.dhr import UnitEvidence, label_problems, unit_page
from tracelake.records.evidence import Scope, rows
from tracelake.records.history import record_history
from tracelake.records.signatures import add_review

__all__ = ["batch_record"]

_PASSED = ("passed", "released", "shipped")


def _bom(con: duckdb.DuckDBPyConnection, job: dict[str, Any]) -> list[dict[str, Any]]:
    """The BOM snapshot at release beside the MBR's BOM for the job's revision, line by line."""
    return rows(con, """
        WITH snap AS (SELECT * FROM bom_snapshot WHERE job_id = $job),
             master AS (SELECT * FROM mbr_bom WHERE product_code = $product AND mbr_revision = $rev)
        SELECT coalesce(s.line_no, m.line_no) AS line_no,
               s.component_code, s.component_revision, s.qty_per, s.uom, s.serialised, s.critical,
               m.component_code AS mbr_component_code, m.component_revision AS mbr_component_revision,
               m.qty_per AS mbr_qty_per,
               (s.component_code IS NOT DISTINCT FROM m.component_code
                AND s.component_revision IS NOT DISTINCT FROM m.component_revision
                AND s.qty_per IS NOT DISTINCT FROM m.qty_per) AS matches_mbr
        FROM snap s FULL JOIN master m USING (line_no) ORDER BY 1""",
                {"job": job["job_id"], "product": job["product_code"], "rev": job["mbr_revision"]})


def _counts(counts: dict[str, int]) -> dict[str, int]:
    """A serial's findings as the serial list carries them: the total on its record (its own and
    its job's batch-level ones), and each part."""
    return {"findings": counts["total"], "own_findings": counts["own"],
            "batch_findings": counts["batch"]}


def _firmware_summary(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_build: dict[tuple[str, str, bool], set[str]] = {}
    for f in loads:
        by_build.setdefault((f["firmware_version"], f["build_id"], f["release_approved"]),
                            set()).add(f["serial_number"])
    return [{"firmware_version": v, "build_id": b, "release_approved": a, "units": len(s),
             "serials": sorted(s)} for (v, b, a), s in sorted(by_build.items())]


def batch_record(con: duckdb.DuckDBPyConnection, job_id: str, *,
                 with_units: bool = True, as_of: dict[str, Any] | None = None) -> dict[str, Any]:
    """The BMR of a job: header, BOM against the MBR, materials, operations, results, equipment
    and calibration, NCRs with rework and re-test, firmware, serial list with label checks, ECNs,
    sign-offs and release; findings and the release decision first; a DHR page per serial;
    ``history``: every value of the job's rows a later file changed. ``as_of`` (the point of a
    connection from ``tracelake.lake.asof``, ``AsOf.as_dict()``) is carried as ``doc["as_of"]``,
    and the renderers head the record with it.

    Raises:
        RecordNotFound: the job is not in the lake.
    """
    job_rows = rows(con, """
        SELECT j.*, p.description AS product_description, p.gtin, p.serialised
        FROM jobs j LEFT JOIN products p USING (product_code) WHERE j.job_id = ?::VARCHAR""",
                    [job_id])
    if not job_rows:
        raise RecordNotFound(f"job {job_id} is not in the lake")
    job = job_rows[0]
    scope = Scope(job_id=job_id)
    findings = list_findings(con, job_id)
    gate = release_gate(con, job_id, findings)
    ev = UnitEvidence(con, scope)
    mbr = rows(con, "SELECT * FROM mbr WHERE product_code = ? AND mbr_revision = ?",
               [job["product_code"], job["mbr_revision"]])
    routing = rows(con, """SELECT * FROM mbr_operations WHERE product_code = ? AND mbr_revision = ?
                           ORDER BY op_seq""", [job["product_code"], job["mbr_revision"]])
    statuses = Counter(u["status"] for u in ev.units)
    all_tests = [t for ts in ev.tests.values() for t in ts]
    all_loads = [f for fs in ev.firmware.values() for f in fs]
    product = {"description": job["product_description"], "gtin": job["gtin"]}
    unit_pages = [unit_page(con, u, ev, findings, product) for u in ev.units] if with_units else []
    serial_list = []
    for u in ev.units:
        checks = ev.labels.get(u["serial_number"], [])
        ship = ev.shipments.get(u["serial_number"], [])
        serial_list.append({
            "serial_number": u["serial_number"], "status": u["status"], "built_at": u["built_at"],
            "label_data": checks[-1]["label_data"] if checks else None,
            "label_result": checks[-1]["result"] if checks else None,
            # worked out here, not taken from the unit pages: a record built without them
            # (signing, the review commands) must hash the same as the full record
            "label_problems": label_problems(checks[-1], u["serial_number"]) if checks else [],
            "customer": ship[-1]["customer"] if ship else None,
            "order_ref": ship[-1]["order_ref"] if ship else None,
            **_counts(unit_finding_counts(findings, u["serial_number"], job_id)),
            "page": None})  # filled in by the PDF renderer
    doc: dict[str, Any] = {
        "kind": "bmr", "title": f"Batch Manufacturing Record — {job_id}",
        "generated_at": datetime.now(UTC), "timezone": str(plant_zone(con)),
        "job": job,
        "release": gate.as_dict(),
        "findings": [f.as_dict() for f in findings],
        "batch_findings_count_per_serial": BATCH_FINDINGS_COUNT_PER_SERIAL,
        "quantities": {"planned": job["quantity"], "made": len(ev.units),
                       "passed": sum(statuses[s] for s in _PASSED),
                       "released": statuses["released"] + statuses["shipped"],
                       "shipped": statuses["shipped"], "scrapped": statuses["scrapped"],
                       "quarantined": statuses["quarantined"], "wip": statuses["wip"]},
        "mbr": mbr[0] if mbr else None,
        "routing": routing,
        "bom": _bom(con, job),
        "materials": rows(con, """
            SELECT m.* REPLACE (coalesce(m.supplier, l.supplier) AS supplier,
                                coalesce(m.supplier_lot, l.supplier_lot) AS supplier_lot),
                   l.certificate_ref, l.expires_at, l.inspection_status, l.received_at
            FROM material_issues m LEFT JOIN lots l USING (component_code, lot_number)
            WHERE m.job_id = ? ORDER BY m.issued_at, m.issue_id""", [job_id]),
        "serialised_parts": [c for cs in ev.fitments.values() for c in cs if c["component_serial"]],
        "operations": ev.operations,
        "tests": all_tests,
        "equipment": evidence.calibration_at_use(con, scope),
        "ncrs": [n for ns in ev.ncrs.values() for n in ns] + [
            n for n in evidence.ncrs(con, scope) if n["serial_number"] is None],
        "firmware": _firmware_summary(all_loads),
        "serials": serial_list,
        "ecns": rows(con, """SELECT je.*, e.product_code, e.from_revision, e.to_revision,
                                    e.effective_at, e.approved_by, e.description, e.affected_ops
                             FROM job_ecns je LEFT JOIN ecns e USING (ecn_id)
                             WHERE je.job_id = ? ORDER BY je.applied_at""", [job_id]),
        "signoffs": ev.signoffs,
        "units": unit_pages,
        "history": record_history(con, job_id=job_id),
    }
    if as_of is not None:
        doc["as_of"] = as_of
    return add_review(con, doc)
