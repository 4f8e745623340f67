"""Where-used, where-from and calibration impact: ``trace forward|backward``, ``impact``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tracelake.cli.app import (
    DEFAULT_LAKE,
    Fmt,
    LakeOption,
    _failures,
    _parse_when,
    _print,
    err,
    impact_app,
    out,
    trace_app,
)
from tracelake.cli.asof import AsOfOption, as_of_reader
from tracelake.exports.formats import json_dumps, render_frame


@trace_app.command("forward")
def trace_forward(
    component: Annotated[str | None, typer.Option(help="Component code of the lot.")] = None,
    lot: Annotated[str | None, typer.Option(help="Lot number (unique within its component).")] = None,
    supplier: Annotated[str | None, typer.Option(help="Every lot of the component from this "
                                                      "supplier.")] = None,
    issued_from: Annotated[str | None, typer.Option(help="With --supplier: issued on or after.")] = None,
    issued_to: Annotated[str | None, typer.Option(help="With --supplier: issued before.")] = None,
    serial: Annotated[str | None, typer.Option(help="Trace a serialised part instead of a lot.")] = None,
    include_removed: Annotated[bool, typer.Option("--include-removed", help="Also list units the "
                                                  "part was removed from.")] = False,
    xlsx: Annotated[Path | None, typer.Option(help="Also write the recall list as XLSX.")] = None,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    as_of: AsOfOption = None,
) -> None:
    """Where-used: every top-level unit that contains the lot, through any depth of assembly."""
    from tracelake.derived.genealogy import supplier_recall, where_used
    from tracelake.errors import InputError
    from tracelake.exports.recall import recall_frame, write_recall

    with _failures(lake):
        if serial is None and (component is None or (lot is None) == (supplier is None)):
            raise InputError("give --component with either --lot or --supplier (or --serial)")
        with as_of_reader(lake, as_of) as (con, point):
            if serial is not None:
                answer = where_used(con, serial_number=serial, include_removed=include_removed)
            elif supplier is not None:
                answer = supplier_recall(con, str(component), supplier,
                                         _parse_when(issued_from, "--issued-from"),  # type: ignore[arg-type]
                                         _parse_when(issued_to, "--issued-to"),  # type: ignore[arg-type]
                                         include_removed=include_removed)
            else:
                answer = where_used(con, component, lot, include_removed=include_removed)
        if answer.message:
            err.print(answer.message, highlight=False)
        if xlsx is not None:
            write_recall(answer, xlsx)
            err.print(f"recall list written to {xlsx}", highlight=False)
        if fmt == Fmt.json:
            _print(json_dumps(_with_point(answer.as_dict(), point)))
        elif fmt == Fmt.csv:
            _print(render_frame(recall_frame(answer), "csv"))
        else:
            _print(render_frame(recall_frame(answer).drop("traced"), "table"))
            summary = answer.summary
            out.print(f"{summary['units']} units ({summary['shipped']} shipped) at "
                      f"{summary['customers']} customers; {len(answer.removed)} removal(s)",
                      highlight=False)


@trace_app.command("backward")
def trace_backward(
    serial: Annotated[str, typer.Option(help="The unit's serial number.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    as_of: AsOfOption = None,
) -> None:
    """Where-from: every lot and serial in one unit, level by level."""
    from tracelake.derived.genealogy import where_from
    from tracelake.exports.recall import components_frame

    with _failures(lake):
        with as_of_reader(lake, as_of) as (con, point):
            answer = where_from(con, serial)
        if answer.message:
            err.print(answer.message, highlight=False)
        if fmt == Fmt.json:
            _print(json_dumps(_with_point(answer.as_dict(), point)))
        else:
            _print(render_frame(components_frame(answer), fmt.value))


@impact_app.command("calibration")
def impact_calibration(
    equipment: Annotated[str, typer.Option(help="The equipment found out of tolerance.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    as_of: AsOfOption = None,
) -> None:
    """Results taken with equipment since it was last known good, and the units they concern."""
    import polars as pl

    from tracelake.derived.calibration.impact import calibration_impact

    with _failures(lake):
        with as_of_reader(lake, as_of) as (con, point):
            answer = calibration_impact(con, equipment)
        if answer.message:
            err.print(answer.message, highlight=False)
        if fmt == Fmt.json:
            _print(json_dumps(_with_point(answer.as_dict(), point)))
            return
        results = pl.DataFrame(answer.results) if answer.results else pl.DataFrame(
            schema={"serial_number": pl.String, "test_step": pl.String,
                    "measurement": pl.String, "tested_at": pl.Datetime("us", "UTC")})
        if fmt == Fmt.csv:
            _print(render_frame(results, "csv"))
            return
        for w in answer.windows:
            out.print(f"suspect window {w['from'] or 'ever'} .. {w['to']} "
                      f"(certificate {w['certificate_no']})", highlight=False)
        _print(render_frame(results, "table"))
        if answer.units:
            _print(render_frame(pl.DataFrame(answer.units).drop("measured_serials"), "table"))
        s = answer.summary
        out.print(f"{s['results']} suspect results, {s['units']} units, {s['jobs']} jobs, "
                  f"{s['customers']} customers; {s['overdue_results']} results taken while "
                  f"overdue, {s['uncalibrated_results']} with no calibration record",
                  highlight=False)




def _with_point(doc: dict, point: dict | None) -> dict:  # type: ignore[type-arg]
    """A JSON answer with ``as_of`` (the point it answers at) when one was asked for."""
    return doc if point is None else {**doc, "as_of": point}
