"""A spreadsheet looked over before the spreadsheet reader touches it: sizes, cell references and
formula errors, read straight from the zip with a bounded streaming scan.

The reader (calamine, through fastexcel) holds a sheet's whole used area in memory and trusts
the file: one cell at XFD1048576 makes it allocate 512 GiB and abort the process, a reference
past the last column panics, and a zip bomb is inflated whole. So the zip directory's sizes and
ratios are checked first, then the sheet's XML is decompressed in blocks (never more than
``MAX_ARCHIVE_BYTES``) and its cell references scanned, and the file is rejected with a reason
when any limit of :mod:`tracelake.intake.limits` is passed.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tracelake.errors import FileRejected
from tracelake.intake import limits

__all__ = ["SheetScan", "check_archive", "column_index", "scan_sheet"]

EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384
_BLOCK = 4 << 20
_SMALL_PART = 16 << 20  # workbook.xml and its relations are read whole, up to this
_OPEN = re.compile(rb"<c\b([^>]*)>")
_REF = re.compile(rb'\br="([A-Za-z]+)(\d+)"')
_ERR = re.compile(rb'\bt="e"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")
_ROW = re.compile(rb"<row\b")


@dataclass
class SheetScan:
    """What the scan found in one sheet."""

    first_row: int = 0  # the first row holding a cell (the header), 0 when the sheet is empty
    last_row: int = 0
    last_column: int = 0  # 1-based
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # letters, row, value

    @property
    def cells(self) -> int:
        """Cells of the used area, as the reader will hold it (from row 1, column A)."""
        return self.last_row * self.last_column


def column_index(letters: str) -> int:
    """``A`` -> 1, ``XFD`` -> 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


_BROKEN = (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, IndexError, OSError, EOFError,
           ValueError, NotImplementedError)


def check_archive(path: Path) -> None:
    """Check the sizes the workbook's zip directory declares; FileRejected past a limit."""
    try:
        with zipfile.ZipFile(path) as zf:
            _check_directory(zf, str(path))
    except FileRejected:
        raise
    except _BROKEN as exc:
        raise _broken(path, exc) from None


def scan_sheet(path: Path, sheet_index: int) -> SheetScan:
    """Scan one sheet (0-based) in bounded blocks; FileRejected past a limit."""
    try:
        with zipfile.ZipFile(path) as zf:
            _check_directory(zf, str(path))
            target = _sheet_target(zf, sheet_index)
            with zf.open(target) as fh:
                return _scan(fh, str(path))
    except FileRejected:
        raise
    except _BROKEN as exc:
        raise _broken(path, exc) from None


def _broken(path: Path, exc: BaseException) -> FileRejected:
    return FileRejected(str(path), f"cannot be opened as a spreadsheet: {type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:200]}")


def _check_directory(zf: zipfile.ZipFile, where: str) -> None:
    total = sum(i.file_size for i in zf.infolist())
    if total > limits.MAX_ARCHIVE_BYTES:
        raise FileRejected(where, f"the spreadsheet unpacks to {total:,} bytes (limit "
                           f"{limits.MAX_ARCHIVE_BYTES:,}): not read")
    for info in zf.infolist():
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 10 << 20 and ratio > limits.MAX_ARCHIVE_RATIO:
            raise FileRejected(where, f"part {info.filename} unpacks {ratio:,.0f} times its "
                               f"packed size (limit {limits.MAX_ARCHIVE_RATIO}): a zip bomb or a "
                               "damaged file, not read")


def _read_small(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as fh:
        data = fh.read(_SMALL_PART + 1)
    if len(data) > _SMALL_PART:
        raise ValueError(f"{name} is larger than {_SMALL_PART:,} bytes")
    return data


def _sheet_target(zf: zipfile.ZipFile, index: int) -> str:
    workbook = _read_small(zf, "xl/workbook.xml")
    rels = _read_small(zf, "xl/_rels/workbook.xml.rels")
    rids = re.findall(rb'<sheet\b[^>]*\br:id="([^"]+)"', workbook)
    rid = rids[index].decode()
    for rel in re.findall(rb"<Relationship\b[^>]*>", rels):
        if f'Id="{rid}"'.encode() in rel:
            target = re.search(rb'Target="([^"]+)"', rel).group(1).decode()  # type: ignore[union-attr]
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise KeyError(rid)


def _scan(fh, where: str) -> SheetScan:  # type: ignore[no-untyped-def]
    scan = SheetScan()
    carry = b""
    read = 0
    rows_seen = 0
    while True:
        block = fh.read(_BLOCK)
        read += len(block)
        if read > limits.MAX_ARCHIVE_BYTES:
            raise FileRejected(where, f"the sheet unpacks to more than "
                               f"{limits.MAX_ARCHIVE_BYTES:,} bytes: not read")
        buf = carry + block
        if block:
            cut = buf.rfind(b"<c ")  # cells never nest: all before the last opening is whole
            if cut < len(buf) - (1 << 20):
                cut = max(len(buf) - 64, 0)  # no cell for a long way (padding): keep a tail
            cut = max(cut, 0)
            part, carry = buf[:cut], buf[cut:]
        else:
            part, carry = buf, b""
        rows_seen += len(_ROW.findall(part))
        _scan_part(part, scan, where)
        if not block:
            break
    if rows_seen > scan.last_row:  # rows written without references: count them
        scan.last_row = rows_seen
        scan.first_row = scan.first_row or 1
    return scan


def _scan_part(part: bytes, scan: SheetScan, where: str) -> None:
    for m in _OPEN.finditer(part):
        attrs = m.group(1)
        ref = _REF.search(attrs)
        if not ref:
            continue
        letters, row = ref.group(1).decode().upper(), int(ref.group(2))
        col = column_index(letters)
        if col > EXCEL_COLUMNS or row > EXCEL_ROWS or row < 1 or len(letters) > 3:
            raise FileRejected(where, f"cell reference {letters}{row} is outside any "
                               "spreadsheet (the last cell is XFD1048576): a damaged file, "
                               "not read")
        if row > scan.last_row:
            scan.last_row = row
        if not scan.first_row or row < scan.first_row:
            scan.first_row = row
        if col > scan.last_column:
            scan.last_column = col
            if col > limits.MAX_COLUMNS:
                raise FileRejected(where, f"the sheet reaches column {letters} (cell "
                                   f"{letters}{row}): {col:,} columns, limit "
                                   f"{limits.MAX_COLUMNS:,}; delete the stray cells, not read")
        if scan.cells > limits.MAX_SHEET_CELLS:
            raise FileRejected(where, f"the sheet's used area reaches cell {letters}{row}: "
                               f"{scan.last_row:,} rows x {scan.last_column:,} columns, more "
                               f"than the limit of {limits.MAX_SHEET_CELLS:,} cells; delete "
                               "stray cells below or right of the data, not read")
        if _ERR.search(attrs):
            end = part.find(b"</c>", m.end())
            value = _VALUE.search(part, m.end(), end if end >= 0 else m.end() + 4096)
            scan.errors.append((letters, row, value.group(1).decode() if value else "#ERROR"))
