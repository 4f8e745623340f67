"""The record's form blocks as text: label/value pairs for the cover, the header, a unit, an NCR,
an ECN, a label check and the release; values that need attention carry a tone.

Shared by the HTML and PDF renderers, like :mod:`tracelake.records.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from tracelake.records.present import cell, when

__all__ = ["Fields", "cover_fields", "dhr_cover_fields", "ecn_fields", "ecn_title", "header_fields",
           "label_fields", "ncr_fields", "ncr_title", "release_fields", "unit_fields"]


@dataclass
class Fields:
    """Label/value pairs of a form block; ``tones`` marks values that need attention."""

    pairs: list[tuple[str, str]]
    tones: dict[str, str] = field(default_factory=dict)


def _mbr_tone(mbr: dict[str, Any] | None) -> dict[str, str]:
    return {"MBR revision": "bad"} if mbr and mbr.get("status") not in (None, "approved") else {}


def cover_fields(doc: dict[str, Any], z: ZoneInfo) -> Fields:
    """The BMR cover: job, product, MBR revision (and its approval), drawing, PO, GTIN, quantity, due."""
    job = doc.get("job") or {}
    mbr = doc.get("mbr") or {}
    q = doc.get("quantities") or {}
    rev = cell(job.get("mbr_revision"))
    if mbr:
        rev += f" ({cell(mbr.get('status'))}; approved by {cell(mbr.get('approved_by'))} " \
               f"{when(mbr.get('approved_at'), z)})"
    return Fields([
        ("Job", cell(job.get("job_id"))), ("Product", cell(job.get("product_code"))),
        ("MBR revision", rev), ("Drawing rev", cell(job.get("drawing_revision"))),
        ("Customer PO", cell(job.get("customer_po"))), ("GTIN", cell(job.get("gtin"))),
        ("Quantity", f"{cell(q.get('planned'))} planned, {cell(q.get('made'))} made, "
                     f"{cell(q.get('released'))} released"),
        ("Due date", when(job.get("due_date"), z)),
    ], _mbr_tone(mbr))


def header_fields(doc: dict[str, Any], z: ZoneInfo) -> Fields:
    """Section 1 of the BMR: every identifier of the job and its MBR."""
    job = doc.get("job") or {}
    mbr = doc.get("mbr") or {}
    return Fields([
        ("Job", cell(job.get("job_id"))), ("Job status", cell(job.get("status"))),
        ("Product", f"{cell(job.get('product_code'))} — {cell(job.get('product_description'))}"),
        ("GTIN", cell(job.get("gtin"))),
        ("MBR revision", f"{cell(job.get('mbr_revision'))} ({cell(mbr.get('status')) or 'not in the lake'})"),
        ("Drawing rev", cell(job.get("drawing_revision"))),
        ("MBR approved", f"{cell(mbr.get('approved_by'))} {when(mbr.get('approved_at'), z)}" if mbr else "—"),
        ("MBR effective", when(mbr.get("effective_from"), z) if mbr else "—"),
        ("Customer PO", cell(job.get("customer_po"))), ("Due date", when(job.get("due_date"), z)),
        ("Created", when(job.get("created_at"), z)),
        ("Released", f"{when(job.get('released_at'), z)} by {cell(job.get('released_by'))}"
         if job.get("released_at") else "not released"),
    ], _mbr_tone(mbr))


def dhr_cover_fields(doc: dict[str, Any], z: ZoneInfo) -> Fields:
    """The DHR cover: serial, status, job, GTIN, revisions, PO, when built."""
    unit = doc.get("unit") or {}
    job = doc.get("job") or {}
    return Fields([
        ("Serial", cell(unit.get("serial_number"))), ("Unit status", cell(unit.get("status"))),
        ("Job", cell(job.get("job_id") or unit.get("job_id"))), ("GTIN", cell(unit.get("gtin"))),
        ("MBR revision", cell(job.get("mbr_revision"))), ("Drawing rev", cell(job.get("drawing_revision"))),
        ("Customer PO", cell(job.get("customer_po"))), ("Built", when(unit.get("built_at"), z)),
    ])


def unit_fields(page: dict[str, Any], job: dict[str, Any], z: ZoneInfo) -> Fields:
    """The head of a unit page: serial, status, product, GTIN, job, revisions, built, findings."""
    unit = page.get("unit") or {}
    found = page.get("findings") or []
    return Fields([
        ("Serial", cell(unit.get("serial_number"))), ("Status", cell(unit.get("status"))),
        ("Product", f"{cell(unit.get('product_code'))} — {cell(unit.get('description'))}"),
        ("GTIN", cell(unit.get("gtin"))), ("Job", cell(unit.get("job_id"))),
        ("MBR / drawing", f"rev {cell(job.get('mbr_revision'))} / drawing "
                          f"{cell(job.get('drawing_revision'))}"),
        ("Built", when(unit.get("built_at"), z)), ("Findings", str(len(found))),
    ], {"Findings": "bad"} if any(f.get("severity") == "critical" for f in found) else {})


def release_fields(doc: dict[str, Any], z: ZoneInfo) -> Fields:
    """The release: when, by whom, how many units, and the release signature."""
    job = doc.get("job") or {}
    q = doc.get("quantities") or {}
    signed = [s for s in doc.get("signoffs") or [] if s.get("record_type") == "release"]
    return Fields([
        ("Released at", when(job.get("released_at"), z) if job.get("released_at") else "not released"),
        ("Released by", cell(job.get("released_by"))),
        ("Units released", f"{cell(q.get('released'))} of {cell(q.get('made'))} made "
                           f"({cell(q.get('shipped'))} shipped)"),
        ("Release signature", "; ".join(f"{cell(s.get('signed_by'))}, {when(s.get('signed_at'), z)}: "
                                        f"{cell(s.get('meaning'))}" for s in signed) or "none recorded"),
    ], {} if signed else {"Release signature": "bad"})


def ncr_fields(n: dict[str, Any], z: ZoneInfo) -> Fields:
    """What an NCR says: unit, job, raised, closed (or NOT CLOSED), component and lot, supplier,
    description, re-test run."""
    closed = n.get("closed_at") is not None
    return Fields([
        ("Unit", cell(n.get("serial_number")) or "(whole job)"),
        ("Job", cell(n.get("job_id") or n.get("the_job"))),
        ("Raised", f"{when(n.get('raised_at'), z)} by {cell(n.get('raised_by'))}"),
        ("Closed", f"{when(n.get('closed_at'), z)} by {cell(n.get('closed_by'))}" if closed
         else "NOT CLOSED"),
        ("Component", f"{cell(n.get('component_code'))} lot {cell(n.get('lot_number'))}"),
        ("Supplier", cell(n.get("supplier"))),
        ("Description", cell(n.get("description"))), ("Re-test run", cell(n.get("retest_ref"))),
    ], {} if closed else {"Closed": "bad"})




def ncr_title(n: dict[str, Any]) -> str:
    """``NCR-0231 — LAMP-NOISE — disposition rework`` (``— OPEN`` if not closed)."""
    return (f"{cell(n.get('ncr_id'))} — {cell(n.get('defect_code'))} — disposition "
            f"{cell(n.get('disposition'))}" + ("" if n.get("closed_at") is not None else " — OPEN"))




def ecn_fields(e: dict[str, Any], z: ZoneInfo) -> Fields:
    """An applied ECN: the change, when it took effect, who approved and applied it, the pages."""
    return Fields([
        ("Change", cell(e.get("description"))), ("Effective", when(e.get("effective_at"), z)),
        ("Approved by", cell(e.get("approved_by"))),
        ("Applied", f"{when(e.get('applied_at'), z)} by {cell(e.get('applied_by'))}"),
        ("Affected ops", cell(e.get("affected_ops"))), ("Pages touched", cell(e.get("pages"))),
    ])




def ecn_title(e: dict[str, Any]) -> str:
    """``ECN-014 — SPX-200 rev C → C1``."""
    return (f"{cell(e.get('ecn_id'))} — {cell(e.get('product_code'))} rev {cell(e.get('from_revision'))}"
            f" → {cell(e.get('to_revision'))}")




def label_fields(lab: dict[str, Any], z: ZoneInfo) -> Fields:
    """A label check: the element string, the verifier's result, and what the parse says."""
    parsed = lab.get("parsed") or {}
    problems = [str(p) for p in lab.get("problems") or []]
    if parsed.get("error"):
        problems.insert(0, f"not a valid GS1 element string: {parsed['error']}")
    bad = bool(problems) or lab.get("result") != "pass"
    return Fields([
        ("Label data", cell(lab.get("label_data"))), ("Verifier result", cell(lab.get("result")).upper()),
        ("Checked", f"{when(lab.get('checked_at'), z)} by {cell(lab.get('checked_by'))}"),
        ("Against", f"GTIN {cell(lab.get('product_gtin'))}, serial {cell(lab.get('serial_number'))}"),
        ("Parsed (GS1)", "; ".join(problems) if problems else "matches the unit's serial and product"),
    ], {"Parsed (GS1)": "bad", "Verifier result": "bad"} if bad else {})


