"""The two real TestStand reports in ../shared/realworld/teststand load with no mapping.

Expected values were read by hand from the files (line numbers given); the files are read where
they are, never copied into the repository.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import Lake, report_of

REAL = Path("/work/shared/realworld/teststand")
LEGACY = REAL / "legacy-uut-report-BA4A053960121V329100005.xml"
ATML = REAL / "atml-eol-report-EB03240FFFF1122223001048.xml"


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, dict, dict]:
    assert REAL.is_dir(), f"{REAL} is missing: the real-world reports these tests read"
    lake = Lake(tmp_path_factory.mktemp("real") / "lake")
    report = lake.ingest(LEGACY, ATML)
    return lake, report_of(report, LEGACY.name), report_of(report, ATML.name)


def _row(lake: Lake, serial: str, step: str, measurement: str) -> dict:
    cols = ["equipment_id", "value", "value_text", "units", "low_limit", "high_limit", "result",
            "tested_at", "operator", "software_version", "run_id", "_row", "_extra"]
    rows = lake.query(f"SELECT {', '.join(cols)} FROM test_results WHERE serial_number = ? "
                      "AND test_step = ? AND measurement = ? ORDER BY tested_at",
                      [serial, step, measurement])
    assert rows, (serial, step, measurement)
    return dict(zip(cols, rows[0], strict=True))


def test_legacy_report_loads_every_measuring_step_and_counts_the_actions(real_lake) -> None:
    lake, legacy, _ = real_lake
    # 241 TEResult props: 48 NumericLimitTest + 5 PassFailTest measure; 160 Statement
    # (post-result callbacks) and 28 SequenceCall measure nothing
    assert (legacy["status"], legacy["table"]) == ("loaded", "test_results")
    assert (legacy["rows_read"], legacy["rows_loaded"], legacy["rows_quarantined"]) == (53, 53, 0)
    # and 10 AdditionalResults, each a "LIN Log" text on a SequenceCall (lines 827-15865),
    # carry no value and limits: counted as skipped too
    assert legacy["steps_skipped"] == 198
    assert any("10 additional result without value and limits" in n for n in legacy["notes"])
    assert any("160 Statement, 28 SequenceCall" in n for n in legacy["notes"])
    assert lake.scalar("SELECT count(*) FROM test_results WHERE serial_number = "
                       "'BA4A053960121V329100005'") == 53


def test_legacy_report_values_read_by_hand(real_lake) -> None:
    lake, _, _ = real_lake
    serial = "BA4A053960121V329100005"
    # line 1456: 'Unlock (Not Pressed)' Numeric 8.49 V, Limits Low 7.6 High 10, Comp GELE,
    # TS.StartTime 19902.0745423; the root step started at 19897.3860739 and the UUT at
    # 2021-11-25 00:19:21.973 (StartDate/StartTime props, lines 356-390); London = UTC in November
    row = _row(lake, serial, "Unlock (Not Pressed)", "Numeric")
    assert (row["value"], row["units"], row["low_limit"], row["high_limit"], row["result"]) == \
        (8.49, "V", 7.6, 10.0, "pass")
    assert row["tested_at"] == datetime(2021, 11, 25, 0, 19, 26, 661000, tzinfo=UTC)
    assert (row["equipment_id"], row["operator"]) == ("WS240_KE2", "administrator")  # line 394
    assert row["_row"] == 1456
    assert '"comparison":"GELE"' in row["_extra"]
    force = _row(lake, serial, "Haptic Tool Force (2 N)", "Numeric")
    assert (force["value"], force["units"], force["low_limit"], force["high_limit"]) == \
        (1.89, "N", 1.75, 2.25)
    passfail = _row(lake, serial, "Setup Check OK", "PassFail")  # line 456
    assert (passfail["value"], passfail["value_text"], passfail["result"]) == (None, "True", "pass")
    assert passfail["software_version"] == "0.0.0.0"  # the main sequence file's version


def test_atml_report_loads_all_296_test_results(real_lake) -> None:
    lake, _, atml = real_lake
    assert (atml["rows_read"], atml["rows_loaded"], atml["rows_quarantined"]) == (296, 296, 0)
    assert atml["steps_skipped"] == 346  # 277 SessionAction + steps/calls without a TestResult
    assert any("277 SessionAction" in n for n in atml["notes"])
    assert lake.scalar("SELECT count(*) FROM test_results WHERE serial_number = "
                       "'EB03240FFFF1122223001048'") == 296


def test_atml_report_values_read_by_hand(real_lake) -> None:
    lake, _, _ = real_lake
    serial = "EB03240FFFF1122223001048"  # line 15892, after the results
    # line 32: Test 'Test Nest' at 2022-08-11T17:31:07.826 (plant time: BST, so 16:31 UTC);
    # Datum 7, LimitPair GE 0 / LE 7, Outcome Passed
    nest = _row(lake, serial, "Test Nest", "Numeric")
    assert (nest["value"], nest["low_limit"], nest["high_limit"], nest["result"]) == \
        (7.0, 0.0, 7.0, "pass")
    assert nest["tested_at"] == datetime(2022, 8, 11, 16, 31, 7, 826000, tzinfo=UTC)
    assert nest["equipment_id"] == "E07FCC04-0300"  # TestStation/SerialNumber, line 15881
    assert nest["operator"] == "administrator"  # Personnel/SystemOperator, line 6
    assert nest["run_id"] == "c283b7fe-198a-11ed-8dee-00802f335b81"  # TestResults uuid
    sleep = _row(lake, serial, "FrontCamera_SleepVoltage", "Numeric")
    assert (sleep["value"], sleep["units"], sleep["low_limit"], sleep["high_limit"]) == \
        (13.5, "V", 12.0, 15.0)
    # a sequence call's own result: a collection, kept as JSON text
    info = _row(lake, serial, r"C:\EOLT_FrontCamera\TestSpecific\ATP\ATP.seq#Station 2",
                "FC_Info")
    assert info["value"] is None and '"SW_Version": "5332"' in info["value_text"]
    assert info["_row"] == 434
