"""Data quality: each ingest run, its files, the quarantined rows with the rule they broke, orphan
references, and the lineage of any lake row back to its file and row number."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import data, strings, ui
from tracelake.contracts import CONTRACTS

PAGE = "data-quality"


def overview() -> None:
    """Headline figures."""
    h = data.dq_health()
    files = h["files"]
    ui.metrics([("Ingest runs", f"{h['runs']:,}"), ("Rows loaded", f"{h['rows_loaded']:,}"),
                ("Rows quarantined", f"{h['rows_quarantined']:,}", "read but not loaded: see why "
                                                                  "below"),
                ("Files rejected", f"{h['rejected_files']:,}",
                 "unreadable as a whole (and never loaded since)"),
                ("Orphan references", f"{h['orphan_references']:,}",
                 f"{h['orphan_values']:,} unknown jobs, serials, lots or equipment"),
                ("Files", f"{files['loaded']:,} loaded", f"{files['duplicate']:,} duplicate, "
                                                         f"{files['unrecognised']:,} unrecognised")])


def runs_and_files(tz: str) -> str | None:
    """The runs, and the files of the one picked; returns the run id (None for all runs)."""
    st.subheader("Ingest runs")
    runs = data.dq_runs()
    if not runs.height:
        ui.empty("No ingest run yet: load plant exports with `tracelake ingest PATH`.")
        return None
    ui.table(runs, key="runs_table", tz=tz, status=["status"],
             labels={"run_id": "run", "rows_read": "rows read", "rows_loaded": "rows loaded",
                     "rows_quarantined": "rows quarantined"},
             height=min(300, 38 + 35 * runs.height))
    options = [strings.DQ_ALL_RUNS, *runs["run_id"].to_list()]
    run = st.selectbox("Files and quarantine of", options, key=strings.DQ_RUN_KEY)
    run_id = None if run == strings.DQ_ALL_RUNS else run
    files = data.dq_files(run_id)
    st.markdown(f"**Files** ({files.height:,})")
    ui.table(files.drop("path", "sha256"), key="files_table", tz=tz, status=["status"],
             labels={"run_id": "run", "file_name": "file", "table_name": "table",
                     "rows_read": "read", "rows_loaded": "loaded",
                     "rows_quarantined": "quarantined", "rows_inserted": "new",
                     "rows_updated": "updated", "rows_unchanged": "unchanged",
                     "extra_columns": "extra columns"},
             height=min(420, 38 + 35 * files.height))
    return run_id


def quarantine(run_id: str | None, tz: str) -> None:
    """Quarantined rows by rule, and each row with its values."""
    st.subheader("Quarantined rows")
    rules = data.dq_rules(run_id)
    if not rules.height:
        ui.empty(strings.DQ_NO_QUARANTINE)
        return
    tables = sorted(rules["table_name"].unique().to_list())
    ui.from_query(PAGE, {"table": strings.DQ_TABLE_KEY},
                  valid={"table": lambda t: t in tables})
    left, right = st.columns([1, 2])
    with left:
        ui.table(rules, key="rules_table", labels={"table_name": "table"})
    with right:
        table = st.selectbox("Table", tables, index=None, key=strings.DQ_TABLE_KEY,
                             placeholder="All tables")
        rows = data.dq_quarantined(run_id, table)
        focus = _focus(rows)
        ui.table(rows, key="quarantine_table", tz=tz,
                 labels={"table_name": "table", "source_file": "file", "row_number": "row",
                         "raw_values": "values as read"},
                 height=min(420, 38 + 35 * rows.height))
    if focus is not None:
        st.markdown(f"**{ui.esc(ui.file_name(focus['source_file']))}, row "
                    f"{focus['row_number']}** ({ui.esc(focus['table_name'])}): "
                    f"{ui.esc(focus['messages'])}")
        st.json(focus["raw_values"], expanded=True)


def _focus(rows: pl.DataFrame) -> dict[str, object] | None:
    """The quarantined row a link pointed at (``?file=…&row=…``), if it is in the list."""
    file, row = st.query_params.get("file"), st.query_params.get("row")
    if not file or not row or not row.isdigit():
        return None
    named = (pl.col("source_file") == file) | pl.col("source_file").str.ends_with(f"/{file}")
    hit = rows.filter(named & (pl.col("row_number") == int(row)))
    return hit.row(0, named=True) if hit.height else None


def orphans(tz: str) -> None:
    """References to records the lake does not know."""
    st.subheader("Orphan references")
    frame = data.dq_orphans()
    if not frame.height:
        ui.empty(strings.DQ_NO_ORPHANS)
        return
    st.caption("Loaded rows naming a job, serial, lot or equipment the lake does not know. They "
               "stay loaded; the finding goes once the missing record arrives.")
    ui.table(frame, key="orphans_table", tz=tz,
             labels={"referenced_table": "should be in", "table_name": "named in",
                     "column_names": "column", "job_id": "job", "serial_number": "serial",
                     "source_file": "file", "row_number": "row", "run_id": "run"},
             height=min(420, 38 + 35 * frame.height))


def lineage(tz: str) -> None:
    """Any lake row back to its file and row number."""
    st.subheader("Lineage: where a row came from")
    tables = list(CONTRACTS)
    ui.from_query(PAGE, {"of": strings.DQ_LINEAGE_TABLE_KEY,
                         "column": strings.DQ_LINEAGE_COLUMN_KEY,
                         "value": strings.DQ_LINEAGE_VALUE_KEY},
                  valid={"of": lambda t: t in CONTRACTS})
    a, b, c = st.columns([1, 1, 2], vertical_alignment="bottom")
    table = a.selectbox("Table", tables, key=strings.DQ_LINEAGE_TABLE_KEY,
                        index=tables.index("units"))
    contract = CONTRACTS[table]
    columns = [*contract.natural_key, *(c for c in contract.dtypes if c not in
                                        contract.natural_key)]
    if st.session_state.get(strings.DQ_LINEAGE_COLUMN_KEY) not in columns:
        st.session_state.pop(strings.DQ_LINEAGE_COLUMN_KEY, None)
    column = b.selectbox("Column", columns, key=strings.DQ_LINEAGE_COLUMN_KEY)
    value = c.text_input("Value", key=strings.DQ_LINEAGE_VALUE_KEY,
                         placeholder="e.g. SPX200-0004").strip()
    if not value:
        st.caption("Pick a table and a column, and type a value: every row holding it is listed "
                   "with the file, row number and run it was loaded from, and any earlier "
                   "versions a later file replaced.")
        return
    answer = data.dq_lineage(table, column, value)
    if not answer.current.height and not answer.superseded.height:
        ui.empty(strings.DQ_LINEAGE_NONE.format(table=table, column=column,
                                                value=ui.esc(repr(value))))
        return
    ui.table(answer.sources, key="lineage_sources", tz=tz, status=["version"],
             labels={"source_file": "file", "row": "row in file", "run_id": "run",
                     "loaded_at": "loaded"})
    with st.expander(f"The rows themselves ({answer.current.height} current, "
                     f"{answer.superseded.height} superseded)"):
        ui.table(answer.current, key="lineage_current", tz=tz)
        if answer.superseded.height:
            ui.table(answer.superseded, key="lineage_superseded", tz=tz)


def render() -> None:
    """The page."""
    tz = data.timezone()
    overview()
    run_id = runs_and_files(tz)
    quarantine(run_id, tz)
    orphans(tz)
    lineage(tz)


render()
