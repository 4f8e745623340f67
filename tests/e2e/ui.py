"""Driving a Streamlit page in the browser: wait for a run to finish, pick, type, read tables."""

from __future__ import annotations

import time

from playwright.sync_api import Page


def settle(page: Page, quiet: float = 0.8, limit: float = 60) -> None:
    """Wait until the app has finished running (no status widget, no skeleton) for ``quiet`` s."""
    start = time.monotonic()
    calm: float | None = None
    while time.monotonic() - start < limit:
        busy = page.locator("[data-testid=stStatusWidget], [data-testid=stSkeleton]").count()
        if busy:
            calm = None
        elif calm is None:
            calm = time.monotonic()
        elif time.monotonic() - calm >= quiet:
            return
        time.sleep(0.1)
    raise TimeoutError("the page kept running")


def open_page(page: Page, url: str) -> None:
    """Go to a page of the app and wait for it."""
    page.goto(url)
    page.wait_for_selector("[data-testid=stApp]")
    settle(page)


def pick(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the select box labelled ``label`` by typing, as a user would."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option).first.click()
    settle(page)


def type_in(page: Page, label: str, text: str) -> None:
    """Type into the text box labelled ``label`` and press Enter."""
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    settle(page)


def cells(page: Page) -> list[str]:
    """The text of every table cell on the page (Streamlit's grid keeps an accessible copy)."""
    return page.locator("[role=gridcell]").all_inner_texts()


def no_error(page: Page) -> None:
    """Nothing on the page is an exception or an error box."""
    assert page.locator("[data-testid=stException]").count() == 0
    assert "Traceback" not in page.locator("[data-testid=stMain]").inner_text()
