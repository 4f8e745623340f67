"""Time-travel benchmark: a trace, a BMR and a query on the lake as it stood at an earlier run,
beside the same on the lake as it stands now, in the same run.

    uv run python benchmarks/asof.py [--units 100000] [--seed 7] [--lake DIR]

A synthetic plant (cached under ``benchmarks/.work/``) is ingested (run 1). Then two corrected
re-exports are ingested, each as a run of its own:

* run 2: ``test_results`` of one job with changed values (the genealogy does not change);
* run 3: ``units`` of another job with changed statuses (the genealogy is built from units, so a
  point before run 3 needs its own genealogy index).

Measured, each in this process (seconds, best of ``--repeat``):

* ``open``   :func:`tracelake.lake.asof.open_as_of` (attach, views, genealogy index if needed);
  the baseline is ``open_snapshot`` (the lake now);
* ``trace``  ``where_used`` of the job's first lot, ``bmr`` ``batch_record(..., with_units=False)``
  of the corrected job, ``sql`` a count of test results per result: each on the as-of
  connection and on the snapshot (ratio = as-of / now).

Points: run 2 (as run 2 left the lake: the index of the snapshot cannot serve, run 3 changed
units) and run 1 before run 2 and 3. Results: ``benchmarks/.work/asof/results.json``.
"""

from __future__ import annotations

import csv
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import harness

WORK = harness.WORK / "asof"


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def _corrected(src: Path, dest: Path, key: str, job_of: dict[str, str], job: str,
               column: str, change: Any) -> int:
    """Rows of ``src`` belonging to ``job`` (by ``key``), with ``column`` changed, into ``dest``."""
    n = 0
    with src.open(newline="") as fh, dest.open("w", newline="") as out:
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            if job_of.get(row[key], row.get("job_id")) == job:
                row[column] = change(row[column])
                writer.writerow(row)
                n += 1
    return n


def main() -> int:
    p = harness.parser(__doc__)
    p.add_argument("--units", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--fresh", action="store_true", help="Ingest the lake again.")
    args = p.parse_args()

    import duckdb

    from tracelake.derived.genealogy import build_index, where_used
    from tracelake.ingest.run import ingest
    from tracelake.lake.asof import open_as_of
    from tracelake.lake.paths import LakePaths
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.records import batch_record

    plant = harness.plant_dir(args.units, args.seed)
    harness.ensure_plant(plant, args.units, args.seed)
    lake = WORK / f"lake-{args.units}-{args.seed}"
    paths = LakePaths.of(lake)
    fixes = WORK / f"fixes-{args.units}-{args.seed}"
    if args.fresh or not (lake / ".complete").exists():
        shutil.rmtree(lake, ignore_errors=True)
        shutil.rmtree(fixes, ignore_errors=True)
        fixes.mkdir(parents=True)
        t = time.perf_counter()
        runs = [ingest([plant], lake).run_id]
        print(f"run 1: the plant ingested in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        con = duckdb.connect(str(paths.serving), read_only=True)
        jobs = [j for (j,) in con.execute(
            "SELECT job_id FROM units GROUP BY job_id HAVING count(*) >= 20 "
            "ORDER BY job_id LIMIT 2").fetchall()]
        job_of = dict(con.execute("SELECT serial_number, job_id FROM units").fetchall())
        con.close()
        n = _corrected(plant / "test_results.csv", fixes / "test_results_fix.csv",
                       "serial_number", job_of, jobs[0], "value",
                       lambda v: v if v in ("", None) else str(round(float(v) * 1.001, 6)))
        runs.append(ingest([fixes / "test_results_fix.csv"], lake).run_id)
        print(f"run 2: {n} test results of {jobs[0]} corrected", file=sys.stderr)
        m = _corrected(plant / "units.csv", fixes / "units_fix.csv", "serial_number", job_of,
                       jobs[1], "status", lambda s: "quarantined" if s != "quarantined" else "wip")
        runs.append(ingest([fixes / "units_fix.csv"], lake).run_id)
        print(f"run 3: {m} units of {jobs[1]} corrected", file=sys.stderr)
        (lake / ".complete").write_text("\n".join([*runs, *jobs]))
    *runs, job_a, _job_b = (lake / ".complete").read_text().split("\n")

    now = open_snapshot(paths)
    lot = now.execute("SELECT component_code, lot_number FROM material_issues WHERE job_id = ? "
                      "ORDER BY issue_id LIMIT 1", [job_a]).fetchone()
    sql = "SELECT result, count(*) FROM test_results GROUP BY ALL"

    def work(con: Any) -> dict[str, float]:
        out = {}
        out["trace"], answer = _best(lambda: where_used(con, lot[0], lot[1]), args.repeat)
        out["bmr"], doc = _best(lambda: batch_record(con, job_a, with_units=False), args.repeat)
        out["sql"], _ = _best(lambda: con.execute(sql).fetchall(), args.repeat)
        out["units"] = len(answer.affected)
        out["history"] = len(doc["history"])
        return out

    rows, results = [], {}
    base_open, _ = _best(lambda: open_snapshot(paths), args.repeat)
    base = work(now)
    rows.append(["now (snapshot)", base_open, base["trace"], base["bmr"], base["sql"], 1.0,
                 base["units"], base["history"]])
    results["now"] = {"open": base_open, **base}
    for name, point in (("as of run 2", runs[1]), ("as of run 1", runs[0])):
        t = time.perf_counter()
        con, where = open_as_of(paths, point, index=build_index)
        opened = time.perf_counter() - t
        got = work(con)
        con.close()
        slowest = max(harness.ratio(got[k], base[k]) for k in ("trace", "bmr", "sql"))
        rows.append([name, opened, got["trace"], got["bmr"], got["sql"], slowest, got["units"],
                     got["history"]])
        results[name] = {"open": opened, "run": where.run_id, **got}
    now.close()
    print(f"lake: {args.units} units (seed {args.seed}); job {job_a}: {base['units']} units "
          f"reached by lot {lot[0]}/{lot[1]}")
    harness.print_table(["lake", "open s", "trace s", "bmr s", "sql s", "worst x now",
                         "units", "history"], rows, ["", ".2f", ".3f", ".3f", ".3f", ".1f", "", ""])
    harness.write_json(WORK / "results.json", {"environment": harness.environment(),
                                               "units": args.units, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
