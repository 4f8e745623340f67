"""Recall / where-used: pick a lot (or a supplier's lots) and see every unit that contains it."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboards import asof_control, charts, data, strings, ui
from dashboards.strings import (
    COMPONENT_KEY,
    INCLUDE_REMOVED_KEY,
    ISSUED_KEY,
    LOT_KEY,
    RECALL_MODE_KEY,
    SUPPLIER_KEY,
)
from tracelake.derived.genealogy.trace import WhereUsed

PAGE = "recall"


def _clear_lot() -> None:
    st.session_state.pop(LOT_KEY, None)
    st.session_state.pop(SUPPLIER_KEY, None)


def pick(lots: pl.DataFrame) -> tuple[str | None, str | None, str | None]:
    """The component and lot (or supplier) the user picked."""
    components = lots["component_code"].unique().sort().to_list()
    by_component = {c: lots.filter(pl.col("component_code") == c) for c in components}
    if "supplier" in st.query_params and "lot" not in st.query_params:
        st.session_state.setdefault(RECALL_MODE_KEY, strings.RECALL_MODE_SUPPLIER)
    ui.from_query(PAGE, {"component": COMPONENT_KEY, "lot": LOT_KEY, "supplier": SUPPLIER_KEY},
                  valid={"component": lambda c: c in by_component,
                         "lot": lambda lot: any(lot in f["lot_number"].to_list()
                                                for f in by_component.values())})
    mode = st.segmented_control("Trace", [strings.RECALL_MODE_LOT, strings.RECALL_MODE_SUPPLIER],
                                key=RECALL_MODE_KEY, default=strings.RECALL_MODE_LOT,
                                label_visibility="collapsed") or strings.RECALL_MODE_LOT
    left, middle, right = st.columns([2, 3, 2], vertical_alignment="bottom")
    component = left.selectbox(strings.COMPONENT_LABEL, components, index=None, key=COMPONENT_KEY,
                               placeholder="Type to search components…", on_change=_clear_lot)
    lot = supplier = None
    if mode == strings.RECALL_MODE_LOT:
        options = by_component[component] if component in by_component else lots.head(0)
        described = {r["lot_number"]: r for r in options.iter_rows(named=True)}
        if st.session_state.get(LOT_KEY) not in described:
            st.session_state.pop(LOT_KEY, None)
        lot = middle.selectbox(
            strings.LOT_LABEL, list(described), index=None, key=LOT_KEY,
            placeholder="Pick a component first" if component is None else "Type to search lots…",
            format_func=lambda n: _describe_lot(described[n]), disabled=component is None)
    else:
        options = data.suppliers(component) if component else []
        if st.session_state.get(SUPPLIER_KEY) not in options:
            st.session_state.pop(SUPPLIER_KEY, None)
        supplier = middle.selectbox(strings.SUPPLIER_LABEL, options, index=None, key=SUPPLIER_KEY,
                                    placeholder="Pick a component first" if component is None
                                    else "Pick a supplier…", disabled=component is None)
        right.date_input("Issued between", value=(), key=ISSUED_KEY, format="YYYY-MM-DD",
                         help="Leave empty for every lot ever issued from this supplier.")
    st.toggle(strings.INCLUDE_REMOVED_LABEL, key=INCLUDE_REMOVED_KEY,
              help="Also list units the part was fitted to and later removed from in rework.")
    ui.to_query(PAGE, {"component": component, "lot": lot, "supplier": supplier})
    return component, lot, supplier


def _describe_lot(row: dict[str, object]) -> str:
    parts = [str(row["lot_number"])]
    if row.get("supplier"):
        parts.append(str(row["supplier"]))
    if isinstance(row.get("first_issued_at"), dt.datetime):
        parts.append(f"issued {row['first_issued_at']:%Y-%m-%d}")  # type: ignore[str-format]
    return " · ".join(parts)


def moves(component: str, lot: str) -> None:
    """What this lot moves: the measurements on which its units read differently from the units
    holding the component's other lots, each opening its SPC chart."""
    if not st.toggle(strings.LOT_MOVES, key=strings.LOT_MOVES_KEY,
                     help="Compare, on every measurement, the units holding this lot (at any "
                          "depth of their genealogy) with the units holding another lot of "
                          f"{component}"):
        return
    with st.spinner("Comparing this lot's units with the other lots' on every measurement…"):
        answer = data.lot_moves(component, lot)
    st.markdown(f"**{len(answer.flagged)}** of {answer.series_compared:,} measurements compared "
                f"move with lot **{ui.esc(lot)}** (Welch t-test, Holm-adjusted, |Hedges g| ≥ 0.5). "
                "A lot used together with a shifted one reads shifted too: the SPC page's "
                "lot effects take the lots one at a time.")
    if not answer.flagged:
        ui.empty(strings.LOT_MOVES_NONE)
        return
    frame = pl.DataFrame(answer.flagged).with_columns((pl.lit("./") + pl.col("link")).alias("link"))
    ui.table(frame.select("product_code", "test_step", "measurement", "n", "n_rest", "mean",
                          "mean_rest", "shift", "hedges_g", "p_adjusted", "link"),
             key="recall_lot_moves_table",
             labels={"product_code": "product", "test_step": "test step", "n": "units of this lot",
                     "n_rest": "units of other lots", "mean_rest": "mean of other lots",
                     "hedges_g": "Hedges g", "p_adjusted": "adjusted p"},
             config={"shift": st.column_config.NumberColumn("shift", format="%.4g"),
                     "hedges_g": st.column_config.NumberColumn("Hedges g", format="%.2f"),
                     "p_adjusted": st.column_config.NumberColumn("adjusted p", format="%.2e"),
                     "link": st.column_config.LinkColumn(
                         "SPC", display_text="open chart", help="opens the measurement's SPC chart")})


def chart(answer: WhereUsed) -> None:
    """One chart per view (the genealogy at first; units by status or by customer a click
    away): each Plotly chart drawn costs the browser, the first one most."""
    names = strings.RECALL_CHARTS
    picked = st.segmented_control(strings.RECALL_CHART_LABEL, names, key=strings.RECALL_CHART_KEY,
                                  default=names[0], label_visibility="collapsed") or names[0]
    summary = answer.summary
    if picked == names[1]:
        figure = charts.counts_bar(summary["by_status"], names[1])
    elif picked == names[2]:
        figure = charts.counts_bar(summary["by_customer"], names[2], horizontal=True,
                                   coloured=False)
    else:
        figure = charts.genealogy_sankey(answer.affected, names[0])
    st.plotly_chart(figure, key="chart_recall", config={"displaylogo": False})


def render() -> None:
    """The page."""
    asof_control.control()
    lots = data.lots()
    if not lots.height:
        ui.empty("The lake has no lots yet: ingest `material_issues` and `unit_components` exports "
                 "with `tracelake ingest`.")
        return
    component, lot, supplier = pick(lots)
    include_removed = bool(st.session_state.get(INCLUDE_REMOVED_KEY))
    if component is None or (lot is None and supplier is None):
        ui.empty(strings.RECALL_PICK)
        return
    with st.spinner("Tracing through every level of assembly…"):
        if lot is not None:
            answer = data.trace_lot(component, lot, include_removed)
        else:
            window = tuple(st.session_state.get(ISSUED_KEY) or ())
            answer = data.trace_supplier(component, supplier,
                                         window[0] if len(window) > 0 else None,
                                         window[1] + dt.timedelta(days=1) if len(window) > 1
                                         else None, include_removed)
    if answer.message:
        st.warning(ui.esc(answer.message))
    if not answer.affected:
        if not answer.message:
            ui.empty(strings.RECALL_NOTHING)
        return
    tz = data.timezone()
    summary = answer.summary
    ui.metrics([(strings.RECALL_UNITS, f"{summary['units']:,}", "top-level units holding it now"),
                (strings.RECALL_SHIPPED, f"{summary['shipped']:,}"),
                (strings.RECALL_CUSTOMERS, f"{summary['customers']:,}"),
                (strings.RECALL_IN_HOUSE, f"{summary['units'] - summary['shipped']:,}"),
                ("Removed in rework", f"{len(answer.removed):,}",
                 "units the part was fitted to and later removed from")])
    if answer.query.get("lots"):
        st.caption(f"Lots traced: {ui.esc(', '.join(answer.query['lots']))}")
    chart(answer)
    frame = data.recall_table(answer)
    if not include_removed:
        frame = frame.drop("removed", "removal_ncr_id")
    st.subheader(f"Recall list · {frame.height:,} units")
    ui.table(frame.drop("traced"), key=strings.RECALL_TABLE_KEY, tz=tz, status=["status"],
             links={"serial_number": ("device", "serial"), "job_id": ("batch", "job")},
             labels={"serial_number": "serial", "order_ref": "order", "job_id": "job",
                     "removal_ncr_id": "removed under"},
             height=min(600, 38 + 35 * frame.height))
    name = f"recall-{component}-{lot or supplier}".replace(" ", "_").replace("/", "_")
    as_of = data.as_of_here()  # the download runs outside the page: it takes the point along
    row = st.container(horizontal=True)  # each button as wide as its label: they differ at the end
    row.download_button(strings.RECALL_CSV, data=lambda: data.recall_csv(answer),
                        file_name=f"{name}.csv", mime="text/csv", on_click="ignore",
                        icon=":material/download:", key="recall_csv")
    row.download_button(strings.RECALL_XLSX, data=lambda: data.recall_xlsx(answer),
                        file_name=f"{name}.xlsx", on_click="ignore", icon=":material/download:",
                        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        key="recall_xlsx")
    row.download_button(strings.RECALL_EPCIS, data=lambda: data.recall_epcis(answer, as_of),
                        file_name=f"{name}.jsonld", mime="application/ld+json", on_click="ignore",
                        icon=":material/download:", key="recall_epcis")
    if answer.removed and (box := ui.lazy_expander(f"Removed in rework ({len(answer.removed)})",
                                                   strings.RECALL_REMOVED_KEY)) is not None:
        with box:
            ui.table(pl.DataFrame(answer.removed), tz=tz,
                     links={"serial_number": ("device", "serial")},
                     labels={"serial_number": "removed from", "removal_ncr_id": "NCR"})
    if lot is not None:
        moves(component, lot)


render()
