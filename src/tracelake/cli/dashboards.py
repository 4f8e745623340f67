"""The dashboards: ``demo`` (build the sample lake, then serve) and ``dashboard``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tracelake.cli.app import (
    DEFAULT_LAKE,
    SAMPLE_EXCLUDE,
    LakeOption,
    _failures,
    app,
    err,
)
from tracelake.cli.intake import _print_ingest_table
from tracelake.cli.lake import _print_summary
from tracelake.lake.paths import LakePaths


@app.command()
def demo(lake: LakeOption = DEFAULT_LAKE,
         data: Annotated[Path | None, typer.Option(
             help="The plant exports to load (default: the repository's data/sample).")] = None,
         serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                             help="Then open the dashboards on it.")] = True,
         port: Annotated[int, typer.Option(help="The dashboards' port.")] = 8501) -> None:
    """Build the lake from the sample plant, show what it holds, and open the dashboards."""
    from tracelake.cli.serve import sample_dir
    from tracelake.ingest import ingest as run_ingest
    from tracelake.lake.summary import lake_summary

    with _failures(lake):
        paths = LakePaths.of(lake)
        data = data if data is not None else sample_dir()
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


