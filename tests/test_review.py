"""Review and release, recorded: signers, dispositions, signatures bound to the BMR's hash, the
append-only hash chain and ``tracelake verify``, on copies of the sample lake and through the CLI."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pypdf
import pytest
from typer.testing import CliRunner

from tests.helpers import SAMPLE, Lake
from tracelake.cli import app
from tracelake.errors import InputError
from tracelake.lake.snapshot import open_snapshot
from tracelake.records import batch_record, device_record, render_html, render_pdf
from tracelake.records.signatures import record_hash
from tracelake.records.signing import record_dispositions, record_signature
from tracelake.review import (
    AuthError,
    add_user,
    authenticate,
    chain,
    decide,
    has_users,
    jobs_pending_review,
    verify_lake,
)

runner = CliRunner()
PASSWORD = "correct horse 42"


@pytest.fixture
def lake(sample_lake: Lake, tmp_path: Path) -> Lake:
    """A private copy of the sample lake (the session's sample stays as it is)."""
    root = tmp_path / "lake"
    root.mkdir()
    for name in ("lake.duckdb", "serving.duckdb"):
        shutil.copyfile(sample_lake.paths.root / name, root / name)
    return Lake(root)


def _cli(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def _review(lake: Lake, job: str = "J-1042") -> dict[str, Any]:
    con = open_snapshot(lake.paths)
    try:
        return batch_record(con, job, with_units=False)["review"]
    finally:
        con.close()


def _signers(lake: Lake) -> None:
    add_user(lake.paths, "rita", "reviewer", PASSWORD, "Rita Okafor")
    add_user(lake.paths, "vic", "viewer", PASSWORD, "Vic Viewer")


def _dispose_all(lake: Lake) -> list[chain.Entry]:
    user = authenticate(lake.paths, "rita", PASSWORD)
    return record_dispositions(
        lake.paths, user, "J-1042",
        lambda r: [f for f in r["findings"] if f["needs_disposition"]], "accepted",
        rationale="results re-assessed: TQ-07 and DMM-04 errors within the test margin")


# ------------------------------------------------------------------ users


def test_users_hash_passwords_and_need_both_components(lake: Lake) -> None:
    assert not has_users(lake.paths)
    _signers(lake)
    assert has_users(lake.paths)
    stored = (lake.paths.root / "users.json").read_text()
    assert PASSWORD not in stored and "$argon2id$" in stored
    assert (lake.paths.root / "users.json").stat().st_mode & 0o077 == 0
    assert authenticate(lake.paths, "RITA", PASSWORD).printed_name == "Rita Okafor"
    with pytest.raises(AuthError):
        authenticate(lake.paths, "rita", "wrong password")
    with pytest.raises(AuthError):
        authenticate(lake.paths, "nobody", PASSWORD)
    with pytest.raises(InputError, match="exists already"):
        add_user(lake.paths, "Rita", "approver", PASSWORD)
    with pytest.raises(InputError, match="role"):
        add_user(lake.paths, "sam", "admin", PASSWORD)
    with pytest.raises(InputError, match="at least 8"):
        add_user(lake.paths, "sam", "reviewer", "short")


def test_user_add_asks_for_the_password_twice_and_never_takes_it_as_an_argument(lake: Lake) -> None:
    root = str(lake.paths.root)
    res = _cli("user", "add", "ann", "--role", "approver", "--printed-name", "Ann Lee",
               "--lake", root, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert res.exit_code == 0, res.output
    assert authenticate(lake.paths, "ann", PASSWORD).role == "approver"
    res = _cli("user", "add", "bob", "--role", "reviewer", "--lake", root,
               stdin=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert res.exit_code == 0 and "do not match" in res.output  # asked again after a mismatch
    res = _cli("user", "add", "cy", "--role", "reviewer", "--password", PASSWORD, "--lake", root)
    assert res.exit_code == 2  # no such option
    res = _cli("user", "list", "--lake", root, "--format", "json")
    assert [u["name"] for u in json.loads(res.stdout)["users"]] == ["ann", "bob"]
    assert "argon2" not in res.stdout


# ------------------------------------------------------------------ the record hash


def test_record_hash_is_the_content_not_when_or_how_it_was_built(lake: Lake) -> None:
    con = open_snapshot(lake.paths)
    try:
        full, short = batch_record(con, "J-1042"), batch_record(con, "J-1042", with_units=False)
    finally:
        con.close()
    assert full["record_hash"] == short["record_hash"] == record_hash(full)
    assert full["record_hash"].startswith("sha256:") and len(full["record_hash"]) == 71
    later = dict(full, generated_at="2030-01-01T00:00:00Z", company="Other Ltd")
    assert record_hash(later) == full["record_hash"]
    changed = json.loads(json.dumps(short, default=str))
    changed["operations"][0]["operator"] = "Someone Else"
    assert record_hash(changed) != short["record_hash"]


# ------------------------------------------------------------------ dispositions and release


def test_release_is_refused_until_every_major_finding_is_disposed(lake: Lake) -> None:
    _signers(lake)
    rita = authenticate(lake.paths, "rita", PASSWORD)
    review = _review(lake)
    assert review["status"] == "awaiting dispositions"
    assert review["decision"]["undisposed_major"] == 7
    with pytest.raises(InputError, match="release of J-1042 refused: major finding"):
        record_signature(lake.paths, rita, "J-1042", "release")
    with pytest.raises(AuthError, match="viewer"):
        record_signature(lake.paths, authenticate(lake.paths, "vic", PASSWORD), "J-1042",
                         "rejection", comment="no")
    with pytest.raises(InputError, match="rationale"):
        record_dispositions(lake.paths, rita, "J-1042", lambda r: r["findings"][:1], "accepted")
    with pytest.raises(InputError, match="NCR"):
        record_dispositions(lake.paths, rita, "J-1042", lambda r: r["findings"][:1], "ncr_raised")
    first = record_dispositions(lake.paths, rita, "J-1042", lambda r: r["findings"][:1],
                                "ncr_raised", ncr_id="NCR-0240")
    assert first[0].seq == 1 and first[0].meaning == "Reviewed: NCR raised NCR-0240"
    assert _review(lake)["decision"]["undisposed_major"] == 6  # the snapshot was republished
    _dispose_all(lake)
    entry = record_signature(lake.paths, rita, "J-1042", "release")
    review = _review(lake)
    assert review["status"] == "released"
    assert review["release_signature"]["entry"] == entry.seq == 9
    assert review["release_signature"]["manifestation"].startswith("Rita Okafor (reviewer) · ")
    assert review["release_signature"]["manifestation"].endswith("Approved: batch released")
    assert "J-1042" not in {j["job_id"] for j in jobs_pending_review(open_snapshot(lake.paths))}


def test_critical_findings_stay_open_unless_rejected_with_a_rationale() -> None:
    critical = {"rule": "missing_signoff", "severity": "critical", "serial_number": None,
                "record": "jobs:J-9"}
    major = {"rule": "wrong_revision", "severity": "major", "serial_number": "S1",
             "record": "units:S1"}
    minor = {"rule": "orphan_reference", "severity": "minor", "serial_number": None,
             "record": "x"}

    def entry(f: dict[str, Any], disposition: str) -> chain.Entry:
        return chain.Entry(1, "disposition", "J-9", f"{f['rule']}|{f['serial_number'] or ''}|"
                           f"{f['record']}", None, None, None, None, None, disposition, None,
                           "why", "m", "u", "U", "reviewer", None, "h", None, "p", "e")  # type: ignore[arg-type]

    assert decide([minor], []).can_release
    assert not decide([major], []).can_release
    assert decide([major], [entry(major, "accepted")]).can_release
    for d in ("accepted", "ncr_raised", "corrected_at_source"):
        assert decide([critical], [entry(critical, d)]).open_critical == 1
    assert decide([critical], [entry(critical, "rejected")]).can_release
    assert not decide([], [], job_releasable=False, job_reason="the job is in progress").can_release


def test_a_correction_is_a_new_entry_pointing_at_the_old_one(lake: Lake) -> None:
    _signers(lake)
    rita = authenticate(lake.paths, "rita", PASSWORD)
    pick = lambda r: r["findings"][1:2]  # noqa: E731
    (old,) = record_dispositions(lake.paths, rita, "J-1042", pick, "accepted", rationale="ok")
    with pytest.raises(InputError, match="correction"):
        record_dispositions(lake.paths, rita, "J-1042", pick, "ncr_raised", ncr_id="NCR-1")
    (new,) = record_dispositions(lake.paths, rita, "J-1042", pick, "ncr_raised", ncr_id="NCR-1",
                                 rationale="torque may be low: raised an NCR instead")
    assert new.supersedes == old.seq and new.prev_hash == old.entry_hash
    rows = lake.query("SELECT seq, disposition FROM review_entries ORDER BY seq")
    assert rows == [(1, "accepted"), (2, "ncr_raised")]  # the old entry is still there as it was
    shown = _review(lake)["findings"][1]["disposition"]
    assert shown["entry"] == 2 and shown["ncr_id"] == "NCR-1"


# ------------------------------------------------------------------ 11.70: a later ingest


def _reexport_operations(tmp_path: Path) -> Path:
    """The October operations export again, one J-1042 step finishing five minutes later."""
    src = (SAMPLE / "operations_2026-10.csv").read_text(encoding="utf-8")
    old = "J-1042,20,ASSY,SPX200-0002,ASSY-1,Tom Hughes,2026-10-20T11:45:00,2026-10-20T12:45:00"
    assert old in src
    out = tmp_path / "reexport" / "operations_2026-10.csv"
    out.parent.mkdir()
    out.write_text(src.replace(old, old[:-8] + "12:50:00"), encoding="utf-8")
    return out


def test_a_changed_reexport_marks_the_signature_as_for_an_earlier_version(
        lake: Lake, tmp_path: Path) -> None:
    _signers(lake)
    _dispose_all(lake)
    rita = authenticate(lake.paths, "rita", PASSWORD)
    signed = record_signature(lake.paths, rita, "J-1042", "release")
    before = lake.query("SELECT * FROM review_entries ORDER BY seq")
    report = lake.ingest(_reexport_operations(tmp_path))
    assert report.as_dict()["files"][0]["status"] == "loaded"
    assert lake.query("SELECT * FROM review_entries ORDER BY seq") == before  # ingest left them
    review = _review(lake)
    assert review["record_hash"] != signed.record_hash
    assert review["status"] == "signed an earlier version"
    assert review["release_signature"]["version_note"] == "signed an earlier version"
    assert "needs a new signature" in review["summary"]
    assert review["decision"]["can_release"]  # the dispositions still hold: sign again
    again = record_signature(lake.paths, rita, "J-1042", "release")
    assert again.supersedes == signed.seq
    assert _review(lake)["status"] == "released"
    assert verify_lake(lake.paths).intact


def test_signing_what_one_did_not_see_is_refused(lake: Lake, tmp_path: Path) -> None:
    _signers(lake)
    seen = _review(lake)["record_hash"]
    lake.ingest(_reexport_operations(tmp_path))
    rita = authenticate(lake.paths, "rita", PASSWORD)
    with pytest.raises(InputError, match="has changed since you reviewed it"):
        record_signature(lake.paths, rita, "J-1042", "rejection", comment="x", seen_hash=seen)


# ------------------------------------------------------------------ what people read


def _signed_doc(lake: Lake) -> dict[str, Any]:
    _signers(lake)
    _dispose_all(lake)
    record_signature(lake.paths, authenticate(lake.paths, "rita", PASSWORD), "J-1042", "release")
    con = open_snapshot(lake.paths)
    try:
        return batch_record(con, "J-1042")
    finally:
        con.close()


def test_the_signed_pdf_and_html_show_name_time_and_meaning(lake: Lake) -> None:
    doc = _signed_doc(lake)
    release = doc["review"]["release_signature"]
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages)
    flat = " ".join(text.split())
    assert "Review and signatures (21 CFR 11.50, 11.70)" in flat
    assert "RELEASE SIGNED" in flat
    local = release["manifestation"].split(" · ")[1]  # e.g. 2026-12-04 14:08:14 GMT
    assert f"Rita Okafor {local} Approved: batch released" in flat
    assert flat.count("Reviewed: finding accepted (rationale recorded)") >= 7
    assert "Review: Rita Okafor (reviewer) · " in flat  # on the cover
    assert doc["record_hash"] in flat
    html = render_html(doc)
    assert "Rita Okafor" in html and local in html and "Approved: batch released" in html
    assert "Review and signatures" in html


def test_reviews_are_in_the_snapshot_for_sql_and_the_json_record(lake: Lake) -> None:
    _signed_doc(lake)
    res = _cli("sql", "SELECT seq, kind, printed_name, meaning FROM review_entries ORDER BY seq",
               "--lake", str(lake.paths.root), "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["rows"]
    assert len(rows) == 8 and rows[-1]["meaning"] == "Approved: batch released"
    res = _cli("bmr", "J-1042", "--lake", str(lake.paths.root), "--format", "json")
    doc = json.loads(res.stdout)
    assert doc["review"]["status"] == "released"
    assert doc["review"]["signatures"][-1]["printed_name"] == "Rita Okafor"
    assert doc["review"]["signatures"][-1]["signed_at"].endswith("Z")
    assert "password" not in res.stdout


# ------------------------------------------------------------------ the chain and verify


def test_editing_a_review_row_with_plain_sql_makes_verify_name_it(lake: Lake) -> None:
    _signed_doc(lake)
    root = str(lake.paths.root)
    res = _cli("verify", "--lake", root)
    assert res.exit_code == 0 and "intact: 8 review entries" in res.stdout
    con = duckdb.connect(str(lake.paths.database))
    con.execute("UPDATE review_entries SET rationale = 'nothing to see' WHERE seq = 4")
    con.close()
    res = _cli("verify", "--lake", root)
    assert res.exit_code == 1
    assert "review entry 4 (job J-1042): its content does not match its hash" in res.stderr
    res = _cli("verify", "--lake", root, "--format", "json")
    assert json.loads(res.stdout)["chain_break"]["entry"] == 4


def test_deleting_a_review_row_breaks_the_chain_there(lake: Lake) -> None:
    _signed_doc(lake)
    con = duckdb.connect(str(lake.paths.database))
    con.execute("DELETE FROM review_entries WHERE seq = 3")
    con.close()
    result = verify_lake(lake.paths)
    assert not result.intact and result.chain_break is not None
    assert result.chain_break.seq == 4 and "entry 3 is missing" in result.chain_break.reason


def test_deleting_the_last_review_rows_is_named_by_the_chains_head(lake: Lake) -> None:
    _signed_doc(lake)  # 8 entries; no prev_hash can show that 7 and 8 are gone
    con = duckdb.connect(str(lake.paths.database))
    con.execute("DELETE FROM review_entries WHERE seq >= 7")
    con.close()
    result = verify_lake(lake.paths)
    assert not result.intact and result.chain_break is not None
    assert result.chain_break.seq == 8
    assert "head names entry 8, but the last entry is 6" in result.chain_break.reason


def test_verify_checks_the_ledger_too(lake: Lake) -> None:
    con = duckdb.connect(str(lake.paths.database))
    con.execute("UPDATE ingest_files SET rows_loaded = rows_loaded - 1 "
                "WHERE path LIKE '%units.csv'")
    con.close()
    res = _cli("verify", "--lake", str(lake.paths.root))
    assert res.exit_code == 1 and "units.csv" in res.stderr and "read" in res.stderr


# ------------------------------------------------------------------ the review commands


def test_review_commands_dispose_and_sign_with_the_password_on_stdin(lake: Lake) -> None:
    _signers(lake)
    root = str(lake.paths.root)
    res = _cli("review", "show", "J-1042", "--lake", root)
    assert res.exit_code == 0 and "7. [major] calibration_overdue_at_use" in res.stdout
    res = _cli("review", "sign", "J-1042", "--meaning", "release", "--user", "rita",
               "--lake", root, "--password-stdin", stdin=PASSWORD + "\n")
    assert res.exit_code == 1 and "release of J-1042 refused" in res.stderr
    res = _cli("review", "dispose", "J-1042", "-f", "1", "--as", "ncr_raised", "--ncr",
               "NCR-0240", "--user", "rita", "--lake", root, "--password-stdin",
               stdin="wrong\n")
    assert res.exit_code == 1 and "not recognised" in res.stderr
    res = _cli("review", "dispose", "J-1042", "-f", "1", "--as", "ncr_raised", "--ncr",
               "NCR-0240", "--user", "rita", "--lake", root, "--password-stdin",
               stdin=PASSWORD + "\n")
    assert res.exit_code == 0 and "entry 1:" in res.stdout
    res = _cli("review", "dispose", "J-1042", "-f", "all", "--as", "accepted", "--rationale",
               "assessed", "--user", "vic", "--lake", root, "--password-stdin",
               stdin=PASSWORD + "\n")
    assert res.exit_code == 1 and "only a reviewer or approver" in res.stderr
    res = _cli("review", "dispose", "J-1042", "-f", "all", "--as", "accepted", "--rationale",
               "assessed", "--user", "rita", "--lake", root, stdin=PASSWORD + "\n")  # prompted
    assert res.exit_code == 0 and res.stdout.count("accepted —") == 6
    seen = json.loads(_cli("review", "show", "J-1042", "--lake", root, "--format",
                           "json").stdout)["record_hash"]
    res = _cli("review", "sign", "J-1042", "--meaning", "release", "--user", "rita",
               "--record-hash", seen, "--lake", root, "--password-stdin", stdin=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert "Rita Okafor (reviewer)" in res.stdout and "Approved: batch released" in res.stdout
    res = _cli("review", "log", "--job", "J-1042", "--lake", root, "--format", "json")
    assert [e["kind"] for e in json.loads(res.stdout)["entries"]] == ["disposition"] * 7 + [
        "signature"]


def test_the_overview_counts_a_disposition_recorded_with_tracelake_review(lake: Lake) -> None:
    """Overview and batch page agree: a major disposed of is no longer waiting for review."""
    from tracelake.derived.overview import overview

    def waiting() -> int:
        con = open_snapshot(lake.paths)
        try:
            jobs = {j["job_id"]: j for j in overview(con)["jobs"]["items"]}
        finally:
            con.close()
        return jobs["J-1042"]["majors_waiting"] if "J-1042" in jobs else 0

    before = waiting()
    assert before == _review(lake)["decision"]["undisposed_major"] == 7
    _signers(lake)
    rita = authenticate(lake.paths, "rita", PASSWORD)
    record_dispositions(lake.paths, rita, "J-1042", lambda r: r["findings"][:1], "ncr_raised",
                        ncr_id="NCR-0240")
    assert waiting() == _review(lake)["decision"]["undisposed_major"] == 6
    _dispose_all(lake)
    assert waiting() == 0


# ------------------------------------------------------------------ the batch's review on a DHR


def test_a_device_record_shows_its_batch_review_before_and_after_the_release(
        lake: Lake, tmp_path: Path) -> None:
    con = open_snapshot(lake.paths)
    try:
        before = device_record(con, "SPX200-0004")
    finally:
        con.close()
    assert before["batch_review"]["status"] == "awaiting dispositions"
    assert before["batch_review"]["record_hash"] == _review(lake)["record_hash"]
    _signers(lake)
    _dispose_all(lake)
    record_signature(lake.paths, authenticate(lake.paths, "rita", PASSWORD), "J-1042", "release")
    con = open_snapshot(lake.paths)
    try:
        after = device_record(con, "SPX200-0004")
    finally:
        con.close()
    assert after["batch_review"]["status"] == "released"
    assert after["batch_review"]["release_signature"]["printed_name"] == "Rita Okafor"
    pdf_text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(after))).pages)
    assert "Batch review:" in pdf_text and "Rita Okafor" in pdf_text
    assert "Batch review:" in render_html(after)
    lake.ingest(_reexport_operations(tmp_path))  # the batch changes after its release
    con = open_snapshot(lake.paths)
    try:
        assert device_record(con, "SPX200-0004")["batch_review"]["status"] == \
            "signed an earlier version"
    finally:
        con.close()


def test_the_hash_signed_without_unit_pages_is_the_full_records_hash_with_a_bad_label(
        lake: Lake) -> None:
    """Signing builds the record without its unit pages; a label problem must not make the full
    record's hash differ from the one signed (it would read "signed an earlier version")."""
    con = duckdb.connect(str(lake.paths.serving))
    try:
        serial = con.execute("SELECT serial_number FROM label_checks l JOIN units u "
                             "USING (serial_number) WHERE u.job_id = 'J-1042' "
                             "ORDER BY serial_number LIMIT 1").fetchone()[0]
        con.execute("UPDATE label_checks SET label_data = '(01)00000000000000(21)WRONG' "
                    "WHERE serial_number = ?", [serial])
        full = batch_record(con, "J-1042")
        assert any(s["label_problems"] for s in full["serials"])
        assert batch_record(con, "J-1042", with_units=False)["record_hash"] == full["record_hash"]
    finally:
        con.close()
