"""The command line as the CLI contract says: JSON on stdout only, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import csv
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


def _sample_lake(tmp_path: Path) -> str:
    from tests.helpers import SAMPLE

    lake = str(tmp_path / "lake")
    assert _run("ingest", str(SAMPLE), "--exclude", "bad/*", "--lake", lake)[0] == 0
    return lake


def test_trace_forward_json_follows_the_contract(tmp_path: Path) -> None:
    lake = _sample_lake(tmp_path)
    code, out, _ = _run("trace", "forward", "--component", "CAP-100", "--lot", "L-4471",
                        "--lake", lake, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and set(doc) >= {"query", "affected", "removed", "summary"}
    assert doc["query"] == {"direction": "forward", "component_code": "CAP-100",
                            "lot_number": "L-4471"}
    first = doc["affected"][0]
    assert set(first) >= {"serial_number", "product_code", "job_id", "status", "customer",
                          "shipped_at", "depth", "path"}
    assert doc["summary"]["units"] == 12 and doc["summary"]["shipped"] == 8


def test_trace_forward_csv_and_xlsx_recall_lists(tmp_path: Path) -> None:
    import polars as pl

    lake = _sample_lake(tmp_path)
    xlsx = tmp_path / "recall.xlsx"
    code, out, _ = _run("trace", "forward", "--component", "LAMP-D2", "--lot", "L-8801",
                        "--include-removed", "--xlsx", str(xlsx), "--lake", lake,
                        "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert code == 0 and len(rows) == 10
    removed = {r["serial_number"]: r["removal_ncr_id"] for r in rows if r["removed"] == "true"}
    assert removed == {"SPX200-0004": "NCR-0231", "SPX200-0007": "NCR-0232"}
    sheet = pl.read_excel(xlsx, sheet_name="affected units")
    assert sheet.height == 10 and "order_ref" in sheet.columns


def test_supplier_recall_names_the_lots_it_took(tmp_path: Path) -> None:
    lake = _sample_lake(tmp_path)
    code, out, _ = _run("trace", "forward", "--component", "CAP-100", "--supplier",
                        "farwell components ltd", "--issued-from", "2026-10-01",
                        "--issued-to", "2026-10-27", "--lake", lake, "--format", "json")
    doc = json.loads(out)
    assert code == 0, out
    assert doc["query"]["lots"] == ["L-4471"]  # L-4502 was issued on the 27th: outside
    assert doc["summary"]["units"] == 12


def test_trace_backward_and_impact(tmp_path: Path) -> None:
    lake = _sample_lake(tmp_path)
    code, out, _ = _run("trace", "backward", "--serial", "SPX200-0004", "--lake", lake,
                        "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["unit"]["job_id"] == "J-1042"
    assert {c["source"] for c in doc["components"]} == {"unit_components", "material_issues"}
    code, out, _ = _run("impact", "calibration", "--equipment", "DMM-04", "--lake", lake,
                        "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["summary"]["results"] == 36 and doc["equipment_id"] == "DMM-04"


def test_trace_needs_a_lot_or_a_supplier(tmp_path: Path) -> None:
    lake = _sample_lake(tmp_path)
    code, _, err = _run("trace", "forward", "--component", "CAP-100", "--lake", lake)
    assert code == 1 and "--lot or --supplier" in err
