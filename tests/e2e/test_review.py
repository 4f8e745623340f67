"""A reviewer signs J-1042 in Chromium: logs in, disposes of its seven major findings, signs the
release; the signed PDF downloaded from the page names the signer, the time and the meaning."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest
from playwright.sync_api import Page, expect

from dashboards import strings
from tests.e2e.conftest import serve
from tests.e2e.ui import no_error, open_page, settle
from tests.helpers import SAMPLE, Lake
from tracelake.review import add_user, verify_lake

pytestmark = pytest.mark.e2e
WAIT = 90_000  # ms: on a loaded machine the first run of a fresh server takes over 30 s

PASSWORD = "signing pass 7"
SHOTS = os.environ.get("TRACELAKE_SHOTS")  # a folder to keep screenshots in, when set


@pytest.fixture(scope="module")
def signing_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Lake]]:
    """The sample lake with a reviewer and a viewer, and the dashboards on it."""
    root = tmp_path_factory.mktemp("e2e-review")
    lake = Lake(root / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    add_user(lake.paths, "rita", "reviewer", PASSWORD, "Rita Okafor")
    add_user(lake.paths, "vic", "viewer", PASSWORD, "Vic Viewer")
    dashboards = serve(root, lake)  # conftest's: started here, stopped when the module ends
    url = next(dashboards)
    try:
        yield url, lake
    finally:
        dashboards.close()


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def _login(page: Page, url: str, user: str) -> None:
    open_page(page, f"{url}/batch?job=J-1042")
    expect(page.get_by_text(strings.LOGIN_TITLE)).to_be_visible(timeout=WAIT)
    assert page.get_by_text(strings.REVIEW_TITLE).count() == 0  # nothing shown before login
    page.get_by_role("textbox", name=strings.LOGIN_USER).fill(user)
    page.get_by_role("textbox", name=strings.LOGIN_PASSWORD).fill(PASSWORD)
    page.get_by_role("button", name=strings.LOGIN_BUTTON).click()
    settle(page)
    no_error(page)


def test_a_viewer_sees_the_review_but_no_signing_controls(
        page: Page, signing_lake: tuple[str, Lake]) -> None:
    url, _ = signing_lake
    _login(page, url, "vic")
    expect(page.get_by_text(strings.REVIEW_TITLE)).to_be_visible(timeout=WAIT)
    only = page.get_by_text(strings.REVIEW_VIEW_ONLY.format(role="viewer"))
    expect(only).to_be_visible(timeout=WAIT)
    assert page.get_by_role("button", name=strings.DISPOSE_BUTTON).count() == 0
    assert page.get_by_role("button", name=strings.SIGN_BUTTON).count() == 0


def test_a_reviewer_signs_the_dispositions_and_the_release(
        page: Page, signing_lake: tuple[str, Lake]) -> None:
    url, lake = signing_lake
    _login(page, url, "rita")
    review = page.locator("[data-testid=stAlert]").filter(has_text="Awaiting dispositions")
    expect(review).to_contain_text("7 major finding(s) without a disposition", timeout=WAIT)
    sign = page.locator("[data-testid=stForm]").filter(has_text=strings.SIGN_FORM)
    sign.get_by_role("textbox", name=strings.SIGN_PASSWORD).fill(PASSWORD)
    sign.get_by_role("button", name=strings.SIGN_BUTTON).click()  # too early: refused
    settle(page)
    expect(page.locator("[data-testid=stAlertContentError]")).to_contain_text(
        "release of J-1042 refused", timeout=WAIT)

    form = page.locator("[data-testid=stForm]").filter(has_text=strings.DISPOSE_FORM)
    form.scroll_into_view_if_needed()
    _shot(page, "review-forms")
    form.get_by_role("textbox", name=strings.DISPOSE_RATIONALE).fill(
        "TQ-07 and DMM-04 results re-assessed against the margins: accepted")
    form.get_by_role("textbox", name=strings.DISPOSE_PASSWORD).fill(PASSWORD)
    form.get_by_role("button", name=strings.DISPOSE_BUTTON).click()
    settle(page)
    no_error(page)
    expect(page.get_by_text("7 disposition(s) signed by Rita Okafor.")).to_be_visible(timeout=WAIT)

    sign = page.locator("[data-testid=stForm]").filter(has_text=strings.SIGN_FORM)
    sign.get_by_role("textbox", name=strings.SIGN_PASSWORD).fill(PASSWORD)
    sign.get_by_role("button", name=strings.SIGN_BUTTON).click()
    settle(page)
    no_error(page)
    released = page.locator("[data-testid=stAlert]").filter(has_text="Approved: batch released")
    expect(released).to_contain_text("Rita Okafor (reviewer)", timeout=WAIT)
    expect(released).to_contain_text("(signed this version)", timeout=WAIT)
    released.scroll_into_view_if_needed()
    _shot(page, "review-signed")
    assert verify_lake(lake.paths).intact
    assert lake.scalar("SELECT count(*) FROM review_entries") == 8

    with page.expect_download() as info:
        page.get_by_role("button", name=strings.BATCH_PDF).click()
    pdf = pypdf.PdfReader(io.BytesIO(info.value.path().read_bytes()))
    text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
    entry = lake.query("SELECT printed_name, meaning FROM review_entries WHERE seq = 8")[0]
    assert entry == ("Rita Okafor", "Approved: batch released")
    assert "RELEASE SIGNED" in text
    assert "Rita Okafor (reviewer) · " in text and "· Approved: batch released (signed this " \
                                                  "version)" in text
    assert text.count("Reviewed: finding accepted (rationale recorded)") >= 7
