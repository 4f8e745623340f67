"""The Dagster code location: ``dagster dev`` (from the repository root) shows these definitions."""

from __future__ import annotations

import dagster as dg

from tracelake_pipelines.assets import (
    TABLE_KEYS,
    genealogy_index,
    lake_snapshot,
    search_index,
    table_assets,
)
from tracelake_pipelines.epcis import epcis_batches
from tracelake_pipelines.records import record_findings
from tracelake_pipelines.resources import default_resource
from tracelake_pipelines.sensors import make_follow_up_sensor, make_landing_sensor

ingest_everything = dg.define_asset_job(
    "ingest_everything", selection=dg.AssetSelection.all(),
    description="Ingest every export in the landing folder, then publish the snapshot, the "
                "findings of every batch record and the EPCIS documents")

#: What the landing sensor starts: the ingest, its indexes and the readers' snapshot, as
#: ``tracelake ingest`` does (a day's files cost the same through Dagster as from the CLI).
ingest_landing = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets(*TABLE_KEYS, genealogy_index, search_index, lake_snapshot),
    description="Ingest the landing folder's new files, keep the indexes and publish the snapshot")

#: What reads the published snapshot: run after each successful ``ingest_landing``.
records_and_exports = dg.define_asset_job(
    "records_and_exports", selection=dg.AssetSelection.assets(record_findings, epcis_batches),
    description="The findings of every batch record and the EPCIS document per released batch")

defs = dg.Definitions(
    assets=[*table_assets, genealogy_index, search_index, lake_snapshot, record_findings,
            epcis_batches],
    jobs=[ingest_everything, ingest_landing, records_and_exports],
    sensors=[make_landing_sensor(ingest_landing),
             make_follow_up_sensor(ingest_landing, records_and_exports)],
    resources={"tracelake": default_resource()},
    # Every step in the run's own process: DuckDB has one writer anyway (the pool runs them one
    # at a time), and a process per step cost ~8 s of start-up each (24 steps: ~4 min).
    executor=dg.in_process_executor,
)
