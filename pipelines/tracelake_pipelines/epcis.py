"""EPCIS 2.0 documents per released batch: a file a customer or a notified body can read,
written after every published snapshot, one per released job, only for jobs whose rows changed."""


import json
import os
from pathlib import Path

import dagster as dg

from tracelake.lake.snapshot import open_snapshot
from tracelake_pipelines.assets import POOL, lake_snapshot
from tracelake_pipelines.resources import TracelakeResource

#: the newest run that touched a job's rows: its own row, its units, their fitments, results
#: and shipments (a job is written again when this changes)
_FINGERPRINTS = """
    WITH u AS (SELECT serial_number, job_id, _run_id FROM units)
    SELECT j.job_id, max(r) FROM jobs j
    JOIN (SELECT job_id, _run_id AS r FROM jobs
          UNION ALL SELECT job_id, _run_id FROM u
          UNION ALL SELECT job_id, _run_id FROM material_issues
          UNION ALL SELECT u.job_id, c._run_id FROM unit_components c JOIN u USING (serial_number)
          UNION ALL SELECT u.job_id, t._run_id FROM test_results t JOIN u USING (serial_number)
          UNION ALL SELECT u.job_id, s._run_id FROM shipments s JOIN u USING (serial_number))
         USING (job_id)
    WHERE j.status = 'released' GROUP BY j.job_id ORDER BY j.job_id"""


def epcis_folder(lake: Path) -> Path:
    """Where the per-batch documents go: ``<lake>/exports/epcis/<job>.jsonld``."""
    return lake / "exports" / "epcis"


@dg.asset(group_name="exports", kinds={"duckdb", "json"}, pool=POOL, deps=[lake_snapshot])
def epcis_batches(context: dg.AssetExecutionContext,
                  tracelake: TracelakeResource) -> dg.MaterializeResult:
    """One GS1 EPCIS 2.0 document per released job (``tracelake export epcis --job J``)."""
    # imported here, not with the code location: every run process (an ingest too) loads it
    from tracelake.exports.epcis import Selection, export_epcis

    paths = tracelake.lake_paths()
    folder = epcis_folder(paths.root)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest: dict[str, str] = json.loads(manifest_path.read_text()) \
        if manifest_path.exists() else {}
    written, events = [], 0
    con = open_snapshot(paths)
    try:
        prints = dict(con.execute(_FINGERPRINTS).fetchall())
        for job, fingerprint in prints.items():
            target = folder / f"{job.replace('/', '_')}.jsonld"
            if manifest.get(job) == fingerprint and target.exists():
                continue
            tmp = target.with_name(f".{target.name}.tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                result = export_epcis(con, fh, Selection(job=job))
            os.replace(tmp, target)
            manifest[job] = fingerprint
            written.append(job)
            events += result.events
    finally:
        con.close()
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    context.log.info(f"EPCIS: {len(written)} of {len(prints)} released jobs written to {folder}")
    return dg.MaterializeResult(metadata={
        "released_jobs": len(prints), "written": len(written), "events_written": events,
        "folder": dg.MetadataValue.path(str(folder)),
        "written_jobs": dg.MetadataValue.json(written[:50])})
