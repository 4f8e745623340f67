"""Tabular readers: CSV, XLSX and JSON Lines into text columns, with the row a user sees.

``_row`` is a spreadsheet row (the header counts as row 1) or a JSON Lines line number.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from tracelake.errors import FileRejected
from tracelake.intake import limits
from tracelake.intake.readers.base import PROBLEM_SCHEMA, ROW, RawFrame, no_problems
from tracelake.intake.xlsx_guard import check_archive, scan_sheet

__all__ = ["SUFFIXES", "detect_delimiter", "read_tabular"]

BOM = b"\xef\xbb\xbf"
#: Column names the lake uses for lineage: a source column so named is kept under another name.
RESERVED = ("_row", "_extra", "_source_file", "_sha256", "_run_id", "_loaded_at")
RENAMED = "source:"  # prefix of a source column renamed because its name is reserved
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_tabular(path: Path, *, encoding: str | None = None, header: bool = True,
                 columns: list[str] | None = None, sheet: str | None = None,
                 table: str | None = None) -> RawFrame:
    """Read one CSV, XLSX or JSON Lines file into text columns.

    Args:
        path: the file.
        encoding: force an encoding (``utf-8``, ``windows-1252``) instead of detecting it.
        header: whether the first row names the columns (CSV only).
        columns: the column names of a header-less CSV, in order.
        sheet: the XLSX sheet to read; default the sheet named like ``table``, else the first.
        table: the canonical table the file feeds, used to choose an XLSX sheet.
    """
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise FileRejected(str(path), f"unsupported file type {path.suffix!r} "
                           "(expected .csv, .xlsx or .jsonl)")
    size = path.stat().st_size
    if size == 0:
        raise FileRejected(str(path), "file is empty (0 bytes): nothing to load")
    if kind != "xlsx" and size > limits.MAX_FILE_BYTES:
        raise FileRejected(str(path), f"the file is {size:,} bytes (limit "
                           f"{limits.MAX_FILE_BYTES:,}): split it, not read")
    if kind == "xlsx":
        return _read_xlsx(path, sheet=sheet, table=table)
    data, used_encoding = _decode(path, encoding)
    if kind == "jsonl":
        return _read_jsonl(path, data, used_encoding)
    return _read_csv(path, data, used_encoding, header=header, columns=columns)


def _own_names(names: list[str]) -> list[str]:
    """Source column names, with a name the lake reserves for lineage (``_row``) kept as
    ``source:_row`` so the column is not lost (it goes to ``_extra`` unless mapped)."""
    return [RENAMED + n if n in RESERVED else n for n in names]


def _renamed_note(names: list[str]) -> list[str]:
    renamed = [n for n in names if n.startswith(RENAMED) and n[len(RENAMED):] in RESERVED]
    if not renamed:
        return []
    return [f"column(s) {', '.join(n[len(RENAMED):] for n in renamed)} carry names the lake "
            f"uses for lineage: kept as {', '.join(renamed)}"]


# ---------------------------------------------------------------- encodings

def _decode(path: Path, forced: str | None) -> tuple[bytes, str]:
    """The file's bytes as UTF-8 without a BOM, and the encoding they were in."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) and not forced:  # a UTF-16 byte-order mark
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise FileRejected(str(path), f"starts with a UTF-16 byte-order mark but is not "
                               f"UTF-16 (byte {exc.start})") from None
        return text.encode("utf-8", "replace"), "utf-16"
    if forced:
        name = forced.lower().replace("_", "-")
        try:
            text = raw.decode(name)
        except (LookupError, UnicodeDecodeError) as exc:
            raise FileRejected(str(path), f"cannot be read as {forced}: {exc}") from None
        return text.encode("utf-8").removeprefix(BOM), name
    if raw.startswith(BOM):
        try:
            raw[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileRejected(str(path), f"starts with a UTF-8 byte-order mark but is not "
                               f"UTF-8 {_where(raw, exc.start + 3)}") from None
        return raw[3:], "utf-8-sig"
    if raw.isascii():
        return raw, "utf-8"
    try:
        raw.decode("utf-8")
        return raw, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252").encode("utf-8"), "windows-1252"
    except UnicodeDecodeError as exc:
        raise FileRejected(str(path), "is neither UTF-8 nor Windows-1252: byte "
                           f"0x{raw[exc.start]:02x} {_where(raw, exc.start)}; set 'encoding' "
                           "in the source's mapping") from None


def _where(raw: bytes, offset: int) -> str:
    line = raw.count(b"\n", 0, offset) + 1
    return f"at line {line}"


# ---------------------------------------------------------------- CSV

def detect_delimiter(header_line: str) -> str:
    """The delimiter a header line uses: comma, semicolon or tab (the most frequent, outside quotes)."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header_names(line: str, delimiter: str) -> list[str]:
    names = next(csv.reader([line], delimiter=delimiter)) if line.strip() else []
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        name = name.strip() or f"column_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return _own_names(out)


def _read_csv(path: Path, data: bytes, encoding: str, *, header: bool,
              columns: list[str] | None) -> RawFrame:
    notes: list[str] = []
    if b"\n" not in data and b"\r" in data.rstrip(b"\r"):  # old Mac line ends: CR alone
        data = data.replace(b"\r", b"\n")
        notes.append("lines end with CR alone (old Mac style): read as lines")
    # the whole file is never copied to look at its first line or its blankness (a 100 MB
    # file's split, strip and second count cost more than reading its first line)
    end = data.find(b"\n")
    first_line = (data if end < 0 else data[:end]).decode("utf-8").rstrip("\r")
    if _blank_from(data, 0):
        raise FileRejected(str(path), "file holds only blank lines: nothing to load")
    delimiter = detect_delimiter(first_line)
    width = first_line.count(delimiter) + 1
    if width > limits.MAX_COLUMNS:
        raise FileRejected(str(path), f"the first line has {width:,} fields (limit "
                           f"{limits.MAX_COLUMNS:,} columns): not read")
    lines = data.count(b"\n")
    if lines > limits.MAX_ROWS:
        raise FileRejected(str(path), f"the file has {lines:,} lines (limit "
                           f"{limits.MAX_ROWS:,} rows a file): split it, not read")
    try:
        _header_names(first_line, delimiter)
    except csv.Error as exc:
        raise FileRejected(str(path), f"the first line cannot be read as CSV ({exc})",
                           row=1) from None
    if header:
        names = _header_names(first_line, delimiter)
        if columns:  # a header row that the mapping renames by position
            names = [c or n for c, n in zip(columns, names, strict=False)] + names[len(columns):]
    else:
        if not columns:
            raise FileRejected(str(path), "the mapping says this file has no header row but "
                               "gives no 'columns' list")
        width = len(_header_names(first_line, delimiter))
        names = [c or f"column_{i}" for i, c in enumerate(columns, start=1)]
        names += [f"column_{i}" for i in range(len(names) + 1, width + 1)]
    if header and (end < 0 or _blank_from(data, end + 1)):
        frame = pl.DataFrame(schema={n: pl.String for n in names} | {ROW: pl.Int64})
        return RawFrame(frame, no_problems(), encoding, delimiter,
                        notes=[*notes, *_renamed_note(names), "no data rows (header only)"])

    if b'"' not in data:  # no quoting: lines are records, and numpy can check every line's width
        fast = _read_plain_csv(data, names, delimiter, header)
        if fast is not None:
            frame, problems = fast
            return RawFrame(frame, problems, encoding, delimiter,
                            notes=notes + _renamed_note(names))
    with tempfile.TemporaryDirectory(prefix="tracelake-") as tmp:
        source = path
        if encoding not in ("utf-8", "utf-8-sig"):  # DuckDB reads UTF-8: hand it the transcoded bytes
            source = Path(tmp) / "transcoded.csv"
            source.write_bytes(data)
        frame, rejects = _duckdb_read_csv(source, names, delimiter, header)

    first_data_line = 2 if header else 1
    last_record = first_data_line + frame.height + rejects["line"].n_unique() - 1
    problems = _reject_problems(rejects, data, names, last_record)
    frame = frame.with_columns(
        pl.Series(ROW, _record_lines(frame, rejects, first_data_line), dtype=pl.Int64))
    return RawFrame(frame, problems, encoding, delimiter, notes=notes + _renamed_note(names))


#: a byte that ``bytes.strip()`` keeps: anything but ASCII whitespace
_NOT_BLANK = re.compile(rb"[^ \t\n\r\x0b\x0c]")


def _blank_from(data: bytes, start: int) -> bool:
    """Whether ``data[start:]`` is only ASCII whitespace (``not data[start:].strip()``), found
    without copying it: the search stops at the first byte that is not blank."""
    return _NOT_BLANK.search(data, start) is None


def _read_plain_csv(data: bytes, names: list[str], delimiter: str,
                    header: bool) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Read a CSV that has no quote characters with polars, checking each line's field count.

    Returns None when polars and the line count disagree, so the caller falls back to DuckDB.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    if starts[-1] == len(buf):  # the file ends with a line end: no last line after it
        starts, ends = starts[:-1], ends[:-1]
    crlf = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    content_ends = ends - crlf
    blank = content_ends == starts
    delims = np.flatnonzero(buf == ord(delimiter))
    fields = np.searchsorted(delims, content_ends) - np.searchsorted(delims, starts) + 1
    first = 1 if header else 0
    line_no = np.arange(1, len(starts) + 1, dtype=np.int64)
    data_lines = np.flatnonzero(~blank[first:]) + first
    ragged = data_lines[fields[data_lines] != len(names)]
    try:
        frame = pl.read_csv(data, has_header=header, new_columns=names, separator=delimiter,
                            quote_char=None, infer_schema=False, truncate_ragged_lines=True,
                            raise_if_empty=False)
    except pl.exceptions.PolarsError:
        return None
    if frame.height != len(data_lines):
        return None
    frame = frame.with_columns(pl.Series(ROW, line_no[data_lines]))
    if not len(ragged):
        return frame, no_problems()
    frame = frame.filter(~pl.col(ROW).is_in(line_no[ragged].tolist()))
    cut_off = not data.endswith(b"\n")
    last = data_lines[-1]
    rows = []
    for i in ragged.tolist():
        n = int(fields[i])
        raw = data[starts[i]:content_ends[i]].decode("utf-8")
        if n < len(names):
            rule = "truncated_row" if cut_off and i == last else "missing_fields"
            text = f"has {n} of {len(names)} fields" + (
                ": the file looks cut off (its last line has no line end)"
                if rule == "truncated_row" else "")
            column = names[n] if n < len(names) else None
        else:
            rule, text, column = ("extra_fields",
                                  f"has more fields than the {len(names)} in the header", None)
        rows.append({ROW: int(line_no[i]), "column": column, "rule": rule, "message": text,
                     "raw": json.dumps({"line": raw}, ensure_ascii=False)})
    return frame, pl.DataFrame(rows, schema=PROBLEM_SCHEMA)


def _duckdb_read_csv(source: Path, names: list[str], delimiter: str,
                     header: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse with DuckDB's CSV reader: fast, and it reports every ragged or malformed line."""
    con = duckdb.connect()
    try:
        cols = "{" + ", ".join(f"'{_sql_str(n)}': 'VARCHAR'" for n in names) + "}"
        query = (
            f"SELECT * FROM read_csv('{_sql_str(str(source))}', columns={cols}, "
            f"header={str(header).lower()}, delim='{_sql_str(delimiter)}', quote='\"', "
            "escape='\"', auto_detect=false, strict_mode=true, null_padding=false, "
            "store_rejects=true, encoding='utf-8', parallel=true)"
        )
        # in batches of a DuckDB row group: the frame's chunks let an ingest free the text
        # of a large file chunk by chunk as it stages it (see ingest.run._load)
        frame = con.sql(query).pl(batch_size=122_880)
        rejects = con.sql(
            "SELECT line, column_name, error_type, csv_line, error_message "
            "FROM reject_errors ORDER BY line").pl()
    except duckdb.InterruptException:  # Ctrl+C or SIGTERM while DuckDB parsed: not the file's fault
        raise KeyboardInterrupt from None
    except duckdb.Error as exc:
        raise FileRejected(str(source), f"cannot be parsed as CSV: {_first_line(exc)}") from None
    finally:
        con.close()
    return frame, rejects


def _record_lines(frame: pl.DataFrame, rejects: pl.DataFrame, first: int) -> np.ndarray:
    """The row number of each parsed record, as a spreadsheet shows it (header = row 1).

    DuckDB numbers rejected records the same way, so a record with a quoted line break counts
    as one row, just as it is one row when the file is opened in a spreadsheet.
    """
    n = frame.height
    rejected = (np.unique(rejects["line"].to_numpy().astype(np.int64)) if rejects.height
                else np.empty(0, dtype=np.int64))
    candidates = np.arange(first, first + n + len(rejected), dtype=np.int64)
    return np.setdiff1d(candidates, rejected, assume_unique=True)[:n]


def _reject_problems(rejects: pl.DataFrame, data: bytes, names: list[str],
                     last_record: int) -> pl.DataFrame:
    if not rejects.height:
        return no_problems()
    cut_off = not data.endswith(b"\n")
    rows = []
    for line, column, error_type, csv_line, message in rejects.iter_rows():
        if error_type == "MISSING COLUMNS":
            rule = "truncated_row" if cut_off and line == last_record else "missing_fields"
            found = message.rsplit(":", 1)[-1].strip()
            text = (f"has {found} of {len(names)} fields"
                    + (": the file looks cut off (its last line has no line end)"
                       if rule == "truncated_row" else ""))
        elif error_type == "TOO MANY COLUMNS":
            rule, text = "extra_fields", f"has more fields than the {len(names)} in the header"
        elif error_type == "UNQUOTED VALUE" or "quote" in error_type.lower():
            rule, text = "bad_quoting", f"a quote is not closed or is misplaced ({message})"
        else:
            rule, text = error_type.lower().replace(" ", "_"), message
        rows.append({ROW: int(line), "column": column, "rule": rule, "message": text,
                     "raw": json.dumps({"line": csv_line}, ensure_ascii=False)})
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA).unique(ROW, keep="first", maintain_order=True)


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---------------------------------------------------------------- JSON Lines

_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _read_jsonl(path: Path, data: bytes, encoding: str) -> RawFrame:
    records: list[dict[str, str | None]] = []
    lines: list[int] = []
    problems = []
    names: dict[str, None] = {}
    for number, line in enumerate(io.StringIO(data.decode("utf-8"), newline=None), start=1):
        text = line.strip()
        if not text:
            continue
        if number > limits.MAX_ROWS:
            raise FileRejected(str(path), f"the file has more than {limits.MAX_ROWS:,} lines "
                               "(the limit of rows a file): split it, not read")
        why = _bad_json(text)
        if why is not None:
            problems.append({ROW: number, "column": None, "rule": "bad_json", "message": why,
                             "raw": json.dumps({"line": _clip(text)}, ensure_ascii=False)})
            continue
        obj = json.loads(text)
        record = {str(k): _json_text(v) for k, v in obj.items()}
        names.update(dict.fromkeys(record))
        if len(names) > limits.MAX_COLUMNS:
            raise FileRejected(str(path), f"the records hold more than {limits.MAX_COLUMNS:,} "
                               "different keys (the column limit): not read", row=number)
        records.append(record)
        lines.append(number)
    own = dict(zip(names, _own_names(list(names)), strict=True))
    records = [{own[k]: v for k, v in rec.items()} for rec in records] if any(
        k != v for k, v in own.items()) else records
    frame = pl.DataFrame(records, schema={n: pl.String for n in own.values()}) if records else \
        pl.DataFrame(schema={n: pl.String for n in own.values()})
    frame = frame.with_columns(pl.Series(ROW, lines, dtype=pl.Int64))
    probs = pl.DataFrame(problems, schema=PROBLEM_SCHEMA) if problems else no_problems()
    notes = _renamed_note(list(own.values())) + ([] if records or problems else ["no data rows"])
    return RawFrame(frame, probs, encoding, None, notes=notes)


def _bad_json(text: str) -> str | None:
    """Why one line is not a record (None: it is a JSON object of text-safe values)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"is not valid JSON ({exc.msg} at character {exc.pos})"
    except RecursionError:
        return "is nested too deeply to be read"
    if not isinstance(obj, dict):
        return "is not a JSON object"
    if _SURROGATE.search(text):
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone UTF-16 surrogate (such as \\ud800), which is not text"
        except RecursionError:
            return "is nested too deeply to be read"
    try:
        for v in obj.values():
            _json_text(v)
    except RecursionError:
        return "is nested too deeply to be read"
    return None


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------- XLSX

def _read_xlsx(path: Path, *, sheet: str | None, table: str | None) -> RawFrame:
    import fastexcel

    check_archive(path)  # sizes first: opening the workbook already inflates parts of it
    try:
        workbook = fastexcel.read_excel(str(path))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # fastexcel's errors, and calamine's panics
        raise FileRejected(str(path), f"cannot be opened as a spreadsheet: {_first_line(exc)}") \
            from None
    names = list(workbook.sheet_names)
    if sheet is not None:
        if sheet not in names:
            raise FileRejected(str(path), f"has no sheet {sheet!r} (sheets: {', '.join(names)})")
        chosen = sheet
    else:
        by_table = [n for n in names if table and n.strip().lower() == table]
        chosen = by_table[0] if by_table else names[0]
    notes = []
    if len(names) > 1:
        others = ", ".join(n for n in names if n != chosen)
        notes.append(f"read sheet {chosen!r}; other sheets not read: {others}")
    scan = scan_sheet(path, names.index(chosen))  # before calamine holds the sheet's area
    try:
        loaded = workbook.load_sheet(chosen, dtypes="string")
        frame = loaded.to_polars()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # as above
        raise FileRejected(str(path), f"sheet {chosen!r} cannot be read: {_first_line(exc)}") \
            from None
    header_row, errors = scan.first_row or 1, scan.errors
    frame = frame.rename(dict(zip(frame.columns, _own_names(
        [c.strip() or f"column_{i}" for i, c in enumerate(frame.columns, start=1)]),
        strict=True)))
    rows = np.arange(header_row + 1, header_row + 1 + frame.height, dtype=np.int64)
    frame = frame.with_columns(pl.Series(ROW, rows))
    frame, trailing = _drop_trailing_blank(frame)
    if trailing:
        notes.append(f"{trailing:,} empty row(s) at the end of the sheet not read")
    problems = []
    if errors:
        letters = {i: name for i, name in enumerate(frame.columns)}
        for col_letters, row, value in errors:
            if row <= header_row:
                continue
            col_idx = _column_index(col_letters)
            col = letters.get(col_idx, col_letters)
            problems.append({ROW: row, "column": col, "rule": "formula_error",
                             "message": f"cell {col_letters}{row} holds the formula error {value}",
                             "raw": None})
    probs = pl.DataFrame(problems, schema=PROBLEM_SCHEMA) if problems else no_problems()
    if probs.height:  # a row with an error cell is quarantined whole: keep its values as raw
        bad = frame.filter(pl.col(ROW).is_in(probs[ROW].implode()))
        raw = bad.select(ROW, pl.struct(pl.exclude(ROW)).struct.json_encode().alias("raw"))
        probs = probs.drop("raw").join(raw, on=ROW, how="left").select(list(PROBLEM_SCHEMA))
        frame = frame.filter(~pl.col(ROW).is_in(probs[ROW].implode()))
    return RawFrame(frame, probs, None, None, sheet=chosen, notes=notes)


def _drop_trailing_blank(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The frame without its trailing rows that hold nothing, and how many there were."""
    cols = [c for c in frame.columns if c != ROW]
    if not cols or not frame.height:
        return frame, 0
    filled = frame.select(~pl.all_horizontal(
        pl.col(cols).cast(pl.String).str.strip_chars().replace("", None).is_null()))
    hits = filled.to_series().arg_true()
    keep = int(hits[-1]) + 1 if hits.len() else 0
    return frame.head(keep), frame.height - keep


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1
