"""Ask the lake: read-only SQL over the published snapshot for auditors, with every table and its
columns documented, and the answer downloadable."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import asof_control, data, strings, ui

PAGE = "ask"
ROWS_SHOWN = 10_000


def catalog() -> None:
    """The tables, and the columns of the one picked."""
    tables = data.tables()
    st.markdown("**Tables**")
    families = tables["family"].unique(maintain_order=True).to_list()
    family = st.pills("Show", families, default="master" if "master" in families else None,
                      selection_mode="multi", key="ask_families",
                      label_visibility="collapsed") or families
    shown = tables.filter(pl.col("family").is_in(list(family)))
    ui.table(shown.drop("family"), key="tables_table", height=min(420, 38 + 35 * shown.height),
             config={"holds": st.column_config.TextColumn("holds", width="large")})
    name = st.selectbox("Columns of", tables["table"].to_list(), key="ask_columns_of",
                        index=tables["table"].to_list().index("units")
                        if "units" in tables["table"].to_list() else 0)
    described = data.columns(name)
    ui.table(described, key="columns_table", height=min(560, 38 + 35 * described.height),
             raw_headers=True,
             config={"description": st.column_config.TextColumn("what it holds", width="large")})


def _example() -> None:
    st.session_state[strings.SQL_KEY] = strings.SQL_EXAMPLE


def render() -> None:
    """The page."""
    data.ready_for_queries()  # the query's child starts while the user reads and types
    asof_control.control()
    ui.from_query(PAGE, {"sql": strings.SQL_KEY})
    left, right = st.columns([3, 2])
    with right:
        catalog()
    with left:
        st.caption("One `SELECT` at a time, on the published read-only snapshot: anything that "
                   "would write, attach or read files is refused. The tables answer to their "
                   "import-contract names; `history.<table>` holds superseded versions, "
                   "`quarantine` the rows that were not loaded. A query runs at most 30 s and within "
                   "1 GB of memory, in a process of its own.")
        with st.form("ask_form", border=False):
            sql = st.text_area(strings.SQL_LABEL, key=strings.SQL_KEY, height=200,
                               placeholder=strings.SQL_EXAMPLE)
            with st.container(horizontal=True):  # each button as wide as its label
                submitted = st.form_submit_button(strings.SQL_RUN, type="primary",
                                                  icon=":material/play_arrow:")
                st.form_submit_button("Example", on_click=_example)
        query = (sql or "").strip()
        if not query:
            # the example as plain text: a fenced code block would load the syntax
            # highlighter's bundle (1.5 MB of script) in every tab that opens this page
            ui.empty("Write a query, e.g. which units shipped to which customer (**Example** "
                     "puts it in the box):")
            st.text(strings.SQL_EXAMPLE)
            return
        if submitted:
            ui.to_query(PAGE, {"sql": query})
        try:
            with st.spinner("Running the query…"):
                result = data.run_query(query)
        except Exception as exc:  # shown under the query, where the eye is, not below the tables
            ui.show_error(exc)
            return
        st.markdown(strings.SQL_ROWS.format(n=f"{result.height:,}")
                    + (f" (the first {ROWS_SHOWN:,} shown; the downloads hold all)"
                       if result.height > ROWS_SHOWN else ""))
        ui.table(result.head(ROWS_SHOWN), key=strings.SQL_TABLE_KEY, tz=data.timezone(),
                 height=min(560, 38 + 35 * max(result.height, 1)), raw_headers=True)
        row = st.container(horizontal=True)
        row.download_button(strings.SQL_CSV, data=lambda: data.frame_csv(result),
                            file_name="tracelake-query.csv", mime="text/csv", on_click="ignore",
                            icon=":material/download:", key="ask_csv")
        row.download_button(strings.SQL_XLSX, data=lambda: data.frame_xlsx(result),
                            file_name="tracelake-query.xlsx", on_click="ignore",
                            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            icon=":material/download:", key="ask_xlsx")


render()
