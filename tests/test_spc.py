"""SPC: control limits and capability against a hand-worked example, intervals against scipy, the
run rules on series built to break each one, and the capability table on the sample."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest
from scipy import stats

from tracelake.derived.quality import spc
from tracelake.derived.quality.trends import TrendFilter
from tracelake.errors import InputError

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def _lake(values: list[float], lsl: float | None = 5.0, usl: float | None = 17.0,
          attempts: list[int] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB with the two tables SPC reads: one unit per value, tested an hour apart."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE units (serial_number VARCHAR, product_code VARCHAR)")
    con.execute("""CREATE TABLE test_results (serial_number VARCHAR, equipment_id VARCHAR,
                   test_step VARCHAR, measurement VARCHAR, value DOUBLE, units VARCHAR,
                   low_limit DOUBLE, high_limit DOUBLE, result VARCHAR,
                   tested_at TIMESTAMPTZ, attempt BIGINT)""")
    for i, v in enumerate(values):
        serial = f"U{i:03d}"
        con.execute("INSERT INTO units VALUES (?, 'P1')", [serial])
        con.execute("INSERT INTO test_results VALUES (?, 'RIG', 'EOL', 'm', ?, 'V', ?, ?, "
                    "'pass', ?, ?)", [serial, v, lsl, usl, T0 + dt.timedelta(hours=i),
                                      (attempts or [1] * len(values))[i]])
    return con


def test_limits_and_capability_match_the_hand_worked_example() -> None:
    # x = 10 12 11 13 12: mean 11.6; MR = 2 1 2 1, MRbar 1.5; sigma_within = 1.5 / 1.128
    con = _lake([10, 12, 11, 13, 12])
    chart = spc.chart(con, "P1", "EOL", "m")
    lim, cap = chart.limits, chart.capability
    assert lim["mean"] == pytest.approx(11.6)
    assert lim["mr_bar"] == pytest.approx(1.5)
    assert lim["ucl"] == pytest.approx(11.6 + 2.66 * 1.5)  # 15.59
    assert lim["lcl"] == pytest.approx(11.6 - 2.66 * 1.5)  # 7.61
    assert lim["ucl_mr"] == pytest.approx(3.267 * 1.5)  # 4.9005
    assert (lim["lsl"], lim["usl"]) == (5.0, 17.0)
    sigma = 1.5 / 1.128
    assert cap["cp"] == pytest.approx(12 / (6 * sigma))  # 1.504
    assert cap["cpk"] == pytest.approx(5.4 / (3 * sigma))  # 1.3536: the upper side is nearer
    assert cap["cpk"] == pytest.approx(1.35360, abs=1e-5)
    sd = float(np.std([10, 12, 11, 13, 12], ddof=1))  # 1.1402
    assert cap["pp"] == pytest.approx(12 / (6 * sd))
    assert cap["ppk"] == pytest.approx(5.4 / (3 * sd))
    assert chart.points["mr"].to_list()[1:] == pytest.approx([2, 1, 2, 1])


def test_intervals_are_scipys_chi_square_and_bissells_normal_approximation() -> None:
    rng = np.random.default_rng(3)
    values = list(rng.normal(11, 1, 40))
    cap = spc.chart(_lake(values), "P1", "EOL", "m").capability
    n = 40
    lo, hi = stats.chi2.interval(0.95, n - 1)
    assert cap["cp_low"] == pytest.approx(cap["cp"] * np.sqrt(lo / (n - 1)))
    assert cap["cp_high"] == pytest.approx(cap["cp"] * np.sqrt(hi / (n - 1)))
    se = np.sqrt(1 / (9 * n) + cap["cpk"] ** 2 / (2 * (n - 1)))
    low, high = stats.norm.interval(0.95, loc=cap["cpk"], scale=se)
    assert (cap["cpk_low"], cap["cpk_high"]) == pytest.approx((low, high))
    assert cap["pp_low"] < cap["pp"] < cap["pp_high"]


def test_one_limit_gives_a_one_sided_cpk_and_no_cp() -> None:
    cap = spc.chart(_lake([10, 12, 11, 13, 12], lsl=None), "P1", "EOL", "m").capability
    assert cap["cp"] is None
    assert cap["cpk"] == pytest.approx(5.4 / (3 * 1.5 / 1.128))


def test_retests_are_left_out_and_a_missing_series_is_one_error() -> None:
    con = _lake([10, 12, 11, 99, 12], attempts=[1, 1, 1, 2, 1])
    assert spc.chart(con, "P1", "EOL", "m").points.height == 4
    with pytest.raises(InputError, match="no results of P1 EOL other"):
        spc.chart(con, "P1", "EOL", "other")


@pytest.mark.parametrize(("rule", "values", "where"), [
    (1, [0, 0.1, -0.1] * 5 + [5], 15),
    (2, [0.5, -0.5] * 4 + [0.3] * 9, 16),
    (3, [0, 0.1, -0.1, 0.2, -1, -0.5, 0, 0.5, 1, 1.5], 9),
    (5, [0, 0.1, -0.1, 0.05, 2.5, 0.1, 2.6], 6),
    (6, [0, 0.1, -0.1, 0.05, 1.5, 1.4, 0.2, 1.6, 1.3], 8),
])
def test_each_rule_flags_the_point_completing_its_pattern(rule: int, values: list[float],
                                                          where: int) -> None:
    hits = spc.run_rules(np.array(values, dtype=float), 0.0, 1.0)
    assert hits[rule][where]
    assert not hits[rule][:where].any()


def test_alternation_and_hugging_the_centre_line() -> None:
    zigzag = np.array([0.3, -0.3] * 7)  # fourteen alternating points
    hits = spc.run_rules(zigzag, 0.0, 1.0)
    assert np.flatnonzero(hits[4]).tolist() == [13]
    flat = np.full(15, 0.2) * np.array([1, -1] * 7 + [1])
    assert np.flatnonzero(spc.run_rules(flat, 0.0, 1.0)[7]).tolist() == [14]
    wide = np.array([1.5, -1.5] * 4)
    assert np.flatnonzero(spc.run_rules(wide, 0.0, 1.0)[8]).tolist() == [7]


def test_a_stable_process_breaks_rule_one_about_as_often_as_three_sigma_says() -> None:
    x = np.random.default_rng(11).normal(0, 1, 200_000)
    share = spc.run_rules(x, 0.0, 1.0)[1].mean()
    assert share == pytest.approx(2 * stats.norm.sf(3), rel=0.15)  # 0.27 %


def test_capability_table_on_the_sample_puts_the_worst_first(
        sample: duckdb.DuckDBPyConnection) -> None:
    table = spc.capability_table(sample)
    first = table.row(0, named=True)
    assert (first["product_code"], first["test_step"], first["measurement"]) == (
        "SPX-200", "NOISE", "photometric_noise")
    cpk = table["cpk"].drop_nulls().to_list()
    assert cpk == sorted(cpk)
    rail = table.filter((table["test_step"] == "ELEC_CHECK") & (table["measurement"] == "rail_5v"))
    assert rail["n"].to_list() == [13]  # SPX200-0001…0012 and -0014; the two retests left out
    pcb = spc.capability_table(sample, TrendFilter(products=("PCB-MAIN",)))
    assert set(pcb["product_code"]) == {"PCB-MAIN"}
    chart = spc.chart(sample, "SPX-200", "ALIGN", "beam_offset")
    flagged = chart.points.filter(chart.points["rules"].list.len() > 0)
    assert flagged["serial_number"].to_list() == ["SPX200-0013"]  # the scratched grating
