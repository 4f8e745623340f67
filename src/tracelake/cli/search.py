"""``find``: every record that names a text."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from tracelake.cli.app import (
    DEFAULT_LAKE,
    Fmt,
    LakeOption,
    _failures,
    _print,
    _reader,
    app,
    err,
    out,
)
from tracelake.exports.formats import json_dumps, render_frame

# ------------------------------------------------------------------ find

FindKind = StrEnum("FindKind", {k: k for k in (
    "serial", "lot", "job", "ncr", "ecn", "equipment", "certificate", "order", "supplier_lot",
    "customer", "text")})


@app.command()
def find(
    text: Annotated[str, typer.Argument(metavar="TEXT",
                                        help="An identifier, a GS1 label string or Digital Link, "
                                             "or words of an NCR or ECN.")],
    kind: Annotated[FindKind | None, typer.Option(help="Only hits of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many hits.")] = 50,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
) -> None:
    """Every record that names TEXT, best first, each with the page that explains it."""
    from tracelake.derived.search import find as find_text
    from tracelake.derived.search.query import hits_frame

    with _failures(lake):
        with _reader(lake) as con:
            answer = find_text(con, text, kind=kind.value if kind else None,  # type: ignore[union-attr]
                               limit=limit)
        if answer.message:
            err.print(answer.message, highlight=False, markup=False)
        if fmt == Fmt.json:
            _print(json_dumps(answer.as_dict()))
            return
        _print(render_frame(hits_frame(answer), fmt.value))
        if fmt == Fmt.table and answer.hits:
            out.print(f"{len(answer.hits)} hits: " + ", ".join(
                f"{n} {k}" for k, n in answer.by_kind.items()), highlight=False)


