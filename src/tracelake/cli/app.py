"""What every command shares: the Typer apps, the ``--lake`` option, output formats, and the
one-line failure handling (exit 1, never a traceback on screen)."""


import os
import signal
import sys
import tempfile
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it ends like Ctrl+C: one line, lake stated."""


_SIGTERM_SEEN: list[bool] = []


def _on_sigterm(signum: int, frame: object) -> None:
    _SIGTERM_SEEN.append(True)  # DuckDB may turn the exception into its own interrupt error
    raise Terminated()


def install_signal_handlers() -> None:
    """Make SIGTERM end a command the way Ctrl+C does (the run rolled back or committed)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)


@contextmanager
def _failures(lake: Path | None = None) -> Iterator[None]:
    """Turn errors into one line on stderr and exit code 1; never a traceback on screen.

    Ctrl+C and SIGTERM end in one line saying what state the lake is in (exit 130 and 143).
    """
    try:
        yield
    except TracelakeError as exc:
        err.print(f"error: {exc}", style="red", highlight=False, markup=False)
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated) or bool(_SIGTERM_SEEN)
        state = getattr(exc, "lake_state", "the lake was not changed by this command")
        err.print(f"{'stopped (SIGTERM)' if term else 'interrupted'}: {state}", highlight=False,
                  markup=False)
        raise typer.Exit(143 if term else 130) from None
    except Exception as exc:
        log = _write_crash_log(lake)
        state = getattr(exc, "lake_state", None)
        text = " ".join(str(exc).split())[:300]
        err.print(f"internal error: {type(exc).__name__}: {text}"
                  + (f"; {state}" if state else "")
                  + (f" (details in {log})" if log else " (no crash log could be written)"),
                  highlight=False, markup=False)
        raise typer.Exit(1) from None


def _write_crash_log(lake: Path | None) -> Path | None:
    """Append the traceback to tracelake-error.log in the lake, the working folder or the temp
    folder, the first that takes it whole; None when none does (a full disk): never a second
    failure, never an empty log."""
    entry = (f"--- {datetime.now(UTC).isoformat()} {' '.join(sys.argv)}\n"
             f"{traceback.format_exc()}").encode("utf-8", "replace")
    folders = [f for f in (lake, Path.cwd(), Path(tempfile.gettempdir()))
               if f is not None and f.is_dir()]
    for folder in folders:
        log = folder / "tracelake-error.log"
        try:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:
            continue
        try:
            before = os.fstat(fd).st_size
            try:
                os.write(fd, entry)
                return log
            except OSError:
                os.ftruncate(fd, before)  # no half entry left behind
        except OSError:
            pass
        finally:
            os.close(fd)
    return None


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@contextmanager
def _reader(lake: Path, *, memory_limit: str | None = None) -> Iterator[object]:
    """A read-only connection to the published snapshot that holds a genealogy index
    (``memory_limit``: DuckDB's, on that connection)."""
    from tracelake.derived.genealogy import has_index
    from tracelake.errors import LakeError
    from tracelake.lake.snapshot import open_snapshot

    con = open_snapshot(LakePaths.of(lake), memory_limit=memory_limit)
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


