"""A sensor on the landing folder: a new or changed export starts the ingest job; and the
sensor that starts the snapshot's readers (findings, EPCIS) once an ingest has published."""


import hashlib
import json
from pathlib import Path

import dagster as dg

from tracelake.ingest import discover_files
from tracelake_pipelines.resources import TracelakeResource

__all__ = ["SITE_TAG", "landing_fingerprint", "make_follow_up_sensor", "make_landing_sensor"]


def landing_fingerprint(landing: Path, exclude: list[str] | None = None) -> str:
    """A digest of every data file's name, size and modification time under the landing folder."""
    digest = hashlib.sha256()
    if landing.exists():
        for path in discover_files([landing], exclude or []):
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


#: the run tag naming the site a sensor-started ingest is for (landing_tables reads it)
SITE_TAG = "tracelake/site"


def make_landing_sensor(job: "dg.JobDefinition | object") -> dg.SensorDefinition:
    """The sensor that requests ``job`` whenever the landing folder's contents change; with
    sites configured, one run per site whose own folder (LANDING/<site>) changed."""

    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Starts an ingest when a file lands in, or changes in, the landing folder")
    def landing_sensor(context: dg.SensorEvaluationContext, tracelake: TracelakeResource
                       ) -> dg.SkipReason | dg.RunRequest | list[dg.RunRequest]:
        if tracelake.sites:
            return _site_requests(context, tracelake)
        landing = Path(tracelake.landing)
        fingerprint = landing_fingerprint(landing, tracelake.exclude)
        if context.cursor == fingerprint:
            return dg.SkipReason(f"nothing new in {landing}")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=fingerprint)

    return landing_sensor


def make_follow_up_sensor(ingest: "dg.JobDefinition | object",
                          follow_up: "dg.JobDefinition | object") -> dg.RunStatusSensorDefinition:
    """The sensor that runs ``follow_up`` after every successful run of ``ingest``.

    What reads the published snapshot (each batch record's findings, the EPCIS documents) runs
    in a run of its own after the ingest, so a day's files are published as fast as
    ``tracelake ingest`` publishes them, and the readers' work never holds the lake's writer.
    """

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name="after_ingest_sensor",
                          monitored_jobs=[ingest], request_job=follow_up,  # type: ignore[list-item]
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Updates the findings and the EPCIS documents after "
                                      "each ingest run that published a snapshot")
    def after_ingest(context: dg.RunStatusSensorContext) -> dg.RunRequest:
        return dg.RunRequest(run_key=context.dagster_run.run_id)

    return after_ingest


def _site_requests(context: dg.SensorEvaluationContext, tracelake: TracelakeResource
                   ) -> dg.SkipReason | list[dg.RunRequest]:
    """One run request per site whose landing folder changed (the cursor keeps each site's)."""
    try:
        seen = json.loads(context.cursor) if context.cursor else {}
    except ValueError:
        seen = {}
    if not isinstance(seen, dict):
        seen = {}
    requests = []
    for site in tracelake.sites:
        fingerprint = landing_fingerprint(Path(tracelake.site_landing(site)), tracelake.exclude)
        if seen.get(site) != fingerprint:
            seen[site] = fingerprint
            requests.append(dg.RunRequest(run_key=f"{site}:{fingerprint}",
                                          tags={SITE_TAG: site}))
    if not requests:
        return dg.SkipReason(f"nothing new in the sites' folders under {tracelake.landing}")
    context.update_cursor(json.dumps(seen, sort_keys=True))
    return requests
