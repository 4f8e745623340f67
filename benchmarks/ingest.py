"""Ingest benchmark: a synthetic plant through tracelake, beside a raw DuckDB load in the same run.

    uv run python benchmarks/ingest.py [--units 100000] [--seed 1] [--day-units 1000]

Each measurement runs in its own child process (peak RSS is that child's own high-water mark):

* baseline  DuckDB ``read_csv`` of every file into plain tables in a database file: no typing,
            no checks, no lineage (``baseline-memory``: the same into an in-memory database)
* tracelake ``ingest`` into an empty lake: typed, checked, lineage-tagged, ledger, snapshot published
* re-ingest the same plant again (every file a duplicate: nothing to load)
* a day: a day's new files (``ingest_day.py``: ~1,000 finished units with their fitments, issues,
            operations, test results, labels, firmware and shipments; the same files whatever
            the plant's size) ingested into a copy of the lake, beside ``baseline-day``, the raw
            ``read_csv`` of the day's files into a file. Its cost should follow its rows, not
            the lake: compare the ``day`` rows of a 100k and a 1M run.

The second table splits tracelake's seconds by phase (the ingest report's ``seconds``): read
(hash, parse), check (map, type, contract checks), load (upsert, quarantine), orphans, genealogy
and search index upkeep, commit, publish (checkpoint + the copy to ``serving.duckdb``); then how
the search index was kept (``full`` rebuild, ``incremental``: the run's keys only, ``merge``).

Machines here are noisy, so the table compares tracelake with the baseline measured in the same run,
in wall seconds and in CPU seconds (user + system of every thread of the child: steadier than wall
seconds when other work shares the machine).
Results: ``benchmarks/.work/ingest-results.json``.
"""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

import harness

WORK = harness.WORK


def child(kind: str, lake: Path, plant: Path) -> dict[str, object]:
    """In the child: load the plant as ``kind`` does; rows, seconds (imports included), peak RSS."""
    t = time.perf_counter()
    extra: dict[str, object] = {}
    if kind.startswith("baseline"):
        import duckdb

        target = ":memory:" if kind == "baseline-memory" else str(lake / "raw.duckdb")
        con = duckdb.connect(target)
        rows = 0
        for i, f in enumerate(sorted(plant.glob("*.csv"))):
            con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv('{f}', all_varchar=true)")
            rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]  # type: ignore[index]
        con.close()
    else:
        from tracelake.ingest import ingest

        r = ingest([plant], lake)
        assert r.totals["rows_quarantined"] == 0, r.totals
        rows = r.totals["rows_loaded"]
        updated = sum(f.rows_updated for f in r.files)
        assert kind != "tracelake-day" or not updated, f"the day updated {updated} rows"
        extra = {"phases": r.seconds, "genealogy_mode": (r.genealogy or {}).get("mode"),
                 "search_mode": (r.search or {}).get("mode"),
                 "search_steps": (r.search or {}).get("steps"),
                 "serving_mib": (lake / "serving.duckdb").stat().st_size / 2**20
                 if (lake / "serving.duckdb").exists() else None}
    use = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the child (DuckDB's too)
    return {"rows": rows, "seconds": time.perf_counter() - t, "peak_rss_mib": harness.rss_mib(),
            "cpu_seconds": use.ru_utime + use.ru_stime, **extra}


def measure(kind: str, lake: Path, plant: Path) -> dict[str, float]:
    res = harness.run_child(__file__, kind.removesuffix("-again").removesuffix("-100k"), WORK,
                            ["--plant", str(plant), "--lake", str(lake)], tag=f"ingest-{kind}")
    if "error" in res:
        raise SystemExit(f"{kind} failed: {res['error']}")
    return res


def main() -> None:
    parser = harness.parser(__doc__, child_args=("child", "dir", "tag", "plant", "lake"))
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--day-units", type=int, default=1000,
                        help="finished units of the day's files (0: no day)")
    parser.add_argument("--day-only", action="store_true",
                        help="measure only the day, on the lake of the last run")
    args = parser.parse_args()
    if args.child:
        harness.child_done(Path(args.dir), args.tag, child(args.child, Path(args.lake),
                                                           Path(args.plant)))
        return
    plant = harness.plant_dir(args.units, args.seed)
    t = time.perf_counter()
    if harness.ensure_plant(plant, args.units, args.seed) is not None:
        print(f"generated {args.units:,}-unit plant in {time.perf_counter() - t:.1f} s")
    size = sum(f.stat().st_size for f in plant.glob("*.csv"))
    results: dict[str, dict] = {}
    for kind in () if args.day_only else ("baseline", "baseline-memory", "tracelake"):
        lake = WORK / f"lake-{kind}"
        shutil.rmtree(lake, ignore_errors=True)
        lake.mkdir(parents=True)
        results[kind] = measure(kind, lake, plant)
    if not args.day_only:
        results["re-ingest unchanged"] = measure("tracelake-again", WORK / "lake-tracelake",
                                                 plant)
    if args.day_units:
        from ingest_day import build_day

        day_dir = WORK / f"day-{args.day_units}-{args.seed}"
        source = harness.plant_dir(100_000, args.seed)  # the same day for every plant size
        harness.ensure_plant(source, 100_000, args.seed)
        day = build_day(source, day_dir, args.day_units)
        lake = WORK / "lake-day"
        shutil.rmtree(lake, ignore_errors=True)
        lake.mkdir(parents=True)
        results["baseline-day"] = measure("baseline", lake, day_dir)
        shutil.rmtree(lake)
        shutil.copytree(WORK / "lake-tracelake", lake)
        results["day"] = measure("tracelake-day", lake, day_dir)
        results["day"]["day"] = day

    print(f"\n{args.units:,} finished units, {size / 1e6:,.0f} MB of CSV"
          + (f"; the day: {day['finished_units']:,} finished units, {day['total_rows']:,} rows"
             if args.day_units else "") + "\n")
    def base(name: str) -> dict:
        return results["baseline-day" if "day" in name else "baseline"]

    harness.print_table(
        ["run", "rows", "seconds", "rows/s", "x baseline", "CPU s", "CPU x baseline",
         "peak RSS MiB"],
        [(name, r["rows"], r["seconds"], r["rows"] / r["seconds"] if r["rows"] else 0.0,
          harness.ratio(r["seconds"], base(name)["seconds"]), r["cpu_seconds"],
          harness.ratio(r["cpu_seconds"], base(name)["cpu_seconds"]), r["peak_rss_mib"])
         for name, r in results.items()],
        ["", ",", ".2f", ",.0f", ".2f", ".2f", ".2f", ",.0f"])
    print("\n(seconds: inside the child, imports included; CPU s: user + system of all the"
          "\n child's threads, steadier than seconds on a shared machine; peak RSS: the child's"
          "\n own maximum; day: x its own baseline-day)\n")
    phases = ("read", "check", "load", "orphans", "genealogy", "search", "commit", "publish")
    harness.print_table(
        ["run", *phases, "serving MiB"],
        [(name, *[r["phases"].get(p, 0.0) for p in phases], r.get("serving_mib"))
         for name, r in results.items() if r.get("phases")],
        ["", *[".2f"] * len(phases), ",.0f"])
    for name, r in results.items():
        if r.get("search_mode"):  # full: a rebuild; incremental: the run's keys; merge: both
            print(f"{name}: search index {r['search_mode']}, steps {r.get('search_steps')}")
    harness.write_json(WORK / "ingest-results.json", results)



if __name__ == "__main__":
    main()
