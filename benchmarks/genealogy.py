"""Genealogy benchmark: tracelake's trace queries beside a plain recursive CTE and graph libraries.

    uv run --group bench python benchmarks/genealogy.py [--tiers S,M,adv] [--starts 20] [--seed 1]

(rustworkx and networkx are in the ``bench`` dependency group; without ``--group bench`` those
peers are skipped.) Tiers: S = 100k finished units, M = 1M, adv = S with every adversarial
switch of perf-notes §4 (shuffled rows, common serial prefix, 20 % hub lot, 1 % rework, BOM
depth 8); XS (10k) is a smoke test, L and adv-M exist but need more than 24 GB.

For each tier a synthetic plant is generated (cached under ``benchmarks/.work/``, shared with
``benchmarks/ingest.py``) and ingested into a lake with tracelake, which builds the genealogy
index (from 1M units up in two steps, ``--ingest-mode``: the one-step ingest runs out of memory
at M on a 24 GB machine). The lake is cached and rebuilt when the library source changes.
Then, each in its own child process (peak RSS is that child's VmHWM; not ``ru_maxrss``, which
Linux carries over from the parent across fork + exec):

* ``tracelake``  the library calls on a read-only snapshot (``open_snapshot``):
                 Q1 ``where_used`` from a lot (level-1 job-level lots and top-level lots),
                 Q2 ``where_from`` a finished unit, Q3 ``supplier_recall`` over a window of
                 ~10 lots, Q5 ``where_used`` from the hub lot (tiers with ``hub_lot_share``);
                 Q4 ``calibration_impact`` (if ``tracelake.derived.calibration.impact`` has it) in a second
                 process, as its answers are large, over equipment found out of tolerance.
                 Answers keep their rows as Arrow columns until read; the column
                 ``tracelake +dicts`` adds the time ``as_dict()`` takes to build the Python
                 dicts of the CLI's JSON, timed on each answer after the call
* ``cte``        what a user would write: a DuckDB ``WITH RECURSIVE ... UNION`` over
                 ``genealogy.edges``, top-level units from ``genealogy.unit_info`` (Q1, Q2, Q3, Q5)
* ``rustworkx``  ``descendants`` / ``ancestors`` on the same edge list held in memory
* ``networkx``   the same (tiers of at most 100k finished units only)
* ``cold``       a fresh process with the snapshot evicted from the page cache
                 (``posix_fadvise(DONTNEED)``): import, open, first Q1
* ``rebuild``    ``build_index`` from scratch on a copy of the lake, in a transaction; the
                 COMMIT that follows (writing the tables and the ART indexes) is timed apart
* ``upkeep``     a batch of ~3,000 new finished units ingested into a copy of the lake; the
                 index upkeep seconds come from the ingest report (``genealogy.seconds`` and
                 ``mode``). The generator is not prefix-stable (a plant of N + 3,000 units shares
                 no rows with the plant of N), so the batch is built by copying the last top-level
                 jobs (and the sub-assembly jobs that fed them) with new serials, job ids and
                 issue ids, shifted in time past the end of the plant.

Each query kind runs one warm-up, then every start; a loop stops once it has spent ``--budget``
seconds (after at least 5 starts; the table then shows n). Every peer gets the same starts
(seeded); the graph peers get node ids resolved beforehand and return node ids (serials and
labels are looked up after timing). Result sets are cross-checked per start: the serials
of the top-level units reached (where-used) and the labels of the nodes inside a unit
(where-from); a mismatch is printed, never hidden. The plant's known facts (``PlantSummary``)
are checked against tracelake as well.

Machines here are noisy (perf-notes: up to 2x between runs), so compare peers within one run.
Results: ``benchmarks/.work/genealogy/results-<tier>.json`` and ``genealogy-results.json``.

This script holds the arguments, the child dispatch and the run of a tier; the parts:
``genealogy_plant.py`` (tiers, plants, lakes, starts, the upkeep batch), ``genealogy_queries.py``
(tracelake's children), ``genealogy_peers.py`` (CTE and graph-library children, cross-check),
``genealogy_report.py`` (the printed tables); ``harness.py`` is shared by every benchmark.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import harness
from genealogy_peers import child_cte, child_graph, cross_check
from genealogy_plant import (
    GWORK,
    NETWORKX_MAX_UNITS,
    PEERS,
    QUERIES,
    SCRIPT,
    TIERS,
    WORK,
    build_batch,
    child_index,
    child_ingest,
    ensure_lake,
    ensure_plant,
    pick_starts,
    storage_stats,
)
from genealogy_queries import _q4_function, child_cold, child_rebuild, child_tracelake, child_upkeep
from genealogy_report import _shown_pairs, report, scaling


def child_main(kind: str, tdir: Path, args: argparse.Namespace) -> None:
    if kind == "ingest":
        res = child_ingest(tdir, Path(args.plant), args.ingest_mode)
    elif kind == "index":
        res = child_index(tdir)
    elif kind == "tracelake":
        res = child_tracelake(tdir, args.budget, args.queries.split(","))
    elif kind == "cte":
        res = child_cte(tdir, args.budget)
    elif kind in ("rustworkx", "networkx"):
        res = child_graph(tdir, kind, args.budget)
    elif kind == "cold":
        res = child_cold(tdir)
    elif kind == "rebuild":
        res = child_rebuild(tdir)
    elif kind == "upkeep":
        res = child_upkeep(tdir)
    else:
        raise SystemExit(f"unknown child {kind}")
    harness.child_done(tdir, args.tag or kind, res)


def run_tier(tier: str, args: argparse.Namespace) -> dict[str, Any]:
    tdir = GWORK / tier
    tdir.mkdir(parents=True, exist_ok=True)
    lib_before = harness.library_hash()
    plant, facts = ensure_plant(tier, args.seed)
    mode = args.ingest_mode if args.ingest_mode != "auto" else (
        "split" if TIERS[tier][0] >= 1_000_000 else "one-step")
    lake, ingest_info = ensure_lake(tier, plant, tdir, mode)
    starts = pick_starts(lake, facts, args.starts, args.seed)
    harness.write_json(tdir / "starts.json", starts)
    storage = storage_stats(lake)
    units = TIERS[tier][0]
    peers = [p for p in args.peers.split(",") if p]
    if units > NETWORKX_MAX_UNITS and "networkx" in peers:
        peers.remove("networkx")
    results: dict[str, dict[str, Any]] = {}
    for p in peers:
        if p in ("rustworkx", "networkx"):
            try:
                __import__(p)
            except ImportError:
                print(f"[{tier}] {p} not installed: run with 'uv run --group bench'", flush=True)
                continue
        print(f"[{tier}] peer {p} ...", flush=True)
        if p != "tracelake":
            results[p] = harness.run_child(SCRIPT, p, tdir, ["--budget", str(args.budget)])
            continue
        # Q4 answers are large (every suspect result as a dict): its own process, so that its
        # memory does not hide the peak RSS of the trace queries
        results[p] = harness.run_child(SCRIPT, p, tdir, ["--budget", str(args.budget),
                                          "--queries", "Q1,Q2,Q3,Q5"])
        if _q4_function() is not None:
            q4 = harness.run_child(SCRIPT, p, tdir, ["--budget", str(args.budget), "--queries", "Q4"],
                            tag="tracelake-q4")
            if "queries" in q4 and "Q4" in q4["queries"]:
                results[p].setdefault("queries", {})["Q4"] = q4["queries"]["Q4"]
            results[p]["q4_process"] = {k: q4.get(k) for k in ("peak_rss_mib", "error",
                                                                 "first_query_ms")}
    info: dict[str, Any] = {
        "tier": tier, "units": units, "options": TIERS[tier][1], "seed": args.seed,
        "starts_n": args.starts, "storage": storage, "ingest": ingest_info,
        "env": {**harness.environment(), "library_hash": lib_before},
        "peers": results,
    }
    print(f"[{tier}] cold start ...", flush=True)
    info["cold"] = harness.run_child(SCRIPT, "cold", tdir)
    if not args.skip_rebuild:
        print(f"[{tier}] full rebuild ...", flush=True)
        info["rebuild"] = harness.run_child(SCRIPT, "rebuild", tdir)
    if not args.skip_upkeep:
        print(f"[{tier}] upkeep batch ...", flush=True)
        info["batch"] = build_batch(plant, facts, tdir / "batch", args.upkeep_units)
        info["upkeep"] = harness.run_child(SCRIPT, "upkeep", tdir)
    info["crosscheck"] = {q: cross_check(results, q) for q in QUERIES}
    info["library_changed_during_run"] = harness.library_hash() != lib_before
    # keep the JSON light: sets are only needed for the cross-check
    for r in results.values():
        for qr in r.get("queries", {}).values():
            qr.pop("sets", None)
    harness.write_json(tdir.parent / f"results-{tier}.json", info)
    report(tier, info)
    if args.drop_lake:
        shutil.rmtree(tdir / "lake", ignore_errors=True)
    return info


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--tiers", default="S,adv", help=f"comma-separated, of {', '.join(TIERS)}")
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds per query kind and peer, after which a loop stops "
                             "(at least 5 starts are always run)")
    parser.add_argument("--upkeep-units", type=int, default=3000)
    parser.add_argument("--ingest-mode", choices=("auto", "one-step", "split"), default="auto",
                        help="auto: split (ingest without the index, then rebuild_lake_index "
                             "in a fresh process) from 1M units up, where one-step runs out of "
                             "memory on a 24 GB machine")
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--skip-upkeep", action="store_true")
    parser.add_argument("--drop-lake", action="store_true",
                        help="delete each tier's lake when done (it is rebuilt next time)")
    parser.add_argument("--queries", default=",".join(QUERIES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, Path(args.dir), args)
        return
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise SystemExit(f"unknown tier(s) {unknown}; known: {', '.join(TIERS)}")
    GWORK.mkdir(parents=True, exist_ok=True)
    all_info: dict[str, dict[str, Any]] = {}
    for tier in tiers:
        all_info[tier] = run_tier(tier, args)
    # earlier runs of other tiers, for the scaling table (marked as such)
    for other in TIERS:
        f = GWORK / f"results-{other}.json"
        if other not in all_info and f.exists():
            all_info[other] = json.loads(f.read_text())
            all_info[other]["from_earlier_run"] = True
    scaling(all_info)
    shown = {t for pair in _shown_pairs(all_info) for t in pair}
    earlier = [t for t, i in all_info.items() if i.get("from_earlier_run") and t in shown]
    if earlier:
        print(f"(scaling rows with {', '.join(earlier)} use that tier's saved results from an "
              "earlier run)")
    harness.write_json(WORK / "genealogy-results.json",
                {t: i for t, i in all_info.items() if not i.get("from_earlier_run")})


if __name__ == "__main__":
    main()
