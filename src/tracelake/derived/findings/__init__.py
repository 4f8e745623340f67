"""Review by exception: everything that makes a batch or device record incomplete or wrong.

A rule engine over the lake. Each rule (in :mod:`tracelake.derived.findings.rules`) is one small
function, mostly one SQL query, that returns :class:`Finding` rows: the rule's name, a severity,
the job and serial it concerns, the record it points at (``table:key``) and a message a QA
engineer understands. Rows that the contracts quarantined still count against the record they
name (their file and row are in ``source``).

Severities: ``critical`` blocks release (the record cannot be shown as releasable), ``major``
needs a documented assessment before release, ``minor`` is a record-keeping defect.

    from tracelake.derived.findings import list_findings, release_gate
    findings = list_findings(con, job_id="J-1042")
    gate = release_gate(con, "J-1042", findings)
"""

from __future__ import annotations

from tracelake.derived.findings import rules as _rules  # noqa: F401  (registers every rule in RULES)
from tracelake.derived.findings.engine import (
    BATCH_FINDINGS_COUNT_PER_SERIAL,
    RULES,
    SEVERITIES,
    Finding,
    ReleaseGate,
    list_findings,
    release_gate,
    unit_finding_counts,
    unit_findings,
)

__all__ = ["BATCH_FINDINGS_COUNT_PER_SERIAL", "RULES", "SEVERITIES", "Finding", "ReleaseGate",
           "list_findings", "release_gate", "unit_finding_counts", "unit_findings"]
