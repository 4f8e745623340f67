"""Batch and device records as one self-contained HTML page: inline CSS, print-friendly (A4, each
unit's record from a new page), the same sections, words and highlighting as the PDF.

Jinja2 templates in ``templates/`` with autoescaping on: plant data is always shown as text.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from tracelake.derived.findings import SEVERITIES
from tracelake.records import forms, tables
from tracelake.records.present import (
    BMR_SECTIONS,
    HISTORY_NOTE,
    REVIEW_LINES,
    SECTION_NOTES,
    UNCONTROLLED,
    UNIT_SECTIONS,
    as_of_banner,
    cell,
    count_severities,
    header_right,
    record_kind,
    tracelake_version,
    unit_heading,
    verdict,
    when,
    zone_of,
)
from tracelake.records.review_view import NOTE as REVIEW_NOTE
from tracelake.records.review_view import review_view
from tracelake.records.tables import SEVERITY_TONE, Col, Table
from tracelake.verbatim import visible

__all__ = ["render_html"]

_ALIGN = {"R": Markup(' class="num"'), "C": Markup(' class="c"'), "L": Markup("")}
_SEVERITY_NOTE = {"critical": "blocks release", "major": "assess before release", "minor": "record-keeping"}


def _br(value: Any) -> Markup:
    """Text with its line breaks kept, everything else escaped."""
    return Markup("<br>").join(escape(visible(part)) for part in cell(value).split("\n"))


def _shown(value: Any) -> Any:
    """Every value a template prints: plant text with its control characters visible (it is
    escaped after this, autoescape being on); markup the templates made is left alone."""
    return visible(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _anchor(serial: Any) -> str:
    return "unit-" + re.sub(r"[^A-Za-z0-9_.-]", "_", cell(serial))


def _env() -> Environment:
    env = Environment(loader=PackageLoader("tracelake.records", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                      undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True,
                      finalize=_shown)
    env.filters.update(br=_br, anchor=_anchor, align=lambda c: _ALIGN.get(c.align, Markup("")))
    env.globals.update(T=tables, F=forms, verdict=verdict, severities=count_severities,
                       sev_tone=SEVERITY_TONE, sev_note=_SEVERITY_NOTE, unit_heading=unit_heading,
                       sections=BMR_SECTIONS, unit_sections=UNIT_SECTIONS, notes=SECTION_NOTES,
                       review_lines=REVIEW_LINES, uncontrolled=UNCONTROLLED, SEVERITIES=SEVERITIES,
                       review_view=review_view, review_note=REVIEW_NOTE,
                       as_of_banner=as_of_banner, history_note=HISTORY_NOTE)
    return env


_ENV = _env()


def _serial_table(doc: dict[str, Any]) -> Table:
    """The serial list, its last column pointing at the unit's record further down the page."""
    t = tables.serial_list(doc.get("serials") or [], zone_of(doc))
    t.cols = [*t.cols[:-1], Col("Unit record", 17, "R")]
    t.rows = [[*r[:-1], "below"] for r in t.rows]
    return t


def render_html(doc: dict[str, Any], *, company: str | None = None) -> str:
    """A batch (``kind`` "bmr") or device (``kind`` "dhr") record as one HTML document.

    Raises:
        InputError: the document is neither a BMR nor a DHR.
    """
    kind = record_kind(doc)
    zone = zone_of(doc)
    template = _ENV.get_template(f"{kind}.html.j2")
    return template.render(doc=doc, z=zone, zone=zone.key, when=lambda v: when(v, zone),
                           header_right=header_right(doc), version=tracelake_version(),
                           company=company or doc.get("company"), serial_table=_serial_table)
