"""Lot effects: which component lots move a measurement.

For one measurement (test step and measurement, optionally one product) each measured unit's
value is its first-attempt result (the mean of them if it has several). Its lots are every
component lot in its current genealogy at any depth, read from the genealogy index: the lots
whose edges lead into the unit itself or into any serial it contains (``closure_by_des``).

Each lot is compared with the other lots of its component (the units holding that component
but not this lot):

* effect size: Hedges' g, the difference of means over the pooled standard deviation with the
  small-sample correction; a lot is *material* when ``|g| >= min_effect`` (0.5 by default);
* chance: Welch's t-test (``scipy.stats.ttest_ind_from_stats``), the p-values adjusted by Holm
  for the number of lots compared in the query (every lot of every component), so across a
  measurement with no real effect the chance of flagging any lot at all is at most ``alpha``;
* confounding: lots used together (issued to the same jobs, built in the same weeks) share
  their units, so a shifted lot drags the others it overlaps. The lot with the smallest
  adjusted p is taken first; every other lot is then compared again without the units holding
  a lot already taken, and is flagged only if it still differs. Repeated until nothing is left.

Counts and sums are aggregated in DuckDB; only the per-lot statistics (a few hundred rows)
come to Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl
from scipy import stats

from tracelake.derived.genealogy import has_index
from tracelake.derived.links import link
from tracelake.derived.quality.trends import TrendFilter
from tracelake.errors import InputError, LakeError

__all__ = ["LotEffects", "compare", "holm", "lot_effects", "lot_statistics"]

MIN_UNITS = 5  # fewer units on either side: not compared
MAX_STEPS = 10  # lots taken one after another before the search stops


def holm(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """Holm's step-down adjustment of p-values for ``m`` comparisons (default: ``len(p)``)."""
    p = np.asarray(p, dtype=float)
    m = len(p) if m is None else m
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(len(p))) * p[order]))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


_VALUES = """
    SELECT t.serial_number, avg(t.value) AS value
    FROM test_results t LEFT JOIN units u ON u.serial_number = t.serial_number
    WHERE t.test_step = $step AND t.measurement = $measurement
      AND t.value IS NOT NULL AND isfinite(t.value) AND coalesce(t.attempt, 1) = 1
      AND ($product::VARCHAR IS NULL OR u.product_code = $product::VARCHAR)
      AND ($start::TIMESTAMPTZ IS NULL OR t.tested_at >= $start::TIMESTAMPTZ)
      AND ($end::TIMESTAMPTZ IS NULL OR t.tested_at < $end::TIMESTAMPTZ)
    GROUP BY ALL"""


def _prepare(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> tuple[int, float]:
    """Temp tables of this connection, integer keys only: ``_le_values`` (unit key, value less
    the mean), ``_le_ul`` (unit, lot, component: one row per lot in the unit's genealogy) and
    ``_le_cu`` (component, unit: one row per unit holding the component). Returns the number of
    units and the mean taken off (sums of squares of centred values lose less)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _le_values AS
        SELECT k.node_id AS unit, v.value - avg(v.value) OVER () AS value, avg(v.value) OVER ()
            AS _mean
        FROM ({_VALUES}) v JOIN genealogy.serial_keys k ON k.serial_number = v.serial_number""",
                params)
    n, mean = con.sql("SELECT count(*), any_value(_mean) FROM _le_values").fetchone()  # type: ignore[misc]
    # the unit's own edges and those of every serial inside it (closure_by_des), to the lots
    # (components numbered by name: the pairs carry no text)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _le_ul AS
        WITH parts AS (
            SELECT unit, unit AS part FROM _le_values
            UNION ALL
            SELECT c.des, c.anc FROM genealogy.closure_by_des c SEMI JOIN _le_values v
              ON v.unit = c.des),
        lk AS (SELECT node_id AS lot, dense_rank() OVER (ORDER BY component_code) AS comp
               FROM genealogy.lot_keys)
        SELECT DISTINCT p.unit, e.child AS lot, lk.comp
        FROM parts p JOIN genealogy.edges_by_parent e ON e.parent = p.part
        JOIN lk ON lk.lot = e.child""")
    con.execute("CREATE OR REPLACE TEMP TABLE _le_cu AS SELECT DISTINCT comp, unit FROM _le_ul")
    return int(n), float(mean or 0.0)


_SUMS = """
    WITH lot AS (SELECT l.lot, any_value(l.comp) AS comp, count(*) AS n, sum(v.value) AS s,
                        sum(v.value * v.value) AS ss
                 FROM _le_ul l JOIN _le_values v USING (unit) {where} GROUP BY l.lot),
    comp AS (SELECT c.comp, count(*) AS cn, sum(v.value) AS cs, sum(v.value * v.value) AS css
             FROM _le_cu c JOIN _le_values v USING (unit) {where} GROUP BY c.comp)
    SELECT lot.*, comp.cn, comp.cs, comp.css FROM lot JOIN comp USING (comp)"""


def lot_statistics(con: duckdb.DuckDBPyConnection, without: list[int] | None = None
                   ) -> pl.DataFrame:
    """Per lot (of the prepared measurement): its units' count, mean and variance, and those of
    the other units holding its component, leaving out units holding any lot in ``without``.

    The sums over every unit are taken once; with ``without``, the sums over the units left
    out (a few lots' worth) are taken and subtracted, rather than summing the rest again."""
    full = con.sql(_SUMS.format(where="")).pl()
    if without:
        con.execute("""CREATE OR REPLACE TEMP TABLE _le_out AS SELECT DISTINCT unit FROM _le_ul
                       WHERE list_contains($w::BIGINT[], lot)""", {"w": without})
        out = con.sql(_SUMS.format(where="SEMI JOIN _le_out o ON o.unit = v.unit")).pl()
        lot_out = out.select("lot", n_x="n", s_x="s", ss_x="ss")
        comp_out = out.group_by("comp").agg(cn_x=pl.col("cn").first(),
                                            cs_x=pl.col("cs").first(),
                                            css_x=pl.col("css").first())
        full = (full.join(lot_out, on="lot", how="left")
                .join(comp_out, on="comp", how="left")
                .with_columns(pl.col(c) - pl.col(f"{c}_x").fill_null(0)
                              for c in ("n", "s", "ss", "cn", "cs", "css"))
                .drop("n_x", "s_x", "ss_x", "cn_x", "cs_x", "css_x")
                .filter(pl.col("n") > 0))
    keys = con.sql("SELECT node_id AS lot, component_code, lot_number FROM genealogy.lot_keys").pl()
    lots = full.group_by("comp").len("component_lots")
    n, cn = pl.col("n"), pl.col("cn")
    return (full.join(keys, on="lot").join(lots, on="comp").with_columns(
        (pl.col("s") / n).alias("mean"),
        ((pl.col("ss") - pl.col("s") ** 2 / n) / (n - 1)).alias("var"),
        (cn - n).alias("n_rest"),
        ((pl.col("cs") - pl.col("s")) / (cn - n)).alias("mean_rest"),
        (((pl.col("css") - pl.col("ss")) - (pl.col("cs") - pl.col("s")) ** 2 / (cn - n))
         / (cn - n - 1)).alias("var_rest"))
        .select("lot", "component_code", "lot_number", "component_lots", "n", "mean", "var",
                "n_rest", "mean_rest", "var_rest")
        .sort("component_code", "lot_number"))


def compare(frame: pl.DataFrame, m: int | None = None) -> pl.DataFrame:
    """Welch's t, its Holm-adjusted p for ``m`` comparisons (default: the rows compared), and
    Hedges' g, per row of a lot's ``n/mean/var`` beside the other lots' ``n_rest/mean_rest/var_rest``
    (rows with fewer than ``MIN_UNITS`` units on either side are left out)."""
    frame = frame.filter((pl.col("n") >= MIN_UNITS) & (pl.col("n_rest") >= MIN_UNITS))
    if not frame.height:
        return frame.with_columns(pl.lit(None, pl.Float64).alias(c)
                                  for c in ("shift", "hedges_g", "p", "p_adjusted"))
    n1, n2 = frame["n"].to_numpy().astype(float), frame["n_rest"].to_numpy().astype(float)
    v1 = np.clip(frame["var"].fill_null(0).to_numpy(), 0, None)
    v2 = np.clip(frame["var_rest"].fill_null(0).to_numpy(), 0, None)
    m1, m2 = frame["mean"].to_numpy(), frame["mean_rest"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        _t, p = stats.ttest_ind_from_stats(m1, np.sqrt(v1), n1, m2, np.sqrt(v2), n2,
                                           equal_var=False)
        pooled = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
        g = (m1 - m2) / pooled * (1 - 3 / (4 * (n1 + n2) - 9))
    p = np.where(np.isfinite(p), p, 1.0)
    return frame.with_columns(pl.Series("shift", m1 - m2), pl.Series("hedges_g", g),
                              pl.Series("p", p), pl.Series("p_adjusted", holm(p, m)))


@dataclass
class LotEffects:
    """The answer of ``tracelake lot-effects``: the lots that move a measurement, and every lot
    compared (``lots``)."""

    query: dict[str, Any]
    units: int
    mean: float | None
    sd: float | None
    lots_compared: int
    flagged: list[dict[str, Any]] = field(default_factory=list)
    lots: pl.DataFrame = field(default_factory=pl.DataFrame)

    def as_dict(self, all_lots: bool = False) -> dict[str, Any]:
        """JSON-ready form."""
        out = {"query": self.query, "units": self.units, "mean": self.mean, "sd": self.sd,
               "lots_compared": self.lots_compared,
               "method": {"effect": "Hedges g >= min_effect", "test": "Welch t-test",
                          "correction": "Holm over the lots compared",
                          "confounding": "lots taken one by one, the others compared again "
                                         "without the units of lots taken"},
               "flagged": self.flagged}
        if all_lots:
            out["lots"] = self.lots.to_dicts()
        return out


def _suppliers(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    rows = con.sql("""SELECT component_code, lot_number, min(supplier) FROM material_issues
                      WHERE supplier IS NOT NULL GROUP BY ALL""").fetchall()
    out = {(c, lot): s for c, lot, s in rows}
    has_lots = con.sql("""SELECT count(*) FROM information_schema.columns WHERE
                          table_schema = 'main' AND table_name = 'lots'
                          AND column_name = 'supplier'""").fetchone()
    if has_lots and has_lots[0]:
        out.update({(c, lot): s for c, lot, s in con.sql(
            "SELECT component_code, lot_number, supplier FROM main.lots "
            "WHERE supplier IS NOT NULL").fetchall()})
    return out


def lot_effects(con: duckdb.DuckDBPyConnection, test_step: str, measurement: str, *,
                product_code: str | None = None, where: TrendFilter | None = None,
                min_effect: float = 0.5, alpha: float = 0.05) -> LotEffects:
    """The component lots whose units' results differ from their component's other lots by at
    least ``min_effect`` (Hedges' g) with Holm-adjusted p below ``alpha``, strongest first.

    Raises:
        InputError: no unit has a result of that measurement.
        LakeError: the lake has no genealogy index.
    """
    if not has_index(con):
        raise LakeError("the lake has no genealogy index: run `tracelake ingest` on it")
    window = (where or TrendFilter()).params()
    params = {"step": test_step, "measurement": measurement, "product": product_code,
              "start": window["start"], "end": window["end"]}
    query = {"test_step": test_step, "measurement": measurement, "product_code": product_code,
             "date_from": where.date_from if where else None,
             "date_to": where.date_to if where else None,
             "min_effect": min_effect, "alpha": alpha}
    n, mean = _prepare(con, params)
    try:
        if not n:
            raise InputError(f"no unit has a result of {test_step} {measurement}"
                             + (f" on {product_code}" if product_code else "")
                             + " (see `tracelake spc` for the measurements there are)")
        sd_row = con.sql("SELECT stddev_samp(value) FROM _le_values").fetchone()
        sd = float(sd_row[0]) if sd_row and sd_row[0] is not None else None
        base = lot_statistics(con)
        m = base.filter((pl.col("n") >= MIN_UNITS) & (pl.col("n_rest") >= MIN_UNITS)).height
        first = compare(base, m)
        taken: list[int] = []
        flagged: list[dict[str, Any]] = []
        current = first
        suppliers = _suppliers(con)
        for _ in range(MAX_STEPS):
            hits = current.filter((pl.col("p_adjusted") < alpha)
                                  & (pl.col("hedges_g").abs() >= min_effect)
                                  & ~pl.col("lot").is_in(taken))
            if not hits.height:
                break
            best = hits.sort("p_adjusted", -pl.col("hedges_g").abs()).row(0, named=True)
            taken.append(int(best["lot"]))
            original = first.filter(pl.col("lot") == best["lot"]).row(0, named=True)
            flagged.append(_finding(original, best, suppliers, mean))
            current = compare(lot_statistics(con, taken), m)
        lots = first.with_columns(
            (pl.col("mean") + mean).alias("mean"), (pl.col("mean_rest") + mean).alias("mean_rest"),
            pl.col("lot").is_in(taken).alias("flagged")).drop("lot").sort("p_adjusted")
        return LotEffects(query, n, mean, sd, m, flagged, lots)
    finally:
        for table in ("_le_values", "_le_ul", "_le_cu", "_le_out"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _finding(original: dict[str, Any], taken: dict[str, Any],
             suppliers: dict[tuple[str, str], str], mean: float) -> dict[str, Any]:
    code, lot = original["component_code"], original["lot_number"]
    return {"component_code": code, "lot_number": lot, "supplier": suppliers.get((code, lot)),
            "units": int(original["n"]), "other_units": int(original["n_rest"]),
            "mean": original["mean"] + mean, "mean_others": original["mean_rest"] + mean,
            "shift": original["shift"], "hedges_g": original["hedges_g"],
            "p": original["p"], "p_adjusted": original["p_adjusted"],
            "p_adjusted_when_taken": taken["p_adjusted"],
            "component_lots": int(original["component_lots"]),
            "link": link("recall", component=code, lot=lot)}
