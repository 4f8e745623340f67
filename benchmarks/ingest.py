"""Ingest benchmark: a synthetic plant through tracelake, beside a raw DuckDB load in the same run.

    uv run python benchmarks/ingest.py [--units 100000] [--seed 1]

Each measurement runs in its own child process (peak RSS is that child's ``ru_maxrss``):

* baseline  DuckDB ``read_csv`` of every file into plain tables in a database file: no typing,
            no checks, no lineage (``baseline-memory``: the same into an in-memory database)
* tracelake ``ingest`` into an empty lake: typed, checked, lineage-tagged, ledger, snapshot published
* re-ingest the same plant again (every file a duplicate: nothing to load)

Machines here are noisy, so the table compares tracelake with the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"


def _child(kind: str, plant: Path, lake: Path) -> dict[str, float]:
    target = ":memory:" if kind == "baseline-memory" else str(lake / "raw.duckdb")
    code = {
        "baseline": f"""
import duckdb, pathlib, time
t = time.perf_counter()
con = duckdb.connect({target!r})
rows = 0
for i, f in enumerate(sorted(pathlib.Path({str(plant)!r}).glob('*.csv'))):
    con.execute(f"CREATE TABLE t{{i}} AS SELECT * FROM read_csv('{{f}}', all_varchar=true)")
    rows += con.execute(f"SELECT count(*) FROM t{{i}}").fetchone()[0]
con.close()
import resource
print(rows, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""",
        "tracelake": f"""
import time
t = time.perf_counter()
from tracelake.ingest import ingest
r = ingest([{str(plant)!r}], {str(lake)!r})
assert r.totals['rows_quarantined'] == 0, r.totals
import resource
print(r.totals['rows_loaded'], time.perf_counter() - t,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""",
    }[kind.removesuffix("-memory")]
    before = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - before
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr}")
    rows, seconds, rss_kib = proc.stdout.split()
    return {"rows": int(rows), "seconds": float(seconds), "wall": wall,
            "peak_rss_mib": int(rss_kib) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    plant = WORK / f"plant-{args.units}-{args.seed}"
    if not (plant / ".complete").exists():
        from tracelake.synthetic import generate_plant

        shutil.rmtree(plant, ignore_errors=True)
        t = time.perf_counter()
        generate_plant(plant, args.units, args.seed)
        (plant / ".complete").write_text("ok")
        print(f"generated {args.units:,}-unit plant in {time.perf_counter() - t:.1f} s")
    size = sum(f.stat().st_size for f in plant.glob("*.csv"))
    results = {}
    for kind in ("baseline", "baseline-memory", "tracelake"):
        lake = WORK / f"lake-{kind}"
        shutil.rmtree(lake, ignore_errors=True)
        lake.mkdir(parents=True)
        results[kind] = _child(kind, plant, lake)
    again = _child("tracelake", plant, WORK / "lake-tracelake")
    results["re-ingest unchanged"] = again

    base = results["baseline"]
    print(f"\n{args.units:,} finished units, {base['rows']:,} rows, {size / 1e6:,.0f} MB of CSV\n")
    print(f"{'run':<22}{'rows':>12}{'seconds':>10}{'rows/s':>14}{'x baseline':>12}"
          f"{'peak RSS MiB':>14}")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"] if r["rows"] else 0.0
        ratio = r["seconds"] / base["seconds"]
        print(f"{name:<22}{r['rows']:>12,}{r['seconds']:>10.2f}{rate:>14,.0f}{ratio:>12.2f}"
              f"{r['peak_rss_mib']:>14,.0f}")
    print("\n(seconds: inside the child, imports included; peak RSS: the child's own maximum)")
    (WORK / "ingest-results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
