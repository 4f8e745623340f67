"""``make dagster``: ``dagster dev`` on the tracelake definitions, stopped cleanly by SIGTERM or Ctrl+C.

``dagster dev`` ignores SIGTERM, and a copy started in the background by a shell ignores SIGINT
too, so neither ``kill`` nor Ctrl+C sent to it stopped its webserver, daemon and code servers.
This launcher runs it in a process group of its own with SIGINT restored, turns SIGTERM or SIGINT
into one SIGINT to that group (Dagster's own clean shutdown), and kills what is left after a grace
period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

GRACE_SECONDS = 20


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def dagster_dev_command(extra: list[str]) -> list[str]:
    """The ``dagster dev`` command line for the tracelake code location."""
    return [sys.executable, "-m", "dagster", "dev", "-m", "tracelake_pipelines.definitions", *extra]


def run(extra: list[str]) -> int:
    """Run ``dagster dev`` until it ends or this process is told to stop; its exit code."""
    home = os.environ.get("DAGSTER_HOME")
    if home:  # the shipped instance settings (telemetry off, one DuckDB writer at a time)
        Path(home).mkdir(parents=True, exist_ok=True)
        shipped = Path(__file__).resolve().parents[1] / "dagster.yaml"
        target = Path(home) / "dagster.yaml"
        if shipped.is_file() and not target.exists():
            target.write_text(shipped.read_text())
    proc = subprocess.Popen(dagster_dev_command(extra), start_new_session=True,
                            preexec_fn=_restore_sigint)

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return _shut_down(proc)


def _shut_down(proc: subprocess.Popen) -> int:  # type: ignore[type-arg]
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)  # a second Ctrl+C does not cut the shutdown short
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever did not stop in time (code servers)
    proc.wait()
    return 0


def main() -> None:
    """Console entry point: ``python -m tracelake_pipelines.dev [dagster dev options]``."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
