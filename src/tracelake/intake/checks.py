"""Contract checks: which rows of a typed frame break the contract, and why, row by row.

Pandera (polars backend) checks required fields, allowed values, ranges and the cross-column
rules of each model, lazily so that every failure is collected; tracelake adds natural-key
uniqueness within the file and blank rows. Nothing is dropped here: the caller loads the rows
without failures and quarantines the others with these reasons.
"""

from __future__ import annotations

import re

import duckdb
import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from tracelake.contracts import TableContract
from tracelake.intake.coerce import FAILURE_SCHEMA
from tracelake.intake.readers import ROW

__all__ = ["check_frame", "missing_required_columns"]


def missing_required_columns(columns: list[str], contract: TableContract,
                             constants: dict[str, str] | None = None) -> list[str]:
    """Required columns a file does not carry at all (the whole file is then rejected)."""
    have = set(columns) | set(constants or {})
    return [c for c in contract.required if c not in have]


def check_frame(typed: pl.DataFrame, contract: TableContract,
                already: pl.DataFrame | None = None, *, duplicates: bool = True) -> pl.DataFrame:
    """Every contract failure of every row: ``_row``, column, rule, message.

    ``already`` holds failures found earlier (values that could not be typed); a value reported
    there is not reported again as a missing required value. ``duplicates=False`` leaves out
    the natural-key check across rows, for a chunk of a larger file (the caller then checks the
    whole file's keys with :func:`duplicate_key_failures`).
    """
    failures = [_blank_rows(typed, contract), _pandera_failures(typed, contract)]
    if duplicates:
        failures.append(_duplicate_keys(typed, contract))
    out = pl.concat([f for f in failures if f.height] or [pl.DataFrame(schema=FAILURE_SCHEMA)])
    blank = out.filter(pl.col("rule") == "blank_row")[ROW]
    out = out.filter(~(pl.col(ROW).is_in(blank.implode()) & (pl.col("rule") != "blank_row")))
    if already is not None and already.height:
        out = out.join(already.select(ROW, "column"), on=[ROW, "column"], how="anti",
                       nulls_equal=False)
    return out


def _blank_rows(typed: pl.DataFrame, contract: TableContract) -> pl.DataFrame:
    defaulted = {c for c, _ in contract.defaults}  # filled by typing, so not telling
    cols = [c for c in contract.input_columns if c in typed.columns and c not in defaulted]
    blank = typed.filter(pl.all_horizontal(pl.col(cols).is_null()))
    return blank.select(ROW, pl.lit(None, pl.String).alias("column"),
                        pl.lit("blank_row").alias("rule"),
                        pl.lit("the row is empty").alias("message"))


def _pandera_failures(typed: pl.DataFrame, contract: TableContract) -> pl.DataFrame:
    frame = typed.select(list(contract.columns))
    try:
        contract.model.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    if cases["index"].null_count():  # a schema-level failure: a bug in typing, not in the data
        raise RuntimeError(f"{contract.name}: schema-level contract failure after typing: "
                           f"{cases.filter(pl.col('index').is_null()).to_dicts()}")
    rows = typed[ROW]
    out = []
    for column, check, case, index in cases.select(
            "column", "check", "failure_case", "index").iter_rows():
        rule, message = _describe(contract, column, check, case)
        col = column if column in contract.dtypes else _frame_rule_column(check)
        out.append((int(rows[int(index)]), col, rule, message))
    return pl.DataFrame(out, schema=FAILURE_SCHEMA, orient="row").unique(maintain_order=True)


def _describe(contract: TableContract, column: str | None, check: str,
              case: str | None) -> tuple[str, str]:
    """A rule name and a sentence a QA engineer understands, for one Pandera failure."""
    if check == "not_nullable":
        return "required", f"{column} is required but empty"
    if check.startswith("isin"):
        allowed = ", ".join(contract.allowed_values.get(column or "", []))
        return "not_allowed", f"{column} = {case!r} is not one of: {allowed}"
    bound = re.match(r"(greater_than_or_equal_to|greater_than|less_than_or_equal_to|less_than)"
                     r"\((.*)\)", check)
    if bound:
        op = {"greater_than": ">", "greater_than_or_equal_to": ">=", "less_than": "<",
              "less_than_or_equal_to": "<="}[bound.group(1)]
        return "out_of_range", f"{column} = {case} must be {op} {bound.group(2)}"
    if check.startswith("str_matches"):
        return "bad_format", f"{column} = {case!r} is not in the expected form"
    if column not in contract.dtypes:  # a frame-level rule, named for what it requires
        return "inconsistent", _rule_sentence(check)
    return check, f"{column} = {case!r} fails {check}"


_OPS = {">=": "on or after", ">": "after", "<=": "at most", "<": "below"}


def _rule_sentence(check: str) -> str:
    """``finished_at >= started_at`` -> ``finished_at must be on or after started_at``."""
    m = re.fullmatch(r"(\w+) (>=|>|<=|<) (\w+)", check)
    if not m:
        return f"breaks the rule: {check}"
    return f"{m.group(1)} must be {_OPS[m.group(2)]} {m.group(3)}"


def _frame_rule_column(check: str) -> str | None:
    m = re.fullmatch(r"(\w+) (>=|>|<=|<) (\w+)", check)
    return m.group(1) if m else None


#: Rows a duplicate_key message names; the rest are counted (the message stays short however
#: many rows share a key: 8,000 identical rows once made 8,000 messages of 8,000 row numbers).
DUPLICATE_ROWS_SHOWN = 5


def _duplicate_keys(typed: pl.DataFrame, contract: TableContract) -> pl.DataFrame:
    """Rows whose natural key appears more than once in the file: all of them, as none can win."""
    key = list(contract.natural_key)
    if typed.height < 2:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    dup = typed.filter(pl.struct(key).is_duplicated())
    if not dup.height:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    shown = DUPLICATE_ROWS_SHOWN
    rows_by_key = dup.group_by(key, maintain_order=True).agg(
        pl.col(ROW).sort().head(shown).cast(pl.String).str.join(", ").alias("rows"),
        pl.len().alias("n"))
    dup = dup.join(rows_by_key, on=key, how="left", nulls_equal=True)
    names = ", ".join(key)
    listed = (pl.when(pl.col("n") > shown)
              .then(pl.col("rows") + pl.lit(" and ") + (pl.col("n") - shown).cast(pl.String)
                    + pl.lit(" more (") + pl.col("n").cast(pl.String) + pl.lit(" rows)"))
              .otherwise(pl.col("rows")))
    return dup.select(
        ROW, pl.lit(None, pl.String).alias("column"), pl.lit("duplicate_key").alias("rule"),
        (pl.lit(f"natural key ({names}) appears on rows ") + listed
         + pl.lit(" of this file; none is loaded until the file is corrected")).alias("message"))


def blank_rows(typed: pl.DataFrame, contract: TableContract) -> pl.Series:
    """Whether each row of a typed frame is blank (the ``blank_row`` rule of :func:`check_frame`)."""
    defaulted = {c for c, _ in contract.defaults}
    cols = [c for c in contract.input_columns if c in typed.columns and c not in defaulted]
    return typed.select(pl.all_horizontal(pl.col(cols).is_null()).alias("_blank")).to_series()


def duplicate_key_failures(con: duckdb.DuckDBPyConnection, relation: str,
                           contract: TableContract) -> pl.DataFrame:
    """The ``duplicate_key`` failures of a whole file staged in DuckDB, as :func:`check_frame`
    finds them in one frame: every row whose natural key appears more than once in the file
    (``relation`` holds the typed key columns, ``_row`` and ``_blank``; a blank row counts
    towards a key but is quarantined as blank, not as a duplicate).

    Done by DuckDB over the staged rows, so a file of millions of rows is checked whole without
    holding it in a frame.
    """
    key = ", ".join(f'"{k}"' for k in contract.natural_key)
    match = " AND ".join(f's."{k}" IS NOT DISTINCT FROM d."{k}"' for k in contract.natural_key)
    shown = DUPLICATE_ROWS_SHOWN
    names = ", ".join(contract.natural_key)
    # keys seen twice by their hash first (8 bytes a row, not the keys' text), then grouped
    # exactly among those few rows; each key's message is made once, in the group, so the join
    # carries a short text per row, never the key's list of rows (8,000 copies of a key made
    # 8,000 lists of 8,000 rows: 1 GB)
    return con.execute(f"""
        WITH h AS (SELECT hash({key}) AS h FROM {relation} GROUP BY 1 HAVING count(*) > 1),
        c AS (SELECT * FROM {relation} WHERE hash({key}) IN (SELECT h FROM h)),
        d AS (SELECT {key},
                     'natural key ({names}) appears on rows '
                     || array_to_string(list_sort(list(_row))[1:{shown}], ', ')
                     || CASE WHEN count(*) > {shown} THEN ' and ' || (count(*) - {shown})
                             || ' more (' || count(*) || ' rows)' ELSE '' END
                     || ' of this file; none is loaded until the file is corrected' AS message
              FROM c GROUP BY {key} HAVING count(*) > 1)
        SELECT s._row AS "{ROW}", NULL::VARCHAR AS "column", 'duplicate_key' AS rule,
               d.message
        FROM c s JOIN d ON {match}
        WHERE NOT s._blank ORDER BY s._row""").pl().cast(FAILURE_SCHEMA)  # type: ignore[arg-type]


_ = pa  # pandera.polars is imported for its side effect of registering the polars backend
