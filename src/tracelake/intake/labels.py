"""GS1 label data (UDI) parsed with biip: the element string a label printer wrote or a scanner read.

A label check is only evidence if what the label says matches the unit it is on: the GTIN is the
product's, the serial (AI 21) is the unit's own, and the dates are real dates. ``parse_label``
accepts the human-readable form ``(01)…(21)…``, the raw form with FNC1/GS separators (with or
without a symbology identifier such as ``]d2``), and a GS1 Digital Link URI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Label", "check_label", "parse_label"]

_DATE_AIS = {"11": "production_date", "13": "packaging_date", "15": "best_before", "17": "expiry"}


@dataclass
class Label:
    """What a GS1 label string says, element by element."""

    text: str
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    dates: dict[str, dt.date] = field(default_factory=dict)
    elements: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the string parsed as GS1 with valid check digits."""
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO strings)."""
        return {"text": self.text, "gtin": self.gtin, "serial": self.serial, "lot": self.lot,
                "dates": {k: v.isoformat() for k, v in self.dates.items()},
                "elements": self.elements, "error": self.error}


def parse_label(text: str) -> Label:
    """Parse a GS1 element string or Digital Link; a string that is not GS1 gives ``error``."""
    label = Label(text=text)
    raw = (text or "").strip()
    if not raw:
        label.error = "the label data is empty"
        return label
    import biip  # here, not at import: biip reads GS1's prefix list (~0.5 s), which only labels need
    from biip.gs1_messages import GS1Message

    try:
        if raw.startswith("("):
            strings = GS1Message.parse_hri(raw).element_strings
        else:
            result = biip.parse(raw)
            if result.gs1_message is not None:
                strings = result.gs1_message.element_strings
            elif result.gs1_digital_link_uri is not None:
                strings = result.gs1_digital_link_uri.element_strings
            else:
                label.error = (result.gs1_message_error or result.gs1_digital_link_uri_error
                               or "not a GS1 element string")
                return label
    except Exception as exc:  # biip raises ParseError subclasses of ValueError
        label.error = str(exc)
        return label
    for es in strings:
        ai = es.ai.ai
        label.elements.append({"ai": ai, "title": es.ai.data_title, "value": es.value})
        if ai == "01":
            label.gtin = es.value
            if es.gtin_error:
                label.error = es.gtin_error
        elif ai == "21":
            label.serial = es.value
        elif ai == "10":
            label.lot = es.value
        elif ai in _DATE_AIS and es.date is not None:
            label.dates[_DATE_AIS[ai]] = es.date
    return label


def check_label(label: Label, *, serial_number: str, gtin: str | None) -> list[str]:
    """What is wrong with a label for a unit: each problem as a sentence (empty when it matches)."""
    problems: list[str] = []
    if not label.ok:
        return [f"the label data does not parse as GS1 ({label.error})"]
    if label.serial is None:
        problems.append("the label has no serial number (AI 21)")
    elif label.serial != serial_number:
        problems.append(f"the label's serial (21) {label.serial} is not the unit's serial {serial_number}")
    if gtin is None:
        problems.append("the product has no GTIN in the lake to check the label against")
    elif label.gtin is None:
        problems.append("the label has no GTIN (AI 01)")
    elif label.gtin.lstrip("0") != gtin.lstrip("0"):
        problems.append(f"the label's GTIN (01) {label.gtin} is not the product's GTIN {gtin}")
    return problems
