"""The Dagster code location: ``dagster dev`` (from the repository root) shows these definitions."""

from __future__ import annotations

import dagster as dg

from tracelake_pipelines.assets import genealogy_index, lake_snapshot, search_index, table_assets
from tracelake_pipelines.epcis import epcis_batches
from tracelake_pipelines.records import record_findings
from tracelake_pipelines.resources import default_resource
from tracelake_pipelines.sensors import make_landing_sensor

ingest_everything = dg.define_asset_job(
    "ingest_everything", selection=dg.AssetSelection.all(),
    description="Ingest every export in the landing folder, then publish the snapshot")

defs = dg.Definitions(
    assets=[*table_assets, genealogy_index, search_index, lake_snapshot, record_findings,
            epcis_batches],
    jobs=[ingest_everything],
    sensors=[make_landing_sensor(ingest_everything)],
    resources={"tracelake": default_resource()},
    # Every step in the run's own process: DuckDB has one writer anyway (the pool runs them one
    # at a time), and a process per step cost ~8 s of start-up each (24 steps: ~4 min).
    executor=dg.in_process_executor,
)
