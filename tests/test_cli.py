"""The command line as the CLI contract says: JSON on stdout only, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.helpers import JOB_HEADER, UNIT_HEADER, job_row, write_csv
from tracelake.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ingest_json_is_the_contract_document(tmp_path: Path, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1"), job_row("J-2", status="??")])
    code, out, _ = _run("ingest", str(landing), "--lake", str(tmp_path / "lake"),
                        "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"run_id", "files", "totals"}
    entry = doc["files"][0]
    assert set(entry) >= {"path", "table", "sha256", "status", "rows_read", "rows_loaded",
                          "rows_quarantined", "reason"}
    assert doc["totals"] == {"files": 1, "rows_read": 2, "rows_loaded": 1, "rows_quarantined": 1}


def test_lake_defaults_to_the_environment_variable(tmp_path: Path, landing: Path,
                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    monkeypatch.setenv("TRACELAKE_LAKE", str(tmp_path / "envlake"))
    code, _, _ = _run("ingest", str(landing), "--format", "json")
    assert code == 0 and (tmp_path / "envlake" / "serving.duckdb").exists()


def test_quarantined_rows_and_rejected_files_are_results_not_failures(tmp_path: Path,
                                                                      landing: Path) -> None:
    (landing / "units.csv").write_bytes(b"")
    code, out, _ = _run("ingest", str(landing), "--lake", str(tmp_path / "l"), "--format", "json")
    assert code == 0 and json.loads(out)["files"][0]["status"] == "rejected"


def test_sql_formats(tmp_path: Path, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    lake = str(tmp_path / "lake")
    _run("ingest", str(landing), "--lake", lake)
    code, out, _ = _run("sql", "SELECT job_id, created_at FROM jobs", "--lake", lake,
                        "--format", "json")
    assert code == 0
    assert json.loads(out)["rows"] == [{"job_id": "J-1", "created_at": "2026-10-19T08:00:00Z"}]
    code, out, _ = _run("sql", "SELECT job_id FROM jobs", "--lake", lake, "--format", "csv")
    assert out.splitlines() == ["job_id", "J-1"]


def test_a_refused_query_exits_1_with_one_line(tmp_path: Path, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    lake = str(tmp_path / "lake")
    _run("ingest", str(landing), "--lake", lake)
    code, out, err = _run("sql", "DROP TABLE jobs", "--lake", lake, "--format", "json")
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "DROP statements are refused" in err


def test_no_lake_exits_1(tmp_path: Path) -> None:
    code, _, err = _run("sql", "SELECT 1", "--lake", str(tmp_path / "none"))
    assert code == 1 and "no lake here yet" in err


def test_a_missing_input_path_exits_1_naming_it(tmp_path: Path) -> None:
    code, _, err = _run("ingest", str(tmp_path / "nope.csv"), "--lake", str(tmp_path / "l"))
    assert code == 1 and "nope.csv: no such file or folder" in err


def test_a_wrong_command_line_exits_2() -> None:
    assert _run("ingest")[0] == 2
    assert _run("sql", "SELECT 1", "--format", "xml")[0] == 2
    assert _run("frobnicate")[0] == 2


def test_mapping_check_lists_missing_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "units-export.csv", ["Serial", "Job", "Status"], [["S", "J", "wip"]])
    code, out, _ = _run("mapping", "check", str(path), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["table"] == "units"
    assert doc["missing_required"] == ["serial_number", "product_code", "job_id"]
    assert doc["suggestions"] == {"Serial": "serial_number", "Job": "job_id"}


def test_summary_counts_rows_quarantine_and_orphans(tmp_path: Path, landing: Path) -> None:
    write_csv(landing / "units.csv", UNIT_HEADER, [["S1", "P", "J-404", "wip"],
                                                   ["S2", "P", "J-404", "gone"]])
    lake = str(tmp_path / "lake")
    _run("ingest", str(landing), "--lake", lake)
    _code, out, _ = _run("summary", "--lake", lake, "--format", "json")
    doc = json.loads(out)
    units = next(t for t in doc["tables"] if t["table"] == "units")
    assert (units["rows"], units["rows_quarantined"]) == (1, 1)
    assert {(o["kind"], o["references"]) for o in doc["orphan_references"]} == {
        ("job", 1), ("product", 1)}


def test_the_installed_console_script_keeps_stdout_pure_json(tmp_path: Path,
                                                              landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    exe = Path(sys.executable).with_name("tracelake")
    proc = subprocess.run([str(exe), "ingest", str(landing), "--lake", str(tmp_path / "lake"),
                           "--format", "json"], capture_output=True, text=True, timeout=120,
                          env=os.environ | {"COLUMNS": "60"}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["rows_loaded"] == 1
