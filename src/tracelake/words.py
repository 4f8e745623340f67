"""Words for the lake's codes, as people read them: ``out_of_tolerance`` -> "out of tolerance".

One map for every surface that shows a code as a label (dashboards, records); the stored code is
kept wherever the value itself is shown (tables people filter, exports). A leaf module.
"""

from __future__ import annotations

__all__ = ["LABELS", "label"]

LABELS: dict[str, str] = {
    "in_progress": "in progress", "on_hold": "on hold", "wip": "in progress (WIP)",
    "out_of_tolerance": "out of tolerance", "in_tolerance": "in tolerance",
    "not_applicable": "not applicable", "use_as_is": "use as is",
    "return_to_supplier": "return to supplier", "in_calibration": "in calibration",
    "suspect": "suspect (found out of tolerance later)", "out_of_service": "out of service",
    "not_required": "no calibration needed", "uncalibrated": "no calibration",
    "never": "never calibrated", "ok": "in calibration", "due": "due soon",
    "pass": "pass", "fail": "fail", "unit_components": "fitment record",
    "material_issues": "issued to the job",
}


def label(code: object) -> str:
    """The words for a code (the code itself with ``_`` as spaces when it has no entry)."""
    if code is None:
        return ""
    text = str(code)
    return LABELS.get(text, text.replace("_", " "))
