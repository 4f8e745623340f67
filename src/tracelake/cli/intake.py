"""Getting data in: ``ingest``, ``mapping check`` and ``generate`` (a synthetic plant)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tracelake.cli.app import (
    DEFAULT_LAKE,
    IngestFmt,
    LakeOption,
    _failures,
    _print,
    app,
    err,
    mapping_app,
    out,
    styled,
)
from tracelake.exports.formats import json_dumps, plain
from tracelake.lake.storage import LakePaths

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
        table.add_row(plain(Path(f.path).name), f.table or "-",
                      styled((f.status, style.get(f.status, ""))), str(f.rows_read),
                      str(f.rows_loaded), str(f.rows_quarantined), plain(why))
    t = report.totals
    out.print(table)
    out.print(f"{t['files']} files, {t['rows_read']} rows read, {t['rows_loaded']} loaded, "
              f"{t['rows_quarantined']} quarantined; {report.orphan_references} orphan "
              f"references", highlight=False)


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
        out.print(styled((str(file), "bold"), " -> table ", (target, "bold")))
        for header, column in report.mapped.items():
            out.print(styled("  ", ("ok", "green"), f"       {header!r} -> {column}"))
        for header in report.unmapped:
            hint = report.suggestions.get(header)
            out.print(styled("  ", ("unmapped", "yellow"), f" {header!r}"
                             + (f" (perhaps {hint}?)" if hint else " (kept in _extra)")))
        if report.missing_required:
            out.print(styled(("still needed (required):", "red"),
                             " " + ", ".join(report.missing_required)))
        else:
            out.print(styled(("every required column is there", "green")))
        if report.missing_optional:
            out.print("optional, not given: " + ", ".join(report.missing_optional),
                      highlight=False)
        if report.unmapped:
            out.print("\nA mapping to start from:\n" + report.as_yaml(file.name),
                      highlight=False, markup=False)


