"""Batch record: a job's batch manufacturing record (BMR), its findings first: is release blocked or
clear, and why; then every section; and the BMR as PDF."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboards import asof_control, charts, data, review_panel, strings, ui
from tracelake.errors import RecordNotFound

PAGE = "batch"
SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2}


def pick() -> tuple[str | None, Any]:
    """The job picked (newest first), and the space beside the picker."""
    jobs = data.jobs()
    if not jobs.height:
        ui.empty("The lake has no jobs yet: ingest the MRP's `jobs` export with `tracelake ingest`.")
        return None, None
    ids = jobs["job_id"].to_list()
    described = {r["job_id"]: r for r in jobs.iter_rows(named=True)}
    ui.from_query(PAGE, {"job": strings.JOB_KEY}, valid={"job": lambda j: j in described})
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    job = left.selectbox(strings.JOB_LABEL, ids, index=None, key=strings.JOB_KEY,
                         placeholder="Type to search jobs…",
                         format_func=lambda j: f"{j} · {described[j]['product_code']} rev "
                                               f"{described[j]['mbr_revision']} · "
                                               f"{described[j]['quantity']} units · "
                                               f"{described[j]['status']}")
    ui.to_query(PAGE, {"job": job})
    if job is None:
        ui.empty(strings.BATCH_PICK)
    return job, right


def release(doc: dict[str, Any]) -> None:
    """The release gate, then the findings, worst first."""
    gate = doc["release"]
    counts = gate.get("counts") or {}
    summary = ", ".join(f"{n} {sev}" for sev, n in counts.items() if n) or "no findings"
    status = gate["status"]
    reasons = list(gate.get("reasons") or [])
    listed = "\n".join(f"- {ui.esc(r)}" for r in reasons[:5]) + (
        f"\n- … and {len(reasons) - 5} more (every finding is listed below)"
        if len(reasons) > 5 else "")
    if status == "release blocked":
        st.error(f"**{strings.BATCH_BLOCKED}** ({summary})\n\n{listed}", icon=":material/block:")
    elif gate.get("releasable"):
        title = "Released" if status == "released" else strings.BATCH_CLEAR
        st.success(f"**{title}**: no critical finding ({summary}).", icon=":material/verified:")
    else:
        st.warning(f"**{status.capitalize()}** ({summary})\n\n{listed}", icon=":material/pending:")
    items = sorted(doc["findings"], key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9),
                                                   f["rule"]))
    if items:
        ui.table(ui.frame(items, ["severity", "rule", "serial_number", "message", "record"]),
                 key="bmr_findings", status=["severity"],
                 links={"serial_number": ("device", "serial")},
                 labels={"serial_number": "serial"}, height=min(420, 38 + 35 * len(items)),
                 config={"message": st.column_config.TextColumn("message", width=760)})


def header(doc: dict[str, Any], tz: str) -> None:
    """Identifiers and quantities."""
    job, q = doc["job"], doc["quantities"]
    st.markdown(f"### {ui.esc(job['job_id'])} · "
                f"{ui.esc(job.get('product_description') or job['product_code'])}")
    st.markdown(f"product **{ui.esc(job['product_code'])}** · MBR rev "
                f"**{ui.esc(job['mbr_revision'])}** · drawing rev "
                f"**{ui.esc(job['drawing_revision'])}** · customer PO "
                f"{ui.esc(job.get('customer_po'))} · due {ui.esc(job.get('due_date'))} · created "
                f"{ui.local_times_value(job.get('created_at'), tz)}"
                + (f" · released {ui.local_times_value(job['released_at'], tz)} by "
                   f"{ui.esc(job.get('released_by'))}" if job.get("released_at") else ""))
    ui.metrics([("Made", q["made"], f"{q['planned']} planned"), ("Passed", q["passed"]),
                ("Released", q["released"]), ("Shipped", q["shipped"]),
                ("Scrapped", q["scrapped"]), ("Quarantined", q["quarantined"]),
                ("WIP", q["wip"], "work in progress")])


def sections(doc: dict[str, Any], tz: str) -> None:
    """Every section of the BMR, a tab each; only the open tab's content is made and drawn (its
    tables and its chart cost nothing until the tab is opened)."""
    names = ["Serials", "BOM", "Materials", "Operations", "Tests", "Equipment", "NCRs",
             "Firmware", "ECNs", "Sign-offs", "MBR routing"]
    tabs = dict(zip(names, st.tabs(names, key=strings.BATCH_TAB_KEY, on_change="rerun"),
                    strict=True))
    if tabs["Serials"].open:  # only the open tab runs (and draws)
        with tabs["Serials"]:
            serials = ui.frame(doc["serials"])
            if "page" in serials.columns and serials["page"].null_count() == serials.height:
                serials = serials.drop("page")
            if "findings" in serials.columns:
                serials = serials.with_columns(pl.col("findings").cast(pl.String))
            ui.table(serials, key="bmr_serials", tz=tz, status=["status", "label_result"],
                     links={"serial_number": ("device", "serial")},
                     labels={"serial_number": "serial", "label_result": "label",
                             "order_ref": "order", "page": "PDF page"})
    if tabs["BOM"].open:  # only the open tab runs (and draws)
        with tabs["BOM"]:
            bom = ui.frame(doc["bom"])
            mismatched = bom.filter(~pl.col("matches_mbr")).height if "matches_mbr" in bom.columns \
                else 0
            (st.warning if mismatched else st.success)(
                f"{mismatched} BOM line(s) differ from the MBR" if mismatched
                else "The BOM as released matches the MBR's BOM.")
            ui.table(bom, key="bmr_bom", labels={"mbr_component_code": "MBR component",
                                                 "mbr_component_revision": "MBR revision",
                                                 "mbr_qty_per": "MBR qty per",
                                                 "matches_mbr": "matches MBR"})
    if tabs["Materials"].open:  # only the open tab runs (and draws)
        with tabs["Materials"]:
            ui.table(ui.frame(doc["materials"]), key="bmr_materials", tz=tz,
                     links={"lot_number": ("recall", "lot")})
            if doc["serialised_parts"]:
                st.markdown("**Serialised parts fitted**")
                ui.table(ui.frame(doc["serialised_parts"]), key="bmr_parts", tz=tz,
                         links={"serial_number": ("device", "serial")})
    if tabs["Operations"].open:  # only the open tab runs (and draws)
        with tabs["Operations"]:
            ops = ui.frame(doc["operations"])
            if ops.height:
                st.plotly_chart(charts.operations_timeline(ui.local_times(ops, tz)),
                                key="chart_bmr_ops")
            ui.table(ops, key="bmr_operations", tz=tz, status=["result"],
                     links={"serial_number": ("device", "serial")},
                     labels={"op_seq": "op", "op_code": "step", "serial_number": "serial"})
    if tabs["Tests"].open:  # only the open tab runs (and draws)
        with tabs["Tests"]:
            tests = ui.frame(doc["tests"])
            if tests.height:
                passed = tests.filter(pl.col("result") == "pass").height
                st.caption(f"{tests.height} results, {passed} pass, {tests.height - passed} fail")
            ui.table(tests, key="bmr_tests", tz=tz, status=["result", "calibration_status"],
                     links={"serial_number": ("device", "serial")},
                     labels={"serial_number": "serial", "low_limit": "low", "high_limit": "high"})
    if tabs["Equipment"].open:  # only the open tab runs (and draws)
        with tabs["Equipment"]:
            ui.table(ui.frame(doc["equipment"]), key="bmr_equipment", tz=tz, status=["status"],
                     links={"equipment_id": ("calibration", "equipment")},
                     labels={"equipment_id": "equipment", "found_oot_by": "found OOT by",
                             "found_oot_at": "found OOT at", "status": "calibration at use",
                             "suspect_from": "suspect since", "suspect_reason": "why suspect"})
    if tabs["NCRs"].open:  # only the open tab runs (and draws)
        with tabs["NCRs"]:
            if not doc["ncrs"]:
                ui.empty("No NCRs on this job.")
            else:
                ui.table(ui.frame(doc["ncrs"]), key="bmr_ncrs", tz=tz, status=["disposition"],
                         links={"serial_number": ("device", "serial")})
    if tabs["Firmware"].open:  # only the open tab runs (and draws)
        with tabs["Firmware"]:
            firmware = ui.frame(doc["firmware"])
            if "serials" in firmware.columns:
                firmware = firmware.drop("serials")
            ui.table(firmware, key="bmr_firmware")
    if tabs["ECNs"].open:  # only the open tab runs (and draws)
        with tabs["ECNs"]:
            if doc["ecns"]:
                ui.table(ui.frame(doc["ecns"]), key="bmr_ecns", tz=tz)
            else:
                ui.empty("No ECN applied to this job.")
    if tabs["Sign-offs"].open:  # only the open tab runs (and draws)
        with tabs["Sign-offs"]:
            ui.table(ui.frame(doc["signoffs"]), key="bmr_signoffs", tz=tz)
    if tabs["MBR routing"].open:  # only the open tab runs (and draws)
        with tabs["MBR routing"]:
            mbr = doc.get("mbr") or {}
            st.caption(f"MBR {ui.esc(mbr.get('product_code'))} rev {ui.esc(mbr.get('mbr_revision'))}"
                       f" · {ui.label(mbr.get('status'))} · approved by {ui.esc(mbr.get('approved_by'))} "
                       f"{ui.local_times_value(mbr.get('approved_at'), tz)}")
            ui.table(ui.frame(doc["routing"]), key="bmr_routing")


def render() -> None:
    """The page."""
    asof_control.control()
    as_of = data.as_of_here()  # the downloads run outside the page: they take the point along
    job, beside = pick()
    if job is None:
        return
    try:
        with st.spinner(f"Assembling the batch record of {ui.esc(job)}…"):
            doc = data.batch_record(job)
    except RecordNotFound as exc:
        st.warning(ui.esc(exc))
        return
    tz = doc.get("timezone") or data.timezone()
    with beside:
        st.download_button(strings.BATCH_PDF, data=lambda: data.record_pdf("bmr", job, as_of),
                           file_name=f"BMR-{job}.pdf", mime="application/pdf", on_click="ignore",
                           icon=":material/picture_as_pdf:", key="bmr_pdf")
        st.download_button(strings.BATCH_EPCIS, data=lambda: data.batch_epcis(job, as_of),
                           file_name=f"EPCIS-{job}.jsonld", mime="application/ld+json",
                           on_click="ignore", icon=":material/download:", key="bmr_epcis")
    release(doc)
    review_panel.show(doc, tz)
    header(doc, tz)
    sections(doc, tz)


render()
