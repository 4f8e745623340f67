"""The batch record's review: the hash that binds signatures to the record, and the review section.

``record_hash(doc)`` is the sha256 of the BMR's content as canonical JSON, leaving out what does
not belong to the record's content: when it was generated, the review itself, the per-unit DHR
pages (rebuilt from the same rows the batch sections hold), and the lineage columns (``_source_file``,
``_row``: which file delivered a row, not what it says). The same lake gives the same hash,
whichever process builds the record; a later ingest that changes the batch changes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any

import duckdb

from tracelake.lake.plant_time import plant_zone
from tracelake.review import review_state

__all__ = ["VOLATILE", "add_review", "record_hash"]

#: Top-level keys of a BMR that the hash leaves out.
VOLATILE = frozenset({"generated_at", "review", "record_hash", "units", "company", "as_of",
                      "history"})


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def record_hash(doc: dict[str, Any]) -> str:
    """``sha256:…`` of a batch record's content (see the module note for what it leaves out)."""
    content = {k: v for k, v in doc.items() if k not in VOLATILE}
    text = json.dumps(_canonical(content), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def add_review(con: duckdb.DuckDBPyConnection, doc: dict[str, Any]) -> dict[str, Any]:
    """Add ``record_hash`` and ``review`` (dispositions, signatures, the release decision with
    them; see ``tracelake.review.review_state``) to a BMR document."""
    doc["record_hash"] = record_hash(doc)
    job = doc.get("job") or {}
    status = job.get("status")
    releasable = status in ("complete", "released")
    doc["review"] = review_state(
        con, str(job.get("job_id")), record_hash=doc["record_hash"],
        findings=doc.get("findings") or [], zone=plant_zone(con), job_releasable=releasable,
        job_reason=None if releasable else f"the job is {str(status).replace('_', ' ')}")
    return doc

