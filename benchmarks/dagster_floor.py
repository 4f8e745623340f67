"""Dagster's own fixed cost: an empty job run as ``dagster_day.py`` runs the landing job.

``dagster job execute -f benchmarks/dagster_floor.py -j floor`` starts the same CLI, opens the
same instance (run and event storage, pools) and runs one op that does nothing, in process. It
imports no tracelake: what it costs is what any Dagster run costs before its first step, the
floor under the ``dagster job`` rows of ``benchmarks/dagster_day.py``.
"""

from __future__ import annotations

import dagster as dg


@dg.op
def nothing() -> None:
    """Does nothing: the run's start-up and bookkeeping are what is measured."""


@dg.job(executor_def=dg.in_process_executor)
def floor() -> None:
    """One empty step."""
    nothing()
