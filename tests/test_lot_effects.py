"""Lot effects: the statistics on simulated plants (a genealogy index laid out as the real one, in
DuckDB), the false-positive rate over 50 seeds with nothing planted, and a 20,000-unit synthetic
plant with one shifted sensor lot, found through two levels of genealogy."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from tests.helpers import Lake
from tracelake.derived.genealogy.index import INDEX_VERSION
from tracelake.derived.quality.lot_effects import holm, lot_effects
from tracelake.lake.snapshot import open_snapshot
from tracelake.synthetic import PlantOptions, generate_plant

UNITS = 2000


def _plant(seed: int, shift: float = 0.0, shifted_lot: str = "A-3") -> duckdb.DuckDBPyConnection:
    """A simulated plant: each device holds one module; the module holds a lot of A (FIFO, 200
    modules a lot); devices get job-level lots of B (250 a lot, changing at other points than A,
    so A's and B's lots overlap) and a per-unit lot of C drawn at random. Values N(0, 1), plus
    ``shift`` on the devices whose module holds ``shifted_lot``."""
    rng = np.random.default_rng(seed)
    n = UNITS
    dev = np.arange(n)
    a_lot = dev // 200
    b_lot = (dev + 90) // 250
    c_lot = rng.integers(0, 5, n)
    lots = ([("A", f"A-{i}") for i in range(a_lot.max() + 1)]
            + [("B", f"B-{i}") for i in range(b_lot.max() + 1)]
            + [("C", f"C-{i}") for i in range(5)])
    lot_id = {name: i + 1 for i, (_, name) in enumerate(lots)}
    first_serial = len(lots) + 1
    dev_key = first_serial + dev
    mod_key = first_serial + n + dev
    value = rng.normal(0, 1, n)
    value[a_lot == int(shifted_lot.split("-")[1])] += shift if shifted_lot.startswith("A") else 0
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA genealogy")
    con.execute("CREATE TABLE genealogy.meta AS SELECT ?::INTEGER AS version", [INDEX_VERSION])
    frames = {
        "lot_keys": pl.DataFrame({"node_id": list(lot_id.values()),
                                  "component_code": [c for c, _ in lots],
                                  "lot_number": [name for _, name in lots]}),
        "serial_keys": pl.DataFrame({"node_id": np.concatenate([dev_key, mod_key]),
                                     "serial_number": [f"D{i:05d}" for i in dev]
                                     + [f"M{i:05d}" for i in dev],
                                     "component_code": ["DEV"] * n + ["MOD"] * n}),
        "edges": pl.DataFrame({
            "child": np.concatenate([[lot_id[f"A-{i}"] for i in a_lot],
                                     [lot_id[f"B-{i}"] for i in b_lot],
                                     [lot_id[f"C-{i}"] for i in c_lot], mod_key]),
            "parent": np.concatenate([mod_key, dev_key, dev_key, dev_key])}),
        "closure_by_des": pl.DataFrame({"des": dev_key, "anc": mod_key,
                                        "depth": np.ones(n, dtype=np.int32)}),
    }
    for table, frame in frames.items():
        con.register("_frame", frame.to_arrow())
        con.execute(f"CREATE TABLE genealogy.{table} AS SELECT * FROM _frame")
        con.unregister("_frame")
    con.execute("CREATE TABLE genealogy.edges_by_parent AS SELECT * FROM genealogy.edges "
                "ORDER BY parent, child")
    con.execute("CREATE TABLE genealogy.closure_by_anc AS SELECT anc, des, depth, "
                "NULL::BIGINT AS via_down FROM genealogy.closure_by_des")
    results = pl.DataFrame({"serial_number": [f"D{i:05d}" for i in dev], "value": value})
    con.register("_frame", results.to_arrow())
    con.execute("""CREATE TABLE test_results AS SELECT serial_number, 'EOL' AS test_step,
                   'm' AS measurement, value, 1 AS attempt,
                   TIMESTAMPTZ '2026-01-01 00:00:00+00' AS tested_at FROM _frame""")
    con.execute("CREATE TABLE units AS SELECT serial_number, 'DEV' AS product_code FROM _frame")
    con.unregister("_frame")
    con.execute("""CREATE TABLE material_issues AS SELECT component_code, lot_number,
                   'Supplier of ' || component_code AS supplier FROM genealogy.lot_keys""")
    return con


def test_holm_matches_the_step_down_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    assert holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.5, 0.9])).tolist() == [1.0, 1.0]


def test_a_shifted_lot_two_levels_down_is_found_and_the_lots_it_overlaps_are_not() -> None:
    con = _plant(seed=1, shift=0.8, shifted_lot="A-3")
    answer = lot_effects(con, "EOL", "m")
    assert [(f["component_code"], f["lot_number"]) for f in answer.flagged] == [("A", "A-3")]
    hit = answer.flagged[0]
    assert hit["units"] == 200 and hit["supplier"] == "Supplier of A"
    assert hit["shift"] == pytest.approx(0.8, abs=0.25)
    assert hit["hedges_g"] >= 0.5 and hit["p_adjusted"] < 1e-6
    assert hit["link"] == "recall?component=A&lot=A-3"
    lots = answer.lots
    # B-3 (devices 660-909) shares 140 of its 250 units with A-3: alone it looks shifted too
    b3 = lots.filter(pl.col("lot_number") == "B-3").row(0, named=True)
    assert b3["p_adjusted"] < 0.05 and b3["hedges_g"] >= 0.3 and not b3["flagged"]
    # Welch's p of a lot is scipy's on the same two groups
    a3 = lots.filter(pl.col("lot_number") == "A-3").row(0, named=True)
    values = con.sql("SELECT value FROM test_results ORDER BY serial_number").fetchnumpy()["value"]
    inside = np.zeros(UNITS, bool)
    inside[600:800] = True
    welch = stats.ttest_ind(values[inside], values[~inside], equal_var=False)
    assert a3["p"] == pytest.approx(welch.pvalue, rel=1e-6)
    assert a3["shift"] == pytest.approx(values[inside].mean() - values[~inside].mean())


def test_with_nothing_planted_at_most_the_promised_false_positive_rate_over_50_seeds() -> None:
    """Holm keeps the chance of flagging any lot of a measurement with no effect at or below
    alpha = 0.05; over 50 independent plants that is 2.5 expected, and 7 or more has a chance of
    about 1 % (binomial), so more than 6 means the method does not keep its promise. The
    unadjusted tests are checked to be calibrated (about 5 % below 0.05), so the rate is not
    low merely because the test never rejects."""
    plants_flagged = 0
    raw = []
    for seed in range(50):
        answer = lot_effects(_plant(seed=1000 + seed), "EOL", "m")
        plants_flagged += bool(answer.flagged)
        raw.extend(answer.lots["p"].to_list())
    assert plants_flagged <= 6
    share = np.mean(np.array(raw) < 0.05)
    assert 0.02 < share < 0.09, share


def test_a_plant_with_one_shifted_lot_finds_exactly_that_lot(tmp_path: Path) -> None:
    """20,000 devices from the synthetic generator, one sensor lot (fitted into modules, which
    are fitted into the devices) shifted by one standard deviation on one EOL measurement."""
    summary = generate_plant(tmp_path / "src", 20_000, seed=7,
                             options=PlantOptions(lot_shift=1.0))
    planted = summary.lot_shift
    assert planted is not None and planted.component_code == "SEN-PT100"
    lake = Lake(tmp_path / "lake")
    lake.ingest(tmp_path / "src")
    con = open_snapshot(lake.paths)
    try:
        answer = lot_effects(con, planted.test_step, planted.measurement)
        assert [(f["component_code"], f["lot_number"]) for f in answer.flagged] == [
            (planted.component_code, planted.lot_number)]
        assert answer.flagged[0]["shift"] == pytest.approx(planted.shift, rel=0.3)
        assert answer.flagged[0]["units"] >= len(planted.serials) * 0.9
        other = next(m for m in ("supply_current", "output_voltage") if m != planted.measurement)
        assert lot_effects(con, planted.test_step, other).flagged == []
        # the lot's own page: what this lot moves is that measurement (on each product whose
        # devices took the lot), and nothing else
        from tracelake.derived.quality.lot_moves import lot_moves

        moved = lot_moves(con, planted.component_code, planted.lot_number)
        assert moved.flagged and {(f["test_step"], f["measurement"]) for f in moved.flagged} == {
            (planted.test_step, planted.measurement)}
    finally:
        con.close()


def test_the_generator_plants_nothing_by_default(tmp_path: Path) -> None:
    assert generate_plant(tmp_path, 50, seed=1).lot_shift is None
