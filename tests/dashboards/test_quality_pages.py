"""Trends, calibration and data quality pages: filters set, figures and tables asserted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from dashboards import charts, strings
from tests.dashboards.apptest import Opener, linked, metric, no_traceback, opener, table, texts


def test_trends_of_the_whole_sample(app: Opener) -> None:
    at = app("trends")
    assert (metric(at, "NCRs raised"), metric(at, "Open NCRs")) == ("3", "1")
    # headlines are about the 20 finished devices; the 16 PCB-MAIN sub-assemblies apart
    assert metric(at, "First-pass yield") == "96.9%"  # 95 of 98 device unit tests
    assert metric(at, "Rework rate") == "10.0%"       # 2 of 20 devices
    assert "Sub-assemblies, apart: first-pass yield 100.0% over 16 unit tests; 0 of 16" in texts(at)
    fpy = table(at, "fpy")
    noise = fpy[(fpy["product_code"] == "SPX-200") & (fpy["test_step"] == "NOISE")]
    assert (int(noise["first_pass"].iloc[0]), int(noise["units_tested"].iloc[0])) == (8, 10)
    ageing = table(at, "age_days")
    assert ageing["ncr_id"].tolist() == ["NCR-0240"]
    # every NCR of the window: listed only once its expander is opened
    assert not any("state" in df.value.columns for df in at.dataframe)
    at.session_state[strings.TREND_ALL_NCRS_KEY] = True
    at.run()
    assert len(table(at, "state")) == 3
    at.session_state[strings.TREND_ALL_NCRS_KEY] = False
    at.run()
    # one chart per view (the NCR trend at first); each of the others a click away
    [chart] = at.get("plotly_chart")
    assert "NCRs per week" in chart.proto.spec
    for name, title in zip(strings.TREND_CHARTS[1:], ["Pareto of defect codes",
                                                      "First-pass yield by test step",
                                                      "First-pass yield per week",
                                                      "Rework rate per week", "Open NCRs by age"],
                           strict=True):
        at.segmented_control(key=strings.TREND_CHART_KEY).set_value(name).run()
        no_traceback(at)
        [chart] = at.get("plotly_chart")
        assert title in chart.proto.spec, name


def test_trends_filtered_by_product_and_dates(app: Opener) -> None:
    at = app("trends")
    at.multiselect(key=strings.TREND_PRODUCTS_KEY).set_value(["PCB-MAIN"]).run()
    no_traceback(at)
    assert metric(at, "NCRs raised") == "0" and strings.TREND_NO_NCRS in texts(at)
    assert set(table(at, "fpy")["test_step"]) == {"PCB_RAILS"}
    assert at.query_params == {"product": "PCB-MAIN"}
    at.multiselect(key=strings.TREND_PRODUCTS_KEY).set_value([]).run()
    at.date_input(key=strings.TREND_DATES_KEY).set_value(
        (dt.date(2026, 11, 1), dt.date(2026, 11, 10))).run()
    no_traceback(at)
    assert metric(at, "NCRs raised") == "2"  # NCR-0232 and NCR-0240
    at.segmented_control(key=strings.TREND_PERIOD_KEY).set_value("month").run()
    at.selectbox(key=strings.TREND_BY_KEY).select("supplier").run()
    no_traceback(at)


def test_a_product_link_opens_trends_for_it(app: Opener) -> None:
    at = app("trends", product="CAL-KIT-5")
    assert at.multiselect(key=strings.TREND_PRODUCTS_KEY).value == ["CAL-KIT-5"]
    assert set(table(at, "fpy")["test_step"]) == {"CERTIFY"}


def test_calibration_register_and_the_dmm04_impact(app: Opener) -> None:
    at = app("calibration")
    assert metric(at, "Equipment") == "6" and metric(at, "Out-of-tolerance findings") == "1"
    register = table(at, "days_to_due")
    assert set(register["equipment_id"]) == {"RIG-3", "TQ-07", "GA-12", "DMM-04", "LV-01",
                                             "REF-SPX-01"}
    picker = at.selectbox(key=strings.EQUIPMENT_KEY)
    assert picker.options[0].startswith("DMM-04")  # found out of tolerance: listed first
    # the history of all equipment is made and drawn only when its expander is opened
    assert not at.get("plotly_chart")
    tables = len(at.dataframe)
    at.session_state[strings.CAL_HISTORY_KEY] = True
    at.run()
    no_traceback(at)
    assert len(at.get("plotly_chart")) == 1 and len(at.dataframe) == tables + 1
    # DMM-04's suspect window (status.py): a shaded span over its row with a legend entry, from
    # its last good calibration (CERT-2026-0422) to the finding (CERT-2026-0467)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    [window] = [t for t in figure["data"] if t.get("name", "").startswith("suspect window")]
    assert window["y"] == ["DMM-04"] and window["customdata"] == ["CERT-2026-0467"]
    assert window["base"][0].startswith("2026-10-26T09:15:00")
    found_after_ms = (dt.datetime(2026, 11, 9, 14, 0) - dt.datetime(2026, 10, 26, 9, 15)) \
        .total_seconds() * 1000
    assert window["x"] == [found_after_ms]
    assert window.get("showlegend", True) and window["marker"]["pattern"]["shape"] == "/"
    picker.set_value("DMM-04").run()
    no_traceback(at)
    assert (metric(at, "Suspect results"), metric(at, "Customers")) == ("36", "3")
    assert not any("low_limit" in df.value.columns for df in at.dataframe)
    at.session_state[strings.CAL_SUSPECT_RESULTS_KEY] = True  # listed once opened
    at.run()
    assert len(table(at, "low_limit")) == 36
    units = table(at, "measured_serials")
    assert {f"SPX200-{n:04d}" for n in range(1, 15)} <= set(linked(units["serial_number"]))
    assert "2026-10-26 09:15 GMT" in texts(at) and "2026-11-09 14:00 GMT" in texts(at)
    assert at.query_params == {"equipment": "DMM-04"}


def test_the_timeline_shades_windows_left_out_of_tolerance_until_the_next_calibration() -> None:
    utc = dt.UTC
    history = pl.DataFrame({
        "equipment_id": ["G-1", "G-1", "G-1"], "certificate_no": ["C1", "C2", "C3"],
        "calibrated_at": [dt.datetime(2026, 1, 1, tzinfo=utc), dt.datetime(2026, 3, 1, tzinfo=utc),
                          dt.datetime(2026, 5, 1, tzinfo=utc)],
        "due_at": [dt.datetime(2027, 1, 1, tzinfo=utc), dt.datetime(2027, 3, 1, tzinfo=utc),
                   dt.datetime(2027, 5, 1, tzinfo=utc)]})
    now = dt.datetime(2026, 6, 1, tzinfo=utc)
    windows = [{"equipment_id": "G-1", "from": dt.datetime(2026, 3, 1, tzinfo=utc),
                "to": dt.datetime(2026, 5, 1, tzinfo=utc), "certificate_no": "C2", "kind": "left"},
               {"equipment_id": "G-1", "from": dt.datetime(2026, 5, 1, tzinfo=utc), "to": None,
                "certificate_no": "C3", "kind": "left"},
               {"equipment_id": "OTHER", "from": None, "to": now, "certificate_no": "C9",
                "kind": "found"}]
    fig = charts.calibration_timeline(history, now, windows)
    names = [t.name for t in fig.data]
    assert names == ["calibration in force",
                     "suspect: left out of tolerance, until its next calibration"]
    left = fig.data[1]
    assert list(left.customdata) == ["C2", "C3"]
    # to the next calibration; the latest one, still in force, to today
    assert list(left.x) == [(dt.datetime(2026, 5, 1) - dt.datetime(2026, 3, 1)).total_seconds()
                            * 1000, (dt.datetime(2026, 6, 1) - dt.datetime(2026, 5, 1))
                            .total_seconds() * 1000]


def test_equipment_used_while_overdue_by_link(app: Opener) -> None:
    at = app("calibration", equipment="TQ-07")
    late = table(at, "calibration_status")
    assert sorted(linked(late["serial_number"])) == ["SPX200-0004", "SPX200-0005",
                                                     "SPX200-0006"]
    assert "Impact of the out-of-tolerance" not in texts(at)  # TQ-07 was never found out


def test_data_quality_of_the_clean_sample(app: Opener) -> None:
    at = app("data-quality")
    assert metric(at, "Rows loaded") == "780" and metric(at, "Rows quarantined") == "0"
    assert strings.DQ_NO_QUARANTINE in texts(at) and strings.DQ_NO_ORPHANS in texts(at)
    at.text_input(key=strings.DQ_LINEAGE_VALUE_KEY).input("SPX200-0004").run()
    sources = table(at, "row")
    assert sources["source_file"].str.endswith("units.csv").all()
    assert sources["row"].tolist() == [21]


def test_data_quality_of_the_bad_corpus(bad_lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opener(bad_lake, monkeypatch)("data-quality")
    assert int(metric(at, "Rows quarantined")) > 0 and int(metric(at, "Files rejected")) >= 2
    rows = table(at, "raw_values")
    assert {"test_results", "units", "operations"} <= set(rows["table_name"])
    at.selectbox(key=strings.DQ_TABLE_KEY).select("units").run()
    no_traceback(at)
    rows = table(at, "raw_values")
    assert rows["row_number"].tolist() == [3] and set(rows["rules"]) == {"not_allowed"}
    orphans = table(at, "referenced_table")
    assert "J-9999" in set(orphans["value"])


def test_a_quarantine_link_shows_the_row(bad_lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opener(bad_lake, monkeypatch)("data-quality")
    file = table(at, "raw_values").query("table_name == 'units'")["source_file"].iloc[0]
    at = opener(bad_lake, monkeypatch)("data-quality", table="units", file=file, row="3")
    assert at.selectbox(key=strings.DQ_TABLE_KEY).value == "units"
    assert "/" not in file  # the file's name, not the server's folders
    assert f"**{file}, row 3** (units)" in texts(at)
    assert at.json and "finished" in str(at.json[0].value)


def test_a_lineage_link(app: Opener) -> None:
    at = app("data-quality", of="ncrs", column="ncr_id", value="NCR-0240")
    assert at.text_input(key=strings.DQ_LINEAGE_VALUE_KEY).value == "NCR-0240"
    assert table(at, "row")["source_file"].str.endswith("ncrs.csv").all()
