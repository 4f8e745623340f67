"""What one lot moves: the measurements on which the units holding a component lot read
differently from the other units holding that component (the lot's page, "what this lot moves").

The same comparison as :mod:`tracelake.derived.quality.lot_effects`, turned around: there, one
measurement and every lot; here, one lot and every measurement. For each series (product, test
step, measurement; first-attempt values, the mean of a unit's first attempts) the units holding
the lot at any depth of their genealogy are compared with the units holding another lot of the
same component: Hedges' g for the size, Welch's t-test for chance, Holm over the series
compared. One query over the genealogy index and the results gives each series' two groups as
counts and sums; scipy works on those few rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from tracelake.derived.genealogy import has_index
from tracelake.derived.links import link
from tracelake.derived.quality.lot_effects import MIN_UNITS, compare
from tracelake.errors import LakeError, RecordNotFound

__all__ = ["LotMoves", "lot_moves"]

# units holding each lot of the component at any depth: the lot's edges' parents, and every
# serial containing one of them (closure_by_anc); flagged with whether they hold this lot
_GROUPS = """
    WITH lots AS (SELECT node_id, lot_number = $lot AS this FROM genealogy.lot_keys
                  WHERE component_code = $component),
    direct AS (SELECT DISTINCT e.parent AS unit, l.this FROM lots l
               JOIN genealogy.edges e ON e.child = l.node_id),
    holders AS (SELECT unit, this FROM direct
                UNION SELECT c.des, d.this FROM direct d
                JOIN genealogy.closure_by_anc c ON c.anc = d.unit),
    units AS (SELECT k.serial_number, bool_or(h.this) AS this FROM holders h
              JOIN genealogy.serial_keys k ON k.node_id = h.unit GROUP BY ALL),
    vals AS (SELECT t.test_step, t.measurement, t.serial_number, h.this,
                    any_value(t.units) AS units, avg(t.value) AS value
             FROM test_results t JOIN units h ON h.serial_number = t.serial_number
             WHERE t.value IS NOT NULL AND isfinite(t.value) AND coalesce(t.attempt, 1) = 1
             GROUP BY ALL)
    SELECT coalesce(u.product_code, '(unknown unit)') AS product_code, v.test_step,
           v.measurement, any_value(v.units) AS units, v.this,
           count(*) AS n, avg(v.value) AS mean, var_samp(v.value) AS var
    FROM vals v LEFT JOIN main.units u ON u.serial_number = v.serial_number
    GROUP BY ALL"""


@dataclass
class LotMoves:
    """The answer: the series this lot moves (``flagged``), strongest first, and every series
    compared (``series``)."""

    component_code: str
    lot_number: str
    units: int
    series_compared: int
    flagged: list[dict[str, Any]] = field(default_factory=list)
    series: pl.DataFrame = field(default_factory=pl.DataFrame)
    min_effect: float = 0.5
    alpha: float = 0.05

    def as_dict(self, all_series: bool = False) -> dict[str, Any]:
        """JSON-ready form (``tracelake lot-effects --component C --lot L``); with
        ``all_series`` every series compared, flagged or not."""
        out: dict[str, Any] = {
            "query": {"component_code": self.component_code, "lot_number": self.lot_number,
                      "min_effect": self.min_effect, "alpha": self.alpha},
            "component_code": self.component_code, "lot_number": self.lot_number,
            "units": self.units, "series_compared": self.series_compared,
            "method": {"effect": "Hedges g >= min_effect", "test": "Welch t-test",
                       "correction": "Holm over the series compared",
                       "groups": "units holding this lot at any depth against units holding "
                                 "another lot of the component; no lot is taken out for "
                                 "confounding"},
            "flagged": self.flagged}
        if all_series:
            out["series"] = self.series.to_dicts()
        return out


def lot_moves(con: duckdb.DuckDBPyConnection, component_code: str, lot_number: str, *,
              min_effect: float = 0.5, alpha: float = 0.05) -> LotMoves:
    """The measurements on which the units holding ``component_code`` lot ``lot_number`` differ
    from the units holding the component's other lots by at least ``min_effect`` (|Hedges g|)
    with a Holm-adjusted p below ``alpha``.

    Raises:
        LakeError: the lake has no genealogy index.
        RecordNotFound: the lake holds no such lot.
    """
    if not has_index(con):
        raise LakeError("the lake has no genealogy index: run `tracelake ingest` on it")
    params = {"component": component_code, "lot": lot_number}
    if not con.execute("SELECT 1 FROM genealogy.lot_keys WHERE component_code = $component "
                       "AND lot_number = $lot", params).fetchone():
        raise RecordNotFound(f"lot {component_code}/{lot_number} is not in the lake")
    groups = con.execute(_GROUPS, params).pl()
    keys = ["product_code", "test_step", "measurement"]
    lot = groups.filter(pl.col("this")).drop("this")
    rest = groups.filter(~pl.col("this")).select(*keys, n_rest="n", mean_rest="mean",
                                                 var_rest="var")
    frame = lot.join(rest, on=keys, how="inner").filter(
        (pl.col("n") >= MIN_UNITS) & (pl.col("n_rest") >= MIN_UNITS)).sort(keys)
    units = int(lot["n"].max() or 0) if lot.height else 0
    if not frame.height:
        return LotMoves(component_code, lot_number, units, 0, [], frame, min_effect, alpha)
    frame = compare(frame)
    frame = frame.with_columns(
        ((pl.col("p_adjusted") < alpha) & (pl.col("hedges_g").abs() >= min_effect))
        .fill_null(False).alias("flagged")).sort("p_adjusted")
    flagged = [{**r, "link": link("spc", product=r["product_code"], step=r["test_step"],
                                  measurement=r["measurement"])}
               for r in frame.filter(pl.col("flagged")).drop("flagged").iter_rows(named=True)]
    return LotMoves(component_code, lot_number, units, frame.height, flagged, frame, min_effect,
                    alpha)
