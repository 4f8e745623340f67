"""Ctrl+C or SIGTERM while the command line is still starting (importing its libraries can take
seconds on a busy machine): one line, exit 130 / 143, never a traceback. Only for the
``tracelake`` program itself; importing the package elsewhere (tests, servers) changes nothing.
:func:`tracelake.cli.app.install_signal_handlers` takes over once a command starts."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _interrupted_while_starting(signum: int, frame: object) -> None:
    sys.stderr.write("interrupted: the lake was not changed by this command\n")
    os._exit(143 if signum == signal.SIGTERM else 130)


if Path(sys.argv[0]).name in ("tracelake", "-m"):
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupted_while_starting)
    signal.signal(signal.SIGTERM, _interrupted_while_starting)
