"""Real servers for the scale-out tests and benchmarks: PostgreSQL and an S3-compatible store.

Both listen on 127.0.0.1 only, on a free port, in a temporary folder, and are stopped by
:meth:`Server.stop` (the pytest fixtures in ``conftest.py`` do so at the end of the session).
PostgreSQL refuses to run as root, so when the tests run as root (``make test`` in CI) its
``initdb`` and ``pg_ctl`` run as the ``postgres`` user (or ``nobody``) through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Server", "free_port", "postgres_bin", "start_moto", "start_postgres"]


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL server programs (Debian's layout), or the
    folder holding ``pg_ctl`` on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _wait_port(port: int, seconds: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server on port {port} stopped at start (exit {proc.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


@dataclass
class Server:
    """A running server: its address and how to stop it."""

    url: str
    port: int
    folder: Path
    stop_command: list[str] | None = None
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)
    reaper: subprocess.Popen | None = None  # stops a daemonised server if this process dies

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        if self.stop_command:
            subprocess.run(self.stop_command, check=False, capture_output=True, timeout=60)
        if self.reaper is not None:
            self.reaper.kill()
            self.reaper.wait(10)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _die_with_parent() -> None:
    """(In a child, before exec.) The kernel sends it SIGTERM when the process that started it
    dies, however it dies: a test worker killed by a CI timeout leaves no server behind."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


#: A watcher for a server that daemonises (PostgreSQL under pg_ctl has no parent to die with):
#: waits, and on SIGTERM (its parent died) runs the stop command and deletes the folder.
REAPER = """
import json, shutil, signal, subprocess, sys
stop, folder = json.loads(sys.argv[1])
def reap(*_):
    subprocess.run(stop, capture_output=True, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, reap)
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C: the run's own teardown stops the server
while True:
    signal.pause()
"""


def _reaper(stop: list[str], folder: Path) -> subprocess.Popen:
    import json

    return subprocess.Popen([sys.executable, "-c", REAPER, json.dumps([stop, str(folder)])],
                            preexec_fn=_die_with_parent)


def _as_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix that runs a program as an unprivileged user (when we are root)."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither 'postgres' nor 'nobody' exists to run "
                       "PostgreSQL as")


def start_postgres(database: str = "tracelake") -> Server:
    """initdb a cluster in a temporary folder, start it on 127.0.0.1:<free port>, create a
    database; trust authentication for local connections (a throwaway test server)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: 'make postgres' installs it "
                           "(apt-get install postgresql)")
    prefix, uid, gid = _as_user()
    folder = Path(tempfile.mkdtemp(prefix="tracelake-pg-"))
    data, sockets = folder / "data", folder / "run"
    sockets.mkdir()
    if uid is not None:
        for path in (folder, sockets):
            os.chown(path, uid, gid)  # type: ignore[arg-type]
    port = free_port()
    user = pwd.getpwuid(uid).pw_name if uid is not None else pwd.getpwuid(os.geteuid()).pw_name
    try:
        subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", user,
                        "--auth=trust", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True, timeout=120)
        options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=200"
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                        "-l", str(folder / "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", user, database], check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = (folder / "log").read_text(errors="replace")[-2000:] if (folder / "log").exists() else ""
        out = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {out.decode(errors='replace')} {log}") from exc
    stop = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
    return Server(url=f"postgresql://{user}@127.0.0.1:{port}/{database}", port=port,
                  folder=folder, stop_command=stop, reaper=_reaper(stop, folder))


def start_moto() -> Server:
    """moto's S3 server on 127.0.0.1:<free port> (in this Python), with test credentials."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="tracelake-s3-"))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    log = (folder / "log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=_die_with_parent)
    try:
        _wait_port(port, 60, proc)
    except RuntimeError:
        proc.kill()
        raise
    return Server(url=f"http://127.0.0.1:{port}", port=port, folder=folder, process=proc,
                  env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_REGION": "us-east-1"})


def make_bucket(server: Server, bucket: str) -> None:
    """Create a bucket on the S3 server."""
    import boto3

    boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing"
                 ).create_bucket(Bucket=bucket)


@dataclass
class Servers:
    """PostgreSQL and S3 for scale-out lakes; each lake gets its own catalog schema and prefix."""

    postgres: Server
    s3: Server
    bucket: str = "tracelake"

    def configure(self, root: Path, *, site: str = "main", name: str | None = None) -> Path:
        """Make ``root`` a scale-out lake of its own (``tracelake.toml``); its config file."""
        import uuid

        from tracelake.lake.config import LakeConfig, write_config

        name = name or f"l{uuid.uuid4().hex[:12]}"
        return write_config(root, LakeConfig(
            catalog=self.postgres.url, data=f"s3://{self.bucket}/{name}/", site=site,
            metadata_schema=name, s3_endpoint=f"127.0.0.1:{self.s3.port}", s3_region="us-east-1",
            s3_url_style="path", s3_use_ssl=False))


def start_servers() -> Servers:
    """Start PostgreSQL and moto's S3 (with a bucket); stop them with :func:`stop_servers`."""
    postgres = start_postgres()
    try:
        s3 = start_moto()
    except BaseException:
        postgres.stop()
        raise
    servers = Servers(postgres, s3)
    try:
        make_bucket(s3, servers.bucket)
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: Servers) -> None:
    """Stop both servers (and delete their folders)."""
    try:
        servers.s3.stop()
    finally:
        servers.postgres.stop()
