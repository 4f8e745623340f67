"""A sensor on the landing folder: a new or changed export starts the ingest job."""


import hashlib
from pathlib import Path

import dagster as dg

from tracelake.ingest import discover_files
from tracelake_pipelines.resources import TracelakeResource

__all__ = ["landing_fingerprint", "make_landing_sensor"]


def landing_fingerprint(landing: Path, exclude: list[str] | None = None) -> str:
    """A digest of every data file's name, size and modification time under the landing folder."""
    digest = hashlib.sha256()
    if landing.exists():
        for path in discover_files([landing], exclude or []):
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def make_landing_sensor(job: "dg.JobDefinition | object") -> dg.SensorDefinition:
    """The sensor that requests ``job`` whenever the landing folder's contents change."""

    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Starts an ingest when a file lands in, or changes in, the landing folder")
    def landing_sensor(context: dg.SensorEvaluationContext,
                       tracelake: TracelakeResource) -> dg.SkipReason | dg.RunRequest:
        landing = Path(tracelake.landing)
        fingerprint = landing_fingerprint(landing, tracelake.exclude)
        if context.cursor == fingerprint:
            return dg.SkipReason(f"nothing new in {landing}")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=fingerprint)

    return landing_sensor
