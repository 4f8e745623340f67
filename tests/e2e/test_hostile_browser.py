"""The hostile-string corpus in Chromium: the rendered text of the pages equals what is stored."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from dashboards import strings
from tests.e2e.conftest import serve
from tests.e2e.ui import cells, no_error, open_page, settle, type_in
from tests.helpers import Lake
from tests.hostile import HOSTILE, NCR_IDS, hostile_plant, shown


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboards on the sample plant holding the hostile NCRs."""
    root = tmp_path_factory.mktemp("e2e-hostile")
    lake = Lake(root / "lake")
    lake.ingest(hostile_plant(root / "plant"))
    yield from serve(root, lake)


@pytest.fixture(autouse=True)
def _patient(page: Page) -> None:
    """The hostile pages hold 5,000-character words: give a busy machine time to draw them."""
    page.set_default_timeout(90_000)


def _no_active_content(page: Page) -> None:
    main = page.locator("[data-testid=stMain]")
    assert main.locator('a[href="http://example.com"]').count() == 0
    assert main.locator("img[src=x], script:not([src])").count() == 0
    assert main.locator("strong", has_text="bold").count() == 0
    assert main.locator("em", has_text="spec").count() == 0


def test_device_page_shows_ncr_text_as_stored(page: Page, hostile_server: str) -> None:
    open_page(page, f"{hostile_server}/device?serial=SPX200-0004")
    page.get_by_role("tab", name="NCRs").click()
    settle(page)  # only the open tab is made: opening one runs the page again
    expect(page.locator("[data-testid=stMain] [data-testid=stText]").first).to_be_visible()
    no_error(page)
    seen = page.locator("[data-testid=stMain]").inner_text()
    for name, text in HOSTILE.items():
        assert shown(text) in seen, name
    _no_active_content(page)


def test_ask_page_cells_hold_the_strings(page: Page, hostile_server: str) -> None:
    sql = "SELECT ncr_id, description FROM ncrs WHERE ncr_id LIKE 'NCR-H%' ORDER BY ncr_id"
    open_page(page, f"{hostile_server}/ask?sql={quote(sql)}")
    no_error(page)
    found = cells(page)
    # the query's rows the grid draws (it draws the rows in view): NCR id, then its description
    shown_rows = {found[i]: found[i + 1] for i in range(len(found) - 1)
                  if found[i] in NCR_IDS.values()}
    by_id = {NCR_IDS[n]: shown(t) for n, t in HOSTILE.items()}
    assert len(shown_rows) >= 3 and NCR_IDS["markdown"] in shown_rows
    for ncr_id, text in shown_rows.items():
        assert text == by_id[ncr_id], ncr_id
    _no_active_content(page)


def test_search_hits_show_ncr_text_as_stored(page: Page, hostile_server: str) -> None:
    open_page(page, f"{hostile_server}/recall")
    type_in(page, strings.SEARCH_LABEL, "URGENT")
    seen = page.locator("[data-testid=stMain]").inner_text()
    assert ":red[URGENT] [link](http://example.com)" in seen
    _no_active_content(page)


@pytest.mark.parametrize("path", ["recall", "batch?job=J-1042", "trends", "calibration",
                                  "data-quality", "ask"])
def test_every_page_opens_on_the_hostile_lake(page: Page, hostile_server: str, path: str) -> None:
    open_page(page, f"{hostile_server}/{path}")
    no_error(page)
    _no_active_content(page)
