"""Fixtures: a real lake and a landing folder in a temporary directory."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.helpers import SAMPLE, Lake
from tracelake.lake.snapshot import open_snapshot
from tracelake.records import batch_record, device_record


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout, ``kill``) ends the run as Ctrl+C does: fixtures are torn down, so
    the PostgreSQL and S3 servers a run started are stopped (Python's default would exit at once
    and leave them running)."""
    signal.signal(signal.SIGTERM, _interrupted)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--lake-mode", choices=("embedded", "scaleout"), default="embedded",
                     help="scaleout: every lake the tests make is DuckLake on a PostgreSQL and "
                          "an S3 server the run starts (make test runs the storage tests so)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--lake-mode") != "scaleout":
        return
    skip = pytest.mark.skip(reason="about the embedded lake's own file, snapshot copy or lock")
    for item in items:
        if "embedded_only" in item.keywords:
            item.add_marker(skip)
        limit = item.get_closest_marker("timeout")
        if limit and limit.args:  # every statement is a catalog round trip: more time, not less
            item.add_marker(pytest.mark.timeout(limit.args[0] * 5), append=False)


@pytest.fixture(scope="session")
def servers() -> Iterator[Any]:
    """PostgreSQL and an S3 server on 127.0.0.1, started for the session and stopped after."""
    import os

    from tests.scaleout.servers import start_servers, stop_servers

    found = start_servers()
    saved = {k: os.environ.get(k) for k in found.s3.env}
    os.environ.update({k: v for k, v in found.s3.env.items() if k.startswith("AWS_") and
                       k != "AWS_ENDPOINT_URL"})
    try:
        yield found
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        stop_servers(found)


@pytest.fixture(scope="session", autouse=True)
def _lake_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    """--lake-mode scaleout: every Lake of the session is made on the servers."""
    import tests.helpers as helpers

    if request.config.getoption("--lake-mode") != "scaleout":
        yield
        return
    helpers.SCALEOUT = request.getfixturevalue("servers")
    try:
        yield
    finally:
        helpers.SCALEOUT = None


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """An empty lake in a temporary folder."""
    return Lake(tmp_path / "lake")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """An empty landing folder."""
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The sample plant (without its bad/ corpus) in a real lake, built once for the session.

    Read-only: tests that change a lake build their own (the ``lake`` fixture).
    """
    lake = Lake(tmp_path_factory.mktemp("sample") / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    return lake


@pytest.fixture(scope="session")
def sample(sample_lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only snapshot connection to the sample lake."""
    con = open_snapshot(sample_lake.paths)
    yield con
    con.close()


@pytest.fixture(scope="module")
def bmr(sample: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The batch record of the sample's J-1042 (one per test module: tests may not share edits)."""
    return batch_record(sample, "J-1042")


@pytest.fixture(scope="module")
def dhr(sample: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The device history record of the sample's SPX200-0004."""
    return device_record(sample, "SPX200-0004")
