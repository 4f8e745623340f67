"""What both record renderers show: section titles, plant-local times, values against limits, the verdict.

The HTML and PDF renderers share these so an auditor reads the same words in either format.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from zoneinfo import ZoneInfo

from tracelake.derived.calibration.status import BAD as CALIBRATION_BAD
from tracelake.derived.findings import SEVERITIES
from tracelake.errors import InputError
from tracelake.lake.plant_time import DEFAULT_ZONE, stamp

__all__ = ["AS_OF_NOTE", "BMR_SECTIONS", "HISTORY_NOTE", "REVIEW_LINES", "SECTION_NOTES",
           "UNCONTROLLED", "UNIT_SECTIONS", "Verdict", "as_of_banner", "attempt",
           "calibration_note", "calibration_word", "cell", "count_severities", "limits",
           "measured", "op_label", "signoff_record", "test_flag", "test_tone", "unit_heading",
           "verdict", "when", "zone_of"]

#: The BMR's sections, in the order the issue lists them (numbered "1." ... in both formats).
BMR_SECTIONS: tuple[tuple[str, str], ...] = (
    ("header", "Header, identifiers and quantities"),
    ("bom", "Bill of materials: snapshot beside the MBR"),
    ("materials", "Materials issued (lots)"),
    ("serialised", "Serialised critical parts"),
    ("operations", "Operations carried out"),
    ("tests", "Test and inspection results"),
    ("equipment", "Equipment and calibration at use"),
    ("ncrs", "Nonconformances, rework and re-test"),
    ("firmware", "Firmware"),
    ("serials", "Serial list"),
    ("ecns", "ECNs applied"),
    ("signoffs", "Sign-offs (21 CFR 11.50)"),
    ("review", "Review and signatures (21 CFR 11.50, 11.70)"),
    ("release", "Release"),
)

#: The sections of one unit's Device History Record page.
UNIT_SECTIONS: tuple[tuple[str, str], ...] = (
    ("findings", "Findings on this unit"),
    ("components", "Components and lots"),
    ("operations", "Operations"),
    ("tests", "Test and inspection results"),
    ("equipment", "Equipment and calibration"),
    ("ncrs", "Nonconformances and rework"),
    ("firmware", "Firmware"),
    ("labels", "Label check"),
    ("shipments", "Shipment"),
    ("signoffs", "Sign-offs"),
)

#: What each BMR section shows and what its highlighting means (printed under its heading).
SECTION_NOTES: dict[str, str] = {
    "bom": "Left: the BOM snapshot released to the floor with the job. Right: the BOM of the MBR revision "
           "the job was built to. S = serialised, C = critical. Differences are highlighted (a change that "
           "lands mid-build belongs to an ECN).",
    "serialised": "Serialised parts fitted into each unit. Highlighted: parts removed, with the NCR they "
                  "were removed under.",
    "operations": "Every step carried out, in time order. Highlighted: failed steps and steps missing an "
                  "operator or a time (red), repeated steps (blue).",
    "tests": "Results against the MBR's acceptance limits: a summary per measurement, then every result. "
             "Highlighted: out of limits or failed (red); measured with equipment that was not in "
             "calibration at use (amber): SUSPECT (in a window that ends in an out-of-tolerance finding), "
             "CAL. OVERDUE, NO CALIBRATION or OUT OF SERVICE. Re-tests carry their attempt number.",
    "equipment": "Each piece of equipment per calibration in force and status at use: the certificate and "
                 "due date as they stood. Highlighted: used while overdue, without calibration or out of "
                 "service (red); used in a suspect window, from its last good calibration up to a "
                 "calibration that found it out of tolerance, which puts those results in question "
                 "(amber).",
    "serials": "Every serial of the job with its label check and where it went. \"Findings\" counts the "
               "findings on the unit's record, as its Device History Record lists them: its own, and the "
               "job's batch-level findings (they name no one unit and count against every serial). "
               "\"Unit page\" is the page of this record on which the unit's Device History Record starts.",
    "signoffs": "Electronic signatures as recorded: printed name, date and time, and the meaning of each "
                "signature (21 CFR 11.50).",
}

#: The blank lines for a wet-ink review of the printed record.
REVIEW_LINES = ("Reviewed by (printed name)", "Signature", "Date and time", "Meaning / comments")

UNCONTROLLED = "Uncontrolled when printed: the controlled record is the tracelake lake."


def unit_heading(serial: str) -> str:
    """The heading that starts each unit page (the serial list points at it)."""
    return f"Device History Record — {serial}"


def record_kind(doc: dict[str, Any]) -> str:
    """``bmr`` or ``dhr``: the kind of record a document holds.

    Raises:
        InputError: the document is neither a BMR nor a DHR.
    """
    kind = doc.get("kind")
    if kind not in ("bmr", "dhr"):
        raise InputError(f"cannot render a record of kind {kind!r}: expected 'bmr' or 'dhr'")
    return str(kind)


def header_right(doc: dict[str, Any]) -> str:
    """The running header's right side: job (and serial, on a DHR), product and revisions; on
    a record of the lake as of a point, that point first (every page says it)."""
    job = doc.get("job") or {}
    product = (f"{cell(job.get('product_code'))} rev {cell(job.get('mbr_revision'))} "
               f"(drawing {cell(job.get('drawing_revision'))})")
    as_of = doc.get("as_of")
    first = f"AS OF {when(as_of.get('at'), zone_of(doc))} · " if isinstance(as_of, dict) else ""
    if doc.get("kind") == "bmr":
        return f"{first}Job {cell(job.get('job_id'))} · {product}"
    serial = cell((doc.get("unit") or {}).get("serial_number"))
    return f"{first}Serial {serial} · Job {cell(job.get('job_id'))} · {product}"


#: What the record history section says first.
HISTORY_NOTE = ("Every value of this record's rows that a later file (a corrected re-export) "
                "changed, as it was before and after, with the ingest run and file that changed "
                "it. The earlier versions stay in the lake (history tables).")

#: What the as-of banner says under its headline.
AS_OF_NOTE = ("Rows loaded by later ingest runs, and reviews signed later, are left out; values "
              "changed since are shown as they stood then.")


def as_of_banner(doc: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The banner heading a record of the lake as of a point: headline and lines (None for a
    record of the lake as it stands now)."""
    as_of = doc.get("as_of")
    if not isinstance(as_of, dict):
        return None
    z = zone_of(doc)
    headline = f"As of {when(as_of.get('at'), z)}"
    lines = [f"This record shows the lake as it stood on {when(as_of.get('at'), z)} (asked "
             f"for: {cell(as_of.get('asked'))}); the last ingest run by then: "
             f"{cell(as_of.get('run_id'))}, committed {when(as_of.get('committed_at'), z)}.",
             AS_OF_NOTE]
    if as_of.get("later_runs"):
        lines.append(f"{as_of['later_runs']} later ingest run(s) are not shown.")
    return headline, lines


def tracelake_version() -> str:
    """The installed tracelake version the record names as its generator."""
    try:
        return version("tracelake")
    except PackageNotFoundError:
        return "dev"


def zone_of(doc: dict[str, Any]) -> ZoneInfo:
    """The plant's time zone the document was assembled in."""
    return ZoneInfo(doc.get("timezone") or DEFAULT_ZONE)


def _as_time(value: Any) -> dt.datetime | dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value)
    if len(text) <= 10:
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text)


def when(value: Any, zone: ZoneInfo) -> str:
    """A UTC timestamp (datetime or ISO text, as in the JSON) in plant-local time; dates as they are."""
    try:
        return stamp(_as_time(value), zone)
    except ValueError:
        return str(value)


def cell(value: Any) -> str:
    """A plain value as text: empty for missing, yes/no for booleans, numbers without noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.6g}"
    return str(value)


def measured(t: dict[str, Any]) -> str:
    """A result's value as recorded (its own digits), with units."""
    text = t.get("value_text")
    if text in (None, ""):
        text = cell(t.get("value"))
    if text == "":
        return "(no value)"
    units = t.get("units") or ""
    return f"{text} {units}".strip()


def limits(low: Any, high: Any, units: str | None) -> str:
    """Acceptance limits as a reader writes them: ``-0.05 … 0.05 mm``, ``≤ 0.1 mAU``."""
    u = f" {units}" if units else ""
    if low is None and high is None:
        return "—"
    if low is None:
        return f"≤ {cell(high)}{u}"
    if high is None:
        return f"≥ {cell(low)}{u}"
    return f"{cell(low)} … {cell(high)}{u}"


def attempt(value: Any) -> str:
    """Attempt number (1 when the source had none)."""
    return cell(value) or "1"


#: Calibration status at use (tracelake.derived.calibration.status) as a record prints it.
CALIBRATION_WORDS = {"suspect": "SUSPECT", "overdue": "CAL. OVERDUE",
                     "uncalibrated": "NO CALIBRATION", "out_of_service": "OUT OF SERVICE",
                     "in_calibration": "in calibration", "not_required": "no cal. needed"}


def calibration_word(status: Any) -> str:
    """A result's calibration status at use, in the record's words (empty with no equipment)."""
    return CALIBRATION_WORDS.get(str(status), cell(status)) if status else ""


def test_tone(t: dict[str, Any]) -> str | None:
    """How a result is highlighted: ``bad`` out of limits or failed, ``warn`` measured with
    equipment not in calibration (suspect, overdue, uncalibrated, out of service), else None."""
    if t.get("within_limits") is False or t.get("result") == "fail":
        return "bad"
    if t.get("calibration_status") in CALIBRATION_BAD:
        return "warn"
    return None


def test_flag(t: dict[str, Any]) -> str:
    """The words that go with a highlighted result."""
    if t.get("within_limits") is False and t.get("result") == "pass":
        return "OUT OF LIMITS, passed"
    if t.get("within_limits") is False:
        return "OUT OF LIMITS"
    return ""


def calibration_note(e: dict[str, Any], zone: ZoneInfo) -> str:
    """What an auditor must know about a piece of equipment over its uses."""
    status = e.get("status")
    if status == "suspect" and e.get("suspect_reason") == "left_out_of_tolerance":
        return (f"SUSPECT: used after {cell(e.get('found_oot_by'))} "
                f"({when(e.get('found_oot_at'), zone)}) found it OUT OF TOLERANCE and did not "
                "leave it in tolerance")
    if status == "suspect":
        since = (f"from its last good calibration {when(e.get('suspect_from'), zone)}"
                 if e.get("suspect_from") else "from its first use")
        return (f"SUSPECT: found OUT OF TOLERANCE by {cell(e.get('found_oot_by'))} "
                f"({when(e.get('found_oot_at'), zone)}); suspect window {since}")
    if status == "overdue":
        return f"OVERDUE at use (due {when(e.get('due_at'), zone)})"
    if status == "uncalibrated":
        return "NO CALIBRATION on record before use"
    if status == "out_of_service":
        return "OUT OF SERVICE in the equipment register, used anyway"
    return calibration_word(status)


def op_label(o: dict[str, Any]) -> str:
    """``30 ALIGN``: an operation's step number and code."""
    return f"{cell(o.get('op_seq'))} {cell(o.get('op_code'))}".strip()


def signoff_record(s: dict[str, Any]) -> str:
    """What a signature is on: ``operation J-1042/30/SPX200-0001``."""
    return f"{cell(s.get('record_type'))} {cell(s.get('record_id'))}".strip()


def count_severities(findings: list[dict[str, Any]]) -> dict[str, int]:
    """Findings per severity, most severe first, every severity present (zero if none)."""
    counts = Counter(f.get("severity") for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITIES}


@dataclass
class Verdict:
    """The release decision as shown on the cover: a headline, its tone, and why."""

    headline: str
    tone: str  # "bad" | "good" | "warn" | "info"
    lines: list[str] = field(default_factory=list)


def _release_line(job: dict[str, Any], zone: ZoneInfo) -> str | None:
    if job.get("released_at") is None:
        return None
    by = job.get("released_by") or "(no name recorded)"
    return f"Released by {by} on {when(job['released_at'], zone)}"


def verdict(doc: dict[str, Any]) -> Verdict:
    """The release decision of a BMR (the gate's status), or the job's release as seen from a DHR."""
    zone = zone_of(doc)
    job = doc.get("job") or {}
    counts = count_severities(doc.get("findings") or [])
    others = [f"{n} {s}" for s, n in counts.items() if n and s != "critical"]
    assess = (f"{' and '.join(others)} finding(s) need a documented assessment (see the findings)"
              if others else None)
    if doc.get("kind") == "dhr":
        unit = doc.get("unit") or {}
        status = str(unit.get("status") or "unknown")
        if counts["critical"]:
            return Verdict(f"UNIT {status.upper()} — CRITICAL FINDINGS", "bad",
                           [f"{counts['critical']} critical finding(s) on this unit (listed below)"])
        lines = [f"Job {job.get('job_id', '?')}: {_release_line(job, zone) or job.get('status', '?')}"]
        review = doc.get("batch_review")
        if review and review.get("summary"):
            lines.append(f"Batch review: {review['summary']}")
        return Verdict(f"UNIT {status.upper()}", "good" if status in ("released", "shipped") else "info",
                       lines + ([assess] if assess else []))
    v = _bmr_verdict(doc, job, zone, assess)
    review = doc.get("review")
    if review and review.get("summary"):
        v.lines.append(f"Review: {review['summary']}")
    return v


def _bmr_verdict(doc: dict[str, Any], job: dict[str, Any], zone: ZoneInfo, assess: str | None) -> Verdict:
    release = doc.get("release") or {}
    status = release.get("status", "not complete")
    if status == "release blocked":
        lines = list(release.get("reasons") or [])
        released = _release_line(job, zone)
        if released:
            lines.insert(0, f"The MRP nevertheless records the job as released: {released}.")
        return Verdict("RELEASE BLOCKED", "bad", lines)
    if status == "released":
        lines = [_release_line(job, zone) or "Released (no release time recorded)"]
        return Verdict("RELEASED", "good", lines + ([assess] if assess else []))
    if status == "ready for release":
        return Verdict("READY FOR RELEASE", "good",
                       ["No critical findings; awaiting QA release"] + ([assess] if assess else []))
    wip = (doc.get("quantities") or {}).get("wip")
    lines = [f"Job status: {job.get('status', '?')}" + (f"; {wip} unit(s) in progress" if wip else "")]
    return Verdict(status.upper(), "warn", lines + ([assess] if assess else []))
