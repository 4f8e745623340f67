"""Hostile inputs for the robustness tests and the bad-input benchmark: each case writes one or
more files into a landing folder (usually a copy of the sample plant) the way an attacker, a broken
export or a careless user would.

Every builder is deterministic (a seed where it draws) and small on disk; several are large once
read (a zip bomb, a sheet reaching cell XFD1048576), which is the point.
"""

from __future__ import annotations

import os
import random
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

from tests.helpers import JOB_HEADER, SAMPLE, job_row, write_csv

Case = Callable[[Path], None]


def copy_sample(dest: Path) -> Path:
    """The sample plant's good files (not its bad/ corpus) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in SAMPLE.iterdir():
        if f.is_file() and f.suffix in (".csv", ".xlsx", ".jsonl"):
            shutil.copy(f, dest / f.name)
    return dest


# ---------------------------------------------------------------- raw XLSX


def write_xlsx(path: Path, cells: list[tuple[str, str | float]], *, dimension: str | None = None,
               padding: int = 0) -> Path:
    """A minimal workbook with one sheet holding ``cells`` (reference, value) as written.

    ``padding`` bytes of spaces inside the sheet XML make it a zip bomb (they compress ~1000:1).
    """
    rows: dict[int, list[str]] = {}
    for ref, value in cells:
        digits = "".join(ch for ch in ref if ch.isdigit())
        row = int(digits) if digits else 1
        if isinstance(value, str):
            cell = f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
        else:
            cell = f'<c r="{ref}"><v>{value!r}</v></c>'
        rows.setdefault(row, []).append(cell)
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'{dim}<sheetData>{body}</sheetData>')
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'))
        zf.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        zf.writestr("xl/workbook.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
            'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>'))
        zf.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'))
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(sheet.encode())
            block = b" " * (1 << 20)
            left = padding
            while left > 0:
                fh.write(block[:min(left, len(block))])
                left -= len(block)
            fh.write(b"</worksheet>")
    return path


UNIT_CELLS: list[tuple[str, str | float]] = [
    ("A1", "serial_number"), ("B1", "product_code"), ("C1", "job_id"), ("D1", "status"),
    ("A2", "X-1"), ("B2", "SPX-200"), ("C2", "J-1042"), ("D2", "wip")]


# ---------------------------------------------------------------- the cases


def int_too_large(landing: Path) -> None:
    write_csv(landing / "jobs_big.csv", JOB_HEADER,
              [job_row("J-BIG", quantity="99999999999999999999"), job_row("J-OK")])


def attempt_2_70(landing: Path) -> None:
    src = (landing / "test_results-inprocess.csv").read_text().splitlines()
    head, first = src[0], src[1].rsplit(",", 1)[0]
    (landing / "test_results-huge-attempt.csv").write_text(
        f"{head}\n{first},{2 ** 70}\n")


def xlsx_1e308(landing: Path) -> None:
    cells: list[tuple[str, str | float]] = [(f"{c}1", h) for c, h in zip("ABCDEFG", JOB_HEADER,
                                                                         strict=True)]
    cells += [(f"{c}2", v) for c, v in zip("ABCDEFG", job_row("J-FLOAT"), strict=True)
              if c != "E"] + [("E2", 1e308)]
    write_xlsx(landing / "jobs-float.xlsx", cells)


def cr_only(landing: Path) -> None:
    text = (landing / "jobs.csv").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    (landing / "jobs-cr.csv").write_bytes(text.replace(b"J-10", b"J-CR"))


def deep_json(landing: Path) -> None:
    depth = 100_000
    line = '{"serial_number": "X", "value": ' + "[" * depth + "]" * depth + "}\n"
    (landing / "test_results-deep.jsonl").write_text(line + _first_jsonl(landing))


def lone_surrogate(landing: Path) -> None:
    bad = '{"serial_number": "SPX200-0001", "equipment_id": "\\ud800", "test_step": "W"}\n'
    (landing / "test_results-surrogate.jsonl").write_text(bad + _first_jsonl(landing))


def _first_jsonl(landing: Path) -> str:
    return (landing / "test_results-rig3.jsonl").read_text().splitlines(keepends=True)[0] \
        .replace("SPX200-0001", "SPX200-JL")


def bad_file_name(landing: Path) -> None:
    name = os.fsdecode(b"units-\xff\xfe.csv")
    write_csv(landing / name, ["serial_number", "product_code", "job_id", "status"],
              [["BADNAME-1", "SPX-200", "J-1042", "wip"]])


def xlsx_ref_out_of_range(landing: Path) -> None:
    write_xlsx(landing / "units-badref.xlsx", [*UNIT_CELLS, ("XFE3", "x"), ("A1048577", "y")])


def xlsx_far_cell(landing: Path) -> None:
    write_xlsx(landing / "units-far.xlsx", [*UNIT_CELLS, ("XFD1048576", "x")])


def xlsx_trailing_blank(landing: Path) -> None:
    write_xlsx(landing / "units-tall.xlsx", [*UNIT_CELLS, ("A1048576", "")])


def zip_bomb(landing: Path) -> None:
    write_xlsx(landing / "units-bomb.xlsx", UNIT_CELLS, padding=1 << 30)


def wide_header(landing: Path) -> None:
    header = [f"c{i}" for i in range(100_000)]
    (landing / "units-wide.csv").write_text(",".join(header) + "\n" + ",".join("x" * 1 for _ in
                                                                              header) + "\n")


def duplicate_keys(landing: Path, n: int = 8000) -> None:
    write_csv(landing / "jobs-dupes.csv", JOB_HEADER, [job_row("J-DUP")] * n)


def utf16(landing: Path) -> None:
    text = "serial_number,product_code,job_id,status\nU16-Ä1,SPX-200,J-1042,wip\n"
    (landing / "units-utf16.csv").write_bytes(text.encode("utf-16"))


def row_column(landing: Path) -> None:
    write_csv(landing / "units-rowcol.csv", ["serial_number", "product_code", "job_id",
                                             "status", "_row"],
              [["ROWCOL-1", "SPX-200", "J-1042", "wip", "77"]])


def symlink_out(landing: Path) -> None:
    target = landing.parent / "outside"
    target.mkdir(exist_ok=True)
    write_csv(target / "units.csv", ["serial_number", "product_code", "job_id", "status"],
              [["OUTSIDE-1", "SPX-200", "J-1042", "wip"]])
    (landing / "units-link.csv").symlink_to(target / "units.csv")
    (landing / "units-passwd.csv").symlink_to("/etc/passwd")


def broken_symlink(landing: Path) -> None:
    (landing / "units-broken.csv").symlink_to(landing / "nowhere.csv")


def fifo(landing: Path) -> None:
    os.mkfifo(landing / "units-fifo.csv")


def random_bytes(landing: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    src = (landing / "operations_2026-10.csv").read_bytes()
    data = bytearray(src)
    for _ in range(40):
        data[rng.randrange(len(data))] = rng.randrange(256)
    (landing / "operations-noise.csv").write_bytes(bytes(data).replace(b"OP-", b"OX-"))


#: name -> (builder, whether it reads heavy enough to be left out of the quick fuzz)
CASES: dict[str, Case] = {
    "int_too_large": int_too_large, "attempt_2_70": attempt_2_70, "xlsx_1e308": xlsx_1e308,
    "cr_only": cr_only, "deep_json": deep_json, "lone_surrogate": lone_surrogate,
    "bad_file_name": bad_file_name, "xlsx_ref_out_of_range": xlsx_ref_out_of_range,
    "xlsx_far_cell": xlsx_far_cell, "xlsx_trailing_blank": xlsx_trailing_blank,
    "zip_bomb": zip_bomb, "wide_header": wide_header, "duplicate_keys": duplicate_keys,
    "utf16": utf16, "row_column": row_column, "symlink_out": symlink_out,
    "broken_symlink": broken_symlink, "fifo": fifo, "random_bytes": random_bytes,
}
