"""The batch page's review: each finding's disposition, every signature's manifestation (printed
name, date and time, meaning), and for a logged-in reviewer or approver the forms to sign."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboards import auth, data, strings, ui
from tracelake.errors import TracelakeError

FLASH = "_review_flash"


_SHORT = {"accepted": "Accepted", "ncr_raised": "NCR raised",
          "corrected_at_source": "Corrected at source", "rejected": "Finding rejected"}


def _findings_frame(review: dict[str, Any], tz: str) -> pl.DataFrame:
    rows = []
    for i, f in enumerate(review["findings"], start=1):
        d = f["disposition"] or {}
        rows.append({"#": i, "severity": f["severity"], "rule": f["rule"], "record": f["record"],
                     "disposition": (_SHORT.get(d.get("disposition"), "")
                                     + (f" {d['ncr_id']}" if d.get("ncr_id") else ""))
                     if d else ("NEEDS A DISPOSITION" if f["needs_disposition"] else "—"),
                     "signed by": d.get("printed_name") or "",
                     "signed at": ui.local_times_value(d.get("signed_at"), tz) if d else "",
                     "version": d.get("version_note") or "",
                     "rationale": d.get("rationale") or "",
                     "meaning": d.get("meaning") or ""})
    return pl.DataFrame(rows, schema={"#": pl.Int64, "severity": pl.String, "rule": pl.String,
                                      "record": pl.String, "disposition": pl.String,
                                      "signed by": pl.String, "signed at": pl.String,
                                      "version": pl.String, "rationale": pl.String,
                                      "meaning": pl.String})


_WIDTHS = {"#": 40, "rule": 200, "record": 260, "disposition": 150, "signed by": 130,
           "signed at": 150, "version": 150, "rationale": 320}


def _signatures_frame(review: dict[str, Any], tz: str) -> pl.DataFrame:
    rows = [{"entry": s["entry"], "printed name": s["printed_name"], "role": s["role"],
             "signed at": ui.local_times_value(s["signed_at"], tz), "meaning": s["meaning"],
             "on": (s["finding_key"] or "").split("|")[-1] if s["kind"] == "disposition"
             else "the batch", "version": s["version_note"]} for s in review["signatures"]]
    return pl.DataFrame(rows, schema={"entry": pl.Int64, "printed name": pl.String,
                                      "role": pl.String, "signed at": pl.String,
                                      "meaning": pl.String, "on": pl.String,
                                      "version": pl.String})


def show(doc: dict[str, Any], tz: str) -> None:
    """The review state and, for a signer, the signing forms."""
    review = doc.get("review") or {}
    job_id = doc["job"]["job_id"]
    st.markdown(f"#### {strings.REVIEW_TITLE}")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash, icon=":material/draw:")
    status = review.get("status")
    say = {"released": st.success, "rejected": st.error, "signed an earlier version": st.warning,
           "ready to sign": st.info}.get(status, st.warning)
    say(f"**{status.capitalize() if status else '—'}**: {review.get('summary', '')}",
        icon=":material/signature:")
    st.caption(f"Record hash {review.get('record_hash')} · signatures are bound to it; a later "
               "ingest that changes this batch marks them as for an earlier version.")
    if review.get("findings"):
        ui.table(_findings_frame(review, tz), key="review_findings", status=["severity"],
                 height=min(420, 38 + 35 * len(review["findings"])),
                 config={c: st.column_config.TextColumn(c, width=w) for c, w in _WIDTHS.items()})
    if review.get("signatures"):
        st.markdown("**Signatures** (printed name, date and time, meaning)")
        ui.table(_signatures_frame(review, tz), key="review_signatures",
                 height=min(360, 38 + 35 * len(review["signatures"])))
    if doc.get("as_of"):  # a past state of the record: read, never signed
        st.caption("This is the record as the lake stood then: signing is for the record as it "
                   "stands now (pick now in the sidebar).")
        return
    user = auth.current_user()
    if user is None:
        if not data.users_exist():
            st.caption(strings.REVIEW_NO_SIGNERS)
        return
    if not user.can_sign:
        st.caption(strings.REVIEW_VIEW_ONLY.format(role=user.role))
        return
    left, right = st.columns(2)
    with left:
        _dispose_form(review, user, job_id)
    with right:
        _sign_form(review, user, job_id)


def _dispose_form(review: dict[str, Any], user: Any, job_id: str) -> None:
    findings = review.get("findings") or []
    labels = {f["key"]: f"{i}. {f['severity']} · {f['rule']} · {f['record']}"
              for i, f in enumerate(findings, start=1)}
    todo = [f["key"] for f in findings if f["needs_disposition"] and f["disposition"] is None]
    with st.form("dispose", clear_on_submit=True):
        st.markdown(f"**{strings.DISPOSE_FORM}** as {user.printed_name}")
        keys = st.multiselect(strings.DISPOSE_FINDINGS, list(labels), default=todo,
                              format_func=labels.get, key="dispose_keys")
        disposition = st.selectbox(strings.DISPOSE_AS, list(strings.DISPOSITION_LABELS),
                                   format_func=strings.DISPOSITION_LABELS.get, key="dispose_as")
        rationale = st.text_area(strings.DISPOSE_RATIONALE, key="dispose_rationale", height=80)
        ncr = st.text_input(strings.DISPOSE_NCR, key="dispose_ncr")
        password = st.text_input(strings.DISPOSE_PASSWORD, type="password",
                                 key="dispose_password")
        if st.form_submit_button(strings.DISPOSE_BUTTON, type="primary"):
            if not keys:
                st.error("Pick at least one finding.")
                return
            try:
                made = data.sign_dispositions(user.name, password, job_id, keys, disposition,
                                              rationale, ncr, review["record_hash"])
            except TracelakeError as exc:
                st.error(str(exc))
                return
            st.session_state[FLASH] = (f"{len(made)} disposition(s) signed by "
                                       f"{user.printed_name}.")
            st.rerun()


def _sign_form(review: dict[str, Any], user: Any, job_id: str) -> None:
    reasons = (review.get("decision") or {}).get("reasons") or []
    with st.form("sign", clear_on_submit=True):
        st.markdown(f"**{strings.SIGN_FORM}** as {user.printed_name}")
        if reasons:
            st.caption(f"A release cannot be signed yet: {reasons[0]}"
                       + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""))
        meaning = st.radio(strings.SIGN_MEANING, list(strings.MEANING_LABELS),
                           format_func=strings.MEANING_LABELS.get, key="sign_meaning",
                           horizontal=True)
        comment = st.text_input(strings.SIGN_COMMENT, key="sign_comment")
        password = st.text_input(strings.SIGN_PASSWORD, type="password", key="sign_password")
        if st.form_submit_button(strings.SIGN_BUTTON, type="primary"):
            try:
                data.sign_batch(user.name, password, job_id, meaning, comment,
                                review["record_hash"])
            except TracelakeError as exc:
                st.error(str(exc))
                return
            st.session_state[FLASH] = (f"{strings.MEANING_LABELS[meaning]}: signed by "
                                       f"{user.printed_name}.")
            st.rerun()
