"""Ingest benchmark: a synthetic plant through tracelake, beside a raw DuckDB load in the same run.

    uv run python benchmarks/ingest.py [--units 100000] [--seed 1]

Each measurement runs in its own child process (peak RSS is that child's own high-water mark):

* baseline  DuckDB ``read_csv`` of every file into plain tables in a database file: no typing,
            no checks, no lineage (``baseline-memory``: the same into an in-memory database)
* tracelake ``ingest`` into an empty lake: typed, checked, lineage-tagged, ledger, snapshot published
* re-ingest the same plant again (every file a duplicate: nothing to load)

Machines here are noisy, so the table compares tracelake with the baseline measured in the same run.
Results: ``benchmarks/.work/ingest-results.json``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import harness

WORK = harness.WORK


def child(kind: str, lake: Path, plant: Path) -> dict[str, float]:
    """In the child: load the plant as ``kind`` does; rows, seconds (imports included), peak RSS."""
    t = time.perf_counter()
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
    return {"rows": rows, "seconds": time.perf_counter() - t, "peak_rss_mib": harness.rss_mib()}


def measure(kind: str, lake: Path, plant: Path) -> dict[str, float]:
    res = harness.run_child(__file__, kind.removesuffix("-again"), WORK,
                            ["--plant", str(plant), "--lake", str(lake)], tag=f"ingest-{kind}")
    if "error" in res:
        raise SystemExit(f"{kind} failed: {res['error']}")
    return res


def main() -> None:
    parser = harness.parser(__doc__, child_args=("child", "dir", "tag", "plant", "lake"))
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
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
    results = {}
    for kind in ("baseline", "baseline-memory", "tracelake"):
        lake = WORK / f"lake-{kind}"
        shutil.rmtree(lake, ignore_errors=True)
        lake.mkdir(parents=True)
        results[kind] = measure(kind, lake, plant)
    results["re-ingest unchanged"] = measure("tracelake-again", WORK / "lake-tracelake", plant)

    base = results["baseline"]
    print(f"\n{args.units:,} finished units, {base['rows']:,} rows, {size / 1e6:,.0f} MB of CSV\n")
    harness.print_table(
        ["run", "rows", "seconds", "rows/s", "x baseline", "peak RSS MiB"],
        [(name, r["rows"], r["seconds"], r["rows"] / r["seconds"] if r["rows"] else 0.0,
          harness.ratio(r["seconds"], base["seconds"]), r["peak_rss_mib"])
         for name, r in results.items()],
        ["", ",", ".2f", ",.0f", ".2f", ",.0f"])
    print("\n(seconds: inside the child, imports included; peak RSS: the child's own maximum)")
    harness.write_json(WORK / "ingest-results.json", results)



if __name__ == "__main__":
    main()
