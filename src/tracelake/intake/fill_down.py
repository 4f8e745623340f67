"""Continuation rows: a record's columns carried down onto the rows an export leaves them empty on.

Frappe (ERPNext) and Odoo export a document with child rows (a Serial and Batch Bundle and its
entries, a manufacturing order and its component moves) as one row per child, writing the
parent's columns on the first row only. A source's ``fill_down: [column, ...]`` names those
parent columns: a row on which all of them are empty continues the record above and takes their
values from the record's first row. Within one file, in file order, before any mapping; the
rows keep the file's row numbers (lineage unchanged) and the raw values stay as written for the
quarantine.
"""

from __future__ import annotations

import polars as pl

from tracelake.intake.headers import resolve_headers
from tracelake.intake.mapping import Source
from tracelake.intake.names import normalise_header

__all__ = ["apply_fill_down", "match_fill_down"]


def match_fill_down(headers: list[str], table: str | None, source: Source) -> tuple[str, ...]:
    """The file's headers ``source.fill_down`` names, in the file's order.

    A name matches a header as written, ignoring case and spacing, or by the canonical column
    the header maps to (``fill_down: [job_id]`` carries ``Voucher No``). A name the file does
    not have is passed over: a shipped mapping lists both the labels and the field names of an
    export, and a file has one of them (the names were checked when the mapping was read).
    """
    if not source.fill_down:
        return ()
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(normalise_header(header), header)
    canonical = resolve_headers(headers, table, source) if table else {}
    by_target = {column: header for header, column in canonical.items()}
    chosen = {name if name in headers else by_norm.get(normalise_header(name))
              or by_target.get(name) for name in source.fill_down}
    return tuple(h for h in headers if h in chosen)


def apply_fill_down(frame: pl.DataFrame, columns: tuple[str, ...],
                    order: str) -> tuple[pl.DataFrame, int]:
    """``frame`` with its continuation rows completed, and how many rows were continuations.

    A row is a continuation when every one of ``columns`` is empty (or blank); it takes those
    columns from the last row above that had any of them. Rows before the first such row stay
    as they are (their required columns are then quarantined as empty, never guessed).
    """
    if not columns or frame.is_empty():
        return frame, 0
    # file order is the row number's; the frame keeps its own order (its rows stay beside the
    # text as read, which the quarantine quotes)
    frame = frame.with_row_index("_fill_pos").sort(order, maintain_order=True)
    blank = [pl.col(c).cast(pl.String).str.strip_chars().replace("", None).is_null()
             for c in columns]
    head = ~pl.all_horizontal(blank)
    marked = frame.with_columns(head.cum_sum().alias("_fill_record"), head.alias("_fill_head"))
    continuations = marked.filter(~pl.col("_fill_head") & (pl.col("_fill_record") > 0)).height
    if not continuations:
        return frame.sort("_fill_pos").drop("_fill_pos"), 0
    filled = marked.with_columns(
        pl.when(pl.col("_fill_record") > 0)
        .then(pl.col(c).first().over("_fill_record"))
        .otherwise(pl.col(c)).alias(c)
        for c in columns)
    return filled.sort("_fill_pos").drop("_fill_record", "_fill_head", "_fill_pos"), continuations
