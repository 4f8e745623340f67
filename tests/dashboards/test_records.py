"""Device history and batch record pages: a serial typed or scanned, a job picked or linked."""

from __future__ import annotations

import io
import json

from dashboards import data, strings
from tests.dashboards.apptest import Opener, linked, metric, no_traceback, table, texts, unescape


def test_device_history_asks_for_a_serial(app: Opener) -> None:
    at = app("device")
    assert strings.DEVICE_PICK in texts(at)


def test_device_history_of_a_typed_serial(app: Opener) -> None:
    at = app("device")
    at.text_input(key=strings.SERIAL_KEY).input("SPX200-0004").run()
    no_traceback(at)
    shown = texts(at)
    assert "SPX200-0004 · SpectraBench 200" in shown
    assert "Shipped to **Kestrel Pharma Ltd** on order SO-5537" in shown
    assert metric(at, "NCRs") == "1" and metric(at, "Failed results") == "1"
    findings = table(at, "rule")
    assert metric(at, "Findings") == str(len(findings))
    overdue = findings[findings["rule"] == "calibration_overdue_at_use"]
    assert len(overdue) == 2  # TQ-07 used overdue on op 40, and its torque result
    assert overdue["message"].str.contains("TQ-07").all()
    parts = table(at, "part")
    lamps = parts[parts["part"].str.contains("LAMP-D2")]
    assert set(lamps["serial"]) == {"D2-26-0457", "D2-26-0314"}
    assert lamps[lamps["serial"] == "D2-26-0314"]["removal_ncr"].tolist() == ["NCR-0231"]
    # only the open tab is made and drawn: the components at first, no chart
    assert not at.get("plotly_chart") and "NCR-0231" not in shown
    at.session_state[strings.DEVICE_TAB_KEY] = "NCRs"
    at.run()
    no_traceback(at)
    assert "NCR-0231" in texts(at) and "re-test R3-20261104-001" in texts(at)
    at.session_state[strings.DEVICE_TAB_KEY] = "Tests"
    at.run()
    tests = table(at, "measurement")
    noise = tests[tests["measurement"] == "photometric_noise"]
    assert sorted(noise["attempt"].tolist()) == [1, 2]
    assert len(at.get("plotly_chart")) == 1  # results within limits
    at.session_state[strings.DEVICE_TAB_KEY] = "Operations"
    at.run()
    assert len(at.get("plotly_chart")) == 1  # the operations timeline
    assert set(table(at, "op_code")["op_code"])  # the operations table beside it
    assert [b.label for b in at.get("download_button")] == [strings.DEVICE_PDF]
    assert at.query_params == {"serial": "SPX200-0004"}


def test_a_scanned_gs1_label_opens_the_unit_it_names(app: Opener) -> None:
    at = app("device")
    at.text_input(key=strings.SERIAL_KEY).input(
        "(01)05060123450019(21)SPX200-0007(11)261104").run()
    no_traceback(at)
    shown = texts(at)
    assert "Label read: serial (21) **SPX200-0007**, GTIN (01) 05060123450019" in shown
    assert "SPX200-0007 · SpectraBench 200" in shown
    raw = "\x1d".join(["]d2010506012345001921SPX200-0002", "11261104"])
    assert data.serial_from_scan(raw) == ("SPX200-0002", "05060123450019")
    assert data.serial_from_scan(" SPX200-0002 ") == ("SPX200-0002", None)


def test_an_unknown_serial_suggests_near_ones(app: Opener) -> None:
    at = app("device", serial="SPX200-001")
    no_traceback(at)
    shown = texts(at)
    assert "SPX200-001" in shown and "Did you mean" in shown
    assert "(./device?serial=SPX200-0010)" in shown


def test_batch_record_findings_first(app: Opener) -> None:
    at = app("batch")
    assert strings.BATCH_PICK in texts(at)
    at.selectbox(key=strings.JOB_KEY).select("J-1047").run()
    no_traceback(at)
    assert at.error and strings.BATCH_BLOCKED in at.error[0].value
    assert "NCR-0240" in unescape(at.error[0].value)
    assert "open_ncr_at_release" in set(table(at, "rule")["rule"])
    assert metric(at, "Quarantined") == "1" and metric(at, "WIP") == "3"


def test_batch_record_of_a_released_job_by_link(app: Opener) -> None:
    at = app("batch", job="J-1042")
    assert at.selectbox(key=strings.JOB_KEY).value == "J-1042"
    assert at.success and at.success[0].value.startswith("**Released**")
    serials = table(at, "label_data")
    assert sorted(linked(serials["serial_number"])) == [f"SPX200-{n:04d}" for n in range(1, 11)]
    assert (metric(at, "Made"), metric(at, "Shipped")) == ("10", "8")
    assert [b.label for b in at.get("download_button")] == [strings.BATCH_PDF,
                                                             strings.BATCH_EPCIS]
    assert len(at.tabs) == 11
    assert not at.get("plotly_chart")  # the Serials tab is open: the timeline is not drawn
    at.session_state[strings.BATCH_TAB_KEY] = "Operations"
    at.run()
    no_traceback(at)
    assert len(at.get("plotly_chart")) == 1 and "label_data" not in _columns(at)
    doc = json.loads(data.batch_epcis("J-1042"))
    [t] = [e for e in doc["epcisBody"]["eventList"] if e["type"] == "TransformationEvent"]
    assert t["transformationID"] == "urn:tracelake:job:J-1042" and len(t["outputEPCList"]) == 10


def _columns(at: object) -> set[str]:
    """Every column of every table shown."""
    return {c for d in at.dataframe for c in d.value.columns}  # type: ignore[attr-defined]


def test_records_download_as_pdf(app: Opener) -> None:
    app("batch", job="J-1047")
    from pypdf import PdfReader

    dhr = PdfReader(io.BytesIO(data.record_pdf("dhr", "SPX200-0013")))
    assert "SPX200-0013" in dhr.pages[0].extract_text()
    bmr = PdfReader(io.BytesIO(data.record_pdf("bmr", "J-1047")))
    text = "".join(p.extract_text() for p in bmr.pages)
    assert "J-1047" in text and all(f"SPX200-{n:04d}" in text for n in range(11, 15))
    assert len(bmr.pages) > len(dhr.pages)  # the BMR carries a DHR page per serial


def test_an_unknown_job_in_a_link_is_ignored(app: Opener) -> None:
    at = app("batch", job="J-0000")
    assert at.selectbox(key=strings.JOB_KEY).value is None
    assert strings.BATCH_PICK in texts(at)
