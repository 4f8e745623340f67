"""The release decision with the reviews: which findings are disposed of, whether the batch may be
signed for release, and what the signatures say about the record as it stands now.

Release is refused while a critical finding is open (a critical finding closes only when it is
gone from the lake, corrected at source and re-ingested, or when a reviewer rejects it as not
applying, with a rationale) or while a major finding has no disposition. A signature is bound to
the hash of the record it signed: when the record has changed since, it is shown as "signed an
earlier version" (11.70) and the release needs a new signature.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from tracelake.lake.plant_time import stamp
from tracelake.review import chain
from tracelake.review.dispositions import DISPOSITIONS, MEANINGS, finding_key

__all__ = ["Decision", "decide", "jobs_pending_review", "manifestation", "review_state"]

#: Review states of a job, as pages and records show them.
STATES = ("released", "rejected", "signed an earlier version", "ready to sign",
          "awaiting dispositions")


@dataclass
class Decision:
    """Whether a release may be signed now, and every reason it may not."""

    can_release: bool
    reasons: list[str] = field(default_factory=list)
    open_critical: int = 0
    undisposed_major: int = 0


def current_dispositions(entries: list[chain.Entry]) -> dict[str, chain.Entry]:
    """finding key -> its latest disposition."""
    out: dict[str, chain.Entry] = {}
    for e in entries:
        if e.kind == "disposition" and e.finding_key:
            out[e.finding_key] = e
    return out


def decide(findings: list[dict[str, Any]], entries: list[chain.Entry],
           job_releasable: bool = True, job_reason: str | None = None) -> Decision:
    """The release decision from the record's findings and the job's dispositions."""
    current = current_dispositions(entries)
    reasons: list[str] = []
    critical = major = 0
    for f in findings:
        d = current.get(finding_key(f))
        if f.get("severity") == "critical" and (d is None or d.disposition != "rejected"):
            critical += 1
            reasons.append(f"critical finding open: {f.get('rule')} ({f.get('record')})")
        elif f.get("severity") == "major" and d is None:
            major += 1
            reasons.append(f"major finding without a disposition: {f.get('rule')} "
                           f"({f.get('record')})")
    if not job_releasable:
        reasons.insert(0, job_reason or "the job is not complete")
    return Decision(not reasons, reasons, critical, major)


def manifestation(e: chain.Entry, zone: ZoneInfo) -> str:
    """The signature as a person reads it (11.50): printed name, date and time, meaning."""
    return (f"{e.printed_name} ({e.role}) · {stamp(e.signed_at, zone, seconds=True)} · "
            f"{e.meaning}")


def _entry_view(e: chain.Entry, record_hash: str | None, zone: ZoneInfo) -> dict[str, Any]:
    return {"entry": e.seq, "kind": e.kind, "printed_name": e.printed_name, "signer": e.signer,
            "role": e.role, "signed_at": e.signed_at, "meaning": e.meaning,
            "manifestation": manifestation(e, zone), "record_hash": e.record_hash,
            "current_version": record_hash is None or e.record_hash == record_hash,
            "version_note": ("signed this version" if record_hash is None
                             or e.record_hash == record_hash else "signed an earlier version"),
            "supersedes": e.supersedes, "disposition": e.disposition, "ncr_id": e.ncr_id,
            "rationale": e.rationale, "finding_key": e.finding_key}


def review_state(con: duckdb.DuckDBPyConnection, job_id: str, *, record_hash: str,
                 findings: list[dict[str, Any]], zone: ZoneInfo, job_releasable: bool = True,
                 job_reason: str | None = None) -> dict[str, Any]:
    """The review of one job as records and pages show it.

    Keys: ``record_hash`` (of the record as it stands), ``status`` (one of :data:`STATES`),
    ``summary`` (one line), ``decision`` (can_release, reasons, ...), ``findings`` (each finding
    with its ``disposition`` or None), ``signatures`` (every entry of the job, oldest first,
    with its manifestation and whether it signed this version), ``release_signature`` (the
    latest release/rejection signature or None).
    """
    found = chain.entries(con, job_id)
    current = current_dispositions(found)
    decision = decide(findings, found, job_releasable, job_reason)
    views = [_entry_view(e, record_hash, zone) for e in found]
    signatures = [v for v in views if v["kind"] == "signature"]
    last = signatures[-1] if signatures else None
    rows = []
    for f in findings:
        d = current.get(finding_key(f))
        rows.append({"rule": f.get("rule"), "severity": f.get("severity"),
                     "serial_number": f.get("serial_number"), "record": f.get("record"),
                     "message": f.get("message"), "key": finding_key(f),
                     "needs_disposition": f.get("severity") in ("critical", "major"),
                     "disposition": _entry_view(d, record_hash, zone) if d else None})
    if last is not None and not last["current_version"]:
        status = "signed an earlier version"
        summary = (f"{last['meaning']} by {last['printed_name']} on "
                   f"{stamp(last['signed_at'], zone)} signed an earlier version of this record; "
                   "the release needs a new signature")
    elif last is not None:
        status = "released" if last["meaning"] == MEANINGS["release"] else "rejected"
        summary = f"{last['manifestation']} (signed this version)"
    elif decision.can_release:
        status, summary = "ready to sign", "Every finding that needs one has a disposition: " \
                                           "ready for a release signature"
    else:
        status = "awaiting dispositions"
        summary = (f"{decision.undisposed_major} major finding(s) without a disposition, "
                   f"{decision.open_critical} critical open" if decision.undisposed_major
                   or decision.open_critical else decision.reasons[0])
    return {"record_hash": record_hash, "status": status, "summary": summary,
            "decision": asdict(decision), "findings": rows, "signatures": views,
            "release_signature": last, "dispositions": dict(DISPOSITIONS)}


def jobs_pending_review(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Complete or released jobs without a release or rejection signature, oldest first.

    (Whether a signature still covers the record as it stands needs the record's hash:
    ``tracelake.records.batch_record(con, job)["review"]["status"]`` says it.)
    """
    signed = {e.job_id for e in chain.entries(con) if e.kind == "signature"}
    rows = con.execute("SELECT job_id, product_code, status, created_at FROM jobs "
                       "WHERE status IN ('complete', 'released') ORDER BY created_at, job_id"
                       ).fetchall()
    return [{"job_id": j, "product_code": p, "status": s, "created_at": c}
            for j, p, s, c in rows if j not in signed]
