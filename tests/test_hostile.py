"""The hostile-string corpus (tests/hostile.py) through every command and record format: what a
person sees (the terminal's text, the HTML's text, the PDF's extracted text, the cells of a CSV
or XLSX file) equals what the lake stores."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pypdf
import pytest
from lxml import html as lxml_html
from typer.testing import CliRunner

from tests.helpers import Lake
from tests.hostile import HOSTILE, LONG_WORD, NCR_IDS, hostile_plant, shown
from tracelake.cli import app
from tracelake.exports.sheets import to_csv, write_xlsx
from tracelake.lake.snapshot import open_snapshot
from tracelake.records import batch_record, device_record, render_html, render_pdf
from tracelake.records.pdf_document import RecordPDF
from tracelake.verbatim import csv_safe

runner = CliRunner()
SHORT = {k: v for k, v in HOSTILE.items() if k != "long_word"}


@pytest.fixture(scope="module")
def hostile_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample plant with the hostile NCRs, in a real lake."""
    root = tmp_path_factory.mktemp("hostile")
    lake = Lake(root / "lake")
    lake.ingest(hostile_plant(root / "plant"))
    return lake.paths.root


def _cli(lake: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_lake_holds_the_strings_as_written(hostile_lake: Path) -> None:
    con = open_snapshot(Lake(hostile_lake).paths)
    stored = dict(con.execute("SELECT ncr_id, description FROM ncrs").fetchall())
    con.close()
    assert {name: stored[NCR_IDS[name]] for name in HOSTILE} == HOSTILE


def test_sql_table_prints_every_string_as_stored(hostile_lake: Path) -> None:
    for name, text in SHORT.items():
        out = _cli(hostile_lake, "sql", f"SELECT description FROM ncrs WHERE ncr_id = '{NCR_IDS[name]}'")
        assert shown(text) in out, (name, out)
    out = _cli(hostile_lake, "sql", "SELECT '[qa] signed' AS x, '[/foo]' AS y")
    assert "[qa] signed" in out and "[/foo]" in out
    # a 5,000-character word is folded over lines, every character kept
    out = _cli(hostile_lake, "sql", f"SELECT description FROM ncrs WHERE ncr_id = '{NCR_IDS['long_word']}'")
    assert out.count("W") == len(LONG_WORD)


def test_sql_csv_and_json_keep_every_string(hostile_lake: Path) -> None:
    out = _cli(hostile_lake, "sql", "SELECT ncr_id, description FROM ncrs WHERE ncr_id LIKE 'NCR-H%'",
               "--format", "csv")
    rows = {r["ncr_id"]: r["description"] for r in csv.DictReader(io.StringIO(out))}
    assert {n: rows[NCR_IDS[n]] for n in HOSTILE} == {n: csv_safe(t) for n, t in HOSTILE.items()}
    assert rows[NCR_IDS["formula"]].startswith("'=HYPERLINK(")
    out = _cli(hostile_lake, "sql", "SELECT ncr_id, description FROM ncrs WHERE ncr_id LIKE 'NCR-H%'",
               "--format", "json")
    rows = {r["ncr_id"]: r["description"] for r in json.loads(out)["rows"]}
    assert {n: rows[NCR_IDS[n]] for n in HOSTILE} == HOSTILE


def test_xlsx_cells_are_strings_never_formulas(hostile_lake: Path) -> None:
    import polars as pl

    frame = pl.DataFrame({"description": list(HOSTILE.values())})
    book = openpyxl.load_workbook(io.BytesIO(write_xlsx({"ncrs": frame})))
    cells = [c for c in book.active["A"][1:]]
    assert [c.data_type for c in cells] == ["s"] * len(HOSTILE)
    assert [c.value for c in cells] == [csv_safe(shown(t)) for t in HOSTILE.values()]
    assert to_csv(frame).count("'=HYPERLINK") == 1


def test_find_shows_ncr_text_as_stored(hostile_lake: Path) -> None:
    out = _cli(hostile_lake, "find", "URGENT", "--format", "json")
    contexts = [h.get("context") or "" for h in json.loads(out)["hits"]]
    assert any("[link](http://example.com)" in c and ":red[URGENT]" in c for c in contexts), contexts
    table = _cli(hostile_lake, "find", "URGENT")
    assert "[link]" in table and ":red[URGENT]" in table


def _record_texts(doc: dict[str, Any]) -> tuple[str, Any]:
    page = lxml_html.fromstring(render_html(doc))
    return page.text_content(), page


def test_html_records_show_the_strings_as_text(hostile_lake: Path) -> None:
    con = open_snapshot(Lake(hostile_lake).paths)
    try:
        for doc in (device_record(con, "SPX200-0004"), batch_record(con, "J-1042")):
            text, page = _record_texts(doc)
            for name, value in HOSTILE.items():
                assert shown(value) in text, (doc["kind"], name)
            assert not page.xpath("//script") and not page.xpath("//img")
            assert not [b for b in page.xpath("//b") if b.text_content() == "bold"]
            assert not page.xpath('//a[@href="http://example.com"]')
    finally:
        con.close()


def test_pdf_records_show_the_strings_as_text(hostile_lake: Path) -> None:
    con = open_snapshot(Lake(hostile_lake).paths)
    try:
        doc = device_record(con, "SPX200-0004")
    finally:
        con.close()
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(doc)))
    text = _squash("".join(p.extract_text() for p in reader.pages))
    pdf = RecordPDF(title="", header_right="", footer_left="")
    for name, value in SHORT.items():
        if name == "rtl":  # drawn right to left: the page holds the run in visual order
            rtl, _, rest = value.partition(" mixed")
            assert _squash(rtl[::-1] + "mixed" + rest) in text
            continue
        # characters the font has no glyph for (emoji) print as visible [U+XXXX] markers
        assert _squash(pdf._visible(value)) in text, name
    assert "<script>alert('x')</script>" in text
    assert text.count("W") >= len(LONG_WORD)  # wrapped over lines and pages, never cut


def test_no_command_writes_rich_markup_to_consoles_that_print_it_verbatim() -> None:
    """The CLI's consoles print with markup off (lake text is shown as stored), so a Rich tag or
    rich.markup.escape in a command would reach the user as literal brackets or backslashes."""
    import re
    from pathlib import Path

    cli = Path(__file__).resolve().parents[1] / "src" / "tracelake" / "cli"
    tag = re.compile(r"\[/?(?:bold|red|green|yellow|dim|italic|cyan|magenta)\b[^\]]*\]")
    offenders = [f"{p.name}:{n}" for p in sorted(cli.glob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if tag.search(line) or "rich.markup" in line]
    assert offenders == []
