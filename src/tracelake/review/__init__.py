"""Reviews of batch records: dispositions of findings and signed releases, on an append-only,
hash-chained record in the lake (21 CFR Part 11: 11.10(e), 11.50, 11.70, 11.200).

    from tracelake.review import add_user, authenticate, review_writer, dispose, sign
    user = authenticate(paths, "alice", password)               # both components, every signature
    with review_writer(paths) as con:                            # the writer lock, then a new snapshot
        dispose(con, user, "J-1042", finding, "accepted", record_hash=h, rationale="…")

The record hash comes from the records layer (``tracelake.records.record_hash``); this package
never imports records. Readers: ``review_state(con, job, ...)``, ``jobs_pending_review(con)``,
``chain.entries(con)``; ``verify_lake(paths)`` checks the chain and the ledger.
"""

from __future__ import annotations

from tracelake.review import chain
from tracelake.review.dispositions import DISPOSITIONS, MEANINGS, dispose, finding_key, sign
from tracelake.review.release import Decision, decide, jobs_pending_review, manifestation, review_state
from tracelake.review.store import review_writer
from tracelake.review.users import (
    ROLES,
    SIGNING_ROLES,
    AuthError,
    User,
    add_user,
    authenticate,
    has_users,
    list_users,
)
from tracelake.review.verify import Verification, verify_lake

__all__ = ["DISPOSITIONS", "MEANINGS", "ROLES", "SIGNING_ROLES", "AuthError", "Decision", "User",
           "Verification", "add_user", "authenticate", "chain", "decide", "dispose", "finding_key",
           "has_users", "jobs_pending_review", "list_users", "manifestation", "review_state",
           "review_writer", "sign", "verify_lake"]
