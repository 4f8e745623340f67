"""EPCIS export benchmark: ``tracelake export epcis`` of a whole synthetic plant beside a plain
JSON dump of the same rows, at several plant sizes in one run (to show memory flat in the number
of events).

    uv run python benchmarks/epcis.py [--units 25000,100000,200000] [--seed 1]   (make bench-epcis)

For each size a plant is generated and ingested once (cached under ``benchmarks/.work/epcis/``;
the 200,000-unit plant takes several minutes). Then, each in its own child process, which opens
the snapshot as ``tracelake export epcis`` does (:func:`tracelake.exports.epcis.open_for_export`):

* ``export``    ``export_epcis`` of the whole lake (every job, fitment, removal, inspection,
                shipment and scrap) written to a file, event hash IDs included;
* ``json dump`` the same rows (jobs, material issues, units, fitments, test results,
                shipments, scrap NCRs) read in Arrow batches and written one JSON object a
                row with ``json.dumps``: what any export has to do at least.

The ratio is export seconds / dump seconds in the same run. ``base`` is the process's RSS once
the snapshot is open (imports included); ``own`` is its peak RSS (VmHWM) minus that base: what
the run itself added. The last line says whether the export's own part is flat: the largest
over the tiers divided by the smallest (flat: at most 1.10). Results:
``benchmarks/.work/epcis/results.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / ".work" / "epcis"
FLAT = 1.10  # the export's own peak RSS, largest over smallest, that still counts as flat

DUMP_QUERIES = {
    "jobs": "SELECT job_id, product_code, status, created_at, released_at FROM jobs",
    "material_issues": "SELECT job_id, component_code, lot_number, component_serial, quantity, "
                       "uom, issued_at FROM material_issues",
    "units": "SELECT serial_number, product_code, job_id, status, built_at FROM units",
    "unit_components": "SELECT serial_number, component_code, component_serial, lot_number, "
                       "fitted_at, removed_at, removal_ncr_id FROM unit_components",
    "test_results": "SELECT serial_number, equipment_id, test_step, measurement, value, units, "
                    "low_limit, high_limit, result, tested_at, run_id, attempt FROM test_results",
    "shipments": "SELECT serial_number, customer, order_ref, shipped_at, ship_to_country "
                 "FROM shipments",
    "ncrs": "SELECT ncr_id, serial_number, raised_at, closed_at FROM ncrs "
            "WHERE disposition = 'scrap'",
}


def _rss_mib(field: str = "VmHWM") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(kind: str, lake: Path, out: Path) -> None:
    from tracelake.exports.epcis import export_epcis, open_for_export

    t = time.perf_counter()
    con = open_for_export(lake)
    con.execute("SELECT count(*) FROM units").fetchone()
    base = _rss_mib("VmRSS")
    result: dict[str, object] = {}
    with out.open("w", encoding="utf-8") as fh:
        if kind == "export":
            r = export_epcis(con, fh)
            result = {"events": r.events, "by_kind": r.by_kind}
        else:
            rows = 0
            dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode
            for sql in DUMP_QUERIES.values():
                for batch in con.execute(sql).to_arrow_reader(4096):
                    for row in batch.to_pylist():
                        fh.write(dumps(row))
                        fh.write("\n")
                        rows += 1
            result = {"rows": rows}
    peak = _rss_mib("VmHWM")
    result.update(seconds=time.perf_counter() - t, bytes=out.stat().st_size,
                  peak_rss_mib=peak, base_rss_mib=base, own_rss_mib=peak - base)
    print(json.dumps(result))


def _run(kind: str, lake: Path, out: Path) -> dict[str, object]:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(lake), str(out)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _lake(units: int, seed: int) -> Path:
    plant, lake = WORK / f"plant-{units}-{seed}", WORK / f"lake-{units}-{seed}"
    if not (plant / ".complete").exists():
        from tracelake.synthetic import generate_plant

        t = time.perf_counter()
        generate_plant(plant, units, seed)
        (plant / ".complete").write_text("ok")
        print(f"generated a {units:,}-unit plant in {time.perf_counter() - t:.0f} s", flush=True)
    if not (lake / ".complete").exists():
        from tracelake.ingest import ingest
        from tracelake.lake.storage import LakePaths

        t = time.perf_counter()
        ingest([plant], LakePaths.of(lake))
        (lake / ".complete").write_text("ok")
        print(f"ingested it in {time.perf_counter() - t:.0f} s", flush=True)
    return lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="25000,100000,200000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "LAKE", "OUT"))
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    results = {}
    for units in [int(u) for u in args.units.split(",")]:
        lake = _lake(units, args.seed)
        dump = _run("dump", lake, WORK / f"dump-{units}.jsonl")
        export = _run("export", lake, WORK / f"export-{units}.jsonld")
        results[units] = {"dump": dump, "export": export}
    print(f"\n{'plant (finished units)':<24}{'run':<11}{'rows/events':>13}{'MB':>8}"
          f"{'seconds':>10}{'x dump':>8}{'peak RSS MiB':>14}{'base':>7}{'own':>7}")
    for units, r in results.items():
        for name, key, count in (("json dump", "dump", "rows"), ("export", "export", "events")):
            x = r[key]
            ratio = x["seconds"] / r["dump"]["seconds"]
            print(f"{units:<24,}{name:<11}{x[count]:>13,}{x['bytes'] / 1e6:>8,.0f}"
                  f"{x['seconds']:>10.1f}{ratio:>8.2f}{x['peak_rss_mib']:>14,.0f}"
                  f"{x['base_rss_mib']:>7,.0f}{x['own_rss_mib']:>7,.0f}")
    print("\n(each run in its own process; base: its RSS with the snapshot open, imports "
          "included; own: its peak RSS (VmHWM) minus base)")
    if len(results) > 1:
        own = {u: r["export"]["own_rss_mib"] for u, r in results.items()}
        high, low = max(own, key=own.get), min(own, key=own.get)  # type: ignore[arg-type]
        growth = own[high] / own[low]
        print(f"memory flat: {'yes' if growth <= FLAT else 'no'} (the export's own part, largest "
              f"/ smallest over the tiers: {own[high]:,.0f} MiB at {high:,} units / "
              f"{own[low]:,.0f} MiB at {low:,} units = {growth:.2f}; flat: <= {FLAT})")
        # the slope where the fixed caches (DuckDB's block cache up to the export's limit, the
        # allocator's working set) are full: what more events cost once warmed up
        a, b = sorted(own)[-2:]
        events = results[b]["export"]["events"] / results[a]["export"]["events"]
        print(f"between the two largest plants: {own[a]:,.0f} -> {own[b]:,.0f} MiB for "
              f"{events:.1f}x the events ({own[b] / own[a]:.2f}x)")
    (WORK / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
