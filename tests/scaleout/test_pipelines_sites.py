"""Dagster with several sites: one landing folder per site, one run per changed site, and the
assets materialised on a scale-out lake (DuckLake on the session's PostgreSQL and S3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
from tracelake_pipelines.assets import genealogy_index, lake_snapshot, search_index, table_assets
from tracelake_pipelines.resources import TracelakeResource
from tracelake_pipelines.sensors import SITE_TAG, make_landing_sensor

from tests.helpers import JOB_HEADER, UNIT_HEADER, Lake, job_row, write_csv


def _site_files(folder: Path, job: str, n: int) -> None:
    write_csv(folder / "jobs.csv", JOB_HEADER, [job_row(job)])
    write_csv(folder / "units.csv", UNIT_HEADER,
              [[f"{job}-{i}", "SPX-200", job, "released"] for i in range(n)])


def test_the_sensor_requests_one_run_per_site_whose_folder_changed(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _site_files(landing / "north", "J-1", 2)
    _site_files(landing / "south", "J-2", 2)
    sensor = make_landing_sensor(dg.define_asset_job("j", selection=dg.AssetSelection.all()))
    resource = TracelakeResource(landing=str(landing), lake=str(tmp_path / "lake"),
                                 sites=["north", "south"])
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"tracelake": resource})
        first = sensor(ctx)
        assert sorted(r.tags[SITE_TAG] for r in first) == ["north", "south"]
        cursor = ctx.cursor
        assert set(json.loads(cursor)) == {"north", "south"}
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"tracelake": resource})
        assert isinstance(sensor(ctx), dg.SkipReason)
        write_csv(landing / "south" / "jobs_2.csv", JOB_HEADER, [job_row("J-3")])
        again = sensor(ctx)
        assert [r.tags[SITE_TAG] for r in again] == ["south"]


def test_a_site_run_materialises_every_asset_on_a_scaleout_lake(tmp_path: Path,
                                                                 servers: Any) -> None:
    landing = tmp_path / "landing"
    _site_files(landing / "north", "J-1", 3)
    _site_files(landing / "south", "J-2", 4)
    servers.configure(tmp_path / "lake")
    resource = TracelakeResource(landing=str(landing), lake=str(tmp_path / "lake"),
                                 sites=["north", "south"])
    result = dg.materialize([*table_assets, genealogy_index, search_index, lake_snapshot],
                            resources={"tracelake": resource}, tags={SITE_TAG: "south"},
                            raise_on_error=False)
    assert result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"units", "genealogy_index", "search_index", "lake_snapshot"} <= done
    cycles = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_cycles")
    assert cycles.passed
    lake = Lake(tmp_path / "lake")
    assert lake.query("SELECT _site, count(*) FROM units GROUP BY 1") == [("south", 4)]
    assert lake.query("SELECT site FROM ingest_runs") == [("south",)]
    assert not (tmp_path / "lake" / "lake.duckdb").exists()
    assert (tmp_path / "lake" / "serving.duckdb").exists()
