"""Device history: type or scan a serial and see the unit's device history record (DHR)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import polars as pl
import streamlit as st

from dashboards import asof_control, charts, data, strings, ui
from tracelake.errors import RecordNotFound

PAGE = "device"
SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2}


def component_tree(serial: str, components: list[dict[str, Any]]) -> pl.DataFrame:
    """The components, each under what it is fitted in, as an indented table."""
    children: dict[str, list[dict[str, Any]]] = {}
    for c in components:
        children.setdefault(c["parent_serial"], []).append(c)
    rows: list[dict[str, Any]] = []

    def walk(parent: str, level: int) -> None:
        for c in sorted(children.get(parent, []), key=lambda c: (c["removed_at"] is not None,
                                                                 c["component_code"] or "")):
            part = c["component_serial"] or c["lot_number"] or ""
            has_record = c["component_serial"] in children
            rows.append({"part": "\u2003" * (level - 1) + ("└ " if level > 1 else "")
                         + f"{c['component_code']} {part}".strip(),
                         "lot": c["lot_number"], "serial": c["component_serial"],
                         "own record": c["component_serial"] if has_record else None,
                         "in": c["parent_serial"], "level": level,
                         "fitted_at": c["fitted_at"], "removed_at": c["removed_at"],
                         "removal_ncr": c.get("removal_ncr_id"),
                         "evidence": "fitment record" if c["source"] == "unit_components"
                         else "issued to the job"})
            if c["component_serial"] and c["removed_at"] is None:
                walk(c["component_serial"], level + 1)

    walk(serial, 1)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def unit_header(doc: dict[str, Any], tz: str) -> None:
    """Who the unit is and where it is."""
    unit, job = doc["unit"], doc["job"] or {}
    tests = doc["tests"]
    failed = sum(1 for t in tests if t["result"] == "fail")
    shipped = doc["shipments"][0] if doc["shipments"] else None
    st.markdown(f"### {ui.esc(unit['serial_number'])} · "
                f"{ui.esc(unit.get('description') or unit['product_code'])}")
    st.markdown(
        f":{_badge(unit['status'])}-badge[{ui.label(unit['status'])}] "
        f"product **{ui.esc(unit['product_code'])}** · job "
        f"[{ui.esc(unit['job_id'])}](./batch?job={quote(str(unit['job_id']))})"
        f" rev {ui.esc(job.get('mbr_revision', '?'))} · built "
        f"{ui.local_times_value(unit.get('built_at'), tz)}"
        + (f" · GTIN {ui.esc(unit['gtin'])}" if unit.get("gtin") else ""))
    if shipped:
        st.markdown(f"Shipped to **{ui.esc(shipped['customer'])}** on order "
                    f"{ui.esc(shipped['order_ref'])}, "
                    f"{ui.local_times_value(shipped['shipped_at'], tz)}"
                    + (f" ({ui.esc(shipped['ship_to_country'])})"
                       if shipped.get("ship_to_country") else ""))
    review = doc.get("batch_review")
    if review:
        st.markdown(f"Batch review: **{ui.esc(review['status'])}** · {ui.esc(review['summary'])}"
                    f" ([the batch record](./batch?job={quote(str(unit['job_id']))}))")
    parts = [c for c in doc["components"] if c["removed_at"] is None]
    ui.metrics([("Components", len(parts), "lots and serials in the unit, at every level"),
                ("Test results", len(tests), "every measurement, every attempt"),
                ("Failed results", failed, "failed at any attempt (see NCRs for rework)"),
                ("NCRs", len(doc["ncrs"])),
                ("Findings", len(doc["findings"]), "what makes this record incomplete or wrong")])


def _badge(status: str | None) -> str:
    return {"shipped": "blue", "released": "green", "passed": "green", "wip": "orange",
            "quarantined": "red", "scrapped": "violet", "fail": "red", "pass": "green",
            "critical": "red", "major": "orange", "minor": "blue"}.get(str(status), "gray")


def findings(doc: dict[str, Any]) -> None:
    """What makes this record incomplete or wrong, worst first."""
    items = sorted(doc["findings"], key=lambda f: SEVERITY_ORDER.get(f["severity"], 9))
    if not items:
        st.success("No findings: nothing makes this record incomplete or wrong.",
                   icon=":material/verified:")
        return
    worst = items[0]["severity"]
    box = st.error if worst == "critical" else st.warning
    box(f"**{len(items)} finding(s)** on this unit's record", icon=":material/flag:")
    ui.table(ui.frame(items, ["severity", "rule", "message", "record"]), key="dhr_findings",
             status=["severity"],
             config={"message": st.column_config.TextColumn("message", width=760)})


def suspect_windows(doc: dict[str, Any], tz: str) -> None:
    """One banner per piece of equipment and suspect window (status.py's answer)."""
    windows: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for e in doc["equipment"]:
        if e.get("status") == "suspect":
            windows.setdefault((e["equipment_id"], e.get("found_oot_by")), []).append(e)
    for (equipment, cert), rows in windows.items():
        first = rows[0]
        if first.get("suspect_reason") == "left_out_of_tolerance":
            uses = sum(int(r.get("uses") or 0) for r in rows)
            st.warning(f"**{ui.esc(equipment)}** was found out of tolerance by certificate "
                       f"{ui.esc(cert)} on {ui.local_times_value(first.get('found_oot_at'), tz)} "
                       f"and not left in tolerance: the {uses} use(s) on this unit after it "
                       "(before its next calibration) are suspect.", icon=":material/warning:")
            continue
        since = (ui.local_times_value(first.get("suspect_from"), tz) if first.get("suspect_from")
                 else "its first use")
        uses = sum(int(r.get("uses") or 0) for r in rows)
        st.warning(f"**{ui.esc(equipment)}** was found out of tolerance by certificate "
                   f"{ui.esc(cert)} on {ui.local_times_value(first.get('found_oot_at'), tz)}: "
                   f"the {uses} use(s) on this unit in its suspect window ({since} → "
                   f"{ui.local_times_value(first.get('found_oot_at'), tz)}) are suspect.",
                   icon=":material/warning:")


def sections(doc: dict[str, Any], tz: str) -> None:
    """Every part of the DHR, a tab each; only the open tab's content is made and drawn."""
    tabs = st.tabs(["Components", "Operations", "Tests", "Equipment", "NCRs",
                    "Firmware and label", "Shipment and sign-offs"], key=strings.DEVICE_TAB_KEY,
                   on_change="rerun")
    if tabs[0].open:  # only the open tab runs (and draws)
        with tabs[0]:
            tree = component_tree(doc["unit"]["serial_number"], doc["components"])
            if tree.height:
                ui.table(tree, key="dhr_components", tz=tz,
                         links={"own record": ("device", "serial")},
                         labels={"removal_ncr": "removed under", "fitted_at": "fitted / issued"},
                         height=min(640, 38 + 35 * tree.height))
                st.caption("Each part under the sub-assembly it is fitted in; removed parts stay "
                           "listed with the NCR they were removed under.")
            else:
                ui.empty("No components recorded for this unit.")
    if tabs[1].open:  # only the open tab runs (and draws)
        with tabs[1]:
            ops = ui.frame(doc["operations"])
            if ops.height:
                st.plotly_chart(charts.operations_timeline(ui.local_times(ops, tz)),
                                key="chart_operations")
                ui.table(ops.drop([c for c in ("job_id", "batch_step", "description",
                                               "needs_calibrated_equipment") if c in ops.columns]),
                         key="dhr_operations", tz=tz, status=["result"],
                         labels={"op_seq": "op", "op_code": "step", "serial_number": "serial",
                                 "work_centre": "where", "equipment_id": "equipment"})
            else:
                ui.empty("No operations recorded for this unit.")
    if tabs[2].open:  # only the open tab runs (and draws)
        with tabs[2]:
            tests = ui.frame(doc["tests"])
            if tests.height:
                st.plotly_chart(charts.limits_chart(tests), key="chart_limits")
                st.caption("Each measurement within its limits (0 % = low limit, 100 % = high "
                           "limit); circles are first attempts, diamonds re-tests.")
                ui.table(tests.select([c for c in (
                    "tested_at", "test_step", "measurement", "value", "units", "low_limit",
                    "high_limit", "result", "attempt", "equipment_id", "calibration_status",
                    "operator", "run_id", "source") if c in tests.columns]),
                    key="dhr_tests", tz=tz, status=["result", "calibration_status"],
                    labels={"low_limit": "low", "high_limit": "high", "equipment_id": "equipment",
                            "calibration_status": "calibration"})
            else:
                ui.empty("No test results for this unit.")
    if tabs[3].open:  # only the open tab runs (and draws)
        with tabs[3]:
            equipment = ui.frame(doc["equipment"])
            if equipment.height:
                suspect_windows(doc, tz)
                ui.table(equipment, key="dhr_equipment", tz=tz, status=["status"],
                         labels={"equipment_id": "equipment", "found_oot_by": "found OOT by",
                                 "found_oot_at": "found OOT at", "certificate_no": "certificate",
                                 "status": "calibration at use", "suspect_from": "suspect since",
                                 "suspect_reason": "why suspect"},
                         links={"equipment_id": ("calibration", "equipment")})
            else:
                ui.empty("No equipment recorded against this unit.")
    if tabs[4].open:  # only the open tab runs (and draws)
        with tabs[4]:
            if not doc["ncrs"]:
                ui.empty("No NCRs name this unit.")
            for n in doc["ncrs"]:
                state = "open" if n["closed_at"] is None else "closed"
                with st.container(border=True):
                    st.markdown(f"**{ui.esc(n['ncr_id'])}** · {ui.esc(n['defect_code'])} · "
                                f":{_badge('fail' if state == 'open' else 'pass')}-badge[{state}] "
                                f"· disposition **{ui.label(n['disposition'])}**")
                    ui.text(n["description"])
                    st.caption(f"raised {ui.local_times_value(n['raised_at'], tz)} by "
                               f"{ui.esc(n['raised_by'])}"
                               + (f" · closed {ui.local_times_value(n['closed_at'], tz)}"
                                  f" by {ui.esc(n['closed_by'])}" if n["closed_at"] else "")
                               + (f" · re-test {ui.esc(n['retest_ref'])}" if n.get("retest_ref")
                                  else ""))
                    if n.get("removed_parts"):
                        st.markdown("Parts removed under this NCR")
                        ui.table(ui.frame(n["removed_parts"]), key=f"ncr_removed_{n['ncr_id']}",
                                 tz=tz, links={"serial_number": ("device", "serial")})
                    if n.get("retest"):
                        st.markdown("Re-test evidence")
                        ui.table(ui.frame(n["retest"]), key=f"ncr_retest_{n['ncr_id']}", tz=tz,
                                 status=["result"])
    if tabs[5].open:  # only the open tab runs (and draws)
        with tabs[5]:
            st.markdown("**Firmware**")
            ui.table(ui.frame(doc["firmware"]), key="dhr_firmware", tz=tz)
            st.markdown("**Label checks**")
            for lab in doc["labels"]:
                parsed = lab.get("parsed") or {}
                st.code(lab["label_data"], language=None)
                st.caption(f"GTIN {ui.esc(parsed.get('gtin'))} · serial {ui.esc(parsed.get('serial'))}"
                           " · " + ", ".join(f"{ui.label(k)} {ui.esc(v)}" for k, v in
                                             (parsed.get("dates") or {}).items())
                           + f" · checked {ui.local_times_value(lab['checked_at'], tz)} by "
                             f"{ui.esc(lab['checked_by'])}: {ui.label(lab['result'])}")
                for problem in lab.get("problems") or []:
                    st.error(ui.esc(problem))
            if not doc["labels"]:
                ui.empty("No label check recorded for this unit.")
    if tabs[6].open:  # only the open tab runs (and draws)
        with tabs[6]:
            st.markdown("**Shipment**")
            if doc["shipments"]:
                ui.table(ui.frame(doc["shipments"]), key="dhr_shipments", tz=tz)
            else:
                ui.empty("Not shipped.")
            st.markdown("**Sign-offs**")
            ui.table(ui.frame(doc["signoffs"]), key="dhr_signoffs", tz=tz)


def render() -> None:
    """The page."""
    asof_control.control()
    as_of = data.as_of_here()  # the download runs outside the page: it takes the point along
    ui.from_query(PAGE, {"serial": strings.SERIAL_KEY})
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    typed = left.text_input(strings.SERIAL_LABEL, key=strings.SERIAL_KEY, help=strings.SERIAL_HELP,
                            placeholder="e.g. SPX200-0004, or scan the label",
                            icon=":material/barcode_scanner:")
    if not typed.strip():
        ui.to_query(PAGE, {"serial": None})
        ui.empty(strings.DEVICE_PICK)
        return
    serial, gtin = data.serial_from_scan(typed)
    ui.to_query(PAGE, {"serial": serial})  # a link to the unit, not to the label scanned
    if serial != typed.strip():
        right.caption(f"Label read: serial (21) **{ui.esc(serial)}**"
                      + (f", GTIN (01) {ui.esc(gtin)}" if gtin else ""))
    try:
        with st.spinner(f"Assembling the device history record of {ui.esc(serial)}…"):
            doc = data.device_record(serial)
    except RecordNotFound as exc:
        st.warning(ui.esc(exc), icon=":material/search_off:")
        near = data.serial_suggestions(serial)
        if near:
            st.markdown("Did you mean: " + ", ".join(
                f"[{ui.esc(s)}](./device?serial={quote(s)})" for s in near[:10]))
        return
    tz = doc.get("timezone") or data.timezone()
    unit_header(doc, tz)
    findings(doc)
    with right:
        st.download_button(strings.DEVICE_PDF, data=lambda: data.record_pdf("dhr", serial, as_of),
                           file_name=f"DHR-{serial}.pdf", mime="application/pdf",
                           on_click="ignore", icon=":material/picture_as_pdf:", key="dhr_pdf")
    sections(doc, tz)


render()
