"""Starting the dashboards on a lake (``tracelake dashboard``, ``tracelake demo``).

The dashboards are the repository's ``dashboards/`` folder, not part of the wheel: they are found
beside the source tree this package was installed from (an editable install or a checkout), or
where ``$TRACELAKE_DASHBOARDS`` says. They run in their own process (``streamlit run``), told the
lake by ``$TRACELAKE_LAKE``; this module never imports Streamlit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tracelake.errors import TracelakeError

__all__ = ["dashboard_command", "dashboards_dir", "serve"]

ENTRYPOINT = "streamlit_app.py"


def dashboards_dir() -> Path:
    """The ``dashboards/`` folder: ``$TRACELAKE_DASHBOARDS``, else beside ``src/`` of this package."""
    override = os.environ.get("TRACELAKE_DASHBOARDS")
    folder = Path(override) if override else Path(__file__).resolve().parents[3] / "dashboards"
    if not (folder / ENTRYPOINT).is_file():
        raise TracelakeError(
            f"no dashboards at {folder}: they ship with the tracelake repository, not the package; "
            "run from a checkout (uv sync) or set TRACELAKE_DASHBOARDS to its dashboards folder")
    return folder


def sample_dir() -> Path:
    """The sample plant (``data/sample``) beside ``src/``, so ``tracelake demo`` works from any folder."""
    folder = Path(__file__).resolve().parents[3] / "data" / "sample"
    if not folder.is_dir():
        raise TracelakeError(f"no sample plant at {folder}: it ships with the tracelake repository; "
                             "give the exports to load with --data PATH")
    return folder


def dashboard_command(port: int, *, address: str | None = None) -> list[str]:
    """The ``streamlit run`` command line of the dashboards (headless, on ``port``)."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(dashboards_dir() / ENTRYPOINT),
           "--server.headless", "true", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    if address:
        cmd += ["--server.address", address]
    return cmd


def serve(lake: Path, port: int, *, address: str | None = None) -> int:
    """Run the dashboards on ``lake`` until interrupted (Ctrl+C or SIGTERM, which stop the
    Streamlit process too); returns Streamlit's exit code."""
    env = os.environ | {"TRACELAKE_LAKE": str(lake.resolve())}
    proc = subprocess.Popen(dashboard_command(port, address=address), env=env,
                            cwd=dashboards_dir())

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too, explicitly: a process started in the background by a shell inherits SIGINT
    # ignored, so Ctrl+C's signal sent to it would otherwise leave the dashboards running.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
