"""What every command shares: the Typer apps, the ``--lake`` option, output formats, and the
one-line failure handling (exit 1, never a traceback on screen)."""


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
from rich.text import Text

from tracelake.errors import TracelakeError
from tracelake.lake.paths import LakePaths
from tracelake.verbatim import visible

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="tracelake: a traceability lake for device manufacturers.")
mapping_app = typer.Typer(no_args_is_help=True, help="Work with mapping files for plant exports.")
app.add_typer(mapping_app, name="mapping")
trace_app = typer.Typer(no_args_is_help=True, help="Where-used and where-from through the genealogy.")
app.add_typer(trace_app, name="trace")
impact_app = typer.Typer(no_args_is_help=True, help="Impact of an event on results and units.")
app.add_typer(impact_app, name="impact")

# Markup, emoji codes and highlighting off: every message may carry text from the lake, shown as
# stored. Colour is given with rich.text.Text (see ``styled``), never by markup in a string.
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, markup=False,
              emoji=False, highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A message line: plain strings shown as stored (control characters visible), ``(text,
    style)`` pairs coloured."""
    return Text.assemble(*((visible(p[0]), p[1]) if isinstance(p, tuple) else visible(p)
                           for p in parts))

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
        err.print(styled(("error:", "red"), f" {exc}"))
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        log = _write_crash_log(lake)
        err.print(styled(("internal error:", "red"), f" {type(exc).__name__}: {exc} "
                         f"(details in {log})"))
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


