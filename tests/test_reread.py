"""Reading again (import contract v2): a file's identity is its bytes, its table and the mapping
entries that read it. Fixing a mapping and ingesting again fixes the lake: end to end, through
the command line, on a register in the real header-less layout."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from tests.helpers import Lake
from tests.test_mapping_v2 import REG_COLUMNS, _headerless, _register_row
from tracelake.cli import app
from tracelake.intake.mapping import load_mapping

LONDON = ZoneInfo("Europe/London")
MAPPING = """
sources:
  - name: gauge register
    files: ["register*.csv"]
    header: false
    columns: [{columns}]
    table: calibrations
    aliases: {{CSCODE: equipment_id, DATECAL: calibrated_at, NEXTCAL: due_at,
               REPNUM: certificate_no, CALBY: calibrated_by}}
{dates}
"""


def _ingest(lake: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, ["ingest", *args, "--lake", str(lake), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _days(lake: Lake) -> dict[str, tuple[dt.date, dt.date]]:
    return {r[0]: (r[1].astimezone(LONDON).date(), r[2].astimezone(LONDON).date())
            for r in lake.query("SELECT equipment_id, calibrated_at, due_at FROM calibrations")}


def test_fixing_a_mapping_and_ingesting_again_fixes_the_lake(tmp_path: Path, landing: Path) -> None:
    register = _headerless(landing / "register.csv", [
        _register_row("G-1", "3/12/2001", "3/12/2002", "ACTIVE", "C-1"),
        _register_row("G-2", "1/31/2001", "1/31/2002", "ACTIVE", "C-2")])
    mapping = tmp_path / "register.yaml"
    lake_dir = tmp_path / "lake"
    lake = Lake(lake_dir)
    # the mistake the issue tells of: a US register declared day first
    mapping.write_text(MAPPING.format(columns=", ".join(REG_COLUMNS), dates="    dayfirst: true"))
    first = _ingest(lake_dir, str(register), "--mapping", str(mapping))
    assert first["files"][0]["rows_loaded"] == 1 and first["files"][0]["rows_quarantined"] == 1
    assert _days(lake) == {"G-1": (dt.date(2001, 12, 3), dt.date(2002, 12, 3))}  # wrong, as told
    # the fix: the register writes month first
    mapping.write_text(MAPPING.format(columns=", ".join(REG_COLUMNS),
                                      dates="    date_formats: ['%m/%d/%Y']"))
    second = _ingest(lake_dir, str(register), "--mapping", str(mapping))
    entry = second["files"][0]
    assert (entry["status"], entry["reread"], entry["rows_loaded"], entry["rows_quarantined"]) == \
        ("loaded", True, 2, 0)
    # one row retired (G-1 under its wrong date), G-2's two failures (both dates) closed
    assert (entry["rows_retired"], entry["quarantine_closed"]) == (1, 2)
    assert _days(lake) == {"G-1": (dt.date(2001, 3, 12), dt.date(2002, 3, 12)),
                           "G-2": (dt.date(2001, 1, 31), dt.date(2002, 1, 31))}
    # the wrong reading is kept in history, superseded by the run that fixed it
    history = lake.query("SELECT equipment_id, calibrated_at, _superseded_by_run "
                         "FROM history.calibrations")
    assert [(h[0], h[1].astimezone(LONDON).date(), h[2]) for h in history] == \
        [("G-1", dt.date(2001, 12, 3), second["run_id"])]
    # the old quarantine row is kept, closed, and no longer counted as open
    assert lake.query("SELECT DISTINCT run_id, superseded_by_run FROM quarantine") == \
        [(first["run_id"], second["run_id"])]
    assert lake.scalar("SELECT count(*) FROM quarantine WHERE superseded_by_run IS NULL") == 0
    # the same bytes under the same mapping: nothing to do; --reread reads them anyway
    third = _ingest(lake_dir, str(register), "--mapping", str(mapping))
    assert third["files"][0]["status"] == "duplicate"
    fourth = _ingest(lake_dir, str(register), "--mapping", str(mapping), "--reread")
    entry = fourth["files"][0]
    assert (entry["status"], entry["rows_loaded"], entry["rows_unchanged"], entry["rows_retired"]) \
        == ("loaded", 2, 2, 0)
    assert _days(lake)["G-1"] == (dt.date(2001, 3, 12), dt.date(2002, 3, 12))


def test_a_file_feeding_two_tables_is_two_identities(tmp_path: Path, landing: Path) -> None:
    register = _headerless(landing / "register.csv", [
        _register_row("G-1", "1/31/2001", "1/31/2002", "ACTIVE", "C-1")])
    lake = Lake(tmp_path / "lake")
    report = lake.ingest(register, mapping=load_mapping("calibration-register-headerless"))
    assert sorted((f.table, f.status) for f in report.files) == \
        [("calibrations", "loaded"), ("equipment", "loaded")]
    assert lake.scalar("SELECT count(DISTINCT mapping_fingerprint) FROM ingest_files") == 2
