"""SPC and capability: the capability of every measurement (worst Cpk first), an individuals and
moving-range chart of the one picked with its run-rule breaks, and the component lots that move
it. The same figures as ``tracelake spc`` and ``tracelake lot-effects``."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboards import charts, data, strings, ui
from dashboards.data import TrendFilter
from tracelake.derived.quality.spc import RULES

PAGE = "spc"
SEP = " · "
_APPLIED = "_spc_table_selection"


def filters() -> TrendFilter:
    """The window of test dates and the products."""
    bounds = data.trend_bounds()
    if bounds["first"] is None:
        return TrendFilter()
    a, b = st.columns([2, 3], vertical_alignment="bottom")
    window = a.date_input("Tested between", value=(bounds["first"], bounds["last"]),
                          key=strings.SPC_DATES_KEY, format="YYYY-MM-DD")
    products = b.multiselect("Products", bounds["products"], key=strings.SPC_PRODUCTS_KEY,
                             placeholder="All products")
    window = tuple(window) if isinstance(window, tuple | list) else (window,)
    start = window[0] if window else None
    end = window[1] if len(window) > 1 else start
    return TrendFilter(start, end, tuple(products))


def _name(row: dict[str, Any]) -> str:
    return SEP.join((row["product_code"], row["test_step"], row["measurement"]))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def capability(table: pl.DataFrame) -> list[str]:
    """The capability table (a row click opens its chart); returns the series names in order."""
    names = [_name(r) for r in table.iter_rows(named=True)]
    shown = table.select("product_code", "test_step", "measurement", "units", "n", "mean",
                         "lsl", "usl", "cpk", "cpk_low", "cpk_high", "cp", "ppk", "pp",
                         "failed")
    event = st.dataframe(
        shown, hide_index=True, key=strings.SPC_TABLE_KEY, on_select="rerun", placeholder="",
        selection_mode="single-row", height=min(420, 38 + 35 * shown.height),
        column_config={
            "product_code": "product", "test_step": "test step", "lsl": "LSL", "usl": "USL",
            "cpk": st.column_config.NumberColumn("Cpk", format="%.2f",
                                                 help="worst first; < 1.33 is not capable"),
            "cpk_low": st.column_config.NumberColumn("Cpk low (95 %)", format="%.2f"),
            "cpk_high": st.column_config.NumberColumn("Cpk high (95 %)", format="%.2f"),
            "cp": st.column_config.NumberColumn("Cp", format="%.2f"),
            "ppk": st.column_config.NumberColumn("Ppk", format="%.2f"),
            "pp": st.column_config.NumberColumn("Pp", format="%.2f"),
            "mean": st.column_config.NumberColumn("mean", format="%.4g"),
            "failed": "failed"})
    rows = list(event.selection.rows) if event and event.selection else []
    if rows != st.session_state.get(_APPLIED):
        st.session_state[_APPLIED] = rows
        if rows and rows[0] < len(names):
            st.session_state[strings.SPC_SERIES_KEY] = names[rows[0]]
    # the CSVs are made when clicked: a large lake's take seconds
    st.download_button(strings.SPC_CSV, lambda: data.frame_csv(table), file_name="capability.csv",
                       mime="text/csv", icon=":material/download:")
    return names


def one_chart(names: list[str], where: TrendFilter, tz: str) -> None:
    """The chart of the series picked, its capability and the lots that move it."""
    query = {p: st.query_params.get(p) for p in ("product", "step", "measurement")}
    linked = SEP.join(v for v in query.values() if v) if all(query.values()) else None
    marker = "_spc_applied_query"
    if linked != st.session_state.get(marker):
        st.session_state[marker] = linked
        if linked in names:
            st.session_state[strings.SPC_SERIES_KEY] = linked
    picked = st.selectbox(strings.SPC_SERIES_LABEL, names, key=strings.SPC_SERIES_KEY,
                          index=None, placeholder="Pick a measurement, or click a row above…")
    if picked is None:
        ui.empty("Pick a measurement (or click its row in the table) to see its I-MR chart.")
        return
    product, step, measurement = picked.split(SEP, 2)
    ui.to_query(PAGE, {"product": product, "step": step, "measurement": measurement})
    st.session_state[marker] = picked
    chart = data.spc_chart(product, step, measurement, where)
    cap, lim = chart.capability, chart.limits
    flagged = chart.points.filter(pl.col("rules").list.len() > 0)
    ui.metrics([("Points", f"{chart.points.height:,}"),
                ("Cpk", _fmt(cap["cpk"]), f"95 % interval {_fmt(cap['cpk_low'])} … "
                                          f"{_fmt(cap['cpk_high'])} (Bissell)"),
                ("Cp", _fmt(cap["cp"]), f"95 % interval {_fmt(cap['cp_low'])} … "
                                        f"{_fmt(cap['cp_high'])} (chi-square)"),
                ("Ppk", _fmt(cap["ppk"]), f"95 % interval {_fmt(cap['ppk_low'])} … "
                                          f"{_fmt(cap['ppk_high'])}"),
                ("Run-rule breaks", f"{flagged.height:,}", "points completing a Nelson rule")])
    st.plotly_chart(charts.imr_chart(chart.points, lim, f"{picked}: individuals and moving "
                                                        "range", chart.units),
                    key="chart_imr")
    st.caption(f"Centre {lim['mean']:.5g}; control limits mean ± 2.66·MR̄ = "
               f"{_fmt(lim['lcl'], 4)} … {_fmt(lim['ucl'], 4)}; UCL(MR) = 3.267·MR̄ = "
               f"{_fmt(lim['ucl_mr'], 4)}; specification {lim['lsl']} … {lim['usl']} "
               f"(from the results). σ within = MR̄/1.128 = {_fmt(lim['sigma_within'], 5)}.")
    if flagged.height:
        box = ui.lazy_expander(f"Points breaking a run rule ({flagged.height:,})",
                               strings.SPC_FLAGGED_KEY)
        if box is not None:
            with box:
                used = sorted({r for rs in flagged["rules"].to_list() for r in rs})
                st.markdown("  \n".join(f"**{r}**: {RULES[r]}" for r in used))
                ui.table(flagged.with_columns(pl.col("rules").list.eval(
                    pl.element().cast(pl.String)).list.join(" ")), key="spc_flagged", tz=tz,
                    links={"serial_number": ("device", "serial")},
                    labels={"serial_number": "serial", "mr": "moving range"})
    points = chart.points.lazy().with_columns(
        pl.col("rules").list.eval(pl.element().cast(pl.String)).list.join(" "))
    st.download_button(strings.SPC_POINTS_CSV, lambda: data.frame_csv(points.collect()),
                       file_name=f"spc-{product}-{step}-{measurement}.csv", mime="text/csv",
                       icon=":material/download:")
    if st.toggle(strings.SPC_LOT_EFFECTS, key=strings.SPC_LOT_EFFECTS_KEY,
                 help="Group the units' results by each component lot in their genealogy "
                      "and flag the lots that differ from their component's other lots"):
        lot_effects(product, step, measurement, where, chart.units)


def lot_effects(product: str, step: str, measurement: str, where: TrendFilter,
                units: str | None) -> None:
    """The component lots whose units read differently on this measurement."""
    with st.spinner("Comparing every component lot in the units' genealogy…"):
        answer = data.lot_effects(product, step, measurement, where)
    st.markdown(f"**{len(answer.flagged)}** of {answer.lots_compared:,} lots compared move "
                f"{measurement} ({answer.units:,} units; Welch t-test, Holm-adjusted, "
                f"|Hedges g| ≥ 0.5).")
    if not answer.flagged:
        ui.empty(strings.SPC_NO_LOT_EFFECT)
        return
    frame = pl.DataFrame(answer.flagged).with_columns(
        (pl.lit("./") + pl.col("link")).alias("link"))
    ui.table(frame.select("component_code", "lot_number", "supplier", "units", "shift",
                          "hedges_g", "p_adjusted", "mean", "mean_others", "link"),
             key="spc_lot_effects_table",
             labels={"component_code": "component", "lot_number": "lot", "hedges_g": "Hedges g",
                     "p_adjusted": "adjusted p", "mean_others": "mean of other lots"},
             config={"shift": st.column_config.NumberColumn(f"shift ({units or 'units'})",
                                                            format="%.4g"),
                     "hedges_g": st.column_config.NumberColumn("Hedges g", format="%.2f"),
                     "p_adjusted": st.column_config.NumberColumn("adjusted p", format="%.2e"),
                     "link": st.column_config.LinkColumn(
                         "recall", display_text=r"\./(.*)",
                         help="opens the recall page for the lot")})
    top = answer.flagged[0]["component_code"]
    st.plotly_chart(charts.lot_effect_chart(answer.lots, top, units), key="chart_lot_effect")


def render() -> None:
    """The page."""
    where = filters()
    tz = data.timezone()
    with st.spinner("Working out control limits and capability…"):
        table = data.capability_table(where)
    if not table.height:
        ui.empty(strings.SPC_NO_RESULTS)
        return
    capable = table.filter(pl.col("cpk") >= 1.33).height
    rated = table.filter(pl.col("cpk").is_not_null()).height
    ui.metrics([("Measurements", f"{table.height:,}"),
                ("Capable (Cpk ≥ 1.33)", f"{capable:,} of {rated:,}"),
                ("Worst Cpk", _fmt(table["cpk"].drop_nulls().min()),  # type: ignore[arg-type]
                 _name(table.row(0, named=True)) if rated else None)])
    st.subheader("Capability, worst first")
    names = capability(table)
    st.subheader("Control chart")
    one_chart(names, where, tz)


render()
