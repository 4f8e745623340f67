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
from tracelake.lake.paths import LakePaths

# ------------------------------------------------------------------ ingest

@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    lake: LakeOption = DEFAULT_LAKE,
    mapping: Annotated[str | None, typer.Option(
        help="A mapping file (YAML), or the name of a shipped mapping (tracelake mapping list)."
    )] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Leave out files matching this pattern (relative to a folder), e.g. 'bad/*'.")] = None,
    reread: Annotated[bool, typer.Option(
        "--reread", help="Read the given files again even if the same bytes were loaded under "
        "the same mapping.")] = False,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
    site: Annotated[str | None, typer.Option(
        help="The site this run is from (the _site of its rows); default: the lake's "
             "configured site, else 'main'.")] = None,
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
                                progress=progress, reread=reread, site=site)
        for warning in report.warnings:
            err.print(styled(("warning:", "yellow"), f" {warning}"))
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
                                                  (f.rows_unchanged, "unchanged"),
                                                  (f.rows_retired, "retired to history"),
                                                  (f.quarantine_closed,
                                                   "earlier quarantine rows closed")) if n]
        if f.reread:
            changes.insert(0, "read again (mapping changed or --reread)")
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
    if report.conflicts:  # scale-out: another writer committed first
        out.print(f"lost its commit to another writer {report.conflicts} time(s) and went "
                  f"again: {report.files_reused} file(s) written from the first reading, not "
                  "read again", highlight=False)


# ------------------------------------------------------------------ generate

@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the exports to.")],
    units: Annotated[int, typer.Option(min=1, help="Finished (top-level) units.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 0,
    lot_shift: Annotated[float, typer.Option(
        "--lot-shift", min=0.0,
        help="Plant a lot effect: one sensor lot's devices read this many standard deviations "
             "higher on the first end-of-line measurement (0 = off).")] = 0.0,
    lake: LakeOption = DEFAULT_LAKE,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """Write a synthetic plant's exports in the import contract, deterministic for a seed."""
    from tracelake.synthetic import PlantOptions, generate_plant

    with _failures():
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("generating", total=None)

            def progress(what: str, rows: int) -> None:
                bar.update(task, description=f"writing {what} ({rows:,} rows)")

            summary = generate_plant(out_dir, units, seed, progress=progress,
                                     options=PlantOptions(lot_shift=lot_shift))
        rows = dict(summary.rows)
        planted = summary.lot_shift
        if fmt == IngestFmt.json:
            doc = {"out": str(out_dir), "units": units, "seed": seed,
                   "files": [str(p) for p in summary.files], "rows": rows}
            if planted is not None:
                doc["lot_shift"] = {k: v for k, v in vars(planted).items() if k != "serials"} \
                    | {"units": len(planted.serials)}
            _print(json_dumps(doc))
            return
        if planted is not None:
            err.print(f"planted a lot effect: {planted.component_code} {planted.lot_number} "
                      f"shifts {planted.test_step} {planted.measurement} by {planted.shift:.4g} "
                      f"({planted.shift_sd:g} SD) on {len(planted.serials):,} devices",
                      highlight=False)
        out.print(f"wrote {len(summary.files)} files, {sum(rows.values()):,} rows to {out_dir}",
                  highlight=False)


# ------------------------------------------------------------------ mapping

def _export_file(file: Path) -> None:
    """A file argument that names no readable file: one line, exit 1."""
    from tracelake.errors import InputError

    if not file.exists():
        raise InputError(f"{file}: no such file")
    if file.is_dir():
        raise InputError(f"{file}: is a folder; give one export file")


def _table_option(table: str | None) -> str | None:
    """A --table that names no table of the contract: one line with a suggestion, exit 2."""
    from tracelake.contracts import CONTRACTS
    from tracelake.intake.mapping import did_you_mean

    if table is None or table in CONTRACTS:
        return table
    err.print(styled(("error:", "red"), f" --table {table}: no such table in the import "
                     f"contract{did_you_mean(table, list(CONTRACTS))} (tables: "
                     f"{', '.join(CONTRACTS)})"))
    raise typer.Exit(2)


@mapping_app.command("check")
def mapping_check(
    file: Annotated[Path, typer.Argument(help="An export file to check.")],
    table: Annotated[str | None, typer.Option(help="The table it should feed.")] = None,
    mapping: Annotated[str | None, typer.Option(
        help="A mapping file (YAML) or the name of a shipped mapping.")] = None,
    fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table,
) -> None:
    """Show which canonical columns a file's headers give, and which its table still needs."""
    from tracelake.errors import InputError
    from tracelake.intake.fill_down import match_fill_down
    from tracelake.intake.headers import check_headers
    from tracelake.intake.mapping import load_mapping
    from tracelake.intake.readers import ROW, read_source

    table = _table_option(table)
    with _failures():
        _export_file(file)
        maps = load_mapping(mapping)
        sources = maps.sources_for(file)
        source = next((s for s in sources if s.table == table), sources[0])
        target = table or source.table
        if target is None:
            raise InputError(f"{file}: the file name matches no table; say which with --table")
        raw = read_source(file, encoding=source.encoding, header=source.header,
                          columns=list(source.columns) or None, sheet=source.sheet, table=target)
        headers = [c for c in raw.frame.columns if c != ROW]
        filled = match_fill_down(headers, target, source)
        report = check_headers(headers, target, source)
        if fmt == IngestFmt.json:
            _print(json_dumps({"file": str(file), "table": target, "mapped": report.mapped,
                               "fill_down": list(filled),
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
        if filled:
            out.print(styled("fill_down (continuation rows take them from their record's "
                             "first row): " + ", ".join(map(repr, filled))))
        elif source.fill_down:
            out.print(styled(("fill_down:", "yellow"), " the file has none of "
                             + ", ".join(map(repr, source.fill_down))))
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


@mapping_app.command("list")
def mapping_list(fmt: Annotated[IngestFmt, typer.Option("--format")] = IngestFmt.table) -> None:
    """The mappings that ship with tracelake: name them with ingest --mapping NAME."""
    from tracelake.intake.mapping import load_mapping, shipped_description, shipped_mappings

    with _failures():
        rows = []
        for name, path in shipped_mappings().items():
            tables = sorted({s.table for s in load_mapping(path).sources if s.table})
            rows.append({"name": name, "tables": tables,
                         "description": shipped_description(path), "path": str(path)})
        if fmt == IngestFmt.json:
            _print(json_dumps({"mappings": rows}))
            return
        grid = Table(title="shipped mappings (tracelake ingest FILE --mapping NAME)",
                     title_justify="left")
        for col in ("name", "tables", "description"):
            grid.add_column(col, overflow="fold")
        for row in rows:
            grid.add_row(plain(row["name"]), plain(", ".join(row["tables"])), plain(row["description"]))
        out.print(grid)
        out.print(f"(files in {Path(rows[0]['path']).parent if rows else '-'}; "
                  "copy one to change it)", highlight=False)


@mapping_app.command("init")
def mapping_init(
    file: Annotated[Path, typer.Argument(help="An export file to draft a mapping for.")],
    table: Annotated[str | None, typer.Option(help="The table it feeds (else guessed).")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Write the draft here instead of to stdout.")] = None,
) -> None:
    """Write a draft mapping for a file, header or not, with every guess marked for you to confirm."""
    from tracelake.errors import InputError
    from tracelake.intake.draft import draft_mapping

    table = _table_option(table)
    with _failures():
        _export_file(file)
        text = draft_mapping(file, table)
        if output is None:
            _print(text)
            return
        if output.exists():
            raise InputError(f"{output}: already exists; give another -o or remove it")
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}: check every line marked GUESS, then "
                  f"tracelake ingest {file} --mapping {output}",
                  highlight=False)
