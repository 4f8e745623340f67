"""Statistical process control: individuals and moving-range (I-MR) charts and capability.

Definitions (the same in the capability table, the chart and ``tracelake spc``):

* A series is one product, test step and measurement: the first attempt (``attempt`` 1 or not
  given) of every result with a finite value, in the order tested (``tested_at``, then serial).
* Moving range ``MR_i = |x_i - x_(i-1)|``; ``MRbar`` its mean. Control limits of the individuals
  chart: ``mean ± 2.66·MRbar`` (3 σ with σ_within = MRbar / d2, d2 = 1.128); of the MR chart:
  ``UCL = 3.267·MRbar``, LCL 0.
* Specification limits come from the results themselves: the most frequent ``low_limit`` and
  ``high_limit`` of the series (a series may lack one or both).
* Cp = (USL − LSL) / 6σ_within, Cpk = min(USL − mean, mean − LSL) / 3σ_within; Pp and Ppk the
  same with the overall sample standard deviation. With one limit only Cp/Pp are empty and
  Cpk/Ppk are the one-sided index.
* Confidence intervals (95 % by default, n − 1 degrees of freedom): Cp and Pp from the
  chi-square distribution, ``Cp·sqrt(χ²_(α/2, n−1) / (n−1))`` … ``Cp·sqrt(χ²_(1−α/2, n−1) /
  (n−1))``; Cpk and Ppk by Bissell's normal approximation,
  ``Cpk ± z_(1−α/2)·sqrt(1/(9n) + Cpk²/(2(n−1)))``.
* Run rules (Nelson; the first four of Western Electric are Nelson 1, 5, 6 and 2 with 8 in a row
  there), with σ = σ_within and the centre line the mean; a point is flagged with every rule whose
  pattern it completes: 1 beyond 3σ; 2 nine in a row on one side; 3 six in a row steadily rising
  or falling; 4 fourteen in a row alternating up and down; 5 two of three beyond 2σ on one side;
  6 four of five beyond 1σ on one side; 7 fifteen in a row within 1σ; 8 eight in a row beyond 1σ
  on either side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from tracelake.derived.quality.trends import TrendFilter
from tracelake.errors import InputError

__all__ = ["D2", "RULES", "SpcChart", "capability", "capability_table", "chart", "run_rules",
           "series"]

#: d2 for moving ranges of two; 3/d2 = 2.66 and D4 = 3.267 are the chart constants
D2 = 1.128
E2 = 2.66
D4 = 3.267
#: Nelson rule number -> what it means
RULES: dict[int, str] = {
    1: "a point beyond 3σ",
    2: "nine points in a row on one side of the centre line",
    3: "six points in a row steadily rising or falling",
    4: "fourteen points in a row alternating up and down",
    5: "two of three points beyond 2σ on the same side",
    6: "four of five points beyond 1σ on the same side",
    7: "fifteen points in a row within 1σ",
    8: "eight points in a row beyond 1σ on either side",
}

_IN_WINDOW = ("($start::TIMESTAMPTZ IS NULL OR t.tested_at >= $start::TIMESTAMPTZ) AND "
              "($end::TIMESTAMPTZ IS NULL OR t.tested_at < $end::TIMESTAMPTZ) AND "
              "($products::VARCHAR[] IS NULL OR list_contains($products::VARCHAR[], "
              "coalesce(u.product_code, '(unknown unit)')))")

_SERIES = f"""
    SELECT coalesce(u.product_code, '(unknown unit)') AS product_code, t.test_step,
           t.measurement, t.serial_number, t.tested_at, t.value, t.low_limit, t.high_limit,
           t.units, t.result, t.equipment_id
    FROM test_results t LEFT JOIN units u ON u.serial_number = t.serial_number
    WHERE t.value IS NOT NULL AND isfinite(t.value) AND coalesce(t.attempt, 1) = 1
      AND {_IN_WINDOW}"""


def _params(where: TrendFilter | None, **extra: Any) -> dict[str, Any]:
    return {**(where or TrendFilter()).params(), **extra}


def capability(n: Any, mean: Any, sd_within: Any, sd_overall: Any, lsl: Any, usl: Any,
               confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Cp, Cpk, Pp, Ppk and their confidence intervals, elementwise over arrays (scipy for the
    chi-square and normal quantiles). Missing limits or spreads give NaN."""
    n = np.asarray(n, dtype=float)
    mean = np.asarray(mean, dtype=float)
    lsl = np.asarray(lsl, dtype=float)
    usl = np.asarray(usl, dtype=float)
    alpha = 1 - confidence
    dof = np.where(n > 1, n - 1, np.nan)
    lo_q = np.sqrt(stats.chi2.ppf(alpha / 2, dof) / dof)
    hi_q = np.sqrt(stats.chi2.ppf(1 - alpha / 2, dof) / dof)
    z = stats.norm.ppf(1 - alpha / 2)
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, sd in (("c", sd_within), ("p", sd_overall)):
            sd = np.asarray(sd, dtype=float)
            sd = np.where(sd > 0, sd, np.nan)
            cp = (usl - lsl) / (6 * sd)
            cpu = (usl - mean) / (3 * sd)
            cpl = (mean - lsl) / (3 * sd)
            cpk = np.fmin(cpu, cpl)  # one limit only: the side there is
            half = z * np.sqrt(1 / (9 * n) + cpk ** 2 / (2 * dof))
            out[f"{name}p"] = cp
            out[f"{name}p_low"] = cp * lo_q
            out[f"{name}p_high"] = cp * hi_q
            out[f"{name}pk"] = cpk
            out[f"{name}pk_low"] = cpk - half
            out[f"{name}pk_high"] = cpk + half
    return out


def capability_table(con: duckdb.DuckDBPyConnection, where: TrendFilter | None = None,
                     confidence: float = 0.95) -> pl.DataFrame:
    """Every series with its count, mean, spreads, specification limits, control limits and
    capability (with intervals), worst Cpk first (series without a Cpk last)."""
    frame = con.execute(f"""
        WITH r AS ({_SERIES}),
        m AS (SELECT *, abs(value - lag(value) OVER (
                  PARTITION BY product_code, test_step, measurement
                  ORDER BY tested_at, serial_number)) AS mr FROM r)
        SELECT product_code, test_step, measurement, any_value(units) AS units,
               count(*) AS n, avg(value) AS mean, stddev_samp(value) AS sd_overall,
               avg(mr) AS mr_bar, avg(mr) / {D2} AS sd_within,
               mode(low_limit) AS lsl, mode(high_limit) AS usl,
               count(*) FILTER (WHERE result = 'fail') AS failed,
               min(tested_at) AS first_tested_at, max(tested_at) AS last_tested_at
        FROM m GROUP BY ALL ORDER BY ALL""", _params(where)).pl()
    if not frame.height:
        return frame.with_columns(*(pl.lit(None, pl.Float64).alias(c) for c in _CAP_COLUMNS))
    cap = capability(frame["n"].to_numpy(), frame["mean"].to_numpy(),
                     frame["sd_within"].fill_null(np.nan).to_numpy(),
                     frame["sd_overall"].fill_null(np.nan).to_numpy(),
                     frame["lsl"].fill_null(np.nan).to_numpy(),
                     frame["usl"].fill_null(np.nan).to_numpy(), confidence)
    frame = frame.with_columns(
        (pl.col("mean") + E2 * pl.col("mr_bar")).alias("ucl"),
        (pl.col("mean") - E2 * pl.col("mr_bar")).alias("lcl"),
        (D4 * pl.col("mr_bar")).alias("ucl_mr"),
        *(pl.Series(k, v).fill_nan(None) for k, v in cap.items()))
    return frame.sort(pl.col("cpk").is_null(), "cpk", "product_code", "test_step", "measurement")


_CAP_COLUMNS = ("ucl", "lcl", "ucl_mr", "cp", "cp_low", "cp_high", "cpk", "cpk_low", "cpk_high",
                "pp", "pp_low", "pp_high", "ppk", "ppk_low", "ppk_high")


def series(con: duckdb.DuckDBPyConnection, product_code: str, test_step: str, measurement: str,
           where: TrendFilter | None = None) -> pl.DataFrame:
    """The points of one series in test order, with their moving range."""
    return con.execute(f"""
        WITH r AS ({_SERIES})
        SELECT serial_number, tested_at, value, abs(value - lag(value) OVER (
                   ORDER BY tested_at, serial_number)) AS mr,
               low_limit, high_limit, units, result, equipment_id
        FROM r WHERE product_code = $p AND test_step = $s AND measurement = $m
        ORDER BY tested_at, serial_number""",
                       _params(where, p=product_code, s=test_step, m=measurement)).pl()


def _windows(flag: np.ndarray, width: int, need: int) -> np.ndarray:
    """Points that complete a window of ``width`` holding at least ``need`` flagged points."""
    out = np.zeros(len(flag), dtype=bool)
    if len(flag) >= width:
        out[width - 1:] = sliding_window_view(flag, width).sum(axis=1) >= need
    return out


def _run(flag: np.ndarray, length: int) -> np.ndarray:
    """Points ending a run of ``length`` consecutive flagged points."""
    return _windows(flag.astype(np.int8), length, length)


def _rule_lists(rules: dict[int, np.ndarray], n: int) -> pl.Series:
    """Each point's list of the rules it completes, as one Arrow list array (offsets and values
    from numpy: no loop over the points)."""
    hits = np.stack([rules[r] for r in RULES], axis=1) if n else np.zeros((0, len(RULES)), bool)
    point, which = np.nonzero(hits)  # row-major: by point, then by rule
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(point, minlength=n), out=offsets[1:])
    values = np.array(list(RULES), dtype=np.int8)[which]
    return pl.Series("rules", pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)))


def run_rules(values: np.ndarray, centre: float, sigma: float) -> dict[int, np.ndarray]:
    """Nelson rules 1-8 on a series: for each rule, which points complete its pattern."""
    x = np.asarray(values, dtype=float)
    if not len(x) or not np.isfinite(sigma) or sigma <= 0:
        return {r: np.zeros(len(x), dtype=bool) for r in RULES}
    z = (x - centre) / sigma
    step = np.sign(np.diff(x))
    rising = np.concatenate([[False], step > 0])
    falling = np.concatenate([[False], step < 0])
    alternate = np.concatenate([[False, False], step[1:] * step[:-1] < 0])
    return {
        1: np.abs(z) > 3,
        2: _run(z > 0, 9) | _run(z < 0, 9),
        3: _run(rising, 5) | _run(falling, 5),  # five rises = six points
        4: _run(alternate, 12),  # twelve sign changes = fourteen points
        5: _windows(z > 2, 3, 2) | _windows(z < -2, 3, 2),
        6: _windows(z > 1, 5, 4) | _windows(z < -1, 5, 4),
        7: _run(np.abs(z) < 1, 15),
        8: _run(np.abs(z) > 1, 8),
    }


@dataclass
class SpcChart:
    """One I-MR chart: its points (with the rules each breaks), limits and capability."""

    product_code: str
    test_step: str
    measurement: str
    units: str | None
    points: pl.DataFrame
    limits: dict[str, float | None]
    capability: dict[str, float | None]
    violations: dict[int, int] = field(default_factory=dict)

    def as_dict(self, with_points: bool = True) -> dict[str, Any]:
        """JSON-ready form (``tracelake spc --product P --step S --measurement M``)."""
        out: dict[str, Any] = {
            "product_code": self.product_code, "test_step": self.test_step,
            "measurement": self.measurement, "units": self.units, "n": self.points.height,
            "limits": self.limits, "capability": self.capability,
            "violations": {str(k): {"rule": RULES[k], "points": v}
                           for k, v in self.violations.items() if v}}
        if with_points:
            out["points"] = self.points.with_columns(
                pl.col("rules").list.eval(pl.element().cast(pl.Int64))).to_dicts()
        return out


def _num(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def chart(con: duckdb.DuckDBPyConnection, product_code: str, test_step: str, measurement: str,
          where: TrendFilter | None = None, confidence: float = 0.95) -> SpcChart:
    """The I-MR chart of one series.

    Raises:
        InputError: no result of that product, step and measurement in the window.
    """
    points = series(con, product_code, test_step, measurement, where)
    if not points.height:
        raise InputError(f"no results of {product_code} {test_step} {measurement} in the "
                         "window (see `tracelake spc` for the series there are)")
    x = points["value"].to_numpy()
    mean = float(x.mean())
    mr_bar = float(points["mr"].mean()) if points.height > 1 else float("nan")  # type: ignore[arg-type]
    sigma = mr_bar / D2
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("nan")
    lsl = points["low_limit"].drop_nulls().mode().sort().first() if \
        points["low_limit"].drop_nulls().len() else None
    usl = points["high_limit"].drop_nulls().mode().sort().first() if \
        points["high_limit"].drop_nulls().len() else None
    cap = capability([len(x)], [mean], [sigma], [sd], [np.nan if lsl is None else lsl],
                     [np.nan if usl is None else usl], confidence)
    rules = run_rules(x, mean, sigma)
    points = points.with_columns(_rule_lists(rules, len(x)))
    limits = {"mean": mean, "mr_bar": _num(mr_bar), "sigma_within": _num(sigma),
              "sd_overall": _num(sd), "ucl": _num(mean + E2 * mr_bar),
              "lcl": _num(mean - E2 * mr_bar), "ucl_mr": _num(D4 * mr_bar), "lcl_mr": 0.0,
              "lsl": lsl, "usl": usl}
    return SpcChart(product_code, test_step, measurement,
                    points["units"].drop_nulls().first() if points["units"].drop_nulls().len()
                    else None,
                    points, limits, {k: _num(v[0]) for k, v in cap.items()},
                    {r: int(rules[r].sum()) for r in RULES})


def date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[dt.date | None, dt.date | None]:
    """The first and last days with test results."""
    row = con.sql("SELECT min(tested_at)::DATE, max(tested_at)::DATE FROM test_results").fetchone()
    return (row[0], row[1]) if row else (None, None)
