"""Signing a batch record: dispositions and release signatures written on the record as it stands
in the lake's writer database (under its writer lock), bound to its hash, then published; run
again if another site's review took the chain's next place at the same moment (scale-out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb

from tracelake.errors import InputError
from tracelake.lake.storage import LakePaths
from tracelake.records.bmr import batch_record
from tracelake.review import User, chain, dispose, sign
from tracelake.review.store import write_review

__all__ = ["record_dispositions", "record_signature"]


def _current(con: duckdb.DuckDBPyConnection, job_id: str, seen_hash: str | None) -> dict[str, Any]:
    """The BMR as it stands in the writer's database; refused if it is not what the signer saw."""
    doc = batch_record(con, job_id, with_units=False)
    if seen_hash is not None and seen_hash != doc["record_hash"]:
        raise InputError(f"the record of {job_id} has changed since you reviewed it: "
                         "look at it again, then sign")
    return doc


Select = Callable[[dict[str, Any]], list[dict[str, Any]]]


def record_dispositions(lake: LakePaths, user: User, job_id: str, select: Select,
                        disposition: str, *, rationale: str | None = None,
                        ncr_id: str | None = None,
                        seen_hash: str | None = None) -> list[chain.Entry]:
    """Sign dispositions of the findings ``select(review)`` picks (rows of the BMR's
    ``review["findings"]``), bound to the record as it stands under the writer lock, then
    publish the snapshot. ``seen_hash``: the hash the signer looked at (refused if changed)."""
    def work(con: duckdb.DuckDBPyConnection) -> list[chain.Entry]:
        doc = _current(con, job_id, seen_hash)
        return [dispose(con, user, job_id, f, disposition, record_hash=doc["record_hash"],
                        rationale=rationale, ncr_id=ncr_id) for f in select(doc["review"])]

    return write_review(lake, work)


def record_signature(lake: LakePaths, user: User, job_id: str, meaning: str, *,
                     comment: str | None = None, seen_hash: str | None = None) -> chain.Entry:
    """Sign a job's release or rejection on the record as it stands (release refused while the
    review's decision holds reasons), then publish the snapshot."""
    def work(con: duckdb.DuckDBPyConnection) -> chain.Entry:
        doc = _current(con, job_id, seen_hash)
        return sign(con, user, job_id, meaning, record_hash=doc["record_hash"],
                    refused=doc["review"]["decision"]["reasons"], comment=comment)

    return write_review(lake, work)
