"""The batch and device records and their findings: ``bmr``, ``dhr``, ``findings``."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tracelake.cli.app import (
    DEFAULT_LAKE,
    Fmt,
    LakeOption,
    _failures,
    _print,
    app,
    err,
    out,
)
from tracelake.cli.asof import AsOfOption, as_of_reader
from tracelake.exports.formats import json_dumps, render_frame

# ------------------------------------------------------------------ records and findings

class RecordFmt(StrEnum):
    """Output formats of ``bmr`` and ``dhr``."""

    json = "json"
    html = "html"
    pdf = "pdf"


OutputOption = Annotated[Path | None, typer.Option("-o", "--output",
                                                   help="Write the record to this file.")]


def _emit_record(doc: dict, fmt: RecordFmt, output: Path | None) -> None:  # type: ignore[type-arg]
    """Write a record as JSON, HTML or PDF to a file, or to stdout (PDF only when not a terminal)."""
    from tracelake.errors import InputError
    from tracelake.records import render_html, render_pdf

    if fmt == RecordFmt.pdf:
        data = render_pdf(doc)
        if output is None:
            if sys.stdout.isatty():
                raise InputError("a PDF is not for the terminal: give -o FILE (or redirect stdout)")
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        output.write_bytes(data)
    else:
        text = json_dumps(doc) if fmt == RecordFmt.json else render_html(doc)
        if output is None:
            _print(text)
            return
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    err.print(f"{doc['title']} written to {output}", highlight=False)


@app.command()
def bmr(
    job_id: Annotated[str, typer.Argument(help="The job (batch) number.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[RecordFmt, typer.Option("--format")] = RecordFmt.json,
    output: OutputOption = None,
    as_of: AsOfOption = None,
) -> None:
    """The batch record of a job: findings and release decision first, every section, a page per unit."""
    from tracelake.records import batch_record

    with _failures(lake):
        with as_of_reader(lake, as_of) as (con, point):
            doc = batch_record(con, job_id, as_of=point)
        gate = doc["release"]
        err.print(f"{job_id}: {gate['status']}; findings {gate['counts']}", highlight=False)
        _emit_record(doc, fmt, output)


@app.command()
def dhr(
    serial: Annotated[str, typer.Argument(help="The unit's serial number.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[RecordFmt, typer.Option("--format")] = RecordFmt.json,
    output: OutputOption = None,
    as_of: AsOfOption = None,
) -> None:
    """The device history record of one serial."""
    from tracelake.records import device_record

    with _failures(lake):
        with as_of_reader(lake, as_of) as (con, point):
            doc = device_record(con, serial, as_of=point)
        _emit_record(doc, fmt, output)


@app.command()
def findings(
    job: Annotated[str | None, typer.Option(help="Only this job's findings.")] = None,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    as_of: AsOfOption = None,
) -> None:
    """What makes a batch or device record incomplete or wrong (review by exception)."""
    import polars as pl

    from tracelake.derived.findings import list_findings

    with _failures(lake):
        with as_of_reader(lake, as_of) as (con, point):
            found = list_findings(con, job)
        if fmt == Fmt.json:
            _print(json_dumps({"findings": [f.as_dict() for f in found]}
                              | ({"as_of": point} if point else {})))
            return
        frame = pl.DataFrame([{k: v for k, v in f.as_dict().items() if k != "source"} for f in found],
                             schema={"rule": pl.String, "severity": pl.String, "job_id": pl.String,
                                     "serial_number": pl.String, "record": pl.String,
                                     "message": pl.String})
        _print(render_frame(frame, fmt.value))
        if fmt == Fmt.table:
            counts = frame.group_by("severity").len().sort("severity")
            summary = ", ".join(f"{r['len']} {r['severity']}" for r in counts.iter_rows(named=True))
            out.print(f"{frame.height} findings" + (f" ({summary})" if summary else ""), highlight=False)


