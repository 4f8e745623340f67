"""The record's tables and field blocks as text: columns, rows and the tone that highlights a row.

Built once from the assembled document and drawn by both renderers, so the HTML and the PDF
say the same thing in the same words. Tones: ``bad`` (red: out of limits, failed, overdue or
uncalibrated, open NCR, unapproved firmware, BOM difference), ``warn`` (amber: removed parts,
equipment later found out of tolerance, major findings), ``info`` (blue: repeated steps, minor
findings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from tracelake.records.present import (
    attempt,
    calibration_note,
    calibration_word,
    cell,
    limits,
    measured,
    op_label,
    signoff_record,
    test_flag,
    test_tone,
    when,
)

__all__ = ["SEVERITY_TONE", "TS", "Col", "Table", "bom", "components", "equipment", "findings",
           "firmware_builds", "firmware_loads", "history", "label_elements", "materials",
           "operations", "quantities",
           "removed_parts", "routing", "serial_list", "serialised_parts", "shipments", "signoffs",
           "test_summary", "tests"]

TS = 30.0  # PDF mm for a plant-local timestamp "2026-10-20 08:05 BST" on one line
SEVERITY_TONE = {"critical": "bad", "major": "warn", "minor": "info"}


@dataclass(frozen=True)
class Col:
    """A table column: title, relative width (PDF mm), alignment (L, R or C)."""

    title: str
    weight: float
    align: str = "L"


@dataclass
class Table:
    """Columns, rows of text (``\\n`` for a new line), a tone per row, and what to say if empty."""

    cols: list[Col]
    rows: list[list[str]] = field(default_factory=list)
    tones: list[str | None] = field(default_factory=list)
    empty: str = "None recorded."

    def add(self, row: list[str], tone: str | None = None) -> None:
        """Append a row."""
        self.rows.append(row)
        self.tones.append(tone)


def findings(items: list[dict[str, Any]], *, empty: str) -> Table:
    """Severity, rule, record (with the source file and row of a quarantined row), message."""
    t = Table([Col("Severity", 14), Col("Rule", 36), Col("Record", 46), Col("Message", 90)], empty=empty)
    for f in items:
        where = cell(f.get("record"))
        source = f.get("source")
        if isinstance(source, dict) and source:
            where += f" (file {cell(source.get('file'))}, row {cell(source.get('row'))})"
        t.add([cell(f.get("severity")).upper(), cell(f.get("rule")), where, cell(f.get("message"))],
              SEVERITY_TONE.get(f.get("severity") or ""))
    return t


def quantities(q: dict[str, Any]) -> Table:
    """Planned, made, passed, released, shipped, scrapped, quarantined, in progress."""
    names = ("planned", "made", "passed", "released", "shipped", "scrapped", "quarantined", "wip")
    t = Table([Col("WIP" if n == "wip" else n.capitalize(), 1, "C") for n in names])
    t.add([cell(q.get(n)) for n in names])
    return t


def routing(ops: list[dict[str, Any]]) -> Table:
    """The MBR's steps with their acceptance criteria."""
    t = Table([Col("Op", 8, "R"), Col("Code", 15), Col("Description", 52), Col("Work centre", 17),
               Col("Acceptance criteria", 58), Col("First art.", 13, "C"), Col("Cal. equip.", 13, "C")],
              empty="No MBR routing in the lake.")
    for r in ops:
        t.add([cell(r.get("op_seq")), cell(r.get("op_code")), cell(r.get("description")),
               cell(r.get("work_centre")), cell(r.get("acceptance_criteria")),
               "yes" if r.get("first_article") else "", "yes" if r.get("needs_calibrated_equipment") else ""])
    return t


def bom(lines: list[dict[str, Any]]) -> Table:
    """The BOM snapshot beside the MBR's BOM, differences marked."""
    t = Table([Col("Line", 9, "R"), Col("Component", 24), Col("Rev", 9), Col("Qty", 10, "R"),
               Col("UoM", 9), Col("S/C", 9), Col("MBR component", 24), Col("MBR rev", 12),
               Col("MBR qty", 12, "R"), Col("Check", 15)],
              empty="No BOM snapshot and no MBR BOM in the lake.")
    for b in lines:
        ok = bool(b.get("matches_mbr"))
        flags = " ".join(x for x, on in (("S", b.get("serialised")), ("C", b.get("critical"))) if on)
        t.add([cell(b.get("line_no")), cell(b.get("component_code")), cell(b.get("component_revision")),
               cell(b.get("qty_per")), cell(b.get("uom")), flags, cell(b.get("mbr_component_code")),
               cell(b.get("mbr_component_revision")), cell(b.get("mbr_qty_per")),
               "matches" if ok else "DIFFERS"], None if ok else "bad")
    return t


def materials(issues: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Lots (and serials) issued to the job, with their goods-in record (certificate, expiry)."""
    t = Table([Col("Issue", 16), Col("Component", 18), Col("Lot", 12), Col("Serial", 17), Col("Qty", 11, "R"),
               Col("Supplier", 21), Col("Supplier lot", 21), Col("Certificate", 18),
               Col("Expires", 19), Col("Issued", TS), Col("Issued by", 21)],
              empty="No materials issued to this job.")
    for m in issues:
        expires = m.get("expires_at")
        late = expires is not None and m.get("issued_at") is not None and m["issued_at"] > expires
        status = m.get("inspection_status")
        held = status in ("rejected", "on_hold", "recalled")
        bad = late or held
        t.add([cell(m.get("issue_id")), cell(m.get("component_code")), cell(m.get("lot_number")),
               cell(m.get("component_serial")), f"{cell(m.get('quantity'))} {cell(m.get('uom'))}".strip(),
               cell(m.get("supplier")), cell(m.get("supplier_lot")), cell(m.get("certificate_ref")),
               ((when(expires, z)[:10] if expires is not None else "")
                + (" EXPIRED" if late else "")
                + (f" {str(status).upper().replace('_', ' ')}" if held else "")).strip(),
               when(m.get("issued_at"), z), cell(m.get("issued_by"))], "bad" if bad else None)
    return t


def serialised_parts(parts: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Serialised parts fitted into each unit; removed ones with their NCR."""
    t = Table([Col("Unit", 18), Col("Component", 17), Col("Serial", 18), Col("Lot", 12), Col("Fitted", TS),
               Col("Fitted by", 19), Col("Removed", TS), Col("Removed by", 19), Col("NCR", 15)],
              empty="No serialised parts recorded for this job.")
    for c in parts:
        removed = c.get("removed_at") is not None
        t.add([cell(c.get("serial_number")), cell(c.get("component_code")), cell(c.get("component_serial")),
               cell(c.get("lot_number")), when(c.get("fitted_at"), z), cell(c.get("fitted_by")),
               when(c.get("removed_at"), z) if removed else "", cell(c.get("removed_by")),
               cell(c.get("removal_ncr_id"))], "warn" if removed else None)
    return t


def operations(ops: list[dict[str, Any]], z: ZoneInfo, *, with_unit: bool, empty: str) -> Table:
    """Step, unit (or its description on a unit page), where, who, start, finish, equipment,
    result, attempt; failed or incomplete steps red, repeated steps blue."""
    second = Col("Unit", 18) if with_unit else Col("Step description", 40)
    t = Table([Col("Step", 17), second, Col("Where", 13), Col("Who", 20), Col("Started", TS),
               Col("Finished", TS), Col("Equip.", 12), Col("Result", 11), Col("Att.", 7, "R")], empty=empty)
    for o in ops:
        missing = not o.get("operator") or o.get("started_at") is None or o.get("finished_at") is None
        t.add([op_label(o),
               (cell(o.get("serial_number")) or "batch") if with_unit else cell(o.get("description")),
               cell(o.get("work_centre")), cell(o.get("operator")) or "(none recorded)",
               when(o.get("started_at"), z), when(o.get("finished_at"), z), cell(o.get("equipment_id")),
               cell(o.get("result")).upper(), attempt(o.get("attempt"))],
              "bad" if o.get("result") == "fail" or missing
              else "info" if (o.get("attempt") or 1) > 1 else None)
    return t


def tests(results: list[dict[str, Any]], z: ZoneInfo, *, with_unit: bool, empty: str) -> Table:
    """Each result against its limits: value as recorded, limits, result and why it is
    highlighted, attempt, equipment and its calibration status at use, time, operator or rig run."""
    t = Table([Col("Unit", 18), Col("Step / measurement", 35), Col("Value", 16, "R"), Col("Limits", 21),
               Col("Result", 18), Col("Att.", 7, "R"), Col("Equip.", 13), Col("Calibration", 17),
               Col("Tested", TS), Col("By / run", 16)] if with_unit else
              [Col("Step / measurement", 43), Col("Value", 16, "R"), Col("Limits", 22), Col("Result", 21),
               Col("Att.", 8, "R"), Col("Equip.", 13), Col("Calibration", 17), Col("Tested", TS),
               Col("By / run", 19)],
              empty=empty)
    for r in results:
        flag = test_flag(r)
        t.add(([cell(r.get("serial_number"))] if with_unit else []) + [
            f"{cell(r.get('test_step'))} / {cell(r.get('measurement'))}", measured(r),
            limits(r.get("low_limit"), r.get("high_limit"), r.get("units")),
            cell(r.get("result")).upper() + (f"\n{flag}" if flag else ""), attempt(r.get("attempt")),
            cell(r.get("equipment_id")), calibration_word(r.get("calibration_status")),
            when(r.get("tested_at"), z), cell(r.get("operator")) or cell(r.get("run_id"))], test_tone(r))
    return t


def test_summary(results: list[dict[str, Any]]) -> Table:
    """Per measurement: limits, units tested, results, min, max, failed, out of limits (and how
    many of those were passed anyway), re-tests."""
    t = Table([Col("Step / measurement", 38), Col("Limits", 22), Col("Units", 11, "R"),
               Col("Results", 13, "R"), Col("Min", 14, "R"), Col("Max", 14, "R"), Col("Failed", 13, "R"),
               Col("Out of limits", 21, "R"), Col("…passed anyway", 22, "R"), Col("Re-tests", 14, "R")],
              empty="No test or inspection results recorded.")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((cell(r.get("test_step")), cell(r.get("measurement"))), []).append(r)
    for (step, meas), rs in groups.items():
        values = [r["value"] for r in rs if isinstance(r.get("value"), int | float)]
        out = sum(1 for r in rs if r.get("within_limits") is False)
        fails = sum(1 for r in rs if r.get("result") == "fail")
        passed_out = sum(1 for r in rs if r.get("within_limits") is False and r.get("result") == "pass")
        first = rs[0]
        t.add([f"{step} / {meas}",
               limits(first.get("low_limit"), first.get("high_limit"), first.get("units")),
               str(len({r.get("serial_number") for r in rs})), str(len(rs)),
               cell(min(values)) if values else "", cell(max(values)) if values else "", str(fails),
               str(out), str(passed_out), str(sum(1 for r in rs if (r.get("attempt") or 1) > 1))],
              "bad" if passed_out else "warn" if fails or out else None)
    return t


def equipment(items: list[dict[str, Any]], z: ZoneInfo, *, empty: str) -> Table:
    """Equipment per calibration in force and status at use (one row per suspect window), with
    the certificate and due date in force."""
    t = Table([Col("Equipment", 36), Col("Used", 24), Col("Certificate, lab", 30),
               Col("Calibrated", TS), Col("Due", TS), Col("Status at use", 36)], empty=empty)
    for e in items:
        used = when(e.get("day"), z) if e.get("day") else \
            f"{when(e.get('first_use'), z)} … {when(e.get('last_use'), z)}"
        if e.get("uses"):
            used += f"\n{cell(e.get('uses'))} use(s), {cell(e.get('units'))} unit(s)"
        cert = cell(e.get("certificate_no")) or "none"
        if e.get("lab"):
            cert += f"\n{cell(e.get('lab'))}"
        t.add([f"{cell(e.get('equipment_id'))}\n{cell(e.get('description'))}".strip(), used, cert,
               when(e.get("calibrated_at"), z), when(e.get("due_at"), z), calibration_note(e, z)],
              "bad" if e.get("status") in ("overdue", "uncalibrated", "out_of_service")
              else "warn" if e.get("status") == "suspect" else None)
    return t


def removed_parts(parts: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Parts removed under an NCR."""
    t = Table([Col("Unit", 18), Col("Component", 18), Col("Serial", 18), Col("Lot", 14), Col("Removed", TS),
               Col("Removed by", 24)], empty="No parts removed.")
    for r in parts:
        t.add([cell(r.get("serial_number")), cell(r.get("component_code")), cell(r.get("component_serial")),
               cell(r.get("lot_number")), when(r.get("removed_at"), z), cell(r.get("removed_by"))], "warn")
    return t


def firmware_builds(builds: list[dict[str, Any]]) -> Table:
    """Firmware builds loaded on the job's units, with their release approval."""
    t = Table([Col("Version", 16), Col("Build", 30), Col("Release", 20), Col("Units", 11, "R"),
               Col("Serials", 109)], empty="No firmware loaded on this job's units.")
    for f in builds:
        ok = bool(f.get("release_approved"))
        t.add([cell(f.get("firmware_version")), cell(f.get("build_id")), "approved" if ok else "NOT APPROVED",
               cell(f.get("units")), ", ".join(f.get("serials") or [])], None if ok else "bad")
    return t


def firmware_loads(loads: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Firmware loaded on one unit, with its release approval."""
    t = Table([Col("Version", 16), Col("Build", 34), Col("Release", 20), Col("Loaded", TS),
               Col("Loaded by", 26)], empty="No firmware loaded on this unit.")
    for f in loads:
        ok = bool(f.get("release_approved"))
        t.add([cell(f.get("firmware_version")), cell(f.get("build_id")), "approved" if ok else "NOT APPROVED",
               when(f.get("loaded_at"), z), cell(f.get("loaded_by"))], None if ok else "bad")
    return t


def serial_list(serials: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Every serial with its label check, customer and findings; the last column (the unit's
    page) is left for the renderer."""
    t = Table([Col("Serial", 21), Col("Status", 15), Col("Built", TS), Col("Label check", 30),
               Col("Customer, order", 55), Col("Findings", 18, "R"), Col("Unit page", 16, "R")],
              empty="No serials made on this job.")
    for s in serials:
        problems = [str(p) for p in s.get("label_problems") or []]
        label = cell(s.get("label_result")).upper() or "NOT CHECKED"
        if problems:
            label += ": " + "; ".join(problems)
        customer = ", ".join(x for x in (cell(s.get("customer")), cell(s.get("order_ref"))) if x)
        found = cell(s.get("findings"))
        if s.get("batch_findings"):
            found += f" ({cell(s.get('batch_findings'))} batch)"
        t.add([cell(s.get("serial_number")), cell(s.get("status")), when(s.get("built_at"), z), label,
               customer or "—", found, ""],
              "bad" if problems or s.get("label_result") != "pass" else "warn" if s.get("findings") else None)
    return t


def signoffs(items: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Electronic signatures: printed name, date and time, role, meaning, what was signed."""
    t = Table([Col("Signed by", 24), Col("Date and time", TS), Col("Role", 15),
               Col("Meaning of the signature", 70), Col("Signed record", 47)],
              empty="No signatures recorded.")
    for s in items:
        t.add([cell(s.get("signed_by")), when(s.get("signed_at"), z), cell(s.get("role")),
               cell(s.get("meaning")), signoff_record(s)])
    return t


def components(items: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """A unit's genealogy, every level; removed parts with their NCR."""
    t = Table([Col("Level", 9, "C"), Col("Component", 20), Col("Lot", 14), Col("Serial", 18),
               Col("Fitted into", 18), Col("Fitted", TS), Col("Removed", TS), Col("NCR", 14),
               Col("Recorded in", 21)], empty="No components traced to this unit.")
    for c in items:
        removed = c.get("removed_at") is not None
        t.add([cell(c.get("depth")), cell(c.get("component_code")), cell(c.get("lot_number")),
               cell(c.get("component_serial")), cell(c.get("parent_serial")), when(c.get("fitted_at"), z),
               when(c.get("removed_at"), z) if removed else "", cell(c.get("removal_ncr_id")),
               cell(c.get("source")).replace("_", " ")], "warn" if removed else None)
    return t


def label_elements(lab: dict[str, Any]) -> Table:
    """The GS1 element string as parsed (AI, meaning, value)."""
    t = Table([Col("AI", 10), Col("Meaning", 40), Col("Value", 60)], empty="Nothing parsed.")
    for e in (lab.get("parsed") or {}).get("elements") or []:
        t.add([cell(e.get("ai")), cell(e.get("title")), cell(e.get("value"))])
    return t


def shipments(items: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Where the unit went."""
    t = Table([Col("Customer", 80), Col("Order", 24), Col("Country", 16), Col("Shipped", TS)],
              empty="Not shipped.")
    for s in items:
        t.add([cell(s.get("customer")), cell(s.get("order_ref")), cell(s.get("ship_to_country")),
               when(s.get("shipped_at"), z)])
    return t


def history(items: list[dict[str, Any]], z: ZoneInfo) -> Table:
    """Values of the record's rows a later file changed: when, which row and column, before and
    after, and the run and file that changed it."""
    t = Table([Col("Changed", TS), Col("Row", 52), Col("Column", 24), Col("Before", 30),
               Col("After", 30), Col("By run and file", 50)],
              empty="No value of this record has been changed by a later file.")
    for h in items:
        t.add([when(h.get("changed_at"), z), f"{cell(h.get('table'))}: {cell(h.get('key'))}",
               cell(h.get("column")) if h.get("column") else "(whole row)",
               cell(h.get("before")), cell(h.get("after")),
               f"{cell(h.get('run_id'))}\n{cell(h.get('file'))}"], "warn")
    return t
