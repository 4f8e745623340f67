"""The ``tracelake`` command line (see ``cli-contract.md``): thin commands over the library.

Every command takes ``--lake`` (default ``$TRACELAKE_LAKE``, else ``./lake``). With
``--format json`` the one JSON document goes to stdout and everything else to stderr. Exit codes:
0 done, 1 the request failed (one line says why), 2 the command line is wrong.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tracelake.errors import TracelakeError
from tracelake.exports.formats import json_dumps, render_frame
from tracelake.lake.storage import LakePaths

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="tracelake: a traceability lake for device manufacturers.")
mapping_app = typer.Typer(no_args_is_help=True, help="Work with mapping files for plant exports.")
app.add_typer(mapping_app, name="mapping")
trace_app = typer.Typer(no_args_is_help=True, help="Where-used and where-from through the genealogy.")
app.add_typer(trace_app, name="trace")
impact_app = typer.Typer(no_args_is_help=True, help="Impact of an event on results and units.")
app.add_typer(impact_app, name="impact")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)

LakeOption = Annotated[Path, typer.Option("--lake", envvar="TRACELAKE_LAKE",
                                          help="The lake folder.", show_default=True)]
DEFAULT_LAKE = Path("lake")
SAMPLE_EXCLUDE = ("bad/*",)


class Fmt(StrEnum):
    """Output formats for tabular answers."""

    table = "table"
    json = "json"
    csv = "csv"


class IngestFmt(StrEnum):
    """Output formats of ``ingest``."""

    table = "table"
    json = "json"


@contextmanager
def _failures(lake: Path | None = None) -> Iterator[None]:
    """Turn errors into one line on stderr and exit code 1; never a traceback on screen."""
    try:
        yield
    except TracelakeError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        log = _write_crash_log(lake)
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
                  f"(details in {log})", highlight=False)
        raise typer.Exit(1) from None


def _write_crash_log(lake: Path | None) -> Path:
    folder = lake if lake is not None and lake.is_dir() else Path.cwd()
    log = folder / "tracelake-error.log"
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"--- {datetime.now(UTC).isoformat()} {' '.join(sys.argv)}\n")
        fh.write(traceback.format_exc())
    return log


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# ------------------------------------------------------------------ ingest

@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    lake: LakeOption = DEFAULT_LAKE,
    mapping: Annotated[Path | None, typer.Option(help="A mapping file (YAML).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Leave out files matching this pattern (relative to a folder), e.g. 'bad/*'.")] = None,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """Load plant exports into the lake: every row loaded or quarantined with its reason."""
    from tracelake.ingest import ingest as run_ingest
    from tracelake.intake.mapping import load_mapping

    with _failures(lake):
        maps = load_mapping(mapping)
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                      transient=True) as bar:
            task = bar.add_task("ingesting", total=None)

            def progress(done: int, total: int, current: str) -> None:
                bar.update(task, completed=done, total=total,
                           description=f"ingesting {Path(current).name}" if current else "done")

            report = run_ingest(paths, LakePaths.of(lake), mapping=maps, exclude=exclude or (),
                                progress=progress)
        if fmt == IngestFmt.json:
            _print(json_dumps(report.as_dict()))
            return
        _print_ingest_table(report)


def _print_ingest_table(report) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"run {report.run_id}", title_justify="left")
    for col in ("file", "table", "status", "read", "loaded", "quarantined", "reason / notes"):
        table.add_column(col, overflow="fold")
    style = {"loaded": "green", "duplicate": "dim", "rejected": "red", "unrecognised": "yellow"}
    for f in report.files:
        changes = [f"{n} {what}" for n, what in ((f.rows_updated, "updated"),
                                                  (f.rows_unchanged, "unchanged")) if n]
        why = f.reason or "; ".join(changes + f.notes + [f"{r}: {n}" for r, n in
                                                         f.quarantined_by_rule.items()])
        table.add_row(Path(f.path).name, f.table or "-",
                      f"[{style.get(f.status, '')}]{f.status}[/]", str(f.rows_read),
                      str(f.rows_loaded), str(f.rows_quarantined), why)
    t = report.totals
    out.print(table)
    out.print(f"{t['files']} files, {t['rows_read']} rows read, {t['rows_loaded']} loaded, "
              f"{t['rows_quarantined']} quarantined; {report.orphan_references} orphan "
              f"references", highlight=False)


# ------------------------------------------------------------------ sql

@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SELECT statement.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
) -> None:
    """Query the lake's published snapshot, read-only."""
    from tracelake.lake.query import run_sql

    with _failures(lake):
        frame = run_sql(LakePaths.of(lake), query)
        _print(render_frame(frame, fmt.value))


# ------------------------------------------------------------------ trace and impact

@contextmanager
def _reader(lake: Path) -> Iterator[object]:
    """A read-only connection to the published snapshot that holds a genealogy index."""
    from tracelake.derived.genealogy import has_index
    from tracelake.errors import LakeError
    from tracelake.lake.snapshot import open_snapshot

    con = open_snapshot(LakePaths.of(lake))
    try:
        if not has_index(con):
            raise LakeError(f"{lake}: the lake has no genealogy index yet; run "
                            "'tracelake ingest' (any new run builds it)")
        yield con
    finally:
        con.close()


def _parse_when(value: str | None, name: str) -> object:
    if value is None:
        return None
    from datetime import date, datetime

    from tracelake.errors import InputError

    try:
        return datetime.fromisoformat(value) if "T" in value or " " in value else \
            date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} = {value!r} is not a date (e.g. 2026-10-01)") from None


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
) -> None:
    """Where-used: every top-level unit that contains the lot, through any depth of assembly."""
    from tracelake.derived.genealogy import supplier_recall, where_used
    from tracelake.errors import InputError
    from tracelake.exports.recall import recall_frame, write_recall

    with _failures(lake):
        if serial is None and (component is None or (lot is None) == (supplier is None)):
            raise InputError("give --component with either --lot or --supplier (or --serial)")
        with _reader(lake) as con:
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
            _print(json_dumps(answer.as_dict()))
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
) -> None:
    """Where-from: every lot and serial in one unit, level by level."""
    from tracelake.derived.genealogy import where_from
    from tracelake.exports.recall import components_frame

    with _failures(lake):
        with _reader(lake) as con:
            answer = where_from(con, serial)
        if answer.message:
            err.print(answer.message, highlight=False)
        if fmt == Fmt.json:
            _print(json_dumps(answer.as_dict()))
        else:
            _print(render_frame(components_frame(answer), fmt.value))


@impact_app.command("calibration")
def impact_calibration(
    equipment: Annotated[str, typer.Option(help="The equipment found out of tolerance.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
) -> None:
    """Results taken with equipment since it was last known good, and the units they concern."""
    import polars as pl

    from tracelake.derived.calibration.impact import calibration_impact

    with _failures(lake):
        with _reader(lake) as con:
            answer = calibration_impact(con, equipment)
        if answer.message:
            err.print(answer.message, highlight=False)
        if fmt == Fmt.json:
            _print(json_dumps(answer.as_dict()))
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


# ------------------------------------------------------------------ generate

@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the exports to.")],
    units: Annotated[int, typer.Option(min=1, help="Finished (top-level) units.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 0,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """Write a synthetic plant's exports in the import contract, deterministic for a seed."""
    from tracelake.synthetic import generate_plant

    with _failures():
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("generating", total=None)

            def progress(what: str, rows: int) -> None:
                bar.update(task, description=f"writing {what} ({rows:,} rows)")

            summary = generate_plant(out_dir, units, seed, progress=progress)
        rows = dict(summary.rows)
        if fmt == IngestFmt.json:
            _print(json_dumps({"out": str(out_dir), "units": units, "seed": seed,
                               "files": [str(p) for p in summary.files], "rows": rows}))
            return
        out.print(f"wrote {len(summary.files)} files, {sum(rows.values()):,} rows to {out_dir}",
                  highlight=False)


# ------------------------------------------------------------------ mapping

@mapping_app.command("check")
def mapping_check(
    file: Annotated[Path, typer.Argument(help="An export file to check.")],
    table: Annotated[str | None, typer.Option(help="The table it should feed.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="A mapping file (YAML).")] = None,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """Show which canonical columns a file's headers give, and which its table still needs."""
    from tracelake.errors import InputError
    from tracelake.intake.mapping import check_headers, load_mapping
    from tracelake.intake.readers import ROW, read_source

    with _failures():
        maps = load_mapping(mapping)
        source = maps.source_for(file)
        target = table or source.table
        if target is None:
            raise InputError(f"{file}: the file name matches no table; say which with --table")
        raw = read_source(file, encoding=source.encoding, header=source.header,
                          columns=list(source.columns) or None, sheet=source.sheet, table=target)
        headers = [c for c in raw.frame.columns if c != ROW]
        report = check_headers(headers, target, source)
        if fmt == IngestFmt.json:
            _print(json_dumps({"file": str(file), "table": target, "mapped": report.mapped,
                               "unmapped": report.unmapped,
                               "missing_required": report.missing_required,
                               "missing_optional": report.missing_optional,
                               "suggestions": report.suggestions}))
            return
        out.print(f"[bold]{file}[/] -> table [bold]{target}[/]")
        for header, column in report.mapped.items():
            out.print(f"  [green]ok[/]       {header!r} -> {column}", highlight=False)
        for header in report.unmapped:
            hint = report.suggestions.get(header)
            out.print(f"  [yellow]unmapped[/] {header!r}" + (f" (perhaps {hint}?)" if hint
                                                           else " (kept in _extra)"),
                      highlight=False)
        if report.missing_required:
            out.print("[red]still needed (required):[/] " + ", ".join(report.missing_required),
                      highlight=False)
        else:
            out.print("[green]every required column is there[/]")
        if report.missing_optional:
            out.print("optional, not given: " + ", ".join(report.missing_optional),
                      highlight=False)
        if report.unmapped:
            out.print("\nA mapping to start from:\n" + report.as_yaml(file.name),
                      highlight=False, markup=False)


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
) -> None:
    """The batch record of a job: findings and release decision first, every section, a page per unit."""
    from tracelake.records import batch_record

    with _failures(lake):
        with _reader(lake) as con:
            doc = batch_record(con, job_id)
        gate = doc["release"]
        err.print(f"{job_id}: {gate['status']}; findings {gate['counts']}", highlight=False)
        _emit_record(doc, fmt, output)


@app.command()
def dhr(
    serial: Annotated[str, typer.Argument(help="The unit's serial number.")],
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[RecordFmt, typer.Option("--format")] = RecordFmt.json,
    output: OutputOption = None,
) -> None:
    """The device history record of one serial."""
    from tracelake.records import device_record

    with _failures(lake):
        with _reader(lake) as con:
            doc = device_record(con, serial)
        _emit_record(doc, fmt, output)


@app.command()
def findings(
    job: Annotated[str | None, typer.Option(help="Only this job's findings.")] = None,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
) -> None:
    """What makes a batch or device record incomplete or wrong (review by exception)."""
    import polars as pl

    from tracelake.derived.findings import list_findings

    with _failures(lake):
        with _reader(lake) as con:
            found = list_findings(con, job)
        if fmt == Fmt.json:
            _print(json_dumps({"findings": [f.as_dict() for f in found]}))
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
    table = Table(title="the lake", title_justify="left")
    for col in ("table", "rows", "quarantined", "superseded versions"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for t in doc["tables"]:
        table.add_row(t["table"], str(t["rows"]), str(t["rows_quarantined"]),
                      str(t["superseded_versions"]))
    out.print(table)
    if doc["quarantine_rules"]:
        out.print("[bold]quarantined rows by rule[/]")
        for r in doc["quarantine_rules"]:
            out.print(f"  {r['table']}: {r['rule']} x{r['rows']}", highlight=False)
    for f in doc["rejected_files"]:
        out.print(f"[red]rejected[/] {f['path']}: {f['reason']}", highlight=False)
    for o in doc["orphan_references"]:
        values = ", ".join(o["values"][:5]) + (" …" if len(o["values"]) > 5 else "")
        out.print(f"[yellow]orphan[/] {o['kind']} in {o['table']} x{o['references']}: {values}",
                  highlight=False)


@app.command()
def demo(lake: LakeOption = DEFAULT_LAKE,
         data: Annotated[Path, typer.Option(help="The plant exports to load.")] = Path(
             "data/sample"),
         serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                             help="Then open the dashboards on it.")] = True,
         port: Annotated[int, typer.Option(help="The dashboards' port.")] = 8501) -> None:
    """Build the lake from the sample plant, show what it holds, and open the dashboards."""
    from tracelake.ingest import ingest as run_ingest
    from tracelake.lake.summary import lake_summary

    with _failures(lake):
        paths = LakePaths.of(lake)
        # data/sample/bad holds one file per class of bad input; the demo shows the good plant
        report = run_ingest([data], paths, exclude=SAMPLE_EXCLUDE)
        _print_ingest_table(report)
        _print_summary(lake_summary(paths))
        if serve:
            _serve_dashboards(lake, port)


@app.command()
def dashboard(lake: LakeOption = DEFAULT_LAKE,
              port: Annotated[int, typer.Option(help="The port to serve on.")] = 8501,
              address: Annotated[str | None, typer.Option(
                  help="The address to listen on (default: every interface).")] = None) -> None:
    """Open the dashboards (recall, records, trends, calibration, data quality, SQL) on a lake."""
    with _failures(lake):
        if not LakePaths.of(lake).serving.exists():
            err.print(f"no lake at {lake} yet: the dashboards will show it once "
                      f"'tracelake ingest PATH --lake {lake}' has run", highlight=False)
        _serve_dashboards(lake, port, address)


def _serve_dashboards(lake: Path, port: int, address: str | None = None) -> None:
    from tracelake.cli.serve import dashboards_dir, serve

    dashboards_dir()  # a missing dashboards folder fails here, in one line
    err.print(f"dashboards on http://localhost:{port} for the lake {lake} (Ctrl+C stops them)",
              highlight=False)
    code = serve(LakePaths.of(lake).root, port, address=address)
    if code:
        raise typer.Exit(code)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
