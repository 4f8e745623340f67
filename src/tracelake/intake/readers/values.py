"""A report's values as the contract reads them: verdict words, numbers, times on a run's clock.

Plain Python (no polars), so that a reading process that needs only lxml (:mod:`.junit_walk`)
starts small.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

__all__ = ["BROKEN_WORDS", "FAIL_WORDS", "PASS_WORDS", "number_text", "offset_time", "verdict"]

PASS_WORDS = {"passed", "pass", "ok", "true"}
FAIL_WORDS = {"failed", "fail", "false"}
#: verdicts that say the step broke down: its reading is no verdict on the unit
BROKEN_WORDS = {"error", "terminated", "aborted", "timeout", "running", "notstarted"}


def verdict(status: str | None) -> str | None:
    """``pass`` / ``fail`` for a passing or failing status; None for anything else."""
    word = (status or "").strip().lower().replace(" ", "")
    if word in PASS_WORDS:
        return "pass"
    if word in FAIL_WORDS:
        return "fail"
    return None


def number_text(raw: str | None) -> str | None:
    """A report's number as the contract reads it: hex (``0x1A``) as decimal, others as written."""
    if raw is None:
        return None
    text = raw.strip()
    if text[:2] in ("0x", "0X"):
        try:
            return str(int(text, 16))
        except ValueError:
            return text
    return text


def offset_time(start: datetime | None, seconds: float | None) -> str | None:
    """An ISO time ``seconds`` after ``start`` (plant-local when ``start`` has no offset)."""
    if start is None:
        return None
    if seconds is None or math.isnan(seconds):
        return start.isoformat(timespec="milliseconds")
    return (start + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
