"""NCR and yield trends, for managers: NCRs over time, the Pareto of defects, first-pass yield, rework
and the ageing of open NCRs, for a window of dates and a choice of products."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import streamlit as st

from dashboards import charts, data, strings, ui
from dashboards.data import (
    AGE_BUCKETS,
    TrendFilter,
    defect_pareto,
    ncr_counts,
    open_ncr_ageing,
    trend_summary,
)

PAGE = "trends"
DIMENSIONS = {"defect code": "defect_code", "product": "product_code", "supplier": "supplier",
              "disposition": "disposition"}


def filters() -> tuple[TrendFilter, str, str]:
    """The window, products, period and split the manager picked."""
    bounds = data.trend_bounds()
    if bounds["first"] is None:
        return TrendFilter(), "week", "defect_code"
    ui.from_query(PAGE, {"product": strings.TREND_PRODUCTS_KEY},
                  valid={"product": lambda p: p in bounds["products"]})
    if isinstance(st.session_state.get(strings.TREND_PRODUCTS_KEY), str):
        st.session_state[strings.TREND_PRODUCTS_KEY] = [st.session_state[strings.TREND_PRODUCTS_KEY]]
    a, b, c, d = st.columns([2, 3, 1, 2], vertical_alignment="bottom")
    window = a.date_input("Dates", value=(bounds["first"], bounds["last"]),
                          key=strings.TREND_DATES_KEY, format="YYYY-MM-DD",
                          help="NCRs by the day they were raised, results by the day of test.")
    products = b.multiselect("Products", bounds["products"], key=strings.TREND_PRODUCTS_KEY,
                             placeholder="All products")
    period = c.segmented_control("Per", ["week", "month"], default="week",
                                 key=strings.TREND_PERIOD_KEY) or "week"
    by = d.selectbox("Split NCRs by", list(DIMENSIONS), key=strings.TREND_BY_KEY)
    window = tuple(window) if isinstance(window, tuple | list) else (window,)
    start = window[0] if window else None
    end = window[1] if len(window) > 1 else start
    ui.to_query(PAGE, {"product": products[0] if len(products) == 1 else None})
    return TrendFilter(start, end, tuple(products)), period, DIMENSIONS[by or "defect code"]


def chart(where: TrendFilter, period: str, by: str, ncrs: pl.DataFrame, fpy: pl.DataFrame,
          ageing: pl.DataFrame) -> None:
    """The one chart picked (NCRs over time at first): one Plotly chart drawn per view, the others
    a click away, so the page opens without drawing six."""
    names = strings.TREND_CHARTS
    picked = st.segmented_control(strings.TREND_CHART_LABEL, names, key=strings.TREND_CHART_KEY,
                                  default=names[0]) or names[0]
    def titled(figure: Any, title: str) -> Any:
        figure.update_layout(title={"text": title, "x": 0})
        return figure

    # each chart: its rows (fetched only when picked), what an empty window says, the figure
    views: list[tuple[Callable[[], pl.DataFrame], str, Callable[[pl.DataFrame], Any]]] = [
        (lambda: ncrs, strings.TREND_NO_NCRS,
         lambda f: charts.ncr_trend(ncr_counts(f, by, period), by, period)),  # type: ignore[arg-type]
        (lambda: ncrs, strings.TREND_NO_NCRS, lambda f: charts.pareto(defect_pareto(f))),
        (lambda: fpy, strings.TREND_NO_RESULTS,
         lambda f: titled(charts.fpy_chart(f), "First-pass yield by test step and product")),
        (lambda: data.yield_over_time(where, period), strings.TREND_NO_RESULTS,
         lambda f: charts.yield_trend(f, period)),
        (lambda: data.rework_over_time(where, period), strings.TREND_NO_RESULTS,
         lambda f: charts.rework_trend(f, period)),
        (lambda: ageing, "No open NCRs in this window.",
         lambda f: titled(charts.ageing_chart(f, [b[0] for b in AGE_BUCKETS]), "Open NCRs by age")),
    ]
    rows, empty, draw = views[names.index(picked)] if picked in names else views[-1]
    frame = rows()
    if not frame.height:
        ui.empty(empty)
        return
    figure = draw(frame)
    st.plotly_chart(figure, key="chart_trend", config={"displaylogo": False})


def render() -> None:
    """The page."""
    where, period, by = filters()
    with st.spinner("Counting NCRs and results…"):
        ncrs = data.ncrs(where)
        fpy = data.first_pass_yield(where, None)
        reworked = data.rework(where)
    tz = data.timezone()
    now = dt.datetime.now(dt.UTC)
    ageing = open_ncr_ageing(ncrs, now)
    figures = trend_summary(ncrs, fpy, reworked)
    days = figures["median_days_to_close"]
    ui.metrics([("NCRs raised", f"{figures['ncrs']:,}"),
                ("Open NCRs", f"{figures['open_ncrs']:,}", "not closed yet, whenever raised in "
                                                          "the window"),
                ("Median days to close", None if days is None else f"{days:.1f}"),
                ("First-pass yield", ui.percent(figures["first_pass_yield"]),
                 f"finished devices: {figures['unit_tests']:,} unit tests (unit × test step)"),
                ("Rework rate", ui.percent(figures["rework_rate"]),
                 f"{figures['reworked']:,} of {figures['units']:,} finished devices reworked")])
    subs = figures["sub_assemblies"]
    if subs["units"] or subs["unit_tests"]:
        sub_fpy = ui.percent(subs["first_pass_yield"]) or "—"
        st.caption(f"Sub-assemblies, apart: first-pass yield {sub_fpy} over "
                   f"{subs['unit_tests']:,} unit tests; {subs['reworked']:,} of "
                   f"{subs['units']:,} reworked ({ui.percent(subs['rework_rate']) or '—'}). "
                   "The headline figures are about finished devices only.")

    chart(where, period, by, ncrs, fpy, ageing)

    left, right = st.columns([3, 2])
    with left:
        st.subheader("First-pass yield")
        if not fpy.height:
            ui.empty(strings.TREND_NO_RESULTS)
        else:
            ui.table(fpy.sort("fpy", "product_code", "test_step"), key="fpy_table",
                     config={"fpy": st.column_config.ProgressColumn(
                         "first-pass yield", min_value=0, max_value=1, format="percent")},
                     labels={"product_code": "product", "test_step": "test step",
                             "units_tested": "units tested", "first_pass": "first pass",
                             "fpy": "first-pass yield"},
                     height=min(38 + 35 * fpy.height, 420))
    with right:
        st.subheader("Rework")
        ui.table(reworked, key="rework_table", status=["level"],
                 labels={"product_code": "product", "units": "units built",
                         "rework_rate": "rework rate"})
    st.subheader("Open NCRs by age")
    if ageing.height:
        ui.table(ageing, key="ageing_table", tz=tz, status=["disposition"],
                 links={"job_id": ("batch", "job"), "serial_number": ("device", "serial")},
                 labels={"ncr_id": "NCR", "age_days": "age (days)", "age_bucket": "age",
                         "job_id": "job", "serial_number": "serial", "product_code": "product"})
    else:
        ui.empty("No open NCRs in this window.")
    if ncrs.height and (box := ui.lazy_expander(f"All {ncrs.height:,} NCRs in the window",
                                                strings.TREND_ALL_NCRS_KEY)) is not None:
        with box:
            shown = ncrs.with_columns(pl.when(pl.col("open")).then(pl.lit("open"))
                                      .otherwise(pl.lit("closed")).alias("state")).drop("open")
            ui.table(shown, key="ncr_table", tz=tz, status=["disposition", "state"],
                     links={"job_id": ("batch", "job"), "serial_number": ("device", "serial")},
                     labels={"ncr_id": "NCR", "job_id": "job", "serial_number": "serial",
                             "product_code": "product"})


render()
