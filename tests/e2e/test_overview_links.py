"""The overview in a real browser: it is the first page, it shows the sample story's open items,
and every link it carries opens a page that explains that item; the SPC page opens a chart from
its table and says what moves a measurement."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboards import strings
from tests.e2e.ui import cells, no_error, open_page, settle

pytestmark = pytest.mark.e2e

LINK = re.compile(r"^(device|batch|calibration|recall|data-quality|trends)(\?.*)?$")

#: what each page shows for the sample's open items
EXPECTED = {
    "device?serial=SPX200-0013": "SPX200-0013 · SpectraBench 200",
    "batch?job=J-1047": strings.BATCH_BLOCKED,
    "batch?job=J-1042": "J-1042 · SpectraBench 200",
    "batch?job=J-1044": "J-1044 · Main controller PCB",
    "calibration?equipment=DMM-04": "Impact of the out-of-tolerance finding(s) on DMM-04",
}


def test_the_overview_links_each_item_to_the_page_that_explains_it(page: Page,
                                                                     server: str) -> None:
    open_page(page, server)
    no_error(page)
    assert "/overview" in page.url
    shown = [c.strip() for c in cells(page)]
    assert "NCR-0240" in shown and "pending" in shown
    links = sorted({c.removeprefix("./") for c in shown if LINK.match(c.removeprefix("./"))})
    assert links == sorted(EXPECTED), links
    for link in links:
        open_page(page, f"{server}/{link}")
        no_error(page)
        expect(page.get_by_text(EXPECTED[link], exact=False).first,
               f"{link} should show {EXPECTED[link]!r}").to_be_visible()
    open_page(page, f"{server}/calibration?equipment=DMM-04")
    metric = page.locator("[data-testid=stMetric]").filter(has_text="Suspect results")
    expect(metric.locator("[data-testid=stMetricValue]")).to_have_text("36")


def test_the_overviews_page_links_open_their_pages(page: Page, server: str) -> None:
    open_page(page, f"{server}/overview")
    page.get_by_role("link", name="NCR trends and ageing").click()
    settle(page)
    no_error(page)
    assert page.url.rstrip("/").endswith("/trends")
    expect(page.get_by_text("NCRs per week by defect code")).to_be_visible()
    page.get_by_role("radio", name=strings.TREND_CHARTS[3]).click()  # one chart at a time
    settle(page)
    expect(page.get_by_text("First-pass yield per week")).to_be_visible()


def test_spc_chart_by_link_and_what_moves_it(page: Page, server: str) -> None:
    open_page(page, f"{server}/spc?product=SPX-200&step=ALIGN&measurement=beam_offset")
    no_error(page)
    metric = page.locator("[data-testid=stMetric]").filter(has_text="Run-rule breaks")
    expect(metric.locator("[data-testid=stMetricValue]")).to_have_text("1")
    expect(page.locator(".js-plotly-plot").filter(has_text="individuals and moving range")) \
        .to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("button", name=strings.SPC_CSV).click()
    lines = info.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("product_code,test_step,measurement") and len(lines) == 20
    page.get_by_text(strings.SPC_LOT_EFFECTS).click()
    settle(page)
    no_error(page)
    expect(page.get_by_text("lots compared move beam_offset")).to_be_visible()
