"""Exports of the lake in other standards' formats: ``export epcis``."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from tracelake.cli.app import DEFAULT_LAKE, LakeOption, _failures, app, err
from tracelake.cli.asof import AsOfOption, as_of_reader

export_app = typer.Typer(no_args_is_help=True, help="The lake in other standards' formats.")
app.add_typer(export_app, name="export")


def _when(value: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 date or time; UTC when it has no offset (as ``--as-of``)."""
    if value is None:
        return None
    from tracelake.errors import InputError

    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} = {value!r} is not an ISO 8601 date or time "
                         "(e.g. 2026-10-01 or 2026-10-01T08:00+01:00)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


@contextmanager
def _out_of_memory(limit: str | None) -> Iterator[None]:
    """DuckDB out of the export's memory limit while opening the snapshot: the one-line error
    an export that runs out of it gives (see tracelake.exports.epcis.out_of_memory)."""
    import duckdb

    from tracelake.exports.epcis import out_of_memory

    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        raise out_of_memory(limit or "?") from exc


@export_app.command("epcis")
def export_epcis_cmd(
    job: Annotated[str | None, typer.Option(help="One job: its transformation, the fitments "
                                                 "into its units, their inspections and "
                                                 "shipments.")] = None,
    component: Annotated[str | None, typer.Option(help="Component code of the lot (with --lot), "
                                                       "or with --supplier.")] = None,
    lot: Annotated[str | None, typer.Option(help="A lot: every unit it reached, as "
                                                 "'trace forward', marked recalled.")] = None,
    serial: Annotated[str | None, typer.Option(help="One unit: it, its sub-assemblies and "
                                                    "what holds it.")] = None,
    supplier: Annotated[str | None, typer.Option(help="Every lot from this supplier (of "
                                                      "--component if given).")] = None,
    since: Annotated[str | None, typer.Option(help="Only events at or after this time.")] = None,
    until: Annotated[str | None, typer.Option(help="Only events before this time.")] = None,
    digital_link: Annotated[bool, typer.Option("--digital-link", help="GS1 Digital Link URIs "
                                               "instead of EPC URNs for GTIN-bearing items.")]
    = False,
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Write the document to this file.")] = None,
    lake: LakeOption = DEFAULT_LAKE,
    as_of: AsOfOption = None,
) -> None:
    """One GS1 EPCIS 2.0 JSON-LD document of the genealogy (whole lake without a selector)."""
    from tracelake.exports.epcis import Selection, export_epcis, export_memory

    with _failures(lake):
        selection = Selection(job=job, component=component, lot=lot, serial=serial,
                              supplier=supplier)
        start, end = _when(since, "--since"), _when(until, "--until")
        # the limit bounds DuckDB's cache of the snapshot's blocks; not on a connection that
        # builds an as-of genealogy index in memory (that index lives in the pool itself)
        limit = export_memory() if as_of is None else None
        with _out_of_memory(limit), as_of_reader(lake, as_of, memory_limit=limit) as (con, _point):
            if output is None:
                try:
                    result = export_epcis(con, sys.stdout, selection, digital_link=digital_link,
                                          since=start, until=end)
                    sys.stdout.flush()
                except BrokenPipeError:  # the reader stopped (| head): not a failure
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                    raise typer.Exit(0) from None
            else:
                tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
                try:
                    with tmp.open("w", encoding="utf-8") as fh:
                        result = export_epcis(con, fh, selection, digital_link=digital_link,
                                              since=start, until=end)
                    os.replace(tmp, output)
                finally:
                    tmp.unlink(missing_ok=True)
        for message in result.messages:
            err.print(message, highlight=False, markup=False)
        kinds = ", ".join(f"{n} {k}" for k, n in result.by_kind.items()) or "no events"
        err.print(f"{result.events} EPCIS events ({kinds})"
                  + (f" written to {output}" if output else ""), highlight=False, markup=False)
