"""Review and release, recorded: ``review show|dispose|sign|log``, ``verify``, ``user add|list``.

Passwords are asked for with a hidden prompt, never taken from the command line; for scripts and
tests ``--password-stdin`` reads the password as the first line of standard input (as
``docker login --password-stdin`` does).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tracelake.cli.app import DEFAULT_LAKE, IngestFmt, LakeOption, _failures, _print, app, err, out
from tracelake.exports.formats import json_dumps
from tracelake.lake.paths import LakePaths

review_app = typer.Typer(no_args_is_help=True, help="Dispose of a batch's findings and sign its "
                                                    "release or rejection (21 CFR Part 11).")
app.add_typer(review_app, name="review")
user_app = typer.Typer(no_args_is_help=True, help="The people who sign: names, roles, passwords.")
app.add_typer(user_app, name="user")


class Role(StrEnum):
    """Roles of a user."""

    viewer = "viewer"
    reviewer = "reviewer"
    approver = "approver"
    auditor = "auditor"


class Disposition(StrEnum):
    """What a reviewer decides about a finding."""

    accepted = "accepted"
    ncr_raised = "ncr_raised"
    corrected_at_source = "corrected_at_source"
    rejected = "rejected"


class Meaning(StrEnum):
    """What a batch signature means."""

    release = "release"
    rejection = "rejection"


PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input "
                             "(scripts, tests) instead of asking for it.")]
UserOption = Annotated[str, typer.Option("--user", "-u", envvar="TRACELAKE_USER",
                                         help="Your user name (signing needs it and your password).")]
HashOption = Annotated[str | None, typer.Option(
    "--record-hash", help="The record hash you reviewed (from 'review show'): refuse to sign if "
                          "the record has changed since.")]


def _password(from_stdin: bool, *, confirm: bool = False) -> str:
    """The password: the first line of stdin, or asked for (twice when ``confirm``)."""
    from tracelake.errors import InputError

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm,
                            err=True))


# ------------------------------------------------------------------ user

@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
    role: Annotated[Role, typer.Option("--role", help="viewer, reviewer, approver or auditor.")],
    printed_name: Annotated[str | None, typer.Option(
        "--printed-name", help="The name printed with each signature (default: NAME).")] = None,
    lake: LakeOption = DEFAULT_LAKE,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user who can log in to the dashboards (and sign, as reviewer or approver)."""
    from tracelake.review import add_user

    with _failures(lake):
        password = _password(password_stdin, confirm=True)
        user = add_user(LakePaths.of(lake), name, role.value, password, printed_name)
        err.print(f"user {user.name} ({user.printed_name}) added as {user.role}", highlight=False,
                  markup=False)


@user_app.command("list")
def user_list(lake: LakeOption = DEFAULT_LAKE,
              fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table) -> None:
    """The users (never their passwords)."""
    from dataclasses import asdict

    from tracelake.review import list_users

    with _failures(lake):
        users = list_users(LakePaths.of(lake))
        if fmt == IngestFmt.json:
            _print(json_dumps({"users": [asdict(u) for u in users]}))
            return
        for u in users:
            _print(f"{u.name}\t{u.role}\t{u.printed_name}\tadded {u.added_at}")
        err.print(f"{len(users)} user(s)", highlight=False)


# ------------------------------------------------------------------ review

def _resolve(refs: list[str], review: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings named by number (as 'review show' lists them), record, key, or 'all'."""
    from tracelake.errors import InputError

    rows = review["findings"]
    chosen: list[dict[str, Any]] = []
    for ref in refs:
        if ref == "all":
            picked = [f for f in rows if f["needs_disposition"] and f["disposition"] is None]
            if not picked:
                raise InputError("--finding all: every finding that needs a disposition has one")
        elif ref.isdigit() and 1 <= int(ref) <= len(rows):
            picked = [rows[int(ref) - 1]]
        else:
            picked = [f for f in rows if ref in (f["record"], f["key"])]
        if not picked:
            raise InputError(f"--finding {ref!r}: no such finding of this job (give its number "
                             f"1-{len(rows)} from 'tracelake review show', or its record)")
        chosen += [f for f in picked if f not in chosen]
    return chosen


def _sign_in(lake: Path, user: str, password_stdin: bool) -> Any:
    from tracelake.review import AuthError, authenticate

    paths = LakePaths.of(lake)
    signer = authenticate(paths, user, _password(password_stdin))
    if not signer.can_sign:
        raise AuthError(f"{signer.name} is a {signer.role}: only a reviewer or approver may sign")
    return signer


def _zone(lake: Path) -> Any:
    from tracelake.lake.plant_time import plant_zone
    from tracelake.lake.snapshot import open_snapshot

    con = open_snapshot(LakePaths.of(lake))
    try:
        return plant_zone(con)
    finally:
        con.close()


@review_app.command("show")
def review_show(
    job_id: Annotated[str, typer.Argument(help="The job (batch) number.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """A job's findings with their dispositions (numbered, for --finding), its signatures, the
    record hash and whether the release can be signed."""
    from tracelake.cli.app import _reader
    from tracelake.records import batch_record

    with _failures(lake):
        with _reader(lake) as con:
            review = batch_record(con, job_id, with_units=False)["review"]
        if fmt == IngestFmt.json:
            _print(json_dumps({"job_id": job_id} | review))
            return
        _print(f"{job_id}: {review['status']} — {review['summary']}")
        _print(f"record hash {review['record_hash']}")
        _print("findings:")
        for i, f in enumerate(review["findings"], start=1):
            d = f["disposition"]
            state = (f"{d['disposition']}" + (f" {d['ncr_id']}" if d["ncr_id"] else "")
                     + f" — {d['manifestation']}" if d else
                     "NEEDS A DISPOSITION" if f["needs_disposition"] else "no disposition needed")
            _print(f"  {i}. [{f['severity']}] {f['rule']} {f['record']}: {state}")
        if review["signatures"]:
            _print("signatures:")
            for s in review["signatures"]:
                _print(f"  entry {s['entry']}: {s['manifestation']} ({s['version_note']})")
        reasons = review["decision"]["reasons"]
        _print("release: " + ("can be signed" if not reasons else
                              f"refused ({len(reasons)} reason(s); first: {reasons[0]})"))


@review_app.command("dispose")
def review_dispose(
    job_id: Annotated[str, typer.Argument(help="The job (batch) number.")],
    finding: Annotated[list[str], typer.Option(
        "--finding", "-f", help="A finding: its number in 'review show', its record, or 'all' "
                                "(every one that needs a disposition and has none). Repeatable.")],
    disposition: Annotated[Disposition, typer.Option("--as", help="accepted, ncr_raised, "
                                                                   "corrected_at_source, rejected.")],
    user: UserOption,
    rationale: Annotated[str | None, typer.Option(help="Why (needed but for ncr_raised).")] = None,
    ncr: Annotated[str | None, typer.Option("--ncr", help="The NCR raised (ncr_raised).")] = None,
    record_hash: HashOption = None,
    lake: LakeOption = DEFAULT_LAKE,
    password_stdin: PasswordStdin = False,
) -> None:
    """Record a signed disposition of one or more findings of a job."""
    from tracelake.records.signing import record_dispositions
    from tracelake.review import manifestation

    with _failures(lake):
        signer = _sign_in(lake, user, password_stdin)
        made = record_dispositions(LakePaths.of(lake), signer, job_id,
                                   lambda review: _resolve(finding, review), disposition.value,
                                   rationale=rationale, ncr_id=ncr, seen_hash=record_hash)
        zone = _zone(lake)
        for e in made:
            out.print(f"entry {e.seq}: {e.finding_rule} {e.finding_record}: {e.disposition} — "
                      f"{manifestation(e, zone)}", highlight=False, markup=False)


@review_app.command("sign")
def review_sign(
    job_id: Annotated[str, typer.Argument(help="The job (batch) number.")],
    meaning: Annotated[Meaning, typer.Option("--meaning", help="release or rejection.")],
    user: UserOption,
    comment: Annotated[str | None, typer.Option(help="A note with the signature (a rejection "
                                                     "needs the reason).")] = None,
    record_hash: HashOption = None,
    lake: LakeOption = DEFAULT_LAKE,
    password_stdin: PasswordStdin = False,
) -> None:
    """Sign a job's release (refused while a critical finding is open or a major one has no
    disposition) or its rejection, bound to the record as it stands."""
    from tracelake.records.signing import record_signature
    from tracelake.review import manifestation

    with _failures(lake):
        signer = _sign_in(lake, user, password_stdin)
        e = record_signature(LakePaths.of(lake), signer, job_id, meaning.value, comment=comment,
                             seen_hash=record_hash)
        zone = _zone(lake)
        out.print(f"entry {e.seq}: {job_id} — {manifestation(e, zone)} (record {e.record_hash})",
                  highlight=False, markup=False)


@review_app.command("log")
def review_log(
    job: Annotated[str | None, typer.Option(help="Only this job's entries.")] = None,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """Every review entry (the chain), oldest first."""
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.review import chain

    with _failures(lake):
        con = open_snapshot(LakePaths.of(lake))
        try:
            found = chain.entries(con, job)
        finally:
            con.close()
        if fmt == IngestFmt.json:
            _print(json_dumps({"entries": [e.as_dict() for e in found]}))
            return
        for e in found:
            what = (f"{e.finding_rule} {e.finding_record}: {e.disposition}"
                    if e.kind == "disposition" else "batch signature")
            verb = "corrects" if e.kind == "disposition" else "replaces"
            fix = f" ({verb} entry {e.supersedes})" if e.supersedes else ""
            _print(f"{e.seq}\t{e.job_id}\t{e.signed_at.isoformat()}\t{e.printed_name} "
                   f"({e.role})\t{e.meaning}\t{what}{fix}")
        err.print(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}", highlight=False)


# ------------------------------------------------------------------ verify

@app.command()
def verify(lake: LakeOption = DEFAULT_LAKE,
           fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table) -> None:
    """Check the review chain and the ingest ledger: exit 0 when intact, 1 naming the first
    broken entry."""
    from tracelake.review import verify_lake

    with _failures(lake):
        result = verify_lake(LakePaths.of(lake))
        if fmt == IngestFmt.json:
            _print(json_dumps(result.as_dict()))
        problem = result.first_problem()
        if problem is None:
            if fmt != IngestFmt.json:
                _print(f"intact: {result.review_entries} review entries chained, ledger of "
                       f"{result.ingest_runs} run(s) and {result.ingest_files} file(s) consistent")
            return
        err.print(f"broken: {problem}", highlight=False, markup=False)
        raise typer.Exit(1)
