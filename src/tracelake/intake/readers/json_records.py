"""Plain JSON (``.json``): an array of objects, or an object holding one array of objects.

When the top-level object holds several arrays of objects, the mapping names the one to read
(``json_key``). Nested objects are flattened with ``.`` in the name (``measurement.value``) so a
mapping can name them; arrays inside a record are kept as JSON text. ``_row`` is the record's
position in the array (1 = first). An item of the array that is not an object is quarantined
with the reason; a file that holds no array of objects is rejected.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tracelake.errors import FileRejected
from tracelake.intake.readers.base import PROBLEM_SCHEMA, ROW, RawFrame, no_problems
from tracelake.intake.readers.tabular import _decode, _json_text

__all__ = ["flatten", "read_json"]


def flatten(obj: dict[str, object], prefix: str = "") -> dict[str, str | None]:
    """A record with nested objects flattened to ``a.b`` names, values as text."""
    out: dict[str, str | None] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = _json_text(value)
    return out


def _records(path: Path, doc: object, key: str | None) -> tuple[list[object], str | None]:
    if isinstance(doc, list):
        if key:
            raise FileRejected(str(path), f"the mapping names json_key {key!r} but the file "
                               "is an array, not an object")
        return doc, None
    if not isinstance(doc, dict):
        raise FileRejected(str(path), f"holds a JSON {type(doc).__name__}, not an array of "
                           "objects (or an object holding one); nothing to load")
    arrays = [k for k, v in doc.items() if isinstance(v, list)
              and any(isinstance(i, dict) for i in v)]
    if key is not None:
        if key not in doc or not isinstance(doc[key], list):
            raise FileRejected(str(path), f"has no array {key!r} (json_key in the mapping); "
                               f"arrays of objects here: {', '.join(arrays) or 'none'}")
        return doc[key], key
    if len(arrays) == 1:
        return doc[arrays[0]], arrays[0]
    if not arrays:
        raise FileRejected(str(path), "is a JSON object that holds no array of objects; "
                           "nothing to load (expected an array of records)")
    raise FileRejected(str(path), f"holds several arrays of objects ({', '.join(arrays)}); "
                       "name the one to read with json_key in the mapping")


def json_refusal(exc: BaseException) -> str:
    """The one-line reason for JSON that parses as text but not as data we keep."""
    if isinstance(exc, RecursionError):
        return ("the JSON nests arrays or objects too deeply to be records (a limit kept "
                "against hostile files); nothing of it is loaded")
    return (f"holds a value that cannot be read ({str(exc).splitlines()[0][:120]}); "
            "nothing of it is loaded")


def read_json(path: Path, *, key: str | None = None, encoding: str | None = None) -> RawFrame:
    """Read a plain JSON file of records into text columns."""
    data, used = _decode(path, encoding)
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise FileRejected(str(path), f"is not valid JSON ({exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno}); nothing of it is loaded") from None
    except (RecursionError, ValueError) as exc:
        raise FileRejected(str(path), json_refusal(exc)) from None
    items, used_key = _records(path, doc, key)
    records: list[dict[str, str | None]] = []
    rows: list[int] = []
    problems = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, dict):
            records.append(flatten(item))
            rows.append(n)
        else:
            problems.append({ROW: n, "column": None, "rule": "bad_json",
                             "message": f"item {n} of the array is a JSON "
                             f"{type(item).__name__}, not an object",
                             "raw": json.dumps({"item": item}, ensure_ascii=False)})
    if not records and problems:
        raise FileRejected(str(path), "is not an array of objects (its items are "
                           f"{type(items[0]).__name__}s); nothing to load")
    names: dict[str, None] = {}
    for rec in records:
        names.update(dict.fromkeys(rec))
    schema = {n: pl.String for n in names}
    frame = pl.DataFrame(records, schema=schema) if records else pl.DataFrame(schema=schema)
    frame = frame.with_columns(pl.Series(ROW, rows, dtype=pl.Int64))
    probs = pl.DataFrame(problems, schema=PROBLEM_SCHEMA) if problems else no_problems()
    notes = [f"records read from the array {used_key!r}"] if used_key else []
    if not records and not problems:
        notes.append("no data rows")
    return RawFrame(frame, probs, used, None, notes=notes)
