"""Dagster: the definitions load, every asset materialises in-process, checks report quarantine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from tracelake_pipelines.assets import genealogy_index, lake_snapshot, search_index, table_assets
from tracelake_pipelines.definitions import defs
from tracelake_pipelines.records import record_findings
from tracelake_pipelines.resources import TracelakeResource
from tracelake_pipelines.sensors import landing_fingerprint, make_landing_sensor

from tests.helpers import JOB_HEADER, OP_HEADER, REPO, SAMPLE, job_row, op_row, write_csv
from tracelake.contracts import CONTRACTS
from tracelake.derived.findings import RULES


def _materialize(landing: Path, lake: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize([*table_assets, genealogy_index, search_index, lake_snapshot],
                          resources={"tracelake": TracelakeResource(landing=str(landing),
                                                                    lake=str(lake))},
                          raise_on_error=False)


def test_definitions_load_with_an_asset_and_a_check_per_table() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {*CONTRACTS, "genealogy_index", "search_index", "lake_snapshot",
            "record_findings", "epcis_batches"} <= keys
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert {("record_findings", rule) for rule in RULES} <= checks
    assert {(t, "contract") for t in CONTRACTS} <= checks
    assert defs.resolve_job_def("ingest_everything") is not None
    assert defs.resolve_sensor_def("landing_sensor") is not None


def test_every_asset_materialises_on_the_sample_plant(tmp_path: Path) -> None:
    result = _materialize(SAMPLE, tmp_path / "lake")
    assert result.success
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialised == {*CONTRACTS, "genealogy_index", "search_index", "lake_snapshot"}
    checks = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()
              if e.check_name == "contract"}
    assert all(checks[t].passed for t in CONTRACTS), [t for t in CONTRACTS if not checks[t].passed]
    assert (tmp_path / "lake" / "serving.duckdb").exists()


def test_a_quarantined_row_is_a_warning_on_its_table_check(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "operations.csv", OP_HEADER, [op_row(), op_row(op_seq=20, operator="")])
    result = _materialize(landing, tmp_path / "lake")
    check = next(e for e in result.get_asset_check_evaluations()
                 if e.asset_key.to_user_string() == "operations")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["rows_quarantined"].value == 1
    assert result.success  # warnings do not stop the snapshot


def test_a_file_rejected_whole_fails_its_check_and_blocks_the_snapshot(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "jobs.csv", [c for c in JOB_HEADER if c != "status"],
              [job_row()[:-1]])
    result = _materialize(landing, tmp_path / "lake")
    check = next(e for e in result.get_asset_check_evaluations()
                 if e.asset_key.to_user_string() == "jobs")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "lake_snapshot" not in done
    assert not (tmp_path / "lake" / "serving.duckdb").exists()


def test_the_landing_sensor_requests_a_run_only_when_files_change(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row()])
    sensor = make_landing_sensor(dg.define_asset_job("j", selection=dg.AssetSelection.all()))
    resource = TracelakeResource(landing=str(landing), lake=str(tmp_path / "lake"))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"tracelake": resource})
        first = sensor(ctx)
        assert isinstance(first, dg.RunRequest)
        ctx = dg.build_sensor_context(instance=instance, cursor=landing_fingerprint(landing),
                                      resources={"tracelake": resource})
        assert isinstance(sensor(ctx), dg.SkipReason)
        write_csv(landing / "jobs_2.csv", JOB_HEADER, [job_row("J-2")])
        assert isinstance(sensor(ctx), dg.RunRequest)


def test_the_sample_bad_corpus_is_left_out_of_the_landing_by_default(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE, landing)
    assert landing_fingerprint(landing, ["bad/*"]) != landing_fingerprint(landing)
    assert TracelakeResource(landing=str(landing), lake="x").exclude == ["bad/*"]


@pytest.mark.parametrize("path", ["pipelines/dagster.yaml"])
def test_instance_config_limits_the_duckdb_pool_to_one(path: str) -> None:
    import yaml

    doc = yaml.safe_load((REPO / path).read_text())
    assert doc["concurrency"]["pools"]["default_limit"] == 1


def test_the_genealogy_asset_checks_for_cycles_and_blocks_the_snapshot(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "units.csv", ["serial_number", "product_code", "job_id", "status"],
              [["A", "P", "J-1", "wip"], ["B", "P", "J-1", "wip"]])
    write_csv(landing / "unit_components.csv",
              ["serial_number", "component_code", "component_serial", "fitted_at", "fitted_by"],
              [["A", "P", "B", "2026-10-20T09:00", "x"], ["B", "P", "A", "2026-10-20T10:00", "x"]])
    result = _materialize(landing, tmp_path / "lake")
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_cycles")
    assert not check.passed and check.metadata["nodes_on_a_cycle"].value == 2
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "genealogy_index" in done and "lake_snapshot" not in done


def test_the_findings_of_every_batch_record_are_asset_checks_per_rule(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE, landing, ignore=shutil.ignore_patterns("bad"))
    result = dg.materialize([*table_assets, genealogy_index, search_index, lake_snapshot,
                             record_findings],
                            resources={"tracelake": TracelakeResource(landing=str(landing),
                                                                      lake=str(tmp_path / "lake"))},
                            raise_on_error=False)
    assert result.success  # findings are results, not failures
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()
              if e.asset_key.to_user_string() == "record_findings"}
    assert set(checks) == set(RULES)
    overdue, open_ncr = checks["calibration_overdue_at_use"], checks["open_ncr_at_release"]
    assert (overdue.passed, overdue.severity, overdue.metadata["findings"].value) == (
        False, dg.AssetCheckSeverity.WARN, 6)
    assert (open_ncr.passed, open_ncr.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert open_ncr.metadata["jobs"].value == {"J-1047": 1}
    assert checks["wrong_revision"].passed and checks["label_mismatch"].passed
    mat = next(e for e in result.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "record_findings")
    assert mat.materialization.metadata["release_blocked"].value == ["J-1047"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_make_dagster_stops_with_every_process_it_started(tmp_path: Path, sig: int) -> None:
    """``make dagster``'s launcher, started as a shell starts a background job (SIGINT ignored):
    one SIGTERM or SIGINT ends dagster dev, its webserver, daemon and code servers."""
    import psutil

    env = os.environ | {"DAGSTER_HOME": str(tmp_path / "home"), "TRACELAKE_LAKE": str(tmp_path / "lake")}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tracelake_pipelines.dev", "-p", str(_free_port()), "-h", "127.0.0.1"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    parent = psutil.Process(launcher.pid)
    started: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(started) < 3:  # dagster dev + its servers
        started = parent.children(recursive=True)
        time.sleep(0.5)
    assert len(started) >= 3, [p.cmdline() for p in started]
    assert (tmp_path / "home" / "dagster.yaml").is_file()  # the shipped settings (telemetry off)
    launcher.send_signal(sig)
    launcher.wait(timeout=60)
    _gone, alive = psutil.wait_procs(started, timeout=30)
    assert not alive, [p.cmdline() for p in alive]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_epcis_document_per_released_batch(tmp_path: Path) -> None:
    from tracelake_pipelines.epcis import epcis_batches, epcis_folder

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    shutil.copytree(SAMPLE, landing, ignore=shutil.ignore_patterns("bad"))
    resources = {"tracelake": TracelakeResource(landing=str(landing), lake=str(lake))}
    assets = [*table_assets, genealogy_index, search_index, lake_snapshot, epcis_batches]
    result = dg.materialize(assets, resources=resources, raise_on_error=False)
    assert result.success
    folder = epcis_folder(lake)
    released = ["J-1038", "J-1042", "J-1044", "J-1050"]  # J-1047 is in progress
    assert sorted(p.stem for p in folder.glob("*.jsonld")) == released
    import json

    doc = json.loads((folder / "J-1042.jsonld").read_text(encoding="utf-8"))
    [t] = [e for e in doc["epcisBody"]["eventList"] if e["type"] == "TransformationEvent"]
    assert t["transformationID"] == "urn:tracelake:job:J-1042"
    mat = next(e for e in result.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "epcis_batches")
    assert mat.materialization.metadata["written"].value == 4
    again = dg.materialize([epcis_batches], resources=resources)  # nothing changed: none written
    mat = next(e for e in again.get_asset_materialization_events())
    assert mat.materialization.metadata["written"].value == 0


def test_the_landing_sensor_starts_the_ingest_and_the_readers_follow_after_it(
        tmp_path: Path) -> None:
    """The landing sensor's job is the ingest path (what ``tracelake ingest`` does: tables,
    indexes, snapshot); the findings and EPCIS documents run in a job of their own that the
    after-ingest sensor requests once an ingest run succeeded."""
    assert defs.resolve_sensor_def("landing_sensor").job_name == "ingest_landing"
    follow = defs.resolve_sensor_def("after_ingest_sensor")
    assert isinstance(follow, dg.RunStatusSensorDefinition)
    assert follow.job_name == "records_and_exports"
    assert follow.default_status == dg.DefaultSensorStatus.RUNNING
    landing = tmp_path / "landing"
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    job = defs.resolve_job_def("ingest_landing")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), resources={
        "tracelake": TracelakeResource(landing=str(landing), lake=str(tmp_path / "lake"))})
    assert result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"jobs", "genealogy_index", "search_index", "lake_snapshot"} <= done
    assert not done & {"record_findings", "epcis_batches"}
    readers = defs.resolve_job_def("records_and_exports").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), resources={
            "tracelake": TracelakeResource(landing=str(landing), lake=str(tmp_path / "lake"))})
    assert {e.asset_key.to_user_string() for e in readers.get_asset_materialization_events()} \
        == {"record_findings", "epcis_batches"}
