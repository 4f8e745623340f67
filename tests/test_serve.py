"""``tracelake dashboard`` and ``tracelake demo``: the dashboards found, started on a lake, stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import REPO, SAMPLE
from tracelake.cli import app
from tracelake.cli.serve import dashboard_command, dashboards_dir

runner = CliRunner()


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_dashboards_are_found_beside_the_source_tree() -> None:
    assert dashboards_dir() == REPO / "dashboards"
    cmd = dashboard_command(8765)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4] == str(REPO / "dashboards" / "streamlit_app.py")
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    assert cmd[cmd.index("--server.headless") + 1] == "true"


def test_missing_dashboards_fail_in_one_line(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACELAKE_DASHBOARDS", str(tmp_path / "nowhere"))
    result = runner.invoke(app, ["dashboard", "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "no dashboards at" in lines[0]
    assert "TRACELAKE_DASHBOARDS" in result.stderr


def test_demo_finds_the_sample_plant_from_any_folder(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository: data/sample is not under the cwd
    result = runner.invoke(app, ["demo", "--no-serve", "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.stderr
    query = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM units", "--lake",
                                str(tmp_path / "lake"), "--format", "json"])
    assert json.loads(query.stdout)["rows"] == [{"n": 36}]


def test_demo_builds_the_sample_lake_without_serving(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    result = runner.invoke(app, ["demo", "--no-serve", "--lake", str(lake), "--data",
                                 str(SAMPLE)])
    assert result.exit_code == 0, result.stderr
    assert (lake / "serving.duckdb").exists()
    assert "dashboards on" not in result.stderr
    query = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM units", "--lake", str(lake),
                                "--format", "json"])
    assert json.loads(query.stdout)["rows"] == [{"n": 36}]


def _ignore_sigint() -> None:
    """What a shell does to a command it starts in the background (``cmd &``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("sig", "background"), [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGTERM", "Ctrl+C-to-a-background-process"])
def test_dashboard_serves_a_lake_and_stops_with_its_streamlit(tmp_path: Path, sig: int,
                                                              background: bool) -> None:
    port = free_port()
    env = os.environ | {"TRACELAKE_LAKE": str(tmp_path / "empty-lake")}
    proc = subprocess.Popen([sys.executable, "-m", "tracelake.cli", "dashboard", "--port",
                             str(port), "--address", "127.0.0.1"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ignore_sigint if background else None)
    try:
        body = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        assert body == "ok"
    finally:
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
    assert "no lake at" in err and f"http://localhost:{port}" in err
    with pytest.raises(OSError):  # streamlit went down with it
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
