"""NCR and yield trends for managers: NCRs over time, a Pareto of defects, first-pass yield, rework
and the ageing of open NCRs, each filtered by a date window and products.

Definitions (the same on every chart and in every test):

* An NCR belongs to the product of the unit it names, else of its job; its supplier is the one it
  names, else the supplier its lot was issued from. Its date is ``raised_at``.
* First-pass yield of a test step: units whose first attempt (``attempt`` 1, or no attempt given)
  passed every measurement of that step, over the units tested at that step. A unit counts in the
  window its first result at that step falls in.
* A unit is reworked when an NCR with disposition ``rework`` names it, or when it repeats an
  operation (same job and step, carried out on it more than once). A unit counts in the window its
  first operation falls in (``built_at`` where it has none).
* Headlines (first-pass yield, rework rate, unit counts) are about finished devices: units that
  are not sub-assemblies. A unit is a sub-assembly when it is fitted into another unit (its
  serial is a ``component_serial``) or its product is a component of another product (a BOM
  line names it). Sub-assemblies are counted apart (``level`` = ``sub-assembly``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import polars as pl

__all__ = [
    "AGE_BUCKETS",
    "TrendFilter",
    "bounds",
    "defect_pareto",
    "first_pass_yield",
    "ncr_counts",
    "ncrs",
    "open_ncr_ageing",
    "rework",
    "rework_over_time",
    "summary",
    "unit_counts",
]

#: SQL: ``'device'`` or ``'sub-assembly'`` for the unit aliased ``u`` (see the module's definitions).
LEVEL = """CASE WHEN u.serial_number IN (SELECT component_serial FROM unit_components
                                         WHERE component_serial IS NOT NULL)
              OR u.product_code IN (SELECT component_code FROM mbr_bom
                                    UNION SELECT component_code FROM bom_snapshot)
            THEN 'sub-assembly' ELSE 'device' END"""


def unit_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many finished devices and sub-assemblies the lake holds."""
    rows = dict(con.sql(f"SELECT {LEVEL} AS level, count(*) FROM units u GROUP BY ALL").fetchall())
    return {"devices": int(rows.get("device", 0)),
            "sub_assemblies": int(rows.get("sub-assembly", 0))}

Period = Literal["week", "month"]
Dimension = Literal["defect_code", "product_code", "supplier", "disposition"]

#: Open-NCR age buckets: (label, first day, last day).
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–7 days", 0, 7), ("8–30 days", 8, 30), ("31–90 days", 31, 90), ("over 90 days", 91, None))


@dataclass(frozen=True)
class TrendFilter:
    """Which records a trend counts: a window of dates (UTC, both ends included) and products."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    products: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """Bounds as UTC timestamps (``to`` exclusive) and the product list, for SQL."""
        start = _midnight(self.date_from) if self.date_from else None
        end = _midnight(self.date_to + dt.timedelta(days=1)) if self.date_to else None
        return {"start": start, "end": end, "products": list(self.products) or None}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


_IN_WINDOW = ("($start::TIMESTAMPTZ IS NULL OR {col} >= $start::TIMESTAMPTZ) AND "
              "($end::TIMESTAMPTZ IS NULL OR {col} < $end::TIMESTAMPTZ) AND "
              "($products::VARCHAR[] IS NULL OR list_contains($products::VARCHAR[], {product}))")

NCR_SCHEMA = {"ncr_id": pl.String, "raised_at": pl.Datetime("us", "UTC"),
              "closed_at": pl.Datetime("us", "UTC"), "defect_code": pl.String,
              "disposition": pl.String, "product_code": pl.String, "supplier": pl.String,
              "job_id": pl.String, "serial_number": pl.String, "component_code": pl.String,
              "lot_number": pl.String, "description": pl.String, "open": pl.Boolean}


def ncrs(con: duckdb.DuckDBPyConnection, where: TrendFilter | None = None) -> pl.DataFrame:
    """Every NCR raised in the window, with the product and supplier it is counted under."""
    where = where or TrendFilter()
    frame = con.execute(f"""
        WITH lot_supplier AS (
            SELECT component_code, lot_number, min(supplier) AS supplier FROM material_issues
            WHERE supplier IS NOT NULL GROUP BY ALL
        ), n AS (
            SELECT n.ncr_id, n.raised_at, n.closed_at, n.defect_code, n.disposition,
                   coalesce(u.product_code, j.product_code) AS product_code,
                   coalesce(n.supplier, s.supplier) AS supplier, n.job_id, n.serial_number,
                   n.component_code, n.lot_number, n.description, n.closed_at IS NULL AS open
            FROM ncrs n
            LEFT JOIN units u ON u.serial_number = n.serial_number
            LEFT JOIN jobs j ON j.job_id = n.job_id
            LEFT JOIN lot_supplier s ON s.component_code = n.component_code
                                    AND s.lot_number = n.lot_number
        )
        SELECT * FROM n WHERE {_IN_WINDOW.format(col="raised_at", product="product_code")}
        ORDER BY raised_at, ncr_id""", where.params()).pl()
    return frame.cast(NCR_SCHEMA)  # type: ignore[arg-type]


def ncr_counts(ncr_frame: pl.DataFrame, by: Dimension, period: Period = "week") -> pl.DataFrame:
    """NCRs raised per week (from Monday) or month, split by one dimension (``period`` is a date)."""
    every = "1w" if period == "week" else "1mo"
    return (ncr_frame
            .with_columns(pl.col("raised_at").dt.truncate(every).dt.date().alias("period"),
                          pl.col(by).fill_null("(not given)"))
            .group_by("period", by).agg(pl.len().cast(pl.Int64).alias("ncrs"))
            .sort("period", "ncrs", by, descending=[False, True, False]))


def defect_pareto(ncr_frame: pl.DataFrame) -> pl.DataFrame:
    """Defect codes by NCR count, most first, with each one's share and the cumulative share."""
    total = max(ncr_frame.height, 1)
    return (ncr_frame.group_by("defect_code").agg(pl.len().cast(pl.Int64).alias("ncrs"))
            .sort(["ncrs", "defect_code"], descending=[True, False])
            .with_columns((pl.col("ncrs") / total).alias("share"))
            .with_columns(pl.col("share").cum_sum().alias("cumulative_share")))


def open_ncr_ageing(ncr_frame: pl.DataFrame, as_of: dt.datetime | None = None) -> pl.DataFrame:
    """Open NCRs, oldest first, with their age in days on ``as_of`` (default now) and age bucket."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    age = ((pl.lit(as_of, dtype=pl.Datetime("us", "UTC")) - pl.col("raised_at"))
           .dt.total_days().cast(pl.Int64).clip(lower_bound=0))
    bucket = pl.lit(AGE_BUCKETS[-1][0])
    for label, _first, last in reversed(AGE_BUCKETS[:-1]):
        bucket = pl.when(pl.col("age_days") <= last).then(pl.lit(label)).otherwise(bucket)
    return (ncr_frame.filter(pl.col("open"))
            .with_columns(age.alias("age_days"))
            .with_columns(bucket.alias("age_bucket"))
            .select("ncr_id", "raised_at", "age_days", "age_bucket", "defect_code", "disposition",
                    "product_code", "supplier", "job_id", "serial_number", "description")
            .sort("age_days", "ncr_id", descending=[True, False]))


def first_pass_yield(con: duckdb.DuckDBPyConnection, where: TrendFilter | None = None,
                     period: Period | None = None) -> pl.DataFrame:
    """First-pass yield per product and test step (and per week or month with ``period``)."""
    where = where or TrendFilter()
    by_period = (f"date_trunc('{period}', first_tested_at)::DATE AS period, "
                 if period else "")
    frame = con.execute(f"""
        WITH per_unit AS (
            SELECT coalesce(u.product_code, '(unknown unit)') AS product_code,
                   CASE WHEN u.serial_number IS NULL THEN 'device' ELSE {LEVEL} END AS level,
                   t.test_step, t.serial_number, min(t.tested_at) AS first_tested_at,
                   coalesce(bool_and(t.result = 'pass')
                            FILTER (WHERE coalesce(t.attempt, 1) = 1), false) AS first_pass
            FROM test_results t LEFT JOIN units u ON u.serial_number = t.serial_number
            GROUP BY ALL
        )
        SELECT {by_period}product_code, level, test_step, count(*) AS units_tested,
               count(*) FILTER (WHERE first_pass) AS first_pass,
               count(*) FILTER (WHERE first_pass) / count(*) AS fpy
        FROM per_unit
        WHERE {_IN_WINDOW.format(col="first_tested_at", product="product_code")}
        GROUP BY ALL ORDER BY ALL""", where.params()).pl()
    return frame


def rework(con: duckdb.DuckDBPyConnection, where: TrendFilter | None = None) -> pl.DataFrame:
    """Units built and reworked per product, with the rework rate."""
    where = where or TrendFilter()
    return con.execute(f"""
        WITH ops AS (
            SELECT serial_number, min(started_at) AS first_op,
                   max(n) > 1 AS repeated
            FROM (SELECT serial_number, job_id, op_seq, min(started_at) AS started_at,
                         count(*) AS n
                  FROM operations WHERE serial_number IS NOT NULL GROUP BY ALL)
            GROUP BY ALL
        ), ncr_rework AS (
            SELECT DISTINCT serial_number FROM ncrs
            WHERE disposition = 'rework' AND serial_number IS NOT NULL
        ), scope AS (
            SELECT u.product_code, {LEVEL} AS level, u.serial_number,
                   coalesce(o.first_op, u.built_at) AS started,
                   coalesce(o.repeated, false) OR r.serial_number IS NOT NULL AS reworked
            FROM units u LEFT JOIN ops o ON o.serial_number = u.serial_number
            LEFT JOIN ncr_rework r ON r.serial_number = u.serial_number
        )
        SELECT product_code, level, count(*) AS units,
               count(*) FILTER (WHERE reworked) AS reworked,
               count(*) FILTER (WHERE reworked) / count(*) AS rework_rate
        FROM scope
        WHERE {_IN_WINDOW.format(col="started", product="product_code")}
        GROUP BY ALL ORDER BY product_code""", where.params()).pl()


def summary(ncr_frame: pl.DataFrame, fpy: pl.DataFrame, reworked: pl.DataFrame) -> dict[str, Any]:
    """Headline figures: NCRs raised and open, first-pass yield and rework rate of finished
    devices, and the same two for sub-assemblies apart (``sub_assemblies``)."""

    def of(frame: pl.DataFrame, level: str, column: str) -> int:
        if not frame.height:
            return 0
        if "level" in frame.columns:
            frame = frame.filter(pl.col("level") == level)
        elif level != "device":
            return 0
        return int(frame[column].sum())

    tested, passed = of(fpy, "device", "units_tested"), of(fpy, "device", "first_pass")
    units, redone = of(reworked, "device", "units"), of(reworked, "device", "reworked")
    sub_tested, sub_passed = (of(fpy, "sub-assembly", "units_tested"),
                              of(fpy, "sub-assembly", "first_pass"))
    sub_units, sub_redone = (of(reworked, "sub-assembly", "units"),
                             of(reworked, "sub-assembly", "reworked"))
    closed = ncr_frame.filter(~pl.col("open"))
    days = (closed["closed_at"] - closed["raised_at"]).dt.total_hours() / 24 if closed.height \
        else None
    return {"ncrs": ncr_frame.height, "open_ncrs": int(ncr_frame["open"].sum()),
            "median_days_to_close": float(days.median()) if days is not None else None,  # type: ignore[arg-type]
            "first_pass_yield": passed / tested if tested else None,
            "unit_tests": tested, "rework_rate": redone / units if units else None,
            "units": units, "reworked": redone,
            "sub_assemblies": {"first_pass_yield": sub_passed / sub_tested if sub_tested else None,
                               "unit_tests": sub_tested, "units": sub_units,
                               "reworked": sub_redone,
                               "rework_rate": sub_redone / sub_units if sub_units else None}}


def bounds(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The first and last dates with NCRs or results, and the products, for the filters."""
    first, last = con.sql("""
        SELECT min(d)::DATE, max(d)::DATE FROM (
            SELECT raised_at AS d FROM ncrs UNION ALL SELECT tested_at FROM test_results
            UNION ALL SELECT started_at FROM operations)""").fetchone()  # type: ignore[misc]
    products = [r[0] for r in con.sql("SELECT product_code FROM products UNION "
                                      "SELECT DISTINCT product_code FROM units ORDER BY 1").fetchall()]
    return {"first": first, "last": last, "products": products}


def rework_over_time(con: duckdb.DuckDBPyConnection, where: TrendFilter | None = None,
                     period: Period = "week") -> pl.DataFrame:
    """Units started and reworked per week (from Monday) or month and product, with the rework
    rate (the same definition as :func:`rework`; ``period`` is the first day)."""
    if period not in ("week", "month"):
        raise ValueError(f"period must be week or month, not {period!r}")
    where = where or TrendFilter()
    return con.execute(f"""
        WITH ops AS (
            SELECT serial_number, min(started_at) AS first_op, max(n) > 1 AS repeated
            FROM (SELECT serial_number, job_id, op_seq, min(started_at) AS started_at,
                         count(*) AS n
                  FROM operations WHERE serial_number IS NOT NULL GROUP BY ALL)
            GROUP BY ALL
        ), ncr_rework AS (
            SELECT DISTINCT serial_number FROM ncrs
            WHERE disposition = 'rework' AND serial_number IS NOT NULL
        ), scope AS (
            SELECT u.product_code, u.serial_number, coalesce(o.first_op, u.built_at) AS started,
                   coalesce(o.repeated, false) OR r.serial_number IS NOT NULL AS reworked
            FROM units u LEFT JOIN ops o ON o.serial_number = u.serial_number
            LEFT JOIN ncr_rework r ON r.serial_number = u.serial_number
        )
        SELECT date_trunc('{period}', started)::DATE AS period, product_code,
               count(*) AS units, count(*) FILTER (WHERE reworked) AS reworked,
               count(*) FILTER (WHERE reworked) / count(*) AS rework_rate
        FROM scope
        WHERE started IS NOT NULL
          AND {_IN_WINDOW.format(col="started", product="product_code")}
        GROUP BY ALL ORDER BY period, product_code""", where.params()).pl()
