"""Dispositions of findings and signatures of a batch's release or rejection: what each means, and
how each is written to the chain (by a signer who gave their password for it).

A finding is known by its key ``rule|serial|record`` (the same finding on a later version of the
record keeps its key). A new disposition of a finding that already has one supersedes it (a
correction, 11.10(e)); the old entry stays as it was.
"""

from __future__ import annotations

from typing import Any

import duckdb

from tracelake.errors import InputError
from tracelake.review import chain
from tracelake.review.users import AuthError, User

__all__ = ["DISPOSITIONS", "MEANINGS", "dispose", "finding_key", "sign"]

#: disposition -> the meaning of the signature that records it (11.50(a)(3)).
DISPOSITIONS: dict[str, str] = {
    "accepted": "Reviewed: finding accepted (rationale recorded)",
    "ncr_raised": "Reviewed: NCR raised",
    "corrected_at_source": "Reviewed: to be corrected at source",
    "rejected": "Reviewed: finding rejected (does not apply)",
}
#: signature of the batch -> its meaning.
MEANINGS: dict[str, str] = {
    "release": "Approved: batch released",
    "rejection": "Rejected: batch not to be released",
}


def finding_key(f: dict[str, Any]) -> str:
    """A finding's identity across versions of the record: ``rule|serial|record``."""
    return f"{f.get('rule')}|{f.get('serial_number') or ''}|{f.get('record')}"


def _signer(user: User) -> dict[str, str]:
    if not user.can_sign:
        raise AuthError(f"{user.name} is a {user.role}: only a reviewer or approver may sign")
    return {"signer": user.name, "printed_name": user.printed_name, "role": user.role}


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def dispose(con: duckdb.DuckDBPyConnection, user: User, job_id: str, finding: dict[str, Any],
            disposition: str, *, record_hash: str, rationale: str | None = None,
            ncr_id: str | None = None) -> chain.Entry:
    """Record a signed disposition of one finding of a job.

    ``accepted``, ``corrected_at_source`` and ``rejected`` need a rationale, ``ncr_raised`` the
    NCR's number; a correction of an earlier disposition needs a rationale too.

    Raises:
        InputError: unknown disposition, or what it needs is missing.
        AuthError: the user may not sign.
    """
    who = _signer(user)
    if disposition not in DISPOSITIONS:
        raise InputError(f"disposition {disposition!r} is not one of {', '.join(DISPOSITIONS)}")
    rationale, ncr_id = _text(rationale), _text(ncr_id)
    if disposition == "ncr_raised" and not ncr_id:
        raise InputError("an 'ncr_raised' disposition needs the NCR's number (--ncr)")
    key = finding_key(finding)
    earlier = [e for e in chain.entries(con, job_id)
               if e.kind == "disposition" and e.finding_key == key]
    if not rationale and (disposition != "ncr_raised" or earlier):
        what = "a correction of an earlier disposition" if earlier else f"'{disposition}'"
        raise InputError(f"{what} needs a rationale (--rationale)")
    meaning = DISPOSITIONS[disposition] + (f" {ncr_id}" if ncr_id else "")
    return chain.append(
        con, kind="disposition", job_id=job_id, finding_key=key,
        finding_rule=finding.get("rule"), finding_severity=finding.get("severity"),
        finding_serial=finding.get("serial_number"), finding_record=finding.get("record"),
        finding_message=finding.get("message"), disposition=disposition, ncr_id=ncr_id,
        rationale=rationale, meaning=meaning, record_hash=record_hash,
        supersedes=earlier[-1].seq if earlier else None, **who)


def sign(con: duckdb.DuckDBPyConnection, user: User, job_id: str, meaning: str, *,
         record_hash: str, refused: list[str], comment: str | None = None) -> chain.Entry:
    """Sign a job's release or rejection, bound to the record hash the signer saw.

    ``refused`` are the reasons the release may not be signed now (from
    :func:`tracelake.review.release.decide`); a rejection may always be signed.

    Raises:
        InputError: unknown meaning, or a release while ``refused`` holds reasons.
        AuthError: the user may not sign.
    """
    who = _signer(user)
    if meaning not in MEANINGS:
        raise InputError(f"meaning {meaning!r} is not one of {', '.join(MEANINGS)}")
    if meaning == "release" and refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise InputError(f"release of {job_id} refused: {refused[0]}{more}")
    if meaning == "rejection" and not _text(comment):
        raise InputError("a rejection needs a reason (--comment)")
    before = [e for e in chain.entries(con, job_id) if e.kind == "signature"]
    return chain.append(con, kind="signature", job_id=job_id, disposition=None,
                        rationale=_text(comment), meaning=MEANINGS[meaning],
                        record_hash=record_hash,
                        supersedes=before[-1].seq if before else None, **who)
