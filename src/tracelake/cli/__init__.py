"""The ``tracelake`` command line (see ``cli-contract.md``): thin commands over the library.

Each module holds one group of commands and registers them on the shared app
(:mod:`tracelake.cli.app`); importing this package registers them all.
"""

from __future__ import annotations

from tracelake.cli import (  # noqa: F401  (_startup first; the others register commands)
    _startup,
    dashboards,
    export,
    init,
    intake,
    lake,
    quality,
    records,
    review,
    search,
    trace,
)
from tracelake.cli.app import app, install_signal_handlers
from tracelake.cli.search import FindKind

__all__ = ["FindKind", "app", "main"]


def main() -> None:
    """Console entry point."""
    install_signal_handlers()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
