"""What needs attention and the quality statistics: ``overview``, ``spc``, ``lot-effects``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tracelake.cli.app import (
    DEFAULT_LAKE,
    Fmt,
    IngestFmt,
    LakeOption,
    _failures,
    _parse_when,
    _print,
    _reader,
    app,
    out,
    styled,
)
from tracelake.exports.formats import json_dumps, render_frame

ProductOption = Annotated[str | None, typer.Option("--product", help="Only this product.")]
FromOption = Annotated[str | None, typer.Option("--from", help="Results tested on or after "
                                                "this day (YYYY-MM-DD, UTC).")]
ToOption = Annotated[str | None, typer.Option("--to", help="Results tested on or before this "
                                              "day (YYYY-MM-DD, UTC).")]


def _window(date_from: str | None, date_to: str | None, products: tuple[str, ...] = ()) -> Any:
    import datetime as dt

    from tracelake.derived.quality.trends import TrendFilter

    start, end = _parse_when(date_from, "--from"), _parse_when(date_to, "--to")
    start = start.date() if isinstance(start, dt.datetime) else start
    end = end.date() if isinstance(end, dt.datetime) else end
    return TrendFilter(start, end, products)  # type: ignore[arg-type]


def _table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    import polars as pl

    frame = pl.DataFrame([{c: _cell(r.get(c)) for c in columns} for r in rows],
                         schema={c: pl.String for c in columns})
    out.print(styled((title, "bold")))
    _print(render_frame(frame, "table") if frame.height else "  nothing")


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if hasattr(value, "isoformat"):
        return json_dumps(value).strip('"')
    return str(value)


@app.command()
def overview(
    lake: LakeOption = DEFAULT_LAKE,
    due_within: Annotated[int, typer.Option("--due-within", min=0,
                                            help="Equipment due within this many days.")] = 30,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """What needs attention: open NCRs, blocked or unreviewed jobs, equipment, held lots in
    house, the last run's quarantine and orphans; each item with its dashboard link."""
    from tracelake.derived.overview import overview as build

    with _failures(lake):
        with _reader(lake) as con:
            doc = build(con, due_within_days=due_within)  # type: ignore[arg-type]
        if fmt == IngestFmt.json:
            _print(json_dumps(doc))
            return
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in doc["counts"].items())
        out.print(counts, highlight=False)
        _table(doc["ncrs"]["items"], ["ncr_id", "age_days", "disposition", "defect_code",
                                      "job_id", "serial_number", "link"], "Open NCRs")
        _table(doc["jobs"]["items"], ["job_id", "product_code", "state", "critical",
                                      "majors_waiting", "link"],
               "Jobs blocked or waiting for review")
        _table(doc["equipment"]["items"], ["equipment_id", "status", "reasons", "due_at",
                                           "suspect_results", "jobs_to_assess", "link"],
               "Equipment")
        lots = doc["lots"]
        _table(lots["items"], ["component_code", "lot_number", "supplier", "inspection_status",
                               "units_in_house", "link"],
               "Lots on hold or recalled in units still in house"
               + ("" if lots["available"] else f" ({lots['message']})"))
        ingest = doc["ingest"]
        run = ingest["last_run"]
        _table(ingest["quarantine"], ["table", "rule", "rows", "link"],
               f"Last run {run['run_id'] if run else '(none)'}: "
               f"{ingest['rows_quarantined']:,} rows quarantined")
        _table(ingest["orphans"], ["kind", "value", "referenced_table", "rows", "link"],
               f"Orphan references: {ingest['orphan_references']:,}")


@app.command()
def spc(
    product: ProductOption = None,
    step: Annotated[str | None, typer.Option("--step", help="Test step of one chart.")] = None,
    measurement: Annotated[str | None, typer.Option(help="Measurement of one chart.")] = None,
    date_from: FromOption = None,
    date_to: ToOption = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999,
                                              help="Of the capability intervals.")] = 0.95,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
) -> None:
    """Capability of every measurement (worst Cpk first), or with --product, --step and
    --measurement one I-MR chart: its limits, capability and the points breaking run rules."""
    from tracelake.derived.quality import spc as lib
    from tracelake.errors import InputError

    with _failures(lake):
        one = step is not None or measurement is not None
        if one and not (product and step and measurement):
            raise InputError("one chart needs --product, --step and --measurement together")
        where = _window(date_from, date_to, (product,) if product and not one else ())
        with _reader(lake) as con:
            if not one:
                table = lib.capability_table(con, where, confidence)  # type: ignore[arg-type]
                if fmt == Fmt.json:
                    _print(json_dumps({"confidence": confidence, "series": table.to_dicts()}))
                else:
                    shown = table if fmt == Fmt.csv else table.select(
                        "product_code", "test_step", "measurement", "n", "mean", "lsl", "usl",
                        "cp", "cpk", "cpk_low", "cpk_high", "ppk")
                    _print(render_frame(shown, fmt.value))
                return
            chart = lib.chart(con, product, step, measurement, where, confidence)  # type: ignore[arg-type]
        if fmt == Fmt.json:
            _print(json_dumps({"confidence": confidence, **chart.as_dict()}))
        elif fmt == Fmt.csv:
            _print(render_frame(chart.points.with_columns(
                chart.points["rules"].list.eval(
                    __import__("polars").element().cast(__import__("polars").String))
                .list.join(" ").alias("rules")), "csv"))
        else:
            lim, cap = chart.limits, chart.capability
            out.print(f"{product} {step} {measurement}: n {chart.points.height}, mean "
                      f"{lim['mean']:.5g}, UCL {_g(lim['ucl'])}, LCL {_g(lim['lcl'])}, "
                      f"UCL(MR) {_g(lim['ucl_mr'])}, spec {_g(lim['lsl'])} … {_g(lim['usl'])}",
                      highlight=False)
            out.print(f"Cp {_g(cap['cp'])} [{_g(cap['cp_low'])}, {_g(cap['cp_high'])}]  "
                      f"Cpk {_g(cap['cpk'])} [{_g(cap['cpk_low'])}, {_g(cap['cpk_high'])}]  "
                      f"Pp {_g(cap['pp'])}  Ppk {_g(cap['ppk'])}", highlight=False)
            flagged = chart.points.filter(chart.points["rules"].list.len() > 0)
            out.print(f"{flagged.height} point(s) break a run rule", highlight=False)
            if flagged.height:
                _print(render_frame(flagged.select(
                    "serial_number", "tested_at", "value", "mr",
                    flagged["rules"].list.eval(__import__("polars").element().cast(
                        __import__("polars").String)).list.join(" ").alias("rules")), "table"))


def _g(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


@app.command("lot-effects")
def lot_effects(
    step: Annotated[str | None, typer.Option("--step", help="The measurement's test step.")] = None,
    measurement: Annotated[str | None, typer.Option(help="The measurement.")] = None,
    component: Annotated[str | None, typer.Option(
        "--component", help="With --lot: what this lot moves (every measurement).")] = None,
    lot: Annotated[str | None, typer.Option("--lot", help="The component's lot.")] = None,
    product: ProductOption = None,
    date_from: FromOption = None,
    date_to: ToOption = None,
    min_effect: Annotated[float, typer.Option(
        "--min-effect", min=0.0, help="Smallest |Hedges g| that matters.")] = 0.5,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5,
                                         help="Holm-adjusted p below this.")] = 0.05,
    all_lots: Annotated[bool, typer.Option("--all", help="Every lot (with --lot: every "
                                           "measurement) compared, not only the flagged "
                                           "ones.")] = False,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
) -> None:
    """The component lots whose units read differently on a measurement (--step and
    --measurement; any depth of the genealogy): the lot, its supplier, the shift, the units and
    the adjusted p. With --component and --lot instead, what that lot moves: the measurements on
    which its units read differently from the units holding the component's other lots."""
    import polars as pl

    from tracelake.derived.quality.lot_effects import lot_effects as find

    _lot_effects_selectors(step, measurement, component, lot, product, date_from, date_to)
    if component is not None and lot is not None:
        _lot_moves(component, lot, min_effect, alpha, all_lots, lake, fmt)
        return
    with _failures(lake):
        with _reader(lake) as con:
            answer = find(con, step, measurement, product_code=product,  # type: ignore[arg-type]
                          where=_window(date_from, date_to), min_effect=min_effect, alpha=alpha)
        if fmt == Fmt.json:
            _print(json_dumps(answer.as_dict(all_lots)))
            return
        if all_lots:
            _print(render_frame(answer.lots, fmt.value))
            return
        cols = ["component_code", "lot_number", "supplier", "units", "shift", "hedges_g",
                "p_adjusted", "link"]
        frame = pl.DataFrame([{c: f[c] for c in cols} for f in answer.flagged],
                             schema={"component_code": pl.String, "lot_number": pl.String,
                                     "supplier": pl.String, "units": pl.Int64,
                                     "shift": pl.Float64, "hedges_g": pl.Float64,
                                     "p_adjusted": pl.Float64, "link": pl.String})
        _print(render_frame(frame, fmt.value))
        if fmt == Fmt.table:
            out.print(f"{len(answer.flagged)} lot(s) of {answer.lots_compared} compared move "
                      f"{step} {measurement} ({answer.units:,} units)", highlight=False)


def _lot_effects_selectors(step: str | None, measurement: str | None, component: str | None,
                           lot: str | None, product: str | None, date_from: str | None,
                           date_to: str | None) -> None:
    """One question per call: a measurement (--step, --measurement) or a lot (--component,
    --lot); anything else is a wrong command line (one line, exit 2)."""
    by_measurement = step is not None or measurement is not None
    by_lot = component is not None or lot is not None
    problem = None
    if by_measurement and by_lot:
        problem = ("ask about a measurement (--step, --measurement) or a lot (--component, "
                   "--lot), not both")
    elif by_lot and (component is None or lot is None):
        problem = "a lot needs --component and --lot together"
    elif by_lot and (product or date_from or date_to):
        problem = ("--product, --from and --to choose the results of a measurement; what a lot "
                   "moves compares every result of its units")
    elif not by_lot and (step is None or measurement is None):
        problem = ("give --step and --measurement (the lots that move it) or --component and "
                   "--lot (what that lot moves)")
    if problem:
        from tracelake.cli.app import err

        err.print(styled(("error:", "red"), f" lot-effects: {problem}"))
        raise typer.Exit(2)


def _lot_moves(component: str, lot: str, min_effect: float, alpha: float, all_series: bool,
               lake: Any, fmt: Fmt) -> None:
    """``lot-effects --component C --lot L``: the measurements this lot moves."""
    import polars as pl

    from tracelake.derived.quality.lot_moves import lot_moves

    with _failures(lake):
        with _reader(lake) as con:
            answer = lot_moves(con, component, lot, min_effect=min_effect, alpha=alpha)
        if fmt == Fmt.json:
            _print(json_dumps(answer.as_dict(all_series)))
            return
        if all_series:
            _print(render_frame(answer.series, fmt.value))
        else:
            cols = {"product_code": pl.String, "test_step": pl.String, "measurement": pl.String,
                    "units": pl.String, "n": pl.Int64, "n_rest": pl.Int64, "mean": pl.Float64,
                    "mean_rest": pl.Float64, "shift": pl.Float64, "hedges_g": pl.Float64,
                    "p_adjusted": pl.Float64, "link": pl.String}
            frame = pl.DataFrame([{c: f[c] for c in cols} for f in answer.flagged], schema=cols)
            _print(render_frame(frame, fmt.value))
        if fmt == Fmt.table:
            out.print(styled(f"{len(answer.flagged)} measurement(s) of {answer.series_compared} "
                             f"compared move {component} lot {lot} ({answer.units:,} units hold "
                             "it)"))
