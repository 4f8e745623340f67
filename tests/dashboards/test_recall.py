"""Recall / where-used page: lots picked by hand or by link, the affected units, charts, downloads."""

from __future__ import annotations

import io
import json

import polars as pl

from dashboards import data, strings
from tests.dashboards.apptest import Opener, linked, metric, no_traceback, table, texts

J1042 = {f"SPX200-{n:04d}" for n in range(1, 11)}


def test_the_recall_page_asks_for_a_lot(app: Opener) -> None:
    at = app("recall")
    assert strings.RECALL_PICK in texts(at)
    assert "CAP-100" in at.selectbox(key=strings.COMPONENT_KEY).options
    assert at.selectbox(key=strings.LOT_KEY).disabled


def test_tracing_a_lot_picked_by_hand(app: Opener) -> None:
    at = app("recall")
    at.selectbox(key=strings.COMPONENT_KEY).select("CAP-100").run()
    lots = at.selectbox(key=strings.LOT_KEY)
    assert not lots.disabled and set(lots.options) >= {"L-4471 · Farwell Components Ltd · "
                                                       "issued 2026-10-06"}
    lots.set_value("L-4471").run()
    no_traceback(at)
    assert (metric(at, strings.RECALL_UNITS), metric(at, strings.RECALL_SHIPPED),
            metric(at, strings.RECALL_CUSTOMERS)) == ("12", "8", "3")
    serials = set(linked(table(at, "serial_number")["serial_number"]))
    assert serials == J1042 | {"PCB-M-0111", "PCB-M-0112"}  # the spares are top-level
    assert at.query_params == {"component": "CAP-100", "lot": "L-4471"}
    [sankey] = at.get("plotly_chart")  # one chart per view: the genealogy first
    assert '"type":"sankey"' in sankey.proto.spec.replace(" ", "")
    for name in strings.RECALL_CHARTS[1:]:  # by status, by customer: a click away
        at.segmented_control(key=strings.RECALL_CHART_KEY).set_value(name).run()
        no_traceback(at)
        [bars] = at.get("plotly_chart")
        assert name in bars.proto.spec and '"type":"bar"' in bars.proto.spec.replace(" ", "")
    assert [b.label for b in at.get("download_button")] == [strings.RECALL_CSV,
                                                             strings.RECALL_XLSX,
                                                             strings.RECALL_EPCIS]


def test_a_link_opens_the_page_at_a_lot(app: Opener) -> None:
    at = app("recall", component="SCR-M3", lot="L-4471")
    assert at.selectbox(key=strings.COMPONENT_KEY).value == "SCR-M3"
    serials = set(linked(table(at, "serial_number")["serial_number"]))
    assert serials == {f"SPX200-{n:04d}" for n in range(1, 7)}  # the screws, not the capacitor


def test_an_unknown_lot_in_a_link_is_ignored(app: Opener) -> None:
    at = app("recall", component="CAP-100", lot="L-0000")
    assert at.selectbox(key=strings.COMPONENT_KEY).value == "CAP-100"
    assert at.selectbox(key=strings.LOT_KEY).value is None
    assert strings.RECALL_PICK in texts(at)


def test_units_the_part_was_removed_from(app: Opener) -> None:
    at = app("recall", component="LAMP-D2", lot="L-8801")
    assert set(linked(table(at, "serial_number")["serial_number"])) == J1042 - {"SPX200-0004",
                                                                                "SPX200-0007"}
    assert metric(at, "Removed in rework") == "2"
    assert not any("removal_ncr_id" in df.value.columns for df in at.dataframe)
    at.session_state[strings.RECALL_REMOVED_KEY] = True  # listed once their expander is open
    at.run()
    removed = table(at, "removal_ncr_id")
    assert set(linked(removed["serial_number"])) == {"SPX200-0004", "SPX200-0007"}
    at.toggle(key=strings.INCLUDE_REMOVED_KEY).set_value(True).run()
    frame = table(at, "serial_number")
    removed = set(linked(frame[frame["removed"]]["serial_number"]))
    assert removed == {"SPX200-0004", "SPX200-0007"}
    assert set(frame[frame["removed"]]["removal_ncr_id"]) == {"NCR-0231", "NCR-0232"}


def test_a_supplier_recall_takes_every_lot_of_the_component(app: Opener) -> None:
    at = app("recall")
    at.segmented_control(key=strings.RECALL_MODE_KEY).set_value(
        strings.RECALL_MODE_SUPPLIER).run()
    at.selectbox(key=strings.COMPONENT_KEY).select("CAP-100").run()
    at.selectbox(key=strings.SUPPLIER_KEY).select("Farwell Components Ltd").run()
    no_traceback(at)
    assert "Lots traced: L-4471, L-4502" in texts(at)
    serials = set(linked(table(at, "serial_number")["serial_number"]))
    assert {f"SPX200-{n:04d}" for n in range(1, 15)} <= serials


def test_the_recall_list_downloads_as_csv_and_xlsx(app: Opener) -> None:
    at = app("recall", component="CAP-100", lot="L-4471")
    no_traceback(at)
    answer = data.trace_lot("CAP-100", "L-4471", False)
    csv = pl.read_csv(io.BytesIO(data.recall_csv(answer)))
    assert set(csv["serial_number"]) == J1042 | {"PCB-M-0111", "PCB-M-0112"}
    assert csv.filter(pl.col("status") == "shipped").height == 8
    xlsx = pl.read_excel(io.BytesIO(data.recall_xlsx(answer)), sheet_name="affected units")
    assert xlsx.height == 12


def test_the_recall_downloads_as_epcis(app: Opener) -> None:
    at = app("recall", component="CAP-100", lot="L-4471")
    no_traceback(at)
    doc = json.loads(data.recall_epcis(data.trace_lot("CAP-100", "L-4471", False)))
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    [recall] = [e for e in doc["epcisBody"]["eventList"] if e.get("disposition") == "recalled"]
    assert len(recall["epcList"]) == 12


def test_an_unknown_component_in_a_link_is_ignored(app: Opener) -> None:
    at = app("recall", component="NOPE", lot="L-1")
    assert strings.RECALL_PICK in texts(at)  # an unknown component is not picked


def test_the_lot_page_says_what_the_lot_moves(app: Opener) -> None:
    at = app("recall", component="LAMP-D2", lot="L-8801")
    at.toggle(key=strings.LOT_MOVES_KEY).set_value(True).run()
    no_traceback(at)
    shown = texts(at)
    assert "measurements compared move with lot" in shown and "L-8801" in shown
    assert strings.LOT_MOVES_NONE in shown  # eight units: nothing clears the bar
