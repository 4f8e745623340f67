"""Calibration: equipment due and overdue, and out-of-tolerance findings with their impact on results,
units and customers (ISO 13485 7.6)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboards import asof_control, charts, data, strings, ui

PAGE = "calibration"


def register(tz: str) -> list[str]:
    """The register as it stands; returns the equipment ids."""
    due_within = st.session_state.get(strings.DUE_WITHIN_KEY, 30)
    status = data.equipment_status(int(due_within))
    if not status.height:
        ui.empty("No equipment in the lake yet: ingest the `equipment` list and the `calibrations` "
                 "register with `tracelake ingest`.")
        return []
    counts = status["status"].value_counts()
    count = dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True))
    ui.metrics([("Equipment", f"{status.height:,}"),
                ("Overdue", count.get("overdue", 0), "past the due date of the last calibration"),
                (f"Due within {due_within} days", count.get("due", 0)),
                ("Never calibrated", count.get("never", 0),
                 "used or registered, with no calibration record"),
                ("Out-of-tolerance findings", int(status["oot_events"].sum()))])
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.subheader("The register")
    right.number_input("Due within (days)", min_value=1, max_value=365, value=30, step=5,
                       key=strings.DUE_WITHIN_KEY)
    ui.table(status.drop("registered"), key="register_table", tz=tz,
             order=["equipment_id", "description", "status", "due_at", "days_to_due",
                    "last_calibrated_at", "certificate_no", "as_found", "as_left",
                    "last_used_at", "oot_events", "calibrations", "kind", "location", "lab"],
             status=["status", "as_found", "as_left"],
             labels={"equipment_id": "equipment", "last_calibrated_at": "last calibrated",
                     "certificate_no": "certificate", "as_found": "as found",
                     "as_left": "as left", "due_at": "due", "days_to_due": "days to due",
                     "oot_events": "OOT findings", "last_used_at": "last used"})
    # drawn only while open (a collapsed expander's chart would load Plotly at every open)
    box = st.expander(strings.CAL_HISTORY_LABEL, key=strings.CAL_HISTORY_KEY, on_change="rerun")
    if box.open:
        with box:
            history(tz)
    return status["equipment_id"].to_list()


def history(tz: str) -> None:
    """Every calibration of every piece of equipment: the timeline and the table."""
    frame = data.calibration_history(None)
    if not frame.height:
        ui.empty("No calibration recorded yet: ingest the `calibrations` register.")
        return
    st.plotly_chart(charts.calibration_timeline(frame, dt.datetime.now(dt.UTC),
                                                data.suspect_windows()),
                    key="chart_cal_timeline")
    ui.table(frame, key="history_table", tz=tz, status=["as_found", "as_left"],
             labels={"equipment_id": "equipment", "certificate_no": "certificate",
                     "as_found": "as found", "as_left": "as left", "due_at": "due"})


def findings_list(tz: str) -> pl.DataFrame:
    """Every out-of-tolerance finding."""
    st.subheader("Out-of-tolerance findings")
    events = data.oot_events()
    if not events.height:
        ui.empty(strings.OOT_NONE)
        return events
    ui.table(events, key="oot_table", tz=tz, status=["as_found", "as_left"],
             labels={"equipment_id": "equipment", "calibrated_at": "found at",
                     "certificate_no": "certificate", "as_found": "as found",
                     "as_left": "as left", "calibrated_by": "by"})
    return events


def one(ids: list[str], events: pl.DataFrame, tz: str) -> None:
    """One piece of equipment: its calibrations, uses out of calibration, and OOT impact."""
    st.subheader("One piece of equipment")
    found = events["equipment_id"].unique(maintain_order=True).to_list() if events.height else []
    options = [*found, *(i for i in ids if i not in found)]
    ui.from_query(PAGE, {"equipment": strings.EQUIPMENT_KEY},
                  valid={"equipment": lambda e: e in options})
    equipment = st.selectbox("Equipment", options, key=strings.EQUIPMENT_KEY, index=None,
                             placeholder="Pick equipment (those found out of tolerance first)…",
                             format_func=lambda e: _describe(events, e))
    ui.to_query(PAGE, {"equipment": equipment})
    if equipment is None:
        ui.empty("Pick a piece of equipment to see its calibrations, any use while overdue, and "
                 "for an out-of-tolerance finding every result taken since it was last known "
                 "good, with the units and customers they concern.")
        return
    history = data.calibration_history(equipment)
    late = data.uses_out_of_calibration(equipment)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Calibrations of {ui.esc(equipment)}** ({history.height})")
        ui.table(history.drop("equipment_id"), key="one_history", tz=tz,
                 status=["as_found", "as_left"],
                 labels={"certificate_no": "certificate", "as_found": "as found",
                         "as_left": "as left", "due_at": "due"})
    with right:
        st.markdown(f"**Results taken while overdue or uncalibrated** ({late.height})")
        if late.height:
            ui.table(late, key="one_late", tz=tz, status=["calibration_status"],
                     links={"serial_number": ("device", "serial")},
                     labels={"serial_number": "serial", "calibration_status": "calibration",
                             "certificate_no": "certificate in force"})
        else:
            st.caption("None: every result with it was taken within a calibration's validity.")
    if equipment in found:
        impact(equipment, tz)


def impact(equipment: str, tz: str) -> None:
    """The impact of the equipment's out-of-tolerance findings."""
    st.markdown(f"#### Impact of the out-of-tolerance finding(s) on {ui.esc(equipment)}")
    with st.spinner(f"Working out the impact of {ui.esc(equipment)}: every result since it was last "
                    "known good, and every unit holding a measured part…"):
        answer = data.oot_impact(equipment)
    if answer["message"]:
        st.info(ui.esc(answer["message"]))
    s = answer["summary"]
    ui.metrics([("Suspect results", f"{s['results']:,}"), ("Units", f"{s['units']:,}"),
                ("Jobs", f"{s['jobs']:,}"), ("Customers", f"{s['customers']:,}"),
                ("Used while overdue", f"{s['overdue_results']:,}",
                 "results taken with this equipment after its due date")])
    for w in answer["windows"].iter_rows(named=True):
        if w["kind"] == "left_out_of_tolerance":
            until = ui.local_times_value(w["to"], tz) if w["to"] else "its next calibration"
            st.markdown(f"Suspect window: **{ui.local_times_value(w['from'], tz)}** → "
                        f"**{until}** (found out of tolerance and not left in tolerance, "
                        f"certificate {ui.esc(w['certificate_no'])}: used before it was put "
                        "right)")
            continue
        since = ui.local_times_value(w["from"], tz) if w["from"] else "its first use"
        st.markdown(f"Suspect window: **{since}** → **{ui.local_times_value(w['to'], tz)}** "
                    f"(found out of tolerance, certificate {ui.esc(w['certificate_no'])})")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Units affected** (measured, or holding a measured part)")
        ui.table(answer["units"].drop("measured_directly"), key="impact_units", tz=tz,
                 status=["status"],
                 links={"serial_number": ("device", "serial"), "job_id": ("batch", "job")},
                 labels={"serial_number": "serial", "job_id": "job", "order_ref": "order",
                         "measured_serials": "measured"}, height=420)
    with right:
        st.markdown("**Customers**")
        if answer["customers"].height:
            st.plotly_chart(charts.counts_bar(
                dict(zip(answer["customers"]["customer"].to_list(),
                         answer["customers"]["units"].to_list(), strict=True)),
                "Units at each customer", horizontal=True, coloured=False), key="chart_impact")
        else:
            ui.empty("None of the affected units has shipped.")
    box = ui.lazy_expander(f"Suspect results ({answer['results'].height:,})",
                           strings.CAL_SUSPECT_RESULTS_KEY)
    if box is None:
        return
    with box:
        ui.table(answer["results"], key="impact_results", tz=tz, status=["result"],
                 links={"serial_number": ("device", "serial")},
                 labels={"serial_number": "serial", "test_step": "test step",
                         "tested_at": "tested", "low_limit": "low", "high_limit": "high"})


def _describe(events: pl.DataFrame, equipment: str) -> str:
    rows = events.filter(pl.col("equipment_id") == equipment) if events.height else events
    if not rows.height:
        return equipment
    return f"{equipment} · {rows['description'][0] or ''} · {rows.height} OOT finding(s)"


def render() -> None:
    """The page."""
    asof_control.control()
    tz = data.timezone()
    ids = register(tz)
    if ids:
        events = findings_list(tz)
        one(ids, events, tz)


render()
