"""The Device History Record: one serial's whole story, assembled from the lake.

A unit's page of the record (``unit_page``) from evidence fetched once for a set of units: the
batch record builds every unit page with it, and ``tracelake.records.device`` the single DHR.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb

from tracelake.derived.findings import (
    BATCH_FINDINGS_COUNT_PER_SERIAL,
    Finding,
    unit_finding_counts,
    unit_findings,
)
from tracelake.derived.genealogy import where_from
from tracelake.intake.labels import check_label, parse_label
from tracelake.records import evidence
from tracelake.records.evidence import Scope

__all__ = ["UnitEvidence", "label_problems", "unit_page"]


class UnitEvidence:
    """Evidence rows for a set of units, grouped by serial for the unit pages."""

    def __init__(self, con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
        self.units = evidence.units(con, scope)
        self.operations = evidence.operations(con, scope)
        self.tests = _by_serial(evidence.test_results(con, scope))
        self.fitments = _by_serial(evidence.unit_components(con, scope))
        self.ncrs = _by_serial(evidence.ncrs(con, scope))
        self.firmware = _by_serial(evidence.firmware(con, scope))
        self.labels = _by_serial(evidence.labels(con, scope))
        self.shipments = _by_serial(evidence.shipments(con, scope))
        self.equipment = _by_serial(evidence.calibration_at_use(con, scope, per_unit=True))
        self.signoffs = evidence.signoffs(con, scope)

    def operations_of(self, serial: str, job_id: str) -> list[dict[str, Any]]:
        """The unit's own operations and its job's batch steps, in time order."""
        return [o for o in self.operations if o["serial_number"] == serial
                or (o["serial_number"] is None and o["job_id"] == job_id)]

    def signoffs_of(self, serial: str) -> list[dict[str, Any]]:
        """Signatures on the unit's operations, the unit, and its NCRs."""
        ncr_ids = {n["ncr_id"] for n in self.ncrs.get(serial, [])}
        return [s for s in self.signoffs
                if (s["record_type"] == "operation" and s["record_id"].split("/")[2:3] == [serial])
                or (s["record_type"] == "unit" and s["record_id"] == serial)
                or (s["record_type"] == "ncr" and s["record_id"] in ncr_ids)]


def _by_serial(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in items:
        grouped[r["serial_number"]].append(r)
    return grouped


def label_problems(label: dict[str, Any], serial: str) -> list[str]:
    """What is wrong with a printed label's GS1 data for this serial (empty when it checks out)."""
    return check_label(parse_label(label["label_data"]), serial_number=serial,
                       gtin=label["product_gtin"])


def unit_page(con: duckdb.DuckDBPyConnection, unit: dict[str, Any], ev: UnitEvidence,
              findings: list[Finding], product: dict[str, Any] | None) -> dict[str, Any]:
    """One unit's DHR section from evidence already fetched."""
    serial = unit["serial_number"]
    genealogy = where_from(con, serial)
    tests = ev.tests.get(serial, [])
    ops = ev.operations_of(serial, unit["job_id"])
    labels = [{**lab, "parsed": parse_label(lab["label_data"]).as_dict(),
               "problems": label_problems(lab, serial)} for lab in ev.labels.get(serial, [])]
    return {
        "unit": {**unit, "description": (product or {}).get("description"),
                 "gtin": (product or {}).get("gtin")},
        # the unit's own findings, then its batch's findings that name no one unit (they concern
        # every unit of the job: a revision, an ECN, a release signature, an equipment event)
        "findings": [f.as_dict() for f in unit_findings(findings, serial, unit["job_id"])],
        "finding_counts": {**unit_finding_counts(findings, serial, unit["job_id"]),
                           "batch_findings_count_per_serial": BATCH_FINDINGS_COUNT_PER_SERIAL},
        "components": genealogy.components,
        "fitments": ev.fitments.get(serial, []),
        "operations": ops,
        "tests": tests,
        "equipment": [{k: v for k, v in e.items() if k != "serial_number"}
                      for e in ev.equipment.get(serial, [])],
        "ncrs": ev.ncrs.get(serial, []),
        "firmware": ev.firmware.get(serial, []),
        "labels": labels,
        "shipments": ev.shipments.get(serial, []),
        "signoffs": ev.signoffs_of(serial),
    }
