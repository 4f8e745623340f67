"""Overview: what needs attention today (open NCRs, jobs blocked or waiting for review, equipment,
held lots still in house, the last ingest run), each item linking to the page that explains it.
The same answer as ``tracelake overview``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import streamlit as st

from dashboards import charts, data, strings, ui

PAGE = "overview"
OPEN = "open"


def _frame(items: list[dict[str, Any]], columns: Sequence[str]) -> pl.DataFrame:
    """Items as a table; ``link`` becomes a relative URL the link column opens."""
    rows = [{c: _cell(i.get(c)) if c != "link" else f"./{i['link']}" for c in columns}
            for i in items]
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(
        schema={c: pl.String for c in columns})
    return frame.select(columns)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{v} {k}" for k, v in value.items() if v)
    return value


def _link_column(label: str = OPEN) -> Any:
    return st.column_config.LinkColumn(label, display_text=r"\./(.*)",
                                       help="opens the page that explains it")


def ncrs(doc: dict[str, Any], tz: str) -> None:
    """Open NCRs by age and disposition."""
    section = doc["ncrs"]
    st.subheader(f"{strings.OVERVIEW_NCRS} ({section['open']})")
    if not section["open"]:
        st.caption(strings.OVERVIEW_ALL_CLEAR)
        return
    # the counts as text; their chart on demand (the first Plotly chart in a tab costs about a
    # second to draw, more than the rest of this page)
    st.caption("By age: " + " · ".join(f"{ui.esc(k)} **{v:,}**"
                                       for k, v in section["by_age"].items())
               + " — by disposition: " + " · ".join(
                   f"{ui.label(k)} **{v:,}**" for k, v in sorted(
                       section["by_disposition"].items(), key=lambda kv: (-kv[1], kv[0]))))
    box = st.expander(strings.OVERVIEW_NCR_CHART, key=strings.OVERVIEW_NCR_CHART_KEY,
                      on_change="rerun")
    if box.open:
        box.plotly_chart(ncr_chart(section), key="ov_chart_ncrs")
    ui.table(_frame(section["items"], ["ncr_id", "age_days", "age_bucket", "disposition",
                                       "defect_code", "product_code", "job_id",
                                       "serial_number", "supplier", "description", "link"]),
             key="ov_ncrs", tz=tz, status=["disposition"],
             links={"job_id": ("batch", "job"), "serial_number": ("device", "serial")},
             labels={"ncr_id": "NCR", "age_days": "age (days)", "age_bucket": "age",
                     "product_code": "product", "job_id": "job", "serial_number": "serial"},
             config={"link": _link_column()})
    st.page_link("app_pages/trends.py", label="NCR trends and ageing",
                 icon=":material/trending_up:")


def ncr_chart(section: dict[str, Any]) -> Any:
    """Open NCRs by age (left) and by disposition (right), in one figure."""
    from plotly.subplots import make_subplots

    ages = pl.DataFrame({"age_bucket": [i["age_bucket"] for i in section["items"]]})
    age = charts.ageing_chart(ages, list(section["by_age"]))
    by = charts.counts_bar(section["by_disposition"], "By disposition", horizontal=True)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("By age", "By disposition"),
                        horizontal_spacing=0.14)
    for trace in age.data:
        fig.add_trace(trace, row=1, col=1)
    for trace in by.data:
        fig.add_trace(trace, row=1, col=2)
    most = max([*section["by_age"].values(), *section["by_disposition"].values(), 0])
    fig.update_yaxes(title="open NCRs", rangemode="tozero", dtick=1 if most <= 8 else None,
                     row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    fig.update_xaxes(rangemode="tozero", dtick=1 if most <= 8 else None, row=1, col=2)
    fig = charts._layout(fig, None, height=260)
    fig.update_layout(showlegend=False)
    return fig


def jobs(doc: dict[str, Any]) -> None:
    """Jobs whose release is blocked or that wait for a review, with their findings."""
    section = doc["jobs"]
    st.subheader(f"{strings.OVERVIEW_JOBS} ({len(section['items'])})")
    if not section["items"]:
        st.caption(strings.OVERVIEW_ALL_CLEAR)
        return
    if not section["review_tables"]:
        st.caption("No review has been recorded in this lake yet: every major finding waits "
                   "for one.")
    items = [{**i, "finding": i["top_findings"][0]["message"] if i["top_findings"] else None,
              "state_tag": "on_hold" if i["state"] == "release blocked" else "pending"}
             for i in section["items"]]
    frame = _frame(items, ["job_id", "product_code", "state", "critical", "majors_waiting",
                           "findings", "finding", "link"])
    ui.table(frame, key="ov_jobs", links={"job_id": ("batch", "job")},
             labels={"job_id": "job", "product_code": "product", "majors_waiting":
                     "majors to review", "findings": "all findings", "finding": "first finding"},
             config={"link": _link_column(), "state": st.column_config.TextColumn("state")})


def equipment(doc: dict[str, Any], tz: str) -> None:
    """Equipment overdue, due soon, or found out of tolerance with results to assess."""
    section = doc["equipment"]
    st.subheader(f"{strings.OVERVIEW_EQUIPMENT} ({len(section['items'])})")
    if not section["items"]:
        st.caption(strings.OVERVIEW_ALL_CLEAR)
        return
    words = {"overdue": "overdue", "due": "due soon", "out_of_tolerance": "left out of tolerance",
             "never": "never calibrated", "suspect_results": "suspect results to assess"}
    items = [{**i, "reasons": [words.get(r, r) for r in i["reasons"]]} for i in section["items"]]
    frame = _frame(items, ["equipment_id", "description", "status", "reasons",
                                      "due_at", "days_to_due", "suspect_results",
                                      "suspect_units", "jobs_to_assess", "link"])
    ui.table(frame, key="ov_equipment", tz=tz, status=["status"],
             links={"equipment_id": ("calibration", "equipment")},
             labels={"equipment_id": "equipment", "due_at": "due", "days_to_due":
                     "days to due", "suspect_results": "suspect results",
                     "suspect_units": "units measured", "jobs_to_assess": "jobs to assess",
                     "reasons": "needs"},
             config={"link": _link_column()})


def lots(doc: dict[str, Any]) -> None:
    """Lots on hold or recalled that are in units still in house."""
    section = doc["lots"]
    st.subheader(f"{strings.OVERVIEW_LOTS} ({len(section['items'])})")
    if not section["available"]:
        st.caption(strings.OVERVIEW_NO_LOTS)
        return
    if not section["items"]:
        st.caption(strings.OVERVIEW_ALL_CLEAR)
        return
    ui.table(_frame(section["items"], ["component_code", "lot_number", "supplier",
                                       "inspection_status", "units_in_house", "serials",
                                       "link"]),
             key="ov_lots", status=["inspection_status"],
             labels={"component_code": "component", "lot_number": "lot",
                     "inspection_status": "status", "units_in_house": "units in house",
                     "serials": "some of them"},
             config={"link": _link_column("recall")})


def ingest(doc: dict[str, Any], tz: str) -> None:
    """The last run's quarantine and the orphan references."""
    section = doc["ingest"]
    run = section["last_run"]
    when = ui.local_times_value(run["finished_at"], tz) if run else "—"
    st.subheader(strings.OVERVIEW_INGEST)
    st.markdown(f"Run **{run['run_id'] if run else 'none'}** finished {when}: "
                f"**{section['rows_quarantined']:,}** row(s) quarantined, "
                f"**{section['orphan_references']:,}** orphan reference(s) in the lake.")
    left, right = st.columns(2)
    with left:
        if section["quarantine"]:
            ui.table(_frame(section["quarantine"], ["table", "rule", "rows", "link"]),
                     key="ov_quarantine", config={"link": _link_column()})
        else:
            st.caption(strings.DQ_NO_QUARANTINE)
    with right:
        if section["orphans"]:
            ui.table(_frame(section["orphans"], ["kind", "value", "referenced_table", "rows",
                                                 "rows_in_last_run", "link"]),
                     key="ov_orphans", config={"link": _link_column()})
        else:
            st.caption(strings.DQ_NO_ORPHANS)
    st.page_link("app_pages/data_quality.py", label="Data quality", icon=":material/fact_check:")


def render() -> None:
    """The page."""
    tz = data.timezone()
    with st.spinner("Looking for what needs attention…"):
        doc = data.overview(30)
    c = doc["counts"]
    ui.metrics([("Open NCRs", f"{c['open_ncrs']:,}"),
                ("Jobs blocked", f"{c['jobs_blocked']:,}", "a critical finding blocks release"),
                ("Waiting for review", f"{c['jobs_waiting_for_review']:,}",
                 "major findings without a disposition"),
                ("Equipment", f"{c['equipment']:,}",
                 "overdue, due within 30 days, or out of tolerance with results to assess"),
                ("Held lots in house", f"{c['lots_held_in_house']:,}"),
                ("Quarantined (last run)", f"{c['rows_quarantined_last_run']:,}")])
    ncrs(doc, tz)
    jobs(doc)
    equipment(doc, tz)
    lots(doc)
    ingest(doc, tz)


render()
