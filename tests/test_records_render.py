"""Batch and device records rendered as PDF and HTML: read back, they tell the sample plant's story.

The PDF is read back with pypdf page by page: the cover's findings, every section heading, every
serial of J-1042, the serial list's page numbers against the pages the unit records start on,
"Page N of M", links and bookmarks; the HTML says the same and shows plant data as text.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import shutil
from collections.abc import Iterator
from typing import Any

import duckdb
import pypdf
import pytest

from tests.helpers import SAMPLE, Lake
from tracelake.errors import InputError
from tracelake.lake.snapshot import open_snapshot
from tracelake.records import batch_record, render_html, render_pdf
from tracelake.records.present import BMR_SECTIONS, UNIT_SECTIONS, unit_heading

SERIALS = [f"SPX200-{i:04d}" for i in range(1, 11)]
SCRIPT = "<script>alert('lake')</script>"


def _squash(text: str) -> str:
    """Text without whitespace: table cells wrap long values over several lines."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def bmr_pdf(bmr: dict[str, Any]) -> bytes:
    return render_pdf(bmr)


@pytest.fixture(scope="module")
def bmr_pages(bmr_pdf: bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(bmr_pdf)).pages]


@pytest.fixture(scope="module")
def bmr_html(bmr: dict[str, Any]) -> str:
    return render_html(bmr)


def _serial_list(pages: list[str]) -> dict[str, int]:
    """Serial -> unit page, read from the serial list's rows (the number ending each row)."""
    found: dict[str, int] = {}
    for text in pages:
        if "Serial list" not in text or "Unit page" not in text:
            continue
        for line in text.splitlines():
            m = re.match(r"^(\S+) (shipped|released|wip|quarantined|scrapped) .* (\d+)$", line.strip())
            if m:
                found[m.group(1)] = int(m.group(3))
    return found


def _first_page_with(pages: list[str], needle: str) -> int | None:
    return next((i for i, text in enumerate(pages, start=1) if needle in text), None)


def _heading_page(pages: list[str], heading: str) -> int | None:
    """The first page with ``heading`` as a line of its own (not inside the running header)."""
    return next((i for i, text in enumerate(pages, start=1)
                 if heading in (line.strip() for line in text.splitlines())), None)


# ---- the BMR as PDF ------------------------------------------------------------------------------

def test_the_pdf_opens_and_every_page_says_page_n_of_m(bmr_pdf: bytes, bmr_pages: list[str]) -> None:
    assert bmr_pdf.startswith(b"%PDF-")
    total = len(bmr_pages)
    assert total > 20  # cover, 14 sections, ten unit records
    for n, text in enumerate(bmr_pages, start=1):
        assert f"Page {n} of {total}" in text, f"page {n} does not say 'Page {n} of {total}'"


def test_the_cover_shows_the_release_decision_and_every_finding(bmr: dict[str, Any],
                                                                bmr_pages: list[str]) -> None:
    cover = bmr_pages[0]
    assert "BATCH MANUFACTURING RECORD" in cover and "J-1042" in cover
    assert "SPX-200 — SpectraBench 200 UV-Vis spectrophotometer" in cover
    assert "RELEASED" in cover and "Released by Ruth Adeyemi on 2026-11-06 14:30 GMT" in cover
    assert "C (approved; approved by Ruth Adeyemi 2026-09-14 16:05 BST)" in _unwrap(cover)
    assert "UOL-PO-778120" in cover
    findings = bmr["findings"]
    assert len(findings) == 7 and {f["severity"] for f in findings} == {"major"}
    assert re.search(r"0\s*CRITICAL", cover) and re.search(r"7\s*MAJOR", cover)
    # the findings table may run onto the next page; it ends before section 1 starts
    end = _first_page_with(bmr_pages, "1. Header, identifiers and quantities") or 1
    before = _squash("".join(bmr_pages[:end]))
    for f in findings:
        assert _squash(f["record"]) in before, f["record"]
        assert _squash(f["message"]) in before, f["message"]
    assert before.count("calibration_overdue_at_use") == 6
    assert "Europe/London" in cover and "Generated" in cover


def _unwrap(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text)


def test_every_section_heading_is_there_in_order_and_bookmarked(bmr_pdf: bytes,
                                                               bmr_pages: list[str]) -> None:
    pages = [_first_page_with(bmr_pages, f"{i}. {title}") for i, (_, title) in
             enumerate(BMR_SECTIONS, start=1)]
    assert None not in pages, list(zip(BMR_SECTIONS, pages, strict=True))
    assert pages == sorted(pages)  # type: ignore[type-var]
    outline = pypdf.PdfReader(io.BytesIO(bmr_pdf)).outline
    titles = [o.title for o in outline if not isinstance(o, list)]
    assert titles[0].startswith("Cover")
    n = len(BMR_SECTIONS)
    assert [f"{i}. {t}" for i, (_, t) in enumerate(BMR_SECTIONS, start=1)] == titles[1:n + 1]
    assert titles[n + 1] == "Device History Records"
    units = next(o for o in outline if isinstance(o, list))
    assert [u.title for u in units] == [unit_heading(s) for s in SERIALS]


def test_every_serial_of_j1042_has_its_record_on_the_page_the_serial_list_gives(
        bmr_pages: list[str]) -> None:
    listed = _serial_list(bmr_pages)
    assert sorted(listed) == SERIALS
    for serial in SERIALS:
        page = _heading_page(bmr_pages, unit_heading(serial))
        assert page is not None, f"no page starts the record of {serial}"
        assert listed[serial] == page, f"{serial}: serial list says {listed[serial]}, record on {page}"
    starts = [listed[s] for s in SERIALS]
    assert starts == sorted(starts) and len(set(starts)) == 10


def test_each_serial_in_the_list_links_to_its_unit_page(bmr_pdf: bytes, bmr_pages: list[str]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(bmr_pdf))
    listed = _serial_list(bmr_pages)
    page_no = next(i for i, t in enumerate(bmr_pages) if "Serial list" in t and "Unit page" in t)
    targets = []
    for annot in reader.pages[page_no].get("/Annots", []):
        a = annot.get_object()
        if a.get("/Subtype") == "/Link" and "/Dest" in a:
            targets.append(reader.get_page_number(a["/Dest"][0].get_object()) + 1)
    assert targets == [listed[s] for s in SERIALS]


def test_unit_records_carry_the_unit_evidence(bmr_pages: list[str]) -> None:
    start = _heading_page(bmr_pages, unit_heading("SPX200-0004"))
    end = _heading_page(bmr_pages, unit_heading("SPX200-0005"))
    assert start and end
    unit = _squash("".join(bmr_pages[start - 1:end - 1]))
    for _, title in UNIT_SECTIONS:
        assert _squash(title) in unit, title
    for needle in ("NCR-0231", "D2-26-0314", "D2-26-0457", "R3-20261104-001", "PCB-M-0104",
                   "(01)05060123450019(21)SPX200-0004(11)261104", "Kestrel Pharma Ltd", "SO-5537",
                   "FAIL", "OUTOFLIMITS", "OVERDUEatuse", "2.4.1+b7e41c9"):
        assert _squash(needle) in unit, needle


def test_the_bmr_sections_show_the_story(bmr_pages: list[str]) -> None:
    text = _squash("".join(bmr_pages))
    for needle in (
            "MI-26-0139",                       # SCR-M3-SS issued after ECN-014
            "ECN-014—SPX-200revC→C1",           # the ECN applied, with its pages
            "BMRp.6(op40);BOMsnapshotline50",
            "CERT-2026-0187",                   # TQ-07 overdue at use
            "SUSPECT:foundOUTOFTOLERANCEbyCERT-2026-0467",   # DMM-04
            "suspectwindowfromitslastgoodcalibration2026-10-26",
            "Firstarticleapproved",             # sign-off meaning (21 CFR 11.50)
            "2026-10-2211:52BST",               # ... at its plant-local time, before the clock change
            "Batchreleasedfordistribution",
            "Beamoffset±0.05mm",                # acceptance criteria with ±
            "Digitalmultimeter6½digit",         # ½
            "0.54…0.66N·m",                     # limits and N·m
            "UniversityofLeeds—SchoolofChemistry"):
        assert _squash(needle) in text, needle


def test_a_serial_list_over_several_pages_keeps_its_page_numbers(bmr: dict[str, Any]) -> None:
    doc = copy.deepcopy(bmr)
    template_row, template_unit = doc["serials"][0], doc["units"][0]
    serials = [f"BIG-{i:04d}" for i in range(1, 131)]
    doc["serials"] = [{**template_row, "serial_number": s} for s in serials]
    doc["units"] = [{**template_unit, "unit": {**template_unit["unit"], "serial_number": s},
                     "components": template_unit["components"][: i % 5]} for i, s in enumerate(serials)]
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages]
    listed = _serial_list(pages)
    list_pages = [i for i, t in enumerate(pages) if "Serial list" in t and "Unit page" in t]
    assert len(list_pages) >= 3 and sorted(listed) == serials
    for s in serials:
        assert listed[s] == _heading_page(pages, unit_heading(s)), s


def test_rows_taller_than_a_page_continue_on_the_next_page(bmr: dict[str, Any]) -> None:
    doc = copy.deepcopy(bmr)
    doc["units"] = doc["units"][:1]
    many = [f"FW-UNIT-{i:05d}" for i in range(2500)]
    doc["firmware"] = [{**doc["firmware"][0], "units": len(many), "serials": many}]
    doc["ncrs"][0]["description"] = " ".join(f"Lamp noise seen again ({i})." for i in range(500))
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(doc)))
    low: list[float] = []
    for page in reader.pages:
        page.extract_text(visitor_text=lambda text, cm, tm, font, size: low.append(
            tm[5] * cm[3] + cm[5]) if text.strip() else None)
    assert min(low) > 0, "text drawn below the bottom of a page"
    raw = "".join(p.extract_text() for p in reader.pages)
    text = _squash(raw)
    assert all(s in text for s in many[::97]) and many[-1] in text
    assert [int(n) for n in re.findall(r"\((\d+)\)\.", raw)] == list(range(500))  # in order, none lost


def test_a_json_round_trip_renders_the_same(bmr: dict[str, Any]) -> None:
    import json

    from tracelake.exports.formats import json_dumps

    doc = copy.deepcopy(bmr)
    doc["units"] = doc["units"][:2]
    again = json.loads(json_dumps(doc))
    for render in (render_pdf, render_html):
        a, b = render(doc), render(again)
        if isinstance(a, bytes):
            a = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(a)).pages)
            b = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(b)).pages)
        assert a == b


# ---- the DHR -------------------------------------------------------------------------------------

def test_the_dhr_pdf_shows_the_ncr_the_removed_lamp_and_the_retest(dhr: dict[str, Any]) -> None:
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(dhr))).pages]
    total = len(pages)
    assert all(f"Page {n} of {total}" in t for n, t in enumerate(pages, start=1))
    assert "DEVICE HISTORY RECORD" in pages[0] and "SPX200-0004" in pages[0]
    assert "UNIT SHIPPED" in pages[0]
    assert _heading_page(pages, unit_heading("SPX200-0004")) == 2  # the record starts after the cover
    text = _squash("".join(pages))
    for needle in ("NCR-0231", "LAMP-NOISE", "D2-26-0314", "R3-20261104-001", "NOTCLOSED"):
        assert (needle in text) is (needle != "NOTCLOSED"), needle
    for i, (_, title) in enumerate(UNIT_SECTIONS, start=1):
        assert _squash(f"{i}. {title}") in text, title


def test_a_record_of_another_kind_is_refused() -> None:
    with pytest.raises(InputError):
        render_pdf({"kind": "invoice"})
    with pytest.raises(InputError):
        render_html({})


# ---- fonts ---------------------------------------------------------------------------------------

def test_characters_a_font_lacks_stay_visible(bmr: dict[str, Any]) -> None:
    doc = copy.deepcopy(bmr)
    doc["units"] = doc["units"][:1]
    doc["serials"][0]["customer"] = "Zoë Ångström 東京"
    doc["job"]["customer_po"] = "PO→42 ≤ 5"
    for fonts, expect in ((True, ["Zoë Ångström [U+6771][U+4EAC]", "PO→42 ≤ 5", "6½", "±0.05", "N·m"]),
                          (False, ["Zoë Ångström [U+6771][U+4EAC]", "PO->42 <= 5", "6½", "±0.05",
                                   "N·m", "—"])):
        pdf = pypdf.PdfReader(io.BytesIO(render_pdf(doc, fonts=fonts)))
        text = "".join(p.extract_text() for p in pdf.pages)
        for needle in expect:
            assert needle in text, (fonts, needle)


def test_without_a_condensed_face_the_record_still_adds_up(bmr: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import tracelake.records.pdf_document as pdf_document

    found = pdf_document.find_font
    monkeypatch.setattr(pdf_document, "find_font", lambda name: None if "Condensed" in name else found(name))
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(bmr))).pages]
    listed = _serial_list(pages)
    assert sorted(listed) == SERIALS
    assert all(listed[s] == _heading_page(pages, unit_heading(s)) for s in SERIALS)
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]


# ---- HTML ----------------------------------------------------------------------------------------

def test_the_html_says_what_the_pdf_says(bmr: dict[str, Any], bmr_html: str) -> None:
    assert bmr_html.startswith("<!DOCTYPE html>") and "<style>" in bmr_html
    assert "<link" not in bmr_html and "<script" not in bmr_html  # one self-contained file
    assert "RELEASED" in bmr_html and "Released by Ruth Adeyemi on 2026-11-06 14:30 GMT" in bmr_html
    for f in bmr["findings"]:
        assert f["rule"] in bmr_html and f["record"] in bmr_html
    for i, (_, title) in enumerate(BMR_SECTIONS, start=1):
        assert f"{i}. {title}" in bmr_html.replace("&#39;", "'"), title
    for serial in SERIALS:
        anchor = f'id="unit-{serial}"'
        assert anchor in bmr_html and f'href="#unit-{serial}"' in bmr_html
        assert unit_heading(serial) in bmr_html
    for needle in ("NCR-0231", "D2-26-0314", "R3-20261104-001", "OUT OF LIMITS", "OVERDUE at use",
                   "2026-10-22 11:52 BST", "Digital multimeter 6½ digit"):
        assert needle in bmr_html, needle


def test_the_dhr_html_shows_the_ncr_the_removed_lamp_and_the_retest(dhr: dict[str, Any]) -> None:
    html = render_html(dhr)
    for needle in ("Device History Record — SPX200-0004", "NCR-0231", "D2-26-0314", "R3-20261104-001",
                   "Kestrel Pharma Ltd"):
        assert needle in html, needle


@pytest.fixture(scope="module")
def script_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """The sample plant with markup in an NCR description and a product description."""
    root = tmp_path_factory.mktemp("script")
    plant = root / "plant"
    shutil.copytree(SAMPLE, plant, ignore=shutil.ignore_patterns("bad"))
    for name, column, key in (("ncrs.csv", "description", "NCR-0231"),
                              ("products.csv", "description", "SPX-200")):
        path = plant / name
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        for r in rows:
            if key in r.values():
                r[column] = f"{SCRIPT} & <b>bold</b> {r[column]}"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    lake = Lake(root / "lake")
    lake.ingest(plant)
    c = open_snapshot(lake.paths)
    yield c
    c.close()


def test_markup_in_plant_data_is_shown_as_text(script_lake: duckdb.DuckDBPyConnection) -> None:
    doc = batch_record(script_lake, "J-1042")
    assert any(SCRIPT in (n.get("description") or "") for n in doc["ncrs"])
    html = render_html(doc)
    assert "<script" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#39;lake&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    text = _squash("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages))
    assert _squash(f"{SCRIPT} & <b>bold</b>") in text


def test_a_record_without_units_or_evidence_still_renders(bmr: dict[str, Any]) -> None:
    doc = {k: v for k, v in bmr.items() if k in ("kind", "title", "generated_at", "timezone", "job")}
    doc["release"] = {"status": "release blocked", "releasable": False,
                      "reasons": ["missing_signoff: nobody signed the release"]}
    doc["findings"] = [{"rule": "missing_signoff", "severity": "critical", "job_id": "J-1042",
                        "serial_number": None, "record": "jobs:J-1042",
                        "message": "nobody signed the release",
                        "source": {"file": "data/x.csv", "row": 7}}]
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages]
    assert "RELEASE BLOCKED" in pages[0] and "missing_signoff: nobody signed the release" in pages[0]
    assert ("The MRP nevertheless records the job as released: Released by Ruth Adeyemi on "
            "2026-11-06 14:30 GMT.") in _unwrap(pages[0])
    assert "(file data/x.csv, row 7)" in _unwrap(pages[0])
    assert "No serials made on this job." in "".join(pages)
    html = render_html(doc)
    assert "RELEASE BLOCKED" in html and "No serials made on this job." in html

