"""The dashboards' "as of" control: the batch, device, recall and ask pages read the lake as it
stood at a run picked in the sidebar (or linked with ``?as_of=``), say so in a banner and in the
records they make; the other pages read the lake as it stands (tests/asof_story.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data, strings
from tests.asof_story import (
    NEW_LOT,
    NEW_VALUE,
    OLD_LOT,
    OLD_VALUE,
    PASSWORD,
    Story,
    build_story,
)
from tests.dashboards.apptest import APP, FILES, Opener, linked, no_traceback, table, texts

BANNER = "As the lake stood on"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return build_story(tmp_path_factory.mktemp("dash-asof"))


@pytest.fixture
def app(story: Story, monkeypatch: pytest.MonkeyPatch) -> Opener:
    """``open(page, **query)``, logged in as the story's reviewer (the lake has users)."""
    monkeypatch.setenv("TRACELAKE_LAKE", str(story.lake.paths.root))

    def open_page(page: str, **query: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=90)
        at.run()
        at.text_input(key="login_user").set_value("rita")
        at.text_input(key="login_password").set_value(PASSWORD)
        next(b for b in at.button if b.label == strings.LOGIN_BUTTON).click()
        at.run()
        at.switch_page(f"app_pages/{FILES[page]}.py")
        at.query_params.update(query)
        at.run()
        no_traceback(at)
        return at

    return open_page


def _lot(at: AppTest) -> str:
    at.session_state[strings.BATCH_TAB_KEY] = "Materials"  # only the open tab is made
    at.run()
    no_traceback(at)
    materials = table(at, "issue_id")
    cell = str(materials[materials["issue_id"] == "MI-26-0110"]["lot_number"].iloc[0])
    return cell.split("=", 1)[-1]  # a link to the recall page


def test_batch_page_as_of_a_linked_run_then_now(app: Opener, story: Story) -> None:
    at = app("batch", job="J-1042", as_of=story.run1)
    shown = texts(at)
    assert BANNER in shown and story.run1 in shown
    assert _lot(at) == OLD_LOT
    assert "signing is for the record as it stands now" in shown
    assert at.selectbox(key="as_of_pick").value == story.run1
    at.selectbox(key="as_of_pick").select("now").run()
    no_traceback(at)
    assert BANNER not in texts(at) and _lot(at) == NEW_LOT
    assert "as_of" not in at.query_params
    assert "Signed an earlier version" in texts(at)


def test_device_page_as_of_a_run_picked_in_the_sidebar(app: Opener, story: Story) -> None:
    at = app("device", serial="SPX200-0001")
    at.session_state[strings.DEVICE_TAB_KEY] = "Tests"  # only the open tab is made
    at.run()
    tests = table(at, "measurement")
    row = tests[(tests["measurement"] == "beam_offset") & (tests["test_step"] == "ALIGN")]
    assert row["value"].tolist() == [float(NEW_VALUE)] and BANNER not in texts(at)
    options = at.selectbox(key="as_of_pick").options
    assert options[0].startswith("now") and len(options) == 3  # now and the two runs
    at.selectbox(key="as_of_pick").select(story.run1).run()
    no_traceback(at)
    tests = table(at, "measurement")
    row = tests[(tests["measurement"] == "beam_offset") & (tests["test_step"] == "ALIGN")]
    assert row["value"].tolist() == [float(OLD_VALUE)] and BANNER in texts(at)
    assert at.query_params.get("as_of") == story.run1
    pdf = data.record_pdf("dhr", "SPX200-0001", story.run1)  # what the download button gives
    first = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "As of" in first and story.run1 in " ".join(first.split())


def test_a_day_picked_is_the_end_of_that_day(app: Opener, story: Story) -> None:
    at = app("recall", component="CASE-200", lot=NEW_LOT)
    assert BANNER not in texts(at)
    at.date_input(key="as_of_day").set_value(story.release.signed_at.date()).run()
    no_traceback(at)
    shown = texts(at)
    assert BANNER in shown and story.run2 in shown  # the end of today: after the correction


def test_recall_and_ask_as_of_the_release(app: Opener, story: Story) -> None:
    when = story.release.signed_at.isoformat()
    at = app("recall", component="CASE-200", lot=OLD_LOT, as_of=when)
    recall = table(at, "serial_number")
    assert "J-1042" in set(linked(recall["job_id"]))
    now = app("recall", component="CASE-200", lot=OLD_LOT)
    assert "J-1042" not in set(linked(table(now, "serial_number")["job_id"]))
    at = app("ask", sql="SELECT lot_number FROM material_issues WHERE issue_id = 'MI-26-0110'",
             as_of=story.run1)
    assert BANNER in texts(at) and table(at, "lot_number")["lot_number"].tolist() == [OLD_LOT]


def test_pages_without_the_control_read_the_lake_now(app: Opener, story: Story) -> None:
    at = app("batch", job="J-1042", as_of=story.run1)
    assert BANNER in texts(at)
    at.switch_page("app_pages/data_quality.py").run()
    no_traceback(at)
    assert BANNER not in texts(at)
    assert "as_of_pick" not in [s.key for s in at.selectbox]
    shown = " ".join(str(v) for df in at.dataframe for v in df.value.astype(str).values.ravel())
    assert story.run1 in shown and story.run2 in shown  # both runs: the lake as it stands


def test_a_bad_point_in_a_link_says_so_and_shows_now(app: Opener) -> None:
    at = app("batch", job="J-1042", as_of="1999-01-01")
    shown = texts(at)
    assert "no run committed by then" in shown and BANNER not in shown
    assert _lot(at) == NEW_LOT


def test_the_banner_shows_the_point_as_stored(app: Opener, tmp_path: Path) -> None:
    at = app("batch", job="J-1042", as_of="**x** <b>2026</b>")
    shown = texts(at)
    assert "is neither an ISO 8601 date or time" in shown
    assert "**x** <b>2026</b>" in shown  # escaped for Markdown: shown as typed
    assert strings.BATCH_PDF in [b.label for b in at.get("download_button")]
