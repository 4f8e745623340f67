"""The "Review and signatures" section of a batch record, as text both renderers draw: the review
status, the record hash, each finding's disposition, and every signature's manifestation (printed
name, date and time, meaning: 21 CFR 11.50), marked when it signed an earlier version (11.70)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tracelake.lake.plant_time import stamp
from tracelake.records.present import _as_time, cell, when
from tracelake.records.tables import SEVERITY_TONE, TS, Col, Table

__all__ = ["ReviewView", "review_view"]

_HEADLINES = {
    "released": ("RELEASE SIGNED", "good"),
    "rejected": ("REJECTION SIGNED", "bad"),
    "signed an earlier version": ("SIGNED AN EARLIER VERSION", "warn"),
    "ready to sign": ("READY TO SIGN", "info"),
    "awaiting dispositions": ("AWAITING DISPOSITIONS", "warn"),
}
_DISPOSITION = {"accepted": "Accepted", "ncr_raised": "NCR raised",
                "corrected_at_source": "Corrected at source", "rejected": "Finding rejected"}

NOTE = ("Each review entry is signed by the person named, with their password, for the meaning "
        "shown; it is bound to the record hash below. An entry marked \"signed an earlier "
        "version\" was made on this record as it stood before a later ingest changed it. Entries "
        "are never changed: a correction is a later entry. 'tracelake verify' checks the chain.")


@dataclass
class ReviewView:
    """What the section shows."""

    headline: str
    tone: str
    lines: list[str]
    dispositions: Table
    signatures: Table


def review_view(review: dict[str, Any] | None, z: ZoneInfo) -> ReviewView:
    """The section from a BMR's ``review`` (an empty review when the record has none)."""
    review = review or {}
    status = review.get("status") or "awaiting dispositions"
    headline, tone = _HEADLINES.get(status, (status.upper(), "info"))
    lines = [cell(review.get("summary"))] if review.get("summary") else []
    lines.append(f"Record hash: {cell(review.get('record_hash'))}")
    reasons = (review.get("decision") or {}).get("reasons") or []
    if reasons and status != "rejected":
        lines.append(f"A release cannot be signed yet: {reasons[0]}"
                     + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""))
    d = Table([Col("#", 7, "C"), Col("Severity", 14), Col("Finding", 52), Col("Disposition", 50),
               Col("Signed (name, date and time, meaning)", 63)],
              empty="No findings: nothing needs a disposition.")
    for i, f in enumerate(review.get("findings") or [], start=1):
        e = f.get("disposition")
        finding = f"{cell(f.get('rule'))}\n{cell(f.get('record'))}"
        if e:
            what = _DISPOSITION.get(e.get("disposition"), cell(e.get("disposition")))
            if e.get("ncr_id"):
                what += f" {cell(e['ncr_id'])}"
            if e.get("rationale"):
                what += f"\n{cell(e['rationale'])}"
            signed = (f"{cell(e.get('printed_name'))} ({cell(e.get('role'))})\n"
                      f"{when(e.get('signed_at'), z)}\n{cell(e.get('meaning'))}"
                      + ("" if e.get("current_version") else "\nsigned an earlier version"))
            row_tone = None if e.get("current_version") else "info"
        else:
            what = "NO DISPOSITION" if f.get("needs_disposition") else "none needed (minor)"
            signed = ""
            row_tone = SEVERITY_TONE.get(f.get("severity") or "") if f.get("needs_disposition") \
                else None
        d.add([str(i), cell(f.get("severity")).upper(), finding, what, signed], row_tone)
    s = Table([Col("Entry", 11, "C"), Col("Printed name", 30), Col("Date and time", TS + 4),
               Col("Meaning of the signature", 64), Col("Role", 16), Col("Version signed", 31)],
              empty="No review signatures yet.")
    for e in review.get("signatures") or []:
        meaning = cell(e.get("meaning"))
        if e.get("kind") == "disposition":
            meaning += f" — {cell((e.get('finding_key') or '').split('|')[-1])}"
        elif e.get("rationale"):
            meaning += f" — {cell(e['rationale'])}"
        if e.get("supersedes"):
            verb = "corrects" if e.get("kind") == "disposition" else "replaces"
            meaning += f" ({verb} entry {cell(e['supersedes'])})"
        s.add([cell(e.get("entry")), cell(e.get("printed_name")),
               _seconds(e.get("signed_at"), z), meaning,
               cell(e.get("role")), cell(e.get("version_note"))],
              None if e.get("current_version") else "warn")
    return ReviewView(headline, tone, lines, d, s)


def _seconds(value: Any, z: ZoneInfo) -> str:
    try:
        return stamp(_as_time(value), z, seconds=True)
    except ValueError:
        return cell(value)
