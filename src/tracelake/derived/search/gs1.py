"""Reading what a scanner or a person gives as a GS1 label: an element string (``(01)…(21)…``,
or raw with FNC1/GS separators) or a GS1 Digital Link URI, parsed with biip.

Only text that looks like a label is parsed: a plain identifier such as ``10L-4471`` or
``21-0007`` also parses as an element string, and must stay an identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Gs1Label", "parse_label"]

#: How a GS (FNC1) separator arrives when typed or pasted rather than scanned.
_GS_SPELLINGS = ("\u241d", "<GS>", "<gs>", "[GS]", "{GS}", "^]", "\\x1d", "\\u001d")
_HRI = re.compile(r"^\s*(\(\d{2,4}\)[^()]+)+\s*$")
_GTIN = re.compile(r"^\d{8}$|^\d{12,14}$")


@dataclass(frozen=True)
class Gs1Label:
    """The parts of a GS1 label tracelake searches by (AI 01, 21, 10), and every AI read."""

    gtin: str | None
    serial: str | None
    lot: str | None
    elements: dict[str, str]
    form: str  # "element_string", "digital_link" or "gtin"

    def as_dict(self) -> dict[str, object]:
        """The parsed label, as reported with the answer."""
        return {"form": self.form, "gtin": self.gtin, "serial": self.serial, "lot": self.lot,
                "elements": self.elements}


def parse_label(text: str) -> Gs1Label | None:
    """The GS1 label in ``text``, or None when the text does not look like one (or is invalid).

    Element strings and Digital Links are read by :func:`tracelake.intake.labels.parse_label` (the
    label checks' parser); this decides what counts as a label, and reads a bare GTIN.
    """
    import biip

    from tracelake.intake import labels

    value = text.strip()
    for spelling in _GS_SPELLINGS:
        value = value.replace(spelling, "\x1d")
    if _GTIN.match(value):
        gtin = biip.parse(value).gtin
        return Gs1Label(gtin.value, None, None, {"01": gtin.value}, "gtin") if gtin else None
    link = value.lower().startswith(("http://", "https://"))
    looks_like = link or bool(_HRI.match(value)) or "\x1d" in value or value.startswith("]") or (
        value.startswith("01") and value[2:16].isdigit() and len(value) > 16)
    if not looks_like:
        return None
    label = labels.parse_label(value)
    if not label.elements:
        return None
    return Gs1Label(gtin=label.gtin, serial=label.serial, lot=label.lot,
                    elements={e["ai"]: e["value"] for e in label.elements},
                    form="digital_link" if link else "element_string")
