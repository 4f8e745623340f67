"""The Device History Record: one serial's whole story, assembled from the lake.

``device_record(con, serial)`` returns a JSON-ready dict (see ``tracelake.records`` for its keys):
the unit's page (``tracelake.records.dhr.unit_page``) with its job, and the review of its batch,
so that whoever opens one device's record sees whether the batch it came from was released, by
whom, and whether that signature still covers the batch record as it stands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from tracelake.derived.findings import list_findings
from tracelake.errors import RecordNotFound
from tracelake.lake.plant_time import plant_zone
from tracelake.records import evidence
from tracelake.records.bmr import batch_record
from tracelake.records.dhr import UnitEvidence, unit_page
from tracelake.records.evidence import Scope
from tracelake.records.history import record_history

__all__ = ["batch_review", "device_record"]


def batch_review(con: duckdb.DuckDBPyConnection, job_id: str) -> dict[str, Any]:
    """The review of a unit's batch as the batch record shows it: status, one-line summary, the
    batch record's hash and the latest release or rejection signature (or None)."""
    review = batch_record(con, job_id, with_units=False)["review"]
    return {"job_id": job_id, "status": review["status"], "summary": review["summary"],
            "record_hash": review["record_hash"], "release_signature": review["release_signature"]}


def device_record(con: duckdb.DuckDBPyConnection, serial: str, *,
                  as_of: dict[str, Any] | None = None) -> dict[str, Any]:
    """The DHR of one serial: components and lots, operations, results with limits and attempt,
    equipment and calibration, NCRs and rework, firmware, label checks, shipment, sign-offs;
    ``history`` (values a later file changed) and ``as_of`` as on ``batch_record``.

    Raises:
        RecordNotFound: the serial is not a unit in the lake.
    """
    ev = UnitEvidence(con, Scope(serial=serial))
    if not ev.units:
        raise RecordNotFound(f"serial {serial} is not a unit in the lake")
    unit = ev.units[0]
    job = evidence.rows(con, "SELECT * FROM jobs WHERE job_id = ?", [unit["job_id"]])
    product = evidence.rows(con, "SELECT * FROM products WHERE product_code = ?",
                            [unit["product_code"]])
    job_findings = list_findings(con, unit["job_id"]) if job else []
    page = unit_page(con, unit, ev, job_findings, product[0] if product else None)
    doc = {"kind": "dhr", "title": f"Device History Record — {serial}",
           "generated_at": datetime.now(UTC), "timezone": str(plant_zone(con)),
           "job": job[0] if job else None, **page,
           "batch_review": batch_review(con, unit["job_id"]) if job else None,
           "history": record_history(con, serial=serial)}
    return doc | ({"as_of": as_of} if as_of is not None else {})
