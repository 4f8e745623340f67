"""The "as of" control in Chromium: an auditor picks the run before a corrected re-export in the
sidebar; the batch page shows the released record as it stood (the old lot, the release signed
on this version) under a banner saying so, and "now" brings the corrected record back
(tests/asof_story.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from dashboards import strings
from tests.asof_story import NEW_LOT, OLD_LOT, PASSWORD, Story, build_story
from tests.e2e.conftest import serve
from tests.e2e.ui import cells, no_error, open_page, pick, settle, type_in

pytestmark = pytest.mark.e2e
WAIT = 90_000  # ms: on a loaded machine the first run of a fresh server takes over 30 s
SHOTS = os.environ.get("TRACELAKE_SHOTS")  # a folder to keep screenshots in, when set
BANNER = "As the lake stood on"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Story]]:
    root = tmp_path_factory.mktemp("e2e-asof")
    story = build_story(root)
    dashboards = serve(root, story.lake)
    url = next(dashboards)
    try:
        yield url, story
    finally:
        dashboards.close()


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _materials_show(page: Page, lot: str) -> None:
    settle(page)
    tab = page.get_by_role("tab", name="Materials")
    expect(tab).to_have_count(1, timeout=WAIT)  # the page of the last run only
    tab.click()
    settle(page)
    expect(page.locator("[role=gridcell]").filter(has_text=lot).first).to_be_attached(timeout=WAIT)


def test_the_batch_page_as_of_the_run_before_the_correction(
        page: Page, served: tuple[str, Story]) -> None:
    url, story = served
    open_page(page, f"{url}/batch?job=J-1042")
    expect(page.get_by_text(strings.LOGIN_TITLE)).to_be_visible(timeout=WAIT)
    page.get_by_role("textbox", name=strings.LOGIN_USER).fill("rita")
    page.get_by_role("textbox", name=strings.LOGIN_PASSWORD).fill(PASSWORD)
    page.get_by_role("button", name=strings.LOGIN_BUTTON).click()
    settle(page)
    expect(page.get_by_text("Signed an earlier version").first).to_be_visible(timeout=WAIT)
    assert page.get_by_text(BANNER).count() == 0
    _materials_show(page, NEW_LOT)

    pick(page, "Lake as of", story.run1)
    expect(page.get_by_text(BANNER)).to_be_visible(timeout=WAIT)
    no_error(page)
    banner = page.locator("[data-testid=stAlert]").filter(has_text=BANNER)
    expect(banner).to_contain_text(story.run1)
    # run 1 left the lake before the review: nothing was disposed of yet
    expect(page.locator("[data-testid=stAlert]").filter(has_text="Awaiting dispositions")
           .first).to_be_visible(timeout=WAIT)
    assert f"as_of={story.run1}" in page.url
    _materials_show(page, OLD_LOT)
    assert NEW_LOT not in " ".join(cells(page))
    _shot(page, "asof-batch")

    pick(page, "Lake as of", "now: the lake as it stands")
    expect(page.get_by_text(BANNER)).to_have_count(0, timeout=WAIT)
    _materials_show(page, NEW_LOT)
    assert "as_of=" not in page.url
    no_error(page)


def test_a_link_opens_the_batch_as_it_stood_at_its_release(
        page: Page, served: tuple[str, Story]) -> None:
    url, story = served
    when = quote(story.release.signed_at.isoformat())
    open_page(page, f"{url}/batch?job=J-1042&as_of={when}")
    page.get_by_role("textbox", name=strings.LOGIN_USER).fill("rita")
    page.get_by_role("textbox", name=strings.LOGIN_PASSWORD).fill(PASSWORD)
    page.get_by_role("button", name=strings.LOGIN_BUTTON).click()
    settle(page)
    expect(page.get_by_text(BANNER)).to_be_visible(timeout=WAIT)
    expect(page.locator("[data-testid=stAlert]").filter(has_text="Released")
           .filter(has_text="signed this version").first).to_be_visible(timeout=WAIT)
    _shot(page, "asof-release")
    _materials_show(page, OLD_LOT)
    no_error(page)
    page.get_by_role("link", name="Device history").first.click()  # the app's own navigation
    settle(page)
    type_in(page, strings.SERIAL_LABEL, "SPX200-0001")
    expect(page.get_by_text(BANNER)).to_be_visible(timeout=WAIT)  # the point goes along
    _shot(page, "asof-device")
    page.get_by_role("tab", name="Tests").click()
    settle(page)
    expect(page.locator("[role=gridcell]").filter(has_text="0.012").first).to_be_attached(
        timeout=WAIT)
