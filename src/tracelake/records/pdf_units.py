"""One unit's Device History Record pages in the PDF: identity, findings, components and lots,
operations, results, equipment, NCRs and rework, firmware, label check, shipment, sign-offs.

Used for every serial at the end of a BMR and, on its own, for a DHR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fpdf.enums import XPos, YPos

from tracelake.records import forms, tables
from tracelake.records.pdf_document import NAVY, RecordPDF
from tracelake.records.present import UNIT_SECTIONS, cell, unit_heading

__all__ = ["UnitPages", "ncr_blocks", "subtitle", "unit_page"]


@dataclass
class UnitPages:
    """Where each unit page landed: its page number and the link target on it."""

    pages: dict[str, int] = field(default_factory=dict)
    links: dict[str, int] = field(default_factory=dict)


def subtitle(pdf: RecordPDF, text: str) -> None:
    """A small bold caption above a table inside a section."""
    pdf.ensure(14)
    pdf.font(8, "B", color=NAVY)
    pdf.cell(pdf.epw, 4.8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def ncr_blocks(pdf: RecordPDF, ncrs: list[dict[str, Any]], z: ZoneInfo, *, level: int) -> None:
    """Each NCR: what, who, disposition, closure; the parts removed under it; its re-test run."""
    if not ncrs:
        pdf.note("No nonconformances raised.")
    for n in ncrs:
        pdf.heading(forms.ncr_title(n), level, bookmark=False, keep=30)
        pdf.form(forms.ncr_fields(n, z))
        subtitle(pdf, "Parts removed under this NCR")
        pdf.draw(tables.removed_parts(n.get("removed_parts") or [], z))
        subtitle(pdf, f"Re-test evidence (run {cell(n.get('retest_ref')) or 'not named'})")
        pdf.draw(tables.tests(n.get("retest") or [], z, with_unit=True,
                              empty="No re-test results in the lake." if n.get("retest_ref")
                              else "No re-test named on the NCR."))


def unit_page(pdf: RecordPDF, page: dict[str, Any], job: dict[str, Any], z: ZoneInfo,
              where: UnitPages, *, level: int, group: str | None = None) -> None:
    """A unit's DHR from a new page. ``level`` 0: the document is this DHR (its sections are
    bookmarks); 1: one unit inside a BMR, under the ``group`` bookmark opened before the first."""
    serial = cell((page.get("unit") or {}).get("serial_number"))
    pdf.running = f"Device History Record of unit {serial}"
    pdf.add_page()
    if group:
        pdf.start_section(group, level=level - 1)
    where.pages[serial] = pdf.page
    where.links[serial] = pdf.add_link(y=pdf.y)
    pdf.heading(unit_heading(serial), 0, outline_level=level, keep=40)
    pdf.form(forms.unit_fields(page, job, z))
    top = level == 0
    for i, (key, title) in enumerate(UNIT_SECTIONS, start=1):
        pdf.heading(f"{i}. {title}" if top else title, 1, bookmark=top, outline_level=0, keep=16)
        _section(pdf, key, page, z)
    pdf.running = ""


def _section(pdf: RecordPDF, key: str, page: dict[str, Any], z: ZoneInfo) -> None:
    if key == "findings":
        pdf.draw(tables.findings(page.get("findings") or [], empty="No findings on this unit."))
    elif key == "components":
        pdf.draw(tables.components(page.get("components") or [], z))
    elif key == "operations":
        pdf.draw(tables.operations(page.get("operations") or [], z, with_unit=False,
                                   empty="No operations recorded on this unit."))
    elif key == "tests":
        pdf.draw(tables.tests(page.get("tests") or [], z, with_unit=False,
                              empty="No test or inspection results on this unit."))
    elif key == "equipment":
        pdf.draw(tables.equipment(page.get("equipment") or [], z, empty="No equipment used on this unit."))
    elif key == "ncrs":
        ncr_blocks(pdf, page.get("ncrs") or [], z, level=2)
    elif key == "firmware":
        pdf.draw(tables.firmware_loads(page.get("firmware") or [], z))
    elif key == "labels":
        labels = page.get("labels") or []
        if not labels:
            pdf.note("No label check recorded for this unit.")
        for lab in labels:
            pdf.form(forms.label_fields(lab, z))
            elements = tables.label_elements(lab)
            if elements.rows:
                subtitle(pdf, "Element string as parsed")
                pdf.draw(elements)
    elif key == "shipments":
        pdf.draw(tables.shipments(page.get("shipments") or [], z))
    elif key == "signoffs":
        pdf.draw(tables.signoffs(page.get("signoffs") or [], z))
