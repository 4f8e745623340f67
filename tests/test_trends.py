"""NCR and yield trends on the sample plant (data/sample/README.md) and on small hand-made lakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.helpers import JOB_HEADER, OP_HEADER, UNIT_HEADER, Lake, job_row, op_row, write_csv
from tracelake.derived.quality.trends import (
    TrendFilter,
    bounds,
    defect_pareto,
    first_pass_yield,
    ncr_counts,
    ncrs,
    open_ncr_ageing,
    rework,
    summary,
    unit_counts,
)
from tracelake.lake.snapshot import open_snapshot

UTC = dt.UTC
NCR_HEADER = ["ncr_id", "raised_at", "raised_by", "job_id", "serial_number", "component_code",
              "lot_number", "supplier", "defect_code", "description", "disposition", "closed_at"]
RESULT_HEADER = ["serial_number", "equipment_id", "test_step", "measurement", "value",
                 "low_limit", "high_limit", "result", "tested_at", "operator", "attempt"]
ISSUE_HEADER = ["issue_id", "job_id", "component_code", "lot_number", "quantity", "issued_at",
                "issued_by", "supplier"]


def _fpy(frame) -> dict[tuple[str, str], tuple[int, int]]:  # type: ignore[no-untyped-def]
    return {(r["product_code"], r["test_step"]): (r["first_pass"], r["units_tested"])
            for r in frame.iter_rows(named=True)}


def test_ncrs_carry_product_supplier_and_state(sample: duckdb.DuckDBPyConnection) -> None:
    frame = ncrs(sample)
    rows = {r["ncr_id"]: r for r in frame.iter_rows(named=True)}
    assert set(rows) == {"NCR-0231", "NCR-0232", "NCR-0240"}
    assert {r["product_code"] for r in rows.values()} == {"SPX-200"}
    assert rows["NCR-0231"]["supplier"] == "Lumatec Lamps GmbH"
    assert rows["NCR-0240"]["supplier"] == "Holografix Optics Ltd"
    assert [n for n, r in rows.items() if r["open"]] == ["NCR-0240"]


def test_ncrs_per_week_and_month_by_defect_code(sample: duckdb.DuckDBPyConnection) -> None:
    frame = ncrs(sample)
    weekly = {(r["period"], r["defect_code"]): r["ncrs"]
              for r in ncr_counts(frame, "defect_code", "week").iter_rows(named=True)}
    assert weekly == {(dt.date(2026, 10, 26), "LAMP-NOISE"): 1,  # NCR-0231, Fri 30 Oct
                      (dt.date(2026, 11, 2), "LAMP-NOISE"): 1,   # NCR-0232, Mon 2 Nov
                      (dt.date(2026, 11, 2), "OPT-DAMAGE"): 1}   # NCR-0240, Thu 5 Nov
    monthly = {(r["period"], r["supplier"]): r["ncrs"]
               for r in ncr_counts(frame, "supplier", "month").iter_rows(named=True)}
    assert monthly == {(dt.date(2026, 10, 1), "Lumatec Lamps GmbH"): 1,
                       (dt.date(2026, 11, 1), "Lumatec Lamps GmbH"): 1,
                       (dt.date(2026, 11, 1), "Holografix Optics Ltd"): 1}
    by_disposition = ncr_counts(frame, "disposition", "month")
    assert dict(zip(by_disposition["disposition"], by_disposition["ncrs"], strict=True)) \
        .get("pending") == 1


def test_pareto_ranks_defect_codes_with_cumulative_share(sample: duckdb.DuckDBPyConnection) -> None:
    pareto = defect_pareto(ncrs(sample))
    assert pareto["defect_code"].to_list() == ["LAMP-NOISE", "OPT-DAMAGE"]
    assert pareto["ncrs"].to_list() == [2, 1]
    assert pareto["cumulative_share"].to_list() == pytest.approx([2 / 3, 1.0])


def test_open_ncr_ageing_counts_days_on_the_date_asked(sample: duckdb.DuckDBPyConnection) -> None:
    frame = ncrs(sample)
    aged = open_ncr_ageing(frame, dt.datetime(2026, 11, 26, tzinfo=UTC))
    assert aged.select("ncr_id", "age_days", "age_bucket").rows() == [
        ("NCR-0240", 20, "8–30 days")]  # raised 2026-11-05T10:05Z
    assert open_ncr_ageing(frame, dt.datetime(2027, 3, 1, tzinfo=UTC))["age_bucket"].to_list() \
        == ["over 90 days"]
    assert open_ncr_ageing(frame, dt.datetime(2026, 11, 6, tzinfo=UTC))["age_bucket"].to_list() \
        == ["0–7 days"]


def test_first_pass_yield_per_step_and_product(sample: duckdb.DuckDBPyConnection) -> None:
    fpy = _fpy(first_pass_yield(sample))
    assert fpy[("SPX-200", "NOISE")] == (8, 10)        # SPX200-0004 and -0007 failed at RIG-3
    assert fpy[("SPX-200", "ALIGN")] == (13, 14)       # SPX200-0013, scratched grating
    assert fpy[("SPX-200", "ELEC_CHECK")] == (13, 13)  # re-checks after rework are attempt 2
    assert fpy[("PCB-MAIN", "PCB_RAILS")] == (16, 16)
    assert fpy[("CAL-KIT-5", "CERTIFY")] == (6, 6)


def test_filters_by_window_and_product(sample: duckdb.DuckDBPyConnection) -> None:
    one_day = TrendFilter(dt.date(2026, 10, 30), dt.date(2026, 10, 30))
    assert ncrs(sample, one_day)["ncr_id"].to_list() == ["NCR-0231"]
    assert ncrs(sample, TrendFilter(products=("PCB-MAIN",))).height == 0
    pcb = _fpy(first_pass_yield(sample, TrendFilter(products=("PCB-MAIN",))))
    assert set(pcb) == {("PCB-MAIN", "PCB_RAILS")}
    # NOISE: units whose first NOISE result falls in the week of 26 Oct (0001-0006)
    week = first_pass_yield(sample, TrendFilter(dt.date(2026, 10, 26), dt.date(2026, 11, 1)),
                            period="week")
    noise = week.filter(week["test_step"] == "NOISE").row(0, named=True)
    assert (noise["period"], noise["first_pass"], noise["units_tested"]) == \
        (dt.date(2026, 10, 26), 5, 6)


def test_rework_counts_units_with_rework_ncrs_or_repeated_steps(
        sample: duckdb.DuckDBPyConnection) -> None:
    frame = rework(sample)
    rows = {r["product_code"]: (r["reworked"], r["units"]) for r in frame.iter_rows(named=True)}
    assert rows == {"SPX-200": (2, 14), "PCB-MAIN": (0, 16), "CAL-KIT-5": (0, 6)}


def test_summary_and_bounds(sample: duckdb.DuckDBPyConnection) -> None:
    figures = summary(ncrs(sample), first_pass_yield(sample), rework(sample))
    assert figures["ncrs"] == 3 and figures["open_ncrs"] == 1
    assert figures["median_days_to_close"] == pytest.approx(3.5, abs=0.1)  # 5.0 and 2.1 days
    # headlines are about finished devices (14 SPX-200 + 6 CAL-KIT-5); the 16 PCB-MAIN
    # sub-assemblies, fitted into the SPX-200s, are counted apart
    assert figures["reworked"] == 2 and figures["units"] == 20
    assert figures["sub_assemblies"]["units"] == 16 and figures["sub_assemblies"]["reworked"] == 0
    assert figures["rework_rate"] == pytest.approx(2 / 20)
    assert unit_counts(sample) == {"devices": 20, "sub_assemblies": 16}
    got = bounds(sample)
    assert (got["first"], got["last"]) == (dt.date(2026, 10, 6), dt.date(2026, 11, 10))
    assert got["products"] == ["CAL-KIT-5", "PCB-MAIN", "SPX-200"]


# ------------------------------------------------------------------ hand-made lakes

def _plant(landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1", product_code="P1"),
                                                 job_row("J-2", product_code="P2")])
    write_csv(landing / "units.csv", UNIT_HEADER, [["A1", "P1", "J-1", "wip"],
                                                   ["A2", "P1", "J-1", "wip"],
                                                   ["A3", "P1", "J-1", "wip"],
                                                   ["B1", "P2", "J-2", "wip"]])
    write_csv(landing / "test_results.csv", RESULT_HEADER, [
        # A1 passes first time (attempt not given = first pass)
        ["A1", "RIG", "FUNC", "v", "1.0", "0", "2", "pass", "2026-03-02T10:00Z", "o", ""],
        ["A1", "RIG", "FUNC", "i", "1.0", "0", "2", "pass", "2026-03-02T10:01Z", "o", ""],
        # A2 fails one of two measurements at attempt 1, passes at attempt 2
        ["A2", "RIG", "FUNC", "v", "1.0", "0", "2", "pass", "2026-03-02T11:00Z", "o", "1"],
        ["A2", "RIG", "FUNC", "i", "3.0", "0", "2", "fail", "2026-03-02T11:01Z", "o", "1"],
        ["A2", "RIG", "FUNC", "i", "1.5", "0", "2", "pass", "2026-03-04T09:00Z", "o", "2"],
        # A3 has only a re-test on record: not a first pass
        ["A3", "RIG", "FUNC", "v", "1.0", "0", "2", "pass", "2026-03-20T09:00Z", "o", "2"],
        ["B1", "RIG", "FUNC", "v", "1.0", "0", "2", "pass", "2026-03-03T09:00Z", "o", "1"]])
    write_csv(landing / "material_issues.csv", ISSUE_HEADER, [
        ["MI-1", "J-1", "CAP", "L-9", "5", "2026-03-01T08:00Z", "s", "Acme Caps"]])
    write_csv(landing / "ncrs.csv", NCR_HEADER, [
        # names only a job: counted under the job's product; names a lot: supplier from issues
        ["N-1", "2026-03-02T12:00Z", "q", "J-1", "", "CAP", "L-9", "", "SOLDER", "d", "rework",
         ""],
        ["N-2", "2026-03-10T12:00Z", "q", "", "B1", "", "", "", "SCRATCH", "d", "scrap",
         "2026-03-11T12:00Z"]])
    write_csv(landing / "operations.csv", OP_HEADER, [
        op_row(op_seq=20, op_code="ASSY", serial_number="A1", started_at="2026-03-01T09:00Z",
               finished_at="2026-03-01T09:30Z"),
        op_row(op_seq=20, op_code="ASSY", serial_number="A2", started_at="2026-03-01T10:00Z",
               finished_at="2026-03-01T10:30Z"),
        op_row(op_seq=20, op_code="ASSY", serial_number="A2", started_at="2026-03-05T10:00Z",
               finished_at="2026-03-05T10:30Z"),  # A2 repeats op 20: rework
        op_row(job_id="J-2", op_seq=20, op_code="ASSY", serial_number="B1",
               started_at="2026-03-02T10:00Z", finished_at="2026-03-02T10:30Z")])


@pytest.fixture
def plant(lake: Lake, landing: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    _plant(landing)
    lake.ingest(landing)
    con = open_snapshot(lake.paths)
    yield con
    con.close()


def test_first_attempt_must_pass_every_measurement(plant: duckdb.DuckDBPyConnection) -> None:
    fpy = _fpy(first_pass_yield(plant))
    assert fpy == {("P1", "FUNC"): (1, 3), ("P2", "FUNC"): (1, 1)}
    # A3's only result (a re-test) is on 20 March: a window up to the 10th leaves it out
    early = _fpy(first_pass_yield(plant, TrendFilter(date_to=dt.date(2026, 3, 10))))
    assert early[("P1", "FUNC")] == (1, 2)


def test_ncr_product_from_job_and_supplier_from_the_lot(plant: duckdb.DuckDBPyConnection) -> None:
    rows = {r["ncr_id"]: r for r in ncrs(plant).iter_rows(named=True)}
    assert (rows["N-1"]["product_code"], rows["N-1"]["supplier"]) == ("P1", "Acme Caps")
    assert (rows["N-2"]["product_code"], rows["N-2"]["supplier"]) == ("P2", None)
    assert [r["ncr_id"] for r in open_ncr_ageing(ncrs(plant)).iter_rows(named=True)] == ["N-1"]


def test_a_repeated_step_is_rework_without_an_ncr(plant: duckdb.DuckDBPyConnection) -> None:
    rows = {r["product_code"]: (r["reworked"], r["units"])
            for r in rework(plant).iter_rows(named=True)}
    assert rows["P1"] == (1, 3)  # A2 repeats op 20; N-1 names the job, not a unit
    assert rows["P2"] == (0, 1)  # B1's NCR is a scrap, not a rework
    # A3 has no operation and no built_at: it has no date, so a window leaves it out
    windowed = {r["product_code"]: r["units"] for r in
                rework(plant, TrendFilter(dt.date(2026, 3, 1), dt.date(2026, 3, 31)))
                .iter_rows(named=True)}
    assert windowed == {"P1": 2, "P2": 1}
