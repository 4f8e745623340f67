"""The app as a whole: the header's search box, Ask the lake, empty states, and no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards import data, strings
from tests.dashboards.apptest import FILES, Opener, no_traceback, opener, table, texts, unescape
from tests.helpers import JOB_HEADER, Lake, job_row, write_csv


def test_search_hits_open_the_page_at_the_record(app: Opener) -> None:
    at = app("trends")
    at.text_input(key=strings.SEARCH_KEY).input("SPX200-0004").run()
    no_traceback(at)
    hits = [b for b in at.button if b.key and b.key.startswith("search_hit_")]
    assert hits and unescape(hits[0].label).startswith("**serial** SPX200-0004")
    hits[0].click().run()
    no_traceback(at)
    assert at.text_input(key=strings.SERIAL_KEY).value == "SPX200-0004"
    assert "SPX200-0004 · SpectraBench 200" in texts(at)
    assert at.text_input(key=strings.SEARCH_KEY).value == ""  # the box is cleared


def test_search_finds_a_lot_on_two_components_and_opens_the_recall(app: Opener) -> None:
    at = app("ask")
    at.text_input(key=strings.SEARCH_KEY).input("L-4471").run()
    labels = [unescape(b.label) for b in at.button if b.key and b.key.startswith("search_hit_")]
    assert sum(label.startswith("**lot** L-4471") for label in labels) == 2  # CAP-100, SCR-M3
    hit = next(b for b in at.button if b.key and b.key.startswith("search_hit_")
               and "CAP-100" in unescape(b.label))
    hit.click().run()
    no_traceback(at)
    assert at.selectbox(key=strings.COMPONENT_KEY).value == "CAP-100"
    assert at.selectbox(key=strings.LOT_KEY).value == "L-4471"


def test_search_with_no_hits_says_so(app: Opener) -> None:
    at = app("recall")
    at.text_input(key=strings.SEARCH_KEY).input("zzzz").run()
    no_traceback(at)
    assert "nothing in the lake matches 'zzzz'" in texts(at)


def test_ask_the_lake_runs_a_read(app: Opener) -> None:
    at = app("ask")
    tables = table(at, "holds")
    assert "products" in set(tables["table"])
    at.text_area(key=strings.SQL_KEY).input(
        "SELECT customer, count(*) AS units FROM shipments GROUP BY 1 ORDER BY 2 DESC, 1")
    at.button(key="FormSubmitter:ask_form-" + strings.SQL_RUN).click().run()
    no_traceback(at)
    result = table(at, "customer")
    assert result["units"].tolist() == [5, 4, 3]  # Kestrel 3+2 kits, Leeds 3+1, Norsk 2+1
    assert strings.SQL_ROWS.format(n=3) in texts(at)
    assert [b.label for b in at.get("download_button")] == [strings.SQL_CSV, strings.SQL_XLSX]
    assert "sql" in at.query_params


def test_every_table_shows_a_missing_value_as_an_empty_cell(app: Opener) -> None:
    # Streamlit writes "None" in a missing cell unless told otherwise (placeholder)
    at = app("ask", sql="SELECT 'a' AS id, CAST(NULL AS INTEGER) AS n")
    no_traceback(at)
    grids = list(at.dataframe)
    assert grids and all(g.proto.placeholder == "" and g.proto.HasField("placeholder")
                         for g in grids)
    assert table(at, "n")["n"].isna().all()


def test_ask_the_lake_refuses_anything_but_a_read(app: Opener) -> None:
    at = app("ask", sql="DROP TABLE units")
    no_traceback(at)
    assert at.error and "DROP statements are refused" in unescape(at.error[0].value)
    at = app("ask", sql="SELECT * FROM read_csv('/etc/passwd')")
    no_traceback(at)
    assert at.error and unescape(at.error[0].value).startswith("refused")
    at = app("ask", sql="SELEKT 1")
    assert at.error and "not valid SQL" in at.error[0].value


def test_query_results_download_as_csv(app: Opener) -> None:
    app("ask")
    frame = data.run_query("SELECT serial_number, shipped_at FROM shipments ORDER BY 1 LIMIT 2")
    assert data.frame_csv(frame).decode().splitlines() == [
        "serial_number,shipped_at", "CK5-0001,2026-11-09T10:30:00Z",
        "CK5-0002,2026-11-09T11:15:00Z"]
    assert data.frame_xlsx(frame)[:2] == b"PK"  # a zip: an XLSX workbook


@pytest.mark.parametrize("page", list(FILES))
def test_no_lake_yet_says_what_to_run(page: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    at = opener(tmp_path / "none", monkeypatch)(page)
    assert at.info and at.info[-1].value.startswith(f"**{strings.NO_LAKE_TITLE}.**")
    assert "tracelake ingest" in at.info[-1].value


@pytest.mark.parametrize("page", list(FILES))
def test_a_nearly_empty_lake_shows_empty_states(page: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write_csv(tmp_path / "landing" / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    lake = Lake(tmp_path / "lake")
    lake.ingest(tmp_path / "landing")
    at = opener(lake.paths.root, monkeypatch)(page)
    assert not at.error, [e.value for e in at.error]
    assert at.info or at.dataframe  # something to read, or what to do next


def test_an_unexpected_failure_is_one_message_not_a_traceback(app: Opener,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    def broken() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(data, "lots", broken)
    at = app("recall")
    assert at.error and at.error[0].value == strings.INTERNAL_ERROR.format(what="RuntimeError")
    assert "disk on fire" not in texts(at)
