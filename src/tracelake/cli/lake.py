"""Looking into the lake: ``sql`` (read-only) and ``summary``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tracelake.cli.app import (
    DEFAULT_LAKE,
    Fmt,
    IngestFmt,
    LakeOption,
    _failures,
    _print,
    app,
    err,
    out,
    styled,
)
from tracelake.cli.asof import AsOfOption
from tracelake.exports.formats import json_dumps, plain, render_rows
from tracelake.lake.paths import LakePaths

# ------------------------------------------------------------------ sql

@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SELECT statement.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Stop the query after this many seconds.")] = 30.0,
    memory: Annotated[str, typer.Option(
        "--memory", help="Stop the query when it needs more memory than this (e.g. 1GB).")
    ] = "1GB",
    as_of: AsOfOption = None,
) -> None:
    """Query the lake's published snapshot, read-only, within a time and a memory limit."""
    from tracelake.lake.query import run_sql_rows

    with _failures(lake):
        index = None
        if as_of is not None:  # the genealogy index for the point, if a later run changed it
            from tracelake.derived.genealogy import build_index as index
        # rows as DuckDB fetches them, printed without polars (half of this command's start)
        answer = run_sql_rows(LakePaths.of(lake), query, timeout=timeout, memory=memory,
                              as_of=as_of, index=index)
        if answer.point is not None:
            err.print(f"answering {answer.point.label()}", highlight=False, markup=False)
        _print(render_rows(answer.columns, answer.types, answer.rows, fmt.value))


@app.command()
def publish(lake: LakeOption = DEFAULT_LAKE) -> None:
    """Publish the lake's current state as the readers' snapshot (serving.duckdb)."""
    from tracelake.lake.snapshot import publish_lake

    with _failures(lake):
        paths = LakePaths.of(lake)
        if paths.scaleout:  # this machine's indexes brought up to date, then published
            from tracelake.ingest.serving import refresh_serving

            snap = refresh_serving(paths, force=True).snapshot
            err.print(f"published: this machine's serving copy holds lake snapshot {snap}",
                      highlight=False, markup=False)
            return
        if not paths.database.exists():
            from tracelake.errors import LakeNotFound

            raise LakeNotFound(f"{lake}: no lake here yet; build one with "
                               f"'tracelake ingest PATH --lake {lake}'")
        run = publish_lake(paths)
        err.print(f"published: the snapshot holds run {run or '(none yet)'}",
                  highlight=False, markup=False)


# ------------------------------------------------------------------ summary and demo

@app.command()
def summary(lake: LakeOption = DEFAULT_LAKE,
            fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table) -> None:
    """Rows per table, quarantined rows by rule, rejected files and orphan references."""
    from tracelake.lake.summary import lake_summary

    with _failures(lake):
        doc = lake_summary(LakePaths.of(lake))
        if fmt == IngestFmt.json:
            _print(json_dumps(doc))
            return
        _print_summary(doc)


def _print_summary(doc: dict) -> None:  # type: ignore[type-arg]
    held = doc.get("snapshot")
    out.print("snapshot holds run " + (f"{held['run_id']} (committed {held['committed_at']})"
                                       if held else "(not recorded: published before runs "
                                       "were recorded; 'tracelake publish' records it)"),
              highlight=False, markup=False)
    table = Table(title="the lake", title_justify="left")
    for col in ("table", "rows", "quarantined", "superseded versions"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for t in doc["tables"]:
        table.add_row(plain(t["table"]), str(t["rows"]), str(t["rows_quarantined"]),
                      str(t["superseded_versions"]))
    out.print(table)
    if doc["quarantine_rules"]:
        out.print(styled(("quarantined rows by rule", "bold")))
        for r in doc["quarantine_rules"]:
            out.print(f"  {r['table']}: {r['rule']} x{r['rows']}", highlight=False)
    for f in doc["rejected_files"]:
        out.print(styled(("rejected", "red"), f" {f['path']}: {f['reason']}"))
    for o in doc["orphan_references"]:
        values = ", ".join(o["values"][:5]) + (" …" if len(o["values"]) > 5 else "")
        out.print(styled(("orphan", "yellow"),
                         f" {o['kind']} in {o['table']} x{o['references']}: {values}"))


