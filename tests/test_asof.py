"""Time travel: the lake as it stood at a date, a time or a run, from its own history, on a real
lake: a batch released, then a corrected re-export (tests/asof_story.py). Records, traces, SQL,
findings, impact and EPCIS exports as of the release show what was signed; now, the correction
and its history."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pypdf
import pytest
from typer.testing import CliRunner

from tests.asof_story import NEW_LOT, NEW_VALUE, OLD_LOT, OLD_VALUE, Story, build_story
from tracelake.cli import app
from tracelake.derived.genealogy import GENEALOGY_TABLES, build_index, where_used
from tracelake.errors import InputError, QueryRefused
from tracelake.lake import asof
from tracelake.lake.asof import INDEX_SOURCES, as_of_connection, open_as_of
from tracelake.lake.query import run_sql, sql_frame
from tracelake.lake.snapshot import open_snapshot
from tracelake.records import batch_record, device_record, render_html, render_pdf

runner = CliRunner()


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return build_story(tmp_path_factory.mktemp("asof"))


def _cli(story: Story, *args: str) -> Any:
    return runner.invoke(app, [*args, "--lake", str(story.lake.paths.root)])


def _at_release(story: Story) -> str:
    """The release signature's time, as an auditor would type it (ISO 8601 with an offset)."""
    return story.release.signed_at.astimezone(dt.UTC).isoformat()


def _value(doc: dict[str, Any]) -> float:
    return next(t["value"] for t in doc["tests"] if t["serial_number"] == "SPX200-0001"
                and t["test_step"] == "ALIGN" and t["measurement"] == "beam_offset")


def _lot(doc: dict[str, Any]) -> str:
    return next(m["lot_number"] for m in doc["materials"] if m["issue_id"] == "MI-26-0110")


# ------------------------------------------------------------------ resolving the point


def test_a_point_resolves_to_the_runs_committed_by_then(story: Story) -> None:
    con = open_snapshot(story.lake.paths)
    try:
        by_run = asof.resolve(con, story.run1)
        assert by_run.run_id == story.run1 and by_run.runs == (story.run1,)
        assert by_run.later == (story.run2,) and not by_run.latest
        assert by_run.at == by_run.committed_at  # as that run left the lake
        at_release = asof.resolve(con, _at_release(story))
        assert at_release.run_id == story.run1 and at_release.at == story.release.signed_at
        assert asof.resolve(con, story.run2).latest
        # a date is the end of that day in the plant's time zone; a time without offset is UTC
        today = dt.datetime.now(dt.UTC).astimezone(asof.ZoneInfo("Europe/London")).date()
        assert asof.resolve(con, today.isoformat()).run_id == story.run2
        later = asof.resolve(con, "2100-01-01T00:00")
        assert later.at == dt.datetime(2100, 1, 1, tzinfo=dt.UTC) and later.latest
        assert "as the lake stood on" in by_run.label() and story.run1 in by_run.label()
    finally:
        con.close()


@pytest.mark.parametrize(("when", "message"), [
    ("2000-01-01", "the lake has no run committed by then (its first run committed"),
    ("20000101T000000Z-abcdef", "no ingest run of this lake has that id"),
    ("last tuesday", "is neither an ISO 8601 date or time"),
    ("2026-13-45", "is neither an ISO 8601 date or time"),
])
def test_a_bad_point_is_one_line_and_exit_1(story: Story, when: str, message: str) -> None:
    with pytest.raises(InputError, match="--as-of"):
        open_as_of(story.lake.paths, when)
    for args in (["bmr", "J-1042"], ["trace", "backward", "--serial", "SPX200-0001"],
                 ["sql", "SELECT 1"], ["findings"]):
        res = _cli(story, *args, "--as-of", when)
        assert res.exit_code == 1, (args, res.output)
        assert res.stdout == ""
        assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr


def test_as_of_without_a_value_is_a_command_line_error(story: Story) -> None:
    assert _cli(story, "findings", "--as-of").exit_code == 2


def test_the_option_reads_the_same_on_every_command(story: Story) -> None:
    helps = []
    for args in (["sql"], ["trace", "forward"], ["trace", "backward"], ["impact", "calibration"],
                 ["bmr"], ["dhr"], ["findings"], ["export", "epcis"]):
        res = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "300"})
        assert res.exit_code == 0, args
        line = next(ln for ln in res.stdout.splitlines() if "--as-of" in ln)
        helps.append(" ".join(line.replace("│", " ").split()))
    assert len(set(helps)) == 1 and "ingest run id" in helps[0], helps


# ------------------------------------------------------------------ records


def test_the_bmr_as_of_the_release_is_the_record_that_was_signed(story: Story) -> None:
    with as_of_connection(story.lake.paths, _at_release(story), index=build_index) as (con, p):
        then = batch_record(con, "J-1042", with_units=False, as_of=p.as_dict())
    now_con = open_snapshot(story.lake.paths)
    try:
        now = batch_record(now_con, "J-1042", with_units=False)
    finally:
        now_con.close()
    assert _value(then) == float(OLD_VALUE) and _lot(then) == OLD_LOT
    assert _value(now) == float(NEW_VALUE) and _lot(now) == NEW_LOT
    # the signature is bound to the record's hash: as of the release it is the signed record
    assert then["record_hash"] == story.release.record_hash != now["record_hash"]
    assert then["review"]["status"] == "released"
    assert now["review"]["status"] == "signed an earlier version"
    assert then["history"] == []
    changes = {(h["table"], h["column"]): (h["before"], h["after"], h["run_id"])
               for h in now["history"]}
    assert changes[("test_results", "value")] == (float(OLD_VALUE), float(NEW_VALUE), story.run2)
    assert changes[("material_issues", "lot_number")] == (OLD_LOT, NEW_LOT, story.run2)
    assert then["as_of"]["run_id"] == story.run1 and "as_of" not in now


def test_as_of_the_first_run_the_review_is_not_there_yet(story: Story) -> None:
    with as_of_connection(story.lake.paths, story.run1, index=build_index) as (con, _):
        doc = batch_record(con, "J-1042", with_units=False)
        assert con.execute("SELECT count(*) FROM review_entries").fetchone()[0] == 0
    assert doc["review"]["status"] == "awaiting dispositions"
    assert doc["record_hash"] == story.release.record_hash  # the same rows: the same record


def test_cli_records_as_of_carry_the_banner_in_json_html_and_pdf(story: Story,
                                                                 tmp_path: Path) -> None:
    res = _cli(story, "bmr", "J-1042", "--as-of", story.run1)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert _lot(doc) == OLD_LOT and doc["as_of"]["run_id"] == story.run1
    assert "answering as the lake stood on" in res.stderr
    assert _cli(story, "bmr", "J-1042", "--as-of", story.run1, "--format", "html", "-o",
                str(tmp_path / "b.html")).exit_code == 0
    html = (tmp_path / "b.html").read_text()
    assert 'id="as-of"' in html and "the lake as it stood on" in html and story.run1 in html
    assert _cli(story, "dhr", "SPX200-0001", "--as-of", story.run1, "--format", "pdf", "-o",
                str(tmp_path / "d.pdf")).exit_code == 0
    pages = [p.extract_text() for p in pypdf.PdfReader(tmp_path / "d.pdf").pages]
    assert "As of" in pages[0] and story.run1 in " ".join(pages[0].split())
    assert all("AS OF" in p for p in pages)  # the running header of every page says it
    now = json.loads(_cli(story, "dhr", "SPX200-0001").stdout)
    assert "as_of" not in now and [h["after"] for h in now["history"]
                                   if h["column"] == "value"] == [float(NEW_VALUE)]
    then = json.loads(_cli(story, "dhr", "SPX200-0001", "--as-of", story.run1).stdout)
    assert _value(then) == float(OLD_VALUE) and then["history"] == []


def test_renderers_show_the_point_as_stored(story: Story) -> None:
    with as_of_connection(story.lake.paths, story.run1, index=build_index) as (con, p):
        doc = device_record(con, "SPX200-0001", as_of=p.as_dict())
    doc["as_of"]["asked"] = "<b>[red]x[/red]</b>"
    html = render_html(doc)
    assert "&lt;b&gt;[red]x[/red]&lt;/b&gt;" in html and "<b>[red]" not in html
    assert render_pdf(doc)[:5] == b"%PDF-"


# ------------------------------------------------------------------ trace, sql, findings, exports


def test_trace_as_of_the_release_follows_the_old_lot(story: Story) -> None:
    def trace(lot: str, *more: str) -> dict[str, Any]:
        res = _cli(story, "trace", "forward", "--component", "CASE-200", "--lot", lot,
                   "--format", "json", *more)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    def jobs(answer: dict[str, Any]) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in answer["affected"]:
            out[a["job_id"]] = out.get(a["job_id"], 0) + 1
        return out

    back = trace(OLD_LOT, "--as-of", _at_release(story))
    assert jobs(back)["J-1042"] == 10 and back["as_of"]["run_id"] == story.run1
    now = trace(OLD_LOT)
    assert "J-1042" not in jobs(now) and "as_of" not in now
    assert {j: n for j, n in jobs(back).items() if j != "J-1042"} == jobs(now)  # the others kept
    assert jobs(trace(NEW_LOT)) == {"J-1042": 10}
    assert trace(NEW_LOT, "--as-of", story.run1)["summary"]["units"] == 0
    where_from = json.loads(_cli(story, "trace", "backward", "--serial", "SPX200-0001",
                                 "--format", "json", "--as-of", story.run1).stdout)
    lots = {c["lot_number"] for c in where_from["components"]
            if c["component_code"] == "CASE-200"}
    assert lots == {OLD_LOT} and where_from["as_of"]["run_id"] == story.run1


def test_the_index_is_built_for_the_point_only_when_a_later_run_changed_it(story: Story) -> None:
    assert INDEX_SOURCES == GENEALOGY_TABLES
    with as_of_connection(story.lake.paths, story.run1, index=build_index) as (con, _):
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                                 "WHERE table_catalog = 'memory' AND table_schema = 'genealogy'"
                                 ).fetchall())
        assert kinds["closure_by_anc"] == "BASE TABLE"  # built here: run 2 changed an issue
        assert "J-1042" in {a["job_id"] for a in where_used(con, "CASE-200", OLD_LOT).affected}
    with as_of_connection(story.lake.paths, story.run2) as (con, _):
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                                 "WHERE table_catalog = 'memory' AND table_schema = 'genealogy'"
                                 ).fetchall())
        assert kinds["closure_by_anc"] == "VIEW"  # the snapshot's index serves the last run
        assert where_used(con, "CASE-200", NEW_LOT).summary["units"] == 10


def test_sql_as_of_sees_the_tables_as_they_stood(story: Story) -> None:
    query = "SELECT lot_number FROM material_issues WHERE issue_id = 'MI-26-0110'"
    then = _cli(story, "sql", query, "--format", "csv", "--as-of", story.run1)
    assert then.exit_code == 0 and then.stdout.split() == ["lot_number", OLD_LOT]
    assert "as run" in then.stderr and story.run1 in then.stderr
    assert _cli(story, "sql", query, "--format", "csv").stdout.split() == ["lot_number", NEW_LOT]
    history = ("SELECT count(*) AS n FROM history.material_issues UNION ALL "
               "SELECT count(*) FROM ingest_runs UNION ALL SELECT count(*) FROM review_entries")
    assert run_sql(story.lake.paths, history, as_of=story.run1)["n"].to_list() == [0, 1, 0]
    assert run_sql(story.lake.paths, history, as_of=_at_release(story))["n"].to_list() == \
        [0, 1, story.release.seq]
    assert run_sql(story.lake.paths, history)["n"].to_list() == [1, 2, story.release.seq]
    assert run_sql(story.lake.paths, "SELECT run_id FROM lake_version",
                   as_of=story.run1)["run_id"].to_list() == [story.run1]


def test_sql_as_of_stays_a_read_of_the_lake(story: Story) -> None:
    con, _ = open_as_of(story.lake.paths, story.run1)
    try:
        for query in (f"SELECT * FROM {asof.SOURCE}.main.units",
                      "SELECT * FROM read_csv('/etc/passwd')"):
            with pytest.raises(QueryRefused):
                sql_frame(con, query)
        with pytest.raises(duckdb.Error, match=r"lock|configuration|Permission"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()


def test_many_later_runs_are_held_in_a_table(story: Story, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asof, "_LIST_LIMIT", 0)
    with as_of_connection(story.lake.paths, story.run1, index=build_index) as (con, _):
        assert con.execute("SELECT lot_number FROM material_issues WHERE issue_id = "
                           "'MI-26-0110'").fetchone()[0] == OLD_LOT
        assert "J-1042" in {a["job_id"] for a in where_used(con, "CASE-200", OLD_LOT).affected}


def test_findings_impact_and_epcis_as_of(story: Story) -> None:
    res = _cli(story, "findings", "--job", "J-1042", "--format", "json", "--as-of", story.run1)
    assert res.exit_code == 0 and json.loads(res.stdout)["as_of"]["run_id"] == story.run1
    res = _cli(story, "impact", "calibration", "--equipment", "DMM-04", "--format", "json",
               "--as-of", story.run1)
    assert res.exit_code == 0 and json.loads(res.stdout)["as_of"]["run_id"] == story.run1
    then = _cli(story, "export", "epcis", "--job", "J-1042", "--as-of", story.run1)
    now = _cli(story, "export", "epcis", "--job", "J-1042")
    assert then.exit_code == 0 and now.exit_code == 0
    assert OLD_LOT in then.stdout and NEW_LOT not in then.stdout
    assert NEW_LOT in now.stdout and OLD_LOT not in now.stdout
