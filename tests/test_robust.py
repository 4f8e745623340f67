"""Nothing an input, a crash or a query can do takes the lake down (issue 12): one hostile file at
a time beside a good one, on a real lake. Each of these failed before the fix (a run aborted, a
traceback, a hang, a process abort or gigabytes of memory) and passes now."""

from __future__ import annotations

import importlib
import json
import os
import signal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests import adversarial as adv
from tests.helpers import JOB_HEADER, UNIT_HEADER, Lake, job_row, write_csv
from tracelake.cli import app
from tracelake.errors import LakeError
from tracelake.lake import snapshot
from tracelake.lake.storage import LakePaths

runner = CliRunner()


def _good(landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1042"), job_row("J-GOOD")])


def _files(report) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    return {Path(f["path"]).name: f for f in report.as_dict()["files"]}


def _consistent(report) -> None:  # type: ignore[no-untyped-def]
    for f in report.as_dict()["files"]:
        assert f["rows_read"] == f["rows_loaded"] + f["rows_quarantined"], f


@pytest.fixture
def plant(landing: Path) -> Path:
    """A landing folder with the sample plant's first JSONL and CSV files the cases mutate."""
    adv.copy_sample(landing)
    for f in landing.iterdir():  # keep it small: the files the cases read, and jobs
        if f.name not in ("jobs.csv", "test_results-inprocess.csv", "test_results-rig3.jsonl",
                          "operations_2026-10.csv", "products.csv"):
            f.unlink()
    return landing


@pytest.mark.parametrize("case, name, rule", [
    ("int_too_large", "jobs_big.csv", "wrong_type"),
    ("attempt_2_70", "test_results-huge-attempt.csv", "wrong_type"),
    ("xlsx_1e308", "jobs-float.xlsx", "wrong_type"),
    ("deep_json", "test_results-deep.jsonl", "bad_json"),
    ("lone_surrogate", "test_results-surrogate.jsonl", "bad_json"),
])
def test_a_bad_value_is_quarantined_and_the_run_goes_on(lake: Lake, plant: Path, case: str,
                                                        name: str, rule: str) -> None:
    adv.CASES[case](plant)
    report = lake.ingest(plant)
    files = _files(report)
    assert files[name]["status"] == "loaded", files[name]
    assert files[name]["rows_quarantined"] == 1
    assert files["jobs.csv"]["rows_loaded"] > 0
    _consistent(report)
    assert lake.scalar("SELECT count(*) FROM quarantine WHERE rule = ? AND source_file LIKE ?",
                       [rule, f"%{name}"]) == 1


def test_cr_only_line_ends_are_read_as_lines(lake: Lake, plant: Path) -> None:
    adv.cr_only(plant)
    f = _files(lake.ingest(plant))["jobs-cr.csv"]
    assert f["status"] == "loaded" and f["rows_loaded"] == f["rows_read"] > 1
    assert any("CR alone" in n for n in f["notes"])


@pytest.mark.parametrize("case, name, reason", [
    ("xlsx_ref_out_of_range", "units-badref.xlsx", "outside any spreadsheet"),
    ("xlsx_far_cell", "units-far.xlsx", "16,384 columns"),
    ("wide_header", "units-wide.csv", "100,000 fields"),
    ("symlink_out", "units-link.csv", "leading out of the folder"),
    ("broken_symlink", "units-broken.csv", "broken symbolic link"),
    ("fifo", "units-fifo.csv", "FIFO"),
])
def test_a_file_past_a_limit_is_rejected_with_its_reason(lake: Lake, plant: Path, case: str,
                                                         name: str, reason: str) -> None:
    adv.CASES[case](plant)
    report = lake.ingest(plant)
    files = _files(report)
    assert files[name]["status"] == "rejected" and reason in files[name]["reason"]
    assert files["jobs.csv"]["status"] == "loaded"
    _consistent(report)


def test_a_zip_bomb_is_refused_before_it_is_inflated(lake: Lake, landing: Path) -> None:
    adv.write_xlsx(landing / "units-bomb.xlsx", adv.UNIT_CELLS, padding=200 << 20)
    _good(landing)
    f = _files(lake.ingest(landing))["units-bomb.xlsx"]
    assert f["status"] == "rejected" and "zip bomb" in f["reason"]


def test_trailing_empty_sheet_rows_are_counted_not_stored(lake: Lake, landing: Path) -> None:
    adv.xlsx_trailing_blank(landing)
    f = _files(lake.ingest(landing))["units-tall.xlsx"]
    assert f["status"] == "loaded" and f["rows_read"] == 1 and f["rows_quarantined"] == 0
    assert any("1,048,574 empty row(s)" in n for n in f["notes"]), f["notes"]
    assert lake.scalar("SELECT count(*) FROM quarantine") == 0


def test_a_link_to_etc_passwd_stores_nothing_of_it(lake: Lake, landing: Path) -> None:
    (landing / "units-passwd.csv").symlink_to("/etc/passwd")
    _good(landing)
    lake.ingest(landing)
    stored = " ".join(str(v) for row in lake.query("SELECT * FROM ingest_files") for v in row)
    assert "root:" not in stored
    assert lake.scalar("SELECT sha256 FROM ingest_files WHERE file_name = 'units-passwd.csv'") \
        is None


def test_a_device_named_directly_is_never_opened(lake: Lake, landing: Path) -> None:
    _good(landing)
    report = lake.ingest(landing, Path("/dev/zero"))
    f = _files(report)["zero"]
    assert f["status"] == "rejected" and "character device" in f["reason"]


def test_a_file_name_that_is_not_utf8_is_loaded_and_shown(lake: Lake, plant: Path) -> None:
    adv.bad_file_name(plant)
    report = lake.ingest(plant)
    loaded = [f for f in report.as_dict()["files"] if "units-" in f["path"]]
    assert loaded and loaded[0]["status"] == "loaded" and "\ufffd" in loaded[0]["path"]
    assert lake.scalar("SELECT count(*) FROM units WHERE serial_number = 'BADNAME-1'") == 1


def test_many_identical_rows_make_short_messages(lake: Lake, landing: Path) -> None:
    adv.duplicate_keys(landing, n=3000)
    report = lake.ingest(landing)
    f = _files(report)["jobs-dupes.csv"]
    assert f["rows_quarantined"] == 3000
    longest = lake.scalar("SELECT max(length(message)) FROM quarantine")
    assert longest < 200
    assert "2, 3, 4, 5, 6 and 2995 more (3000 rows)" in lake.scalar(
        "SELECT any_value(message) FROM quarantine")


def test_utf16_is_decoded_as_utf16(lake: Lake, landing: Path) -> None:
    adv.utf16(landing)
    f = _files(lake.ingest(landing))["units-utf16.csv"]
    assert f["status"] == "loaded" and f["encoding"] == "utf-16"
    assert lake.scalar("SELECT serial_number FROM units") == "U16-Ä1"


def test_a_source_column_named_row_is_kept(lake: Lake, landing: Path) -> None:
    adv.row_column(landing)
    f = _files(lake.ingest(landing))["units-rowcol.csv"]
    assert f["status"] == "loaded" and any("source:_row" in n for n in f["notes"])
    row, extra = lake.query("SELECT _row, _extra FROM units")[0]
    assert row == 2 and json.loads(extra) == {"source:_row": "77"}


def test_a_file_the_lake_refuses_while_writing_costs_only_itself(
        lake: Lake, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelake.ingest import outcome, run

    _good(landing)
    write_csv(landing / "units.csv", UNIT_HEADER, [["S-1", "SPX-200", "J-GOOD", "wip"]])
    real = outcome.upsert

    def refuse_units(con, contract, rows, **kw):  # type: ignore[no-untyped-def]
        counts = real(con, contract, rows, **kw)
        if contract.name == "units":
            raise duckdb.ConversionException("Conversion Error: simulated refusal")
        return counts

    monkeypatch.setattr(outcome, "upsert", refuse_units)
    # staged and upserted (a table's first rows written directly: test_ingest_chunks.py)
    monkeypatch.setattr(run.DirectLoad, "usable", staticmethod(lambda con, contract: False))
    files = _files(lake.ingest(landing))
    assert files["units.csv"]["status"] == "rejected"
    assert "simulated refusal" in files["units.csv"]["reason"]
    assert files["jobs.csv"]["status"] == "loaded"
    assert lake.scalar("SELECT count(*) FROM units") == 0
    assert lake.scalar("SELECT count(*) FROM jobs") == 2


# ------------------------------------------------------------------ the snapshot heals


def _agree(lake: Lake) -> None:
    paths = lake.paths
    assert snapshot.snapshot_version(paths) == lake.scalar("SELECT run_id FROM lake_version")
    con = duckdb.connect(str(paths.serving), read_only=True)
    try:
        for table in ("jobs", "units", "ingest_files", "quarantine"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == \
                tuple(lake.query(f"SELECT count(*) FROM {table}")[0]), table
    finally:
        con.close()
    assert not list(paths.root.glob(".serving-*.tmp"))


def test_a_run_republishes_a_snapshot_left_behind(lake: Lake, landing: Path) -> None:
    _good(landing)
    lake.ingest(landing, publish=False)  # as a run killed between COMMIT and the rename
    (lake.paths.root / ".serving-dead.duckdb.tmp").write_bytes(b"x" * 1000)
    assert snapshot.snapshot_version(lake.paths) is None
    report = lake.ingest(landing)  # nothing new: every file a duplicate
    assert {f.status for f in report.files} == {"duplicate"} and report.published
    _agree(lake)


def test_a_corrupt_snapshot_is_one_line_and_publish_heals_it(lake: Lake, landing: Path) -> None:
    _good(landing)
    lake.ingest(landing)
    lake.paths.serving.write_bytes(b"not a database" * 100)
    result = runner.invoke(app, ["summary", "--lake", str(lake.paths.root)])
    assert result.exit_code == 1 and "tracelake publish" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["publish", "--lake", str(lake.paths.root)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["summary", "--lake", str(lake.paths.root)])
    assert result.exit_code == 0 and "snapshot holds run " in result.output
    _agree(lake)


# ------------------------------------------------------------------ interrupts and a full disk


def test_ctrl_c_before_commit_says_nothing_was_committed(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelake.lake import orphans

    _good(landing)

    def interrupt(*a):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(orphans, "refresh", interrupt)
    result = runner.invoke(app, ["ingest", str(landing), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 130
    assert result.output.strip().splitlines()[-1].startswith("interrupted: nothing of run ")
    assert "Traceback" not in result.output
    assert duckdb.connect(str(tmp_path / "lake" / "lake.duckdb"), read_only=True).execute(
        "SELECT count(*) FROM jobs").fetchone() == (0,)


def test_sigterm_during_publish_says_the_run_was_committed(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelake.cli.app import Terminated

    _good(landing)

    def stop(*a):  # type: ignore[no-untyped-def]
        raise Terminated

    monkeypatch.setattr(snapshot, "publish", stop)
    result = runner.invoke(app, ["ingest", str(landing), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 143
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("stopped (SIGTERM): run ") and "was committed" in last


def test_a_full_disk_is_one_line_and_leaves_no_empty_crash_log(
        tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app_module = importlib.import_module("tracelake.cli.app")

    def full(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(app_module.os, "write", full)
    monkeypatch.chdir(tmp_path)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        assert app_module._write_crash_log(tmp_path) is None
    logs = list(tmp_path.glob("tracelake-error.log"))
    assert all(p.stat().st_size == 0 for p in logs)  # truncated back, never a half entry


def test_a_full_disk_during_the_run_is_a_lake_error(
        lake: Lake, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelake.lake import ledger

    _good(landing)

    def full(*a):  # type: ignore[no-untyped-def]
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")

    monkeypatch.setattr(ledger, "record_run", full)
    with pytest.raises(LakeError, match="No space left on device; nothing of run"):
        lake.ingest(landing)


# ------------------------------------------------------------------ the lake path


def test_a_lake_path_that_is_a_file_is_one_line(tmp_path: Path, landing: Path) -> None:
    (tmp_path / "afile").write_text("x")
    _good(landing)
    result = runner.invoke(app, ["ingest", str(landing), "--lake", str(tmp_path / "afile")])
    assert result.exit_code == 1 and "is a file, not a folder" in result.output


def test_a_reader_holding_the_lake_is_not_called_a_writer(lake: Lake, landing: Path) -> None:
    import subprocess
    import sys

    _good(landing)
    lake.ingest(landing)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print('open', flush=True); time.sleep(60)"), str(lake.paths.database)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(LakeError) as err:
            lake.ingest(landing)
        assert "has the lake's database open" in str(err.value)
        assert "writing" not in str(err.value)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()


def test_lake_paths_of_proc(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="cannot be created"):
        from tracelake.lake.storage import connect_writer

        with connect_writer(LakePaths.of("/proc/tracelake-lake")):
            pass


# ------------------------------------------------------------------ the sandbox and its limits


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("q")
    (root / "landing").mkdir()
    _good(root / "landing")
    lake = Lake(root / "lake")
    lake.ingest(root / "landing")
    return lake


@pytest.mark.parametrize("sql", [
    "EXPLAIN ANALYZE SELECT 1",
    "EXPLAIN ANALYZE CREATE TEMP TABLE x AS SELECT 1",
    "/* x */ explain /* y */ analyze SELECT 1",
    "SELECT * FROM read_blob('serving.duckdb')",
    "SELECT * FROM read_text('lake.duckdb')",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_settings",
    "SELECT current_setting('temp_directory')",
    "SELECT * FROM pragma_database_list",
    "PRAGMA database_list",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM 'lake.duckdb'",
    "SELECT * FROM query('SELECT 1')",
    "SELECT getvariable('x')",
    "SELECT * FROM system.main.duckdb_settings()",
])
def test_the_sandbox_allows_reads_of_the_lake_only(small_lake: Lake, sql: str) -> None:
    from tracelake.errors import QueryRefused
    from tracelake.lake.query import run_sql

    with pytest.raises(QueryRefused):
        run_sql(small_lake.paths, sql)


@pytest.mark.parametrize("sql", [
    "EXPLAIN SELECT count(*) FROM jobs",
    "WITH j AS (SELECT * FROM jobs) SELECT count(*) FROM j",
    "SELECT count(*) FROM history.jobs",
    "SELECT count(*) FROM range(10)",
    "SELECT job_id FROM jobs WHERE job_id IN (SELECT job_id FROM main.jobs)",
])
def test_the_sandbox_still_reads(small_lake: Lake, sql: str) -> None:
    from tracelake.lake.query import run_sql

    assert run_sql(small_lake.paths, sql).height >= 1


def test_a_query_past_its_time_limit_stops_in_one_line(small_lake: Lake) -> None:
    result = runner.invoke(app, ["sql", "SELECT count(*) FROM range(1000000000000)",
                                 "--lake", str(small_lake.paths.root), "--timeout", "1"])
    assert result.exit_code == 1 and "time limit of 1 s" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_query_past_its_memory_limit_stops_in_one_line(small_lake: Lake) -> None:
    result = runner.invoke(app, ["sql", "SELECT string_agg(repeat('x', 1000), ',') FROM "
                                 "range(3000000)", "--lake", str(small_lake.paths.root),
                                 "--memory", "100MB", "--timeout", "120"])
    assert result.exit_code == 1 and "memory limit 100MB" in result.output, result.output


def test_the_ask_page_query_runs_in_a_child_with_limits(small_lake: Lake) -> None:
    from tracelake.errors import QueryRefused, QueryStopped
    from tracelake.lake.query_process import run_sql_in_child

    assert run_sql_in_child(small_lake.paths, "SELECT count(*) AS n FROM jobs")["n"][0] == 2
    with pytest.raises(QueryStopped, match="time limit"):
        run_sql_in_child(small_lake.paths, "SELECT count(*) FROM range(1000000000000)",
                         timeout=1)
    with pytest.raises(QueryRefused):
        run_sql_in_child(small_lake.paths, "SELECT * FROM read_text('/etc/passwd')")


def test_the_ask_page_keeps_a_spare_child_ready(small_lake: Lake) -> None:
    """With ``spare=True`` the next query's child is started and waiting before it is asked
    for; a spare that died is replaced, and a spare whose server is gone exits on its own."""
    from tracelake.errors import QueryStopped
    from tracelake.lake import query_process

    first = query_process.run_sql_in_child(small_lake.paths, "SELECT count(*) AS n FROM jobs",
                                           spare=True)
    spare = query_process._spare
    assert first["n"][0] == 2 and spare is not None and spare.poll() is None
    second = query_process.run_sql_in_child(small_lake.paths, "SELECT 41 + 1 AS n", spare=True)
    assert second["n"][0] == 42 and spare.wait(timeout=30) == 0  # the spare answered it
    assert query_process._spare is not spare and query_process._spare.poll() is None
    query_process._spare.kill()  # a spare that died is not handed a query
    query_process._spare.wait(timeout=30)
    assert query_process.run_sql_in_child(small_lake.paths, "SELECT 7 AS n",
                                           spare=True)["n"][0] == 7
    with pytest.raises(QueryStopped, match="time limit"):  # the limits hold for a spare too
        query_process.run_sql_in_child(small_lake.paths,
                                       "SELECT count(*) FROM range(1000000000000)",
                                       timeout=1, spare=True)
    left = query_process._spare
    query_process._spare = None
    left.stdin.close()  # the server is gone: the waiting child reads end-of-file and exits
    assert left.wait(timeout=60) == 0
    left.stdout.close()
    left.stderr.close()


def test_keep_child_ready_starts_one_spare(small_lake: Lake) -> None:
    from tracelake.lake import query_process

    query_process.keep_child_ready()
    spare = query_process._spare
    query_process.keep_child_ready()  # one is waiting: no second one
    assert spare is not None and query_process._spare is spare and spare.poll() is None
    assert query_process.run_sql_in_child(small_lake.paths, "SELECT 1 AS n",
                                           spare=True)["n"][0] == 1
    assert spare.wait(timeout=30) == 0  # it answered
