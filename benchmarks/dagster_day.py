"""Dagster benchmark: a day's new files through Dagster beside ``tracelake ingest`` of the same
files, in the same run (issue #15, target 4: no slower than the CLI plus 20 %).

    uv run python benchmarks/dagster_day.py [--units 100000] [--seed 1] [--day-units 1000]

The lake of ``benchmarks/ingest.py --units N`` (``benchmarks/.work/lake-tracelake``, built
first if missing) is copied for each measurement, and the day's files (``ingest_day.py``) are
put in a landing folder of their own. Each command runs as a user runs it, in a fresh process,
timed from outside (imports included):

* ``tracelake ingest``  ``tracelake ingest DAY --lake COPY``
* ``dagster job``       ``dagster job execute -m tracelake_pipelines.definitions -j
                        ingest_landing``: the job the landing sensor requests, run as the
                        daemon's run launcher runs it (one process loading the code location,
                        the in-process executor), with the shipped instance settings
                        (``pipelines/dagster.yaml``) in a fresh ``DAGSTER_HOME``
* ``dagster steps``     the same job in process (``execute_in_process``), for the seconds of
                        each step (from the run's event log)
* ``dagster floor``     ``dagster job execute -f benchmarks/dagster_floor.py -j floor``: one
                        empty step with the same CLI and instance, no tracelake imported: the
                        fixed cost of any Dagster run launched as a process. ``- floor`` gives
                        each ``dagster job`` run with that cost taken off, beside the target
* ``dagster job (event log in memory)``  the landing job again with the run's events kept in
                        memory (``InMemoryEventLogStorage``) instead of the instance's SQLite
                        files: Dagster OSS commits every event (a run of the landing job writes
                        ~170: a materialisation, a check and their "planned" events per table)
                        in its own SQLite transaction, opened and closed each time, and each
                        commit waits for the disk; the difference to ``dagster job`` is that cost

Results: ``benchmarks/.work/dagster-results.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness

WORK = harness.WORK / "dagster"
BIN = Path(sys.executable).parent


def _env(landing: Path, lake: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ, TRACELAKE_LANDING=str(landing), TRACELAKE_LAKE=str(lake),
               DAGSTER_HOME=str(home), PYTHONPATH=str(harness.ROOT / "pipelines"))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(harness.ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    return env


#: the instance settings with the event log kept in memory (a measurement only: no run history)
IN_MEMORY_EVENTS = """
event_log_storage:
  module: dagster._core.storage.event_log
  class: InMemoryEventLogStorage
"""


def _timed(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                          cwd=harness.ROOT)
    wall = time.perf_counter() - t
    if proc.returncode:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"{cmd[0]} failed with status {proc.returncode}")
    return {"seconds": wall}


def child_steps(landing: Path, lake: Path) -> dict[str, Any]:
    """In the child: the sensor's job in process; seconds per step from the event log."""
    import dagster as dg
    from tracelake_pipelines.definitions import defs

    instance = dg.DagsterInstance.ephemeral()
    job = defs.get_job_def("ingest_landing")
    t = time.perf_counter()
    result = job.execute_in_process(instance=instance)
    seconds = time.perf_counter() - t
    assert result.success
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            steps[event.step_key] = round(entry.timestamp - starts[event.step_key], 2)
    return {"seconds": seconds, "steps": steps, "peak_rss_mib": harness.rss_mib()}


def _copy(src: Path, name: str) -> Path:
    lake = WORK / name
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(src, lake)
    return lake


def main() -> None:
    parser = harness.parser(__doc__, child_args=("child", "dir", "tag", "landing", "lake"))
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--day-units", type=int, default=1000)
    args = parser.parse_args()
    if args.child:
        os.environ["TRACELAKE_LANDING"], os.environ["TRACELAKE_LAKE"] = args.landing, args.lake
        sys.path.insert(0, str(harness.ROOT / "pipelines"))
        harness.child_done(Path(args.dir), args.tag,
                           child_steps(Path(args.landing), Path(args.lake)))
        return
    from ingest_day import build_day

    source = harness.plant_dir(100_000, args.seed)
    harness.ensure_plant(source, 100_000, args.seed)
    day = build_day(source, harness.WORK / f"day-{args.day_units}-{args.seed}", args.day_units)
    base = harness.WORK / "lake-tracelake"
    if not (base / "serving.duckdb").exists():
        raise SystemExit(f"run benchmarks/ingest.py --units {args.units} first (it builds "
                         f"{base})")
    WORK.mkdir(parents=True, exist_ok=True)
    landing = WORK / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    shutil.copytree(harness.WORK / f"day-{args.day_units}-{args.seed}", landing)
    home = WORK / "home"  # one instance for every run, made before the timing (as deployed)
    shutil.rmtree(home, ignore_errors=True)
    _timed([str(BIN / "dagster"), "instance", "migrate"], _env(landing, base, home))
    memory_home = WORK / "home-events-in-memory"
    shutil.rmtree(memory_home, ignore_errors=True)
    memory_home.mkdir(parents=True)
    (memory_home / "dagster.yaml").write_text(
        (harness.ROOT / "pipelines" / "dagster.yaml").read_text() + IN_MEMORY_EVENTS)
    _timed([str(BIN / "dagster"), "instance", "migrate"], _env(landing, base, memory_home))
    results: dict[str, dict[str, Any]] = {}
    for name in ("dagster floor", "tracelake ingest", "dagster job", "dagster steps",
                 "dagster job (event log in memory)", "tracelake ingest (again)",
                 "dagster job (again)", "dagster floor (again)"):
        lake = _copy(base, "lake")
        env = _env(landing, lake, memory_home if "in memory" in name else home)
        if name.startswith("dagster floor"):
            res = _timed([str(BIN / "dagster"), "job", "execute", "-f",
                          str(harness.ROOT / "benchmarks" / "dagster_floor.py"), "-j", "floor"],
                         env)
        elif name.startswith("tracelake ingest"):
            res = _timed([str(BIN / "tracelake"), "ingest", str(landing), "--lake", str(lake)],
                         env)
        elif name.startswith("dagster job"):
            res = _timed([str(BIN / "dagster"), "job", "execute", "-m",
                          "tracelake_pipelines.definitions", "-j", "ingest_landing"], env)
        else:
            res = harness.run_child(__file__, "steps", WORK, ["--landing", str(landing),
                                                               "--lake", str(lake)])
            if "error" in res:
                raise SystemExit(f"dagster steps failed: {res['error']}")
        results[name] = res
    base_s = min(results["tracelake ingest"]["seconds"],
                 results["tracelake ingest (again)"]["seconds"])
    print(f"\na day's files ({day['finished_units']:,} finished units, {day['total_rows']:,} rows)"
          f" into a copy of the {args.units:,}-unit lake\n")
    floor_s = min(results["dagster floor"]["seconds"], results["dagster floor (again)"]["seconds"])
    rows = []
    for n, r in results.items():
        job = n.startswith("dagster job")
        rows.append((n, r["seconds"], harness.ratio(r["seconds"], base_s),
                     harness.ratio(r["seconds"] - floor_s, base_s) if job else None,
                     "<= 1.20" if job else ""))
    harness.print_table(["run", "seconds", "x tracelake ingest", "x, less the floor", "target"],
                        rows, ["", ".2f", ".2f", ".2f", ""])
    print(f"\n(wall seconds of each command, imports included; x: over the faster of the two "
          f"tracelake ingest runs; less the floor: without the {floor_s:.2f} s an empty Dagster "
          f"job costs, the faster of the two floor runs)\n")
    harness.print_table(["step (in process)", "seconds"],
                        sorted(results["dagster steps"]["steps"].items(), key=lambda x: -x[1]),
                        ["", ".2f"])
    harness.write_json(harness.WORK / "dagster-results.json",
                       {"units": args.units, "day": day, "results": results,
                        "environment": harness.environment()})
    print(json.dumps({n: round(r["seconds"], 2) for n, r in results.items()}))


if __name__ == "__main__":
    main()
