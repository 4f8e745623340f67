"""Typing: turn a file's text columns into the contract's types, and say which values would not go.

Types are cast here, explicitly, rather than by Pandera's ``coerce`` (pandera#2085: a missing
column then raises instead of reporting). A value that cannot be read as its column's type becomes
null in the typed frame and a ``wrong_type`` failure naming the row, column and value, so the row
is quarantined with the reason instead of loaded half-empty.

Rules a plant user can rely on:
* text is trimmed; an empty or blank cell is empty (null);
* booleans: true/false, yes/no, y/n, 1/0, t/f in any case;
* allowed-value columns are compared ignoring case, spaces and dashes (``In Tolerance`` is
  ``in_tolerance``); anything else is left as written for the contract to refuse;
* numbers: ``1234.5``; with a semicolon delimiter, a decimal comma (``1234,5``) too;
* timestamps: ISO 8601 with or without offset (``Z``, ``+01:00``); day-first UK forms
  (``25/11/2026``, ``25/11/2026 14:05``) only where the mapping says ``dayfirst``. Times without an
  offset are plant-local and stored as UTC; a local time that does not exist or happens twice at a
  clock change is refused, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from tracelake.contracts import TableContract
from tracelake.intake.readers import ROW

__all__ = ["FAILURE_SCHEMA", "TimeForms", "Typed", "coerce_frame", "suggest_date_formats"]

FAILURE_SCHEMA = {ROW: pl.Int64, "column": pl.String, "rule": pl.String, "message": pl.String}
EXTRA = "_extra"

_TRUE = ["true", "yes", "y", "1", "t"]
_FALSE = ["false", "no", "n", "0", "f"]
_OFFSET = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"  # a time, then an offset
_ISO_NAIVE = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
_ISO_OFFSET = ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"]
_DAYFIRST = ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M",
             "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M"]


@dataclass(frozen=True)
class TimeForms:
    """How a source writes dates and times: day-first or not, its zone, any extra formats."""

    dayfirst: bool = False
    timezone: str = "Europe/London"
    #: strftime formats the mapping declares (e.g. ``%m/%d/%Y`` for a US register), tried
    #: after ISO 8601; declared, never guessed
    formats: tuple[str, ...] = ()

    @property
    def datetime_formats(self) -> list[str]:
        """Naive forms with a time of day."""
        return (_ISO_NAIVE + (_DAYFIRST if self.dayfirst else [])
                + [f for f in self.formats if "%H" in f])

    @property
    def date_formats(self) -> list[str]:
        """Forms of a date alone (taken as local midnight where a time is expected)."""
        return (["%Y-%m-%d"] + (["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"] if self.dayfirst else [])
                + [f for f in self.formats if "%H" not in f])


@dataclass
class Typed:
    """A frame in the contract's types, and the values that could not be typed."""

    frame: pl.DataFrame
    failures: pl.DataFrame


def coerce_frame(frame: pl.DataFrame, contract: TableContract, *, dayfirst: bool = False,
                 timezone: str = "Europe/London", decimal_comma: bool = False,
                 date_formats: tuple[str, ...] = (),
                 column_formats: dict[str, tuple[str, ...]] | None = None) -> Typed:
    """Cast a frame of text columns (canonical names, plus ``_row`` and any extra columns).

    Returns the contract's columns in order, then ``_row`` and ``_extra`` (the unknown columns
    as a JSON object, kept as they came). All columns are cast in one parallel pass; timestamps
    are parsed with the form of each column's first value, and only the values that form does
    not fit go through the slower search over every accepted form. ``column_formats`` holds the
    formats decided for some date columns from their own values (see dates.py).
    """
    base = TimeForms(dayfirst, timezone, tuple(date_formats))
    decided = column_formats or {}

    def forms(name: str) -> TimeForms:
        extra = decided.get(name)
        return TimeForms(dayfirst, timezone, tuple(date_formats) + extra) if extra else base

    extras = [c for c in frame.columns if c not in contract.dtypes and c != ROW]
    text = frame.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in frame.columns
        if c != ROW)
    if contract.defaults:  # v2: an empty cell means what the contract says (status: active)
        text = text.with_columns(
            (pl.col(c).fill_null(pl.lit(v)) if c in text.columns else pl.lit(v).alias(c))
            for c, v in contract.defaults)
    exprs: list[pl.Expr] = []
    for name, dtype in contract.dtypes.items():
        if name not in text.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif name in contract.allowed_values:
            exprs.append(_choice_expr(name, contract.allowed_values[name]))
        elif dtype == pl.String:
            exprs.append(pl.col(name))
        elif dtype == pl.Boolean:
            exprs.append(_bool_expr(name))
        elif dtype == pl.Int64:
            exprs.append(_int_expr(name, decimal_comma))
        elif dtype == pl.Float64:
            exprs.append(_float_expr(name, decimal_comma))
        elif dtype == pl.Date:
            exprs.append(_date_expr(name, forms(name)))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(_utc_expr(name, text[name], forms(name)))
        else:  # pragma: no cover - a contract dtype this module does not know
            raise TypeError(f"no cast for {dtype} in column {name}")
    extra = (pl.struct(extras).struct.json_encode() if extras
             else pl.lit(None, dtype=pl.String)).alias(EXTRA)
    out = text.select(*exprs, ROW, extra)
    out = _retry_timestamps(text, out, contract, forms)
    # test_results keeps what the rig wrote; a value is numeric only where it reads as a number
    if "value_text" in contract.dtypes and "value" in text.columns:
        out = out.with_columns(text["value"].alias("value_text"))
    fails = _cast_failures(text, out, contract, forms)
    if "value_text" in contract.dtypes:
        fails = _allow_text_values(fails, out)
    return Typed(out, fails)


def _retry_timestamps(text: pl.DataFrame, out: pl.DataFrame, contract: TableContract,
                      forms: Callable[[str], TimeForms]) -> pl.DataFrame:
    """Parse again, trying every accepted form, the timestamps the column's main form missed."""
    for name, dtype in contract.dtypes.items():
        if not isinstance(dtype, pl.Datetime) or name not in text.columns:
            continue
        missed = text[name].is_not_null() & out[name].is_null()
        if not missed.any():
            continue
        idx = missed.arg_true()
        again = _to_utc(text[name].gather(idx), forms(name))
        out = out.with_columns(out[name].scatter(idx, again))
    return out


def _cast_failures(text: pl.DataFrame, out: pl.DataFrame, contract: TableContract,
                   forms: Callable[[str], TimeForms]) -> pl.DataFrame:
    """One failure per value present in the file but not readable as its column's type."""
    checked = [n for n, t in contract.dtypes.items() if n in text.columns and t != pl.String]
    if not checked:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    lost = pl.DataFrame([text[n].is_not_null() & out[n].is_null() for n in checked])
    frames = []
    for name in checked:
        if not lost[name].any():
            continue
        idx = lost[name].arg_true()
        values = text[name].gather(idx).to_list()
        messages = [f"{name} = {v!r} {_why(v, contract.dtypes[name], forms(name))}"
                    for v in values]
        frames.append(pl.DataFrame({ROW: text[ROW].gather(idx), "column": name,
                                    "rule": "wrong_type", "message": messages},
                                   schema=FAILURE_SCHEMA))
    return pl.concat(frames) if frames else pl.DataFrame(schema=FAILURE_SCHEMA)


def _choice_expr(name: str, allowed: list[str]) -> pl.Expr:
    norm = pl.col(name).str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
    return pl.when(norm.is_in(allowed)).then(norm).otherwise(pl.col(name)).alias(name)


def _bool_expr(name: str) -> pl.Expr:
    low = pl.col(name).str.to_lowercase()
    return (pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
            .otherwise(None).alias(name))


def _float_expr(name: str, decimal_comma: bool) -> pl.Expr:
    col = pl.col(name)
    if decimal_comma:
        col = col.str.replace(r"^([+-]?\d+),(\d+)$", "$1.$2")
    return col.cast(pl.Float64, strict=False).alias(name)


#: Whole numbers a BIGINT column holds: |n| < 2**63 (a larger one is a wrong_type, never a crash).
_INT_BOUND = 9.2e18


def _int_expr(name: str, decimal_comma: bool) -> pl.Expr:
    f = _float_expr(name, decimal_comma)
    fits = f.is_finite() & (f == f.round(0)) & (f.abs() < _INT_BOUND)
    return pl.when(fits).then(f).otherwise(None).cast(pl.Int64, strict=False).alias(name)


def _date_expr(name: str, forms: TimeForms) -> pl.Expr:
    head = pl.col(name).str.split(" ").list.first().str.split("T").list.first()
    return pl.coalesce([head.str.strptime(pl.Date, f, strict=False)
                        for f in forms.date_formats]).alias(name)


def _utc_expr(name: str, sample: pl.Series, forms: TimeForms) -> pl.Expr:
    """Parse a column with the form of its first value (most exports use one form throughout)."""
    first = sample.drop_nulls().head(1).to_list()
    form = _form_of(first[0], forms) if first else None
    if form is None:
        return pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias(name)
    fmt, aware = form
    parsed = pl.col(name).str.to_datetime(fmt, strict=False, time_unit="us")
    if aware:
        return parsed.dt.convert_time_zone("UTC").alias(name)
    return parsed.dt.replace_time_zone(forms.timezone, ambiguous="null", non_existent="null") \
        .dt.convert_time_zone("UTC").alias(name)


def _form_of(value: str, forms: TimeForms) -> tuple[str, bool] | None:
    """The strftime form one timestamp is written in, and whether it carries an offset."""
    sep = " " if re.match(r"^\d{4}-\d{2}-\d{2} \d", value) else "T"
    candidates = [(f"%Y-%m-%d{sep}%H:%M:%S%.f%#z", True), (f"%Y-%m-%d{sep}%H:%M%#z", True),
                  (f"%Y-%m-%d{sep}%H:%M:%S%.f", False), (f"%Y-%m-%d{sep}%H:%M", False)]
    candidates += [(f, "%z" in f) for f in forms.datetime_formats[len(_ISO_NAIVE):]]
    one = pl.Series([value])
    for fmt, aware in candidates:
        if one.str.to_datetime(fmt, strict=False, time_unit="us").is_not_null().all():
            return fmt, aware
    return None


def _allow_text_values(fails: pl.DataFrame, typed: pl.DataFrame) -> pl.DataFrame:
    """A non-numeric test value is kept as text unless the row has numeric limits to meet."""
    with_limits = typed.filter(pl.col("low_limit").is_not_null()
                               | pl.col("high_limit").is_not_null())
    keep = (pl.col("column") != "value") | pl.col(ROW).is_in(with_limits[ROW].implode())
    return fails.filter(keep).with_columns(
        pl.when(pl.col("column") == "value")
        .then(pl.col("message") + " (the row has numeric limits, so the value must be a number)")
        .otherwise(pl.col("message")).alias("message"))


def _why(value: str, dtype: pl.DataType, forms: TimeForms) -> str:
    """Why one value could not be read (only called for the few values that fail)."""
    if dtype == pl.Boolean:
        return "is not a yes/no value (true/false, yes/no, y/n, 1/0)"
    if dtype == pl.Int64:
        try:
            if abs(float(value.replace(",", "."))) >= _INT_BOUND:
                return "is too large (a whole number must be below 9.2e18 in size)"
        except ValueError:
            pass
        return "is not a whole number"
    if dtype == pl.Float64:
        return "is not a number"
    clock = _clock_change(value, dtype, forms)
    if clock:
        return clock
    numeric = re.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", value) is not None
    if numeric and (forms.dayfirst or forms.formats):
        declared = ", ".join(([] if not forms.dayfirst else ["dayfirst: true"])
                             + [repr(f) for f in forms.formats])
        return (f"does not fit the date order and formats of this source ({declared}); "
                "nothing is guessed: correct the value or the mapping's date_formats")
    if numeric:
        return "is not an ISO date; " + suggest_date_formats(value)
    if isinstance(dtype, pl.Datetime):
        return "is not a date and time (e.g. 2026-11-25T14:05:00 or 2026-11-25T14:05:00+00:00)"
    return "is not a date (e.g. 2026-11-25)"


def _clock_change(value: str, dtype: pl.DataType, forms: TimeForms) -> str | None:
    """The reason a time that reads well does not exist (or happens twice) in the plant's zone."""
    if not isinstance(dtype, pl.Datetime):
        return None
    naive = _to_utc(pl.Series([value]), TimeForms(forms.dayfirst, "UTC", forms.formats))[0]
    if naive is None:
        return None
    local = naive.replace(tzinfo=None)
    earliest = pl.Series([local]).dt.replace_time_zone(
        forms.timezone, ambiguous="earliest", non_existent="null")[0]
    what = "happens twice" if earliest is not None else "does not exist"
    return (f"{what} in {forms.timezone} (a clock change); give the time with its UTC "
            "offset, e.g. +01:00")


def _parse_formats(s: pl.Series, formats: list[str], dtype: pl.DataType) -> pl.Series:
    """Parse with the first format that fits each value (one pass per format, over what is left)."""
    out = pl.Series(s.name, [None] * len(s), dtype=dtype)
    todo = s.is_not_null()
    for fmt in formats:
        if not todo.any():
            break
        parsed = s.str.strptime(dtype, fmt, strict=False)  # type: ignore[arg-type]
        out = pl.select(pl.when(todo & parsed.is_not_null()).then(parsed).otherwise(out)) \
            .to_series()
        todo = todo & parsed.is_null()
    return out.rename(s.name)


def _to_utc(s: pl.Series, forms: TimeForms) -> pl.Series:
    """Every accepted form, tried in turn over the values still unread (the careful path)."""
    utc = pl.Datetime("us", "UTC")
    iso = s.str.replace(r"^(\d{4}-\d{2}-\d{2}) (\d)", "${1}T${2}")
    has_offset = iso.str.contains(_OFFSET).fill_null(False)
    if has_offset.any():
        with_offset = iso.str.replace(r"[Zz]$", "+00:00").str.replace(
            r"([+-]\d{2})$", "${1}:00")
        aware = _parse_formats(pl.select(pl.when(has_offset).then(with_offset)).to_series(),
                               _ISO_OFFSET, utc)
    else:
        aware = pl.Series(s.name, [None] * len(s), dtype=utc)
    naive_text = pl.select(pl.when(~has_offset).then(iso)).to_series()
    naive = _parse_formats(naive_text, _ISO_NAIVE, pl.Datetime("us"))
    other = forms.datetime_formats[len(_ISO_NAIVE):]
    if other:  # day-first and declared forms are matched on the original text (no T inserted)
        rest = pl.select(pl.when(~has_offset & naive.is_null()).then(s)).to_series()
        if rest.is_not_null().any():
            naive = pl.select(pl.coalesce(
                naive, _parse_formats(rest, other, pl.Datetime("us")))).to_series()
    rest = pl.select(pl.when(~has_offset & naive.is_null()).then(s)).to_series()
    if rest.is_not_null().any():  # date-only values are midnight local time
        dates = _parse_formats(rest, forms.date_formats, pl.Date).cast(pl.Datetime("us"))
        naive = pl.select(pl.coalesce(naive, dates)).to_series()
    local = naive.dt.replace_time_zone(forms.timezone, ambiguous="null", non_existent="null") \
        .dt.convert_time_zone("UTC")
    return pl.select(pl.coalesce(aware, local)).to_series().rename(s.name)




def suggest_date_formats(value: str) -> str:
    """The mapping key that reads a numeric date such as ``1/31/2001``, in the form it is written."""
    m = re.match(r"^(\d{1,2})([/.-])(\d{1,2})[/.-](\d{2,4})(?:([ T])\d{1,2}:\d{2}(:\d{2})?)?", value)
    if not m:
        return "declare the form with date_formats in the source's mapping"
    sep, year = m.group(2), "%Y" if len(m.group(4)) == 4 else "%y"
    tail = (m.group(5) + "%H:%M" + (":%S" if m.group(6) else "")) if m.group(5) else ""
    day = f"%d{sep}%m{sep}{year}{tail}"
    month = f"%m{sep}%d{sep}{year}{tail}"
    if int(m.group(1)) > 12:
        return f"set date_formats: ['{day}'] (or dayfirst: true) in the source's mapping"
    if int(m.group(3)) > 12:
        return f"set date_formats: ['{month}'] in the source's mapping (month first)"
    return (f"say which order the source writes: date_formats: ['{month}'] (month first) or "
            f"['{day}'] (day first) in its mapping")
