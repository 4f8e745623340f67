"""Find benchmark: ``tracelake find`` beside plain ``ILIKE '%…%'`` scans, on the genealogy plants.

    uv run --group bench python benchmarks/find.py [--tiers S,M] [--queries 100] [--seed 1]

For each tier the plant of ``benchmarks/genealogy.py`` is used (generated once, cached under
``benchmarks/.work/``); its lake is copied from the genealogy benchmark's cache when there is one
(any library version: find needs only the canonical tables), else ingested here without the
genealogy index. Then, each in its own child process (peak RSS = that child's VmHWM):

* ``build``     ``build_search_index`` on the lake in one transaction, then the snapshot is
                published: the index build time (target at M: <= 60 s)
* ``find``      ``find(con, text)`` on the read-only snapshot (``open_snapshot``)
* ``ilike``     the same texts as ``ILIKE '%text%'`` over the identifier and text columns of
                the lake's tables (a UNION ALL, LIMIT 50 like find), what a user without the
                index would run

The queries (seeded, ``--queries`` in all, default 100) mix exact identifiers (serials, lots,
jobs, NCRs, orders), prefixes, typos (a wrong or swapped character, checked to name nothing),
GS1 labels from ``label_checks`` (element strings with parentheses, raw with GS separators,
Digital Links) and two words of an NCR description. Each answer is checked for what it should
hold (the identifier, the untypo'd serial, the label's serial, a description hit): the "found"
columns. Latency is p50 / p95 over all queries and per kind, after one warm-up query.

Results: ``benchmarks/.work/find/results-<tier>.json``; target at M: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import genealogy_plant as gb  # the tiers and plant cache of the genealogy benchmark
import harness

FWORK = gb.WORK / "find"
KINDS = ("exact", "prefix", "typo", "gs1", "words")
SHARE = {"exact": 0.25, "prefix": 0.20, "typo": 0.20, "gs1": 0.15, "words": 0.20}
TARGETS = {"p95_ms": 50.0, "build_s": 60.0}
LIMIT = 50
#: What the ILIKE baseline scans: every identifier and text column ``find`` covers.
BASELINE_COLUMNS = (
    ("units", "serial_number"), ("unit_components", "component_serial"),
    ("unit_components", "lot_number"), ("material_issues", "lot_number"),
    ("material_issues", "supplier_lot"), ("material_issues", "component_serial"),
    ("jobs", "job_id"), ("jobs", "customer_po"), ("ncrs", "ncr_id"), ("ncrs", "description"),
    ("ecns", "ecn_id"), ("ecns", "description"), ("equipment", "equipment_id"),
    ("calibrations", "certificate_no"), ("shipments", "order_ref"), ("shipments", "customer"),
    ("label_checks", "label_data"), ("quarantine", "message"),
)
BASELINE_SQL = " UNION ALL ".join(
    f"SELECT '{t}' AS tbl, \"{c}\"::VARCHAR AS val FROM {t} WHERE \"{c}\" ILIKE $p ESCAPE '\\'"
    for t, c in BASELINE_COLUMNS) + f" LIMIT {LIMIT}"


# ------------------------------------------------------------------------------------------
# lake and queries (parent process)


def ensure_lake(tier: str, plant: Path, tdir: Path) -> tuple[Path, dict[str, Any]]:
    """The tier's lake for find: a copy of the genealogy benchmark's lake, else an ingest."""
    lake = tdir / "lake"
    info_file = tdir / "lake.json"
    if info_file.exists() and (lake / "lake.duckdb").exists():
        info = json.loads(info_file.read_text())
        if info.get("plant") == str(plant):
            return lake, info
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    source = gb.GWORK / tier / "lake"
    source_info = source / ".ingest.json"
    if (source / "lake.duckdb").exists() and source_info.exists() and \
            json.loads(source_info.read_text()).get("key", {}).get("plant") == str(plant):
        print(f"[{tier}] copying the genealogy benchmark's lake {source} ...", flush=True)
        shutil.copyfile(source / "lake.duckdb", lake / "lake.duckdb")
        info = {"plant": str(plant), "source": str(source)}
    else:
        print(f"[{tier}] ingesting {plant.name} (no genealogy, no search index) ...", flush=True)
        res = harness.run_child(__file__, "ingest", tdir, ["--plant", str(plant)])
        if "error" in res:
            raise SystemExit(f"[{tier}] ingest failed: {res['error']}")
        info = {"plant": str(plant), "source": "ingest", "ingest": res}
    harness.write_json(info_file, info)
    return lake, info


def pick_queries(lake: Path, n: int, seed: int) -> list[dict[str, Any]]:
    """Seeded queries of every kind, each with what its answer must hold."""
    import duckdb

    con = duckdb.connect(str(lake / "serving.duckdb"), read_only=True)
    rng = random.Random(seed)
    want = {k: round(n * SHARE[k]) for k in KINDS}
    want["exact"] += n - sum(want.values())

    def sample(sql: str, k: int) -> list[Any]:
        rows = [r[0] if len(r) == 1 else r for r in con.execute(sql).fetchall()]
        return rng.sample(rows, min(k, len(rows)))

    def exists(text: str) -> bool:
        return bool(con.execute("SELECT count(*) FROM search.entries WHERE lower(id) = lower(?)",
                                [text]).fetchone()[0])  # type: ignore[index]

    queries: list[dict[str, Any]] = []
    ne = want["exact"]
    exact = (sample("SELECT serial_number FROM units", ne - 4 * (ne // 6))
             + sample("SELECT DISTINCT lot_number FROM material_issues", ne // 6)
             + sample("SELECT job_id FROM jobs", ne // 6)
             + sample("SELECT ncr_id FROM ncrs", ne // 6)
             + sample("SELECT DISTINCT order_ref FROM shipments", ne // 6))
    queries += [{"kind": "exact", "text": t, "expect": t} for t in exact]
    for ident in sample("SELECT serial_number FROM units UNION ALL SELECT job_id FROM jobs "
                        "UNION ALL SELECT ncr_id FROM ncrs", want["prefix"]):
        cut = rng.randint(1, min(3, max(1, len(ident) - 4)))
        queries.append({"kind": "prefix", "text": ident[:-cut], "expect": ident})
    look_alike = {"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z"}
    typos: list[dict[str, Any]] = []
    for serial in sample("SELECT serial_number FROM units", 20 * want["typo"]):
        if len(typos) == want["typo"]:
            break
        i = rng.randrange(1, len(serial) - 1)
        if len(typos) % 2 == 0 and serial[i] in look_alike:  # a wrong character
            text = serial[:i] + look_alike[serial[i]] + serial[i + 1:]
        elif serial[i] != serial[i + 1]:  # a swapped pair
            text = serial[:i] + serial[i + 1] + serial[i] + serial[i + 2:]
        else:
            continue
        if not exists(text):
            typos.append({"kind": "typo", "text": text, "expect": serial})
    queries += typos
    labels = sample("SELECT serial_number, label_data FROM label_checks", want["gs1"])
    for j, (serial, label) in enumerate(labels):
        if j % 3 == 1:  # raw, as a scanner sends it: AIs without parentheses, GS after variable
            parts = [p for p in label.replace(")", "(").split("(") if p]
            text = ""
            for ai, value in zip(parts[::2], parts[1::2], strict=False):
                text += ai + value + ("\x1d" if ai in ("21", "10") else "")
            text = text.rstrip("\x1d")
        elif j % 3 == 2:  # a GS1 Digital Link
            parts = [p for p in label.replace(")", "(").split("(") if p]
            text = "https://id.example.com/" + "/".join(
                f"{ai}/{value}" for ai, value in zip(parts[::2], parts[1::2], strict=False)
                if ai in ("01", "21", "10"))
        else:
            text = label
        queries.append({"kind": "gs1", "text": text, "expect": serial})
    for ncr, desc in sample("SELECT ncr_id, description FROM ncrs", want["words"]):
        words = [w.strip(".,;:()") for w in desc.split()]
        words = [w for w in words if w.isalpha() and len(w) >= 4] or words[:2]
        pick = rng.sample(words, min(2, len(words)))
        queries.append({"kind": "words", "text": " ".join(pick).lower(), "expect": ncr})
    con.close()
    rng.shuffle(queries)
    return queries


def _found(kind: str, expect: str, hits: list[tuple[str, str, str]]) -> bool:
    """Whether an answer holds what it should: (kind of hit, id, match) triples."""
    ids = {i.lower() for _, i, _ in hits}
    if kind == "words":
        return any(k == "text" for k, _, _ in hits)
    if kind == "prefix":
        return bool(hits) and all(i.startswith(expect[:1].lower()) for i in ids)
    return expect.lower() in ids


# ------------------------------------------------------------------------------------------
# children


def child_ingest(tdir: Path, plant: Path) -> dict[str, Any]:
    from tracelake.ingest import ingest

    t = time.perf_counter()
    r = ingest([plant], tdir / "lake", genealogy=False, search=False, publish=False)
    return {"seconds": time.perf_counter() - t, "rows_loaded": r.totals["rows_loaded"],
            "peak_rss_mib": harness.rss_mib()}


def child_build(tdir: Path) -> dict[str, Any]:
    """The search index built from scratch in one transaction, then the snapshot published."""
    from tracelake.derived.search.index import build_search_index
    from tracelake.lake.snapshot import publish
    from tracelake.lake.storage import LakePaths, connect_writer

    lake = LakePaths.of(tdir / "lake")
    with connect_writer(lake) as con:
        t = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        stats = build_search_index(con)
        con.execute("COMMIT")
        build = time.perf_counter() - t
        t = time.perf_counter()
        publish(con, lake)
        publish_s = time.perf_counter() - t
        sizes = dict(con.execute("""
            SELECT table_name, estimated_size FROM duckdb_tables()
            WHERE schema_name IN ('search', 'fts_search_docs')""").fetchall())
    return {"seconds": build, "in_build_s": stats.seconds, "steps": stats.steps,
            "entries": stats.entries,
            "docs": stats.docs, "publish_s": publish_s, "rows": sizes,
            "peak_rss_mib": harness.rss_mib()}


def child_find(tdir: Path) -> dict[str, Any]:
    from tracelake.derived.search import find
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths

    queries = json.loads((tdir / "queries.json").read_text())
    t = time.perf_counter()
    con = open_snapshot(LakePaths.of(tdir / "lake"))
    open_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    find(con, queries[0]["text"])
    warm = (time.perf_counter() - t) * 1000
    out = []
    for q in queries:
        t = time.perf_counter()
        answer = find(con, q["text"], limit=LIMIT)
        ms = (time.perf_counter() - t) * 1000
        hits = [(h["kind"], h["id"], h["match"]) for h in answer.hits]
        out.append({"ms": ms, "hits": len(hits), "found": _found(q["kind"], q["expect"], hits),
                    "matches": sorted({m for _, _, m in hits})})
    return {"open_ms": open_ms, "warmup_ms": warm, "results": out, "peak_rss_mib": harness.rss_mib()}


def child_ilike(tdir: Path) -> dict[str, Any]:
    import duckdb

    queries = json.loads((tdir / "queries.json").read_text())
    con = duckdb.connect(str(tdir / "lake" / "serving.duckdb"), read_only=True)
    con.execute("SET TimeZone = 'UTC'")

    def run(text: str) -> list[tuple[str, str]]:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return con.execute(BASELINE_SQL, {"p": pattern}).fetchall()

    t = time.perf_counter()
    run(queries[0]["text"])
    warm = (time.perf_counter() - t) * 1000
    out = []
    for q in queries:
        t = time.perf_counter()
        rows = run(q["text"])
        ms = (time.perf_counter() - t) * 1000
        if q["kind"] == "words":
            found = any(tbl == "ncrs" for tbl, _ in rows)
        elif q["kind"] == "prefix":
            found = bool(rows)
        else:
            found = any(q["expect"].lower() in (v or "").lower() for _, v in rows)
        out.append({"ms": ms, "hits": len(rows), "found": found})
    return {"warmup_ms": warm, "results": out, "peak_rss_mib": harness.rss_mib()}


def child_main(kind: str, tdir: Path, args: argparse.Namespace) -> None:
    fn = {"ingest": lambda: child_ingest(tdir, Path(args.plant)), "build": lambda: child_build(tdir),
          "find": lambda: child_find(tdir), "ilike": lambda: child_ilike(tdir)}[kind]
    harness.child_done(tdir, kind, fn())


# ------------------------------------------------------------------------------------------
# report


def _stats(queries: list[dict[str, Any]], res: dict[str, Any], kind: str | None
           ) -> dict[str, Any]:
    rows = [r for q, r in zip(queries, res["results"], strict=True)
            if kind is None or q["kind"] == kind]
    ms = [r["ms"] for r in rows]
    return {"n": len(rows), "p50": harness.pct(ms, 50), "p95": harness.pct(ms, 95), "max": max(ms),
            "found": sum(r["found"] for r in rows)}


def report(tier: str, info: dict[str, Any]) -> None:
    queries = info["queries"]
    b = info["build"]
    print(f"\n== find, tier {tier} ({info['units']:,} finished units): {b['entries']:,} entries, "
          f"{b['docs']:,} texts; index build {b['seconds']:.1f} s (target <= "
          f"{TARGETS['build_s']:.0f} s), publish {b['publish_s']:.1f} s, build peak RSS "
          f"{b['peak_rss_mib']:,.0f} MiB; seconds by table: "
          + ", ".join(f"{k} {v:.1f}" for k, v in b.get("steps", {}).items()))
    rows = []
    for kind in (*KINDS, None):
        f = _stats(queries, info["find"], kind)
        i = _stats(queries, info["ilike"], kind)
        rows.append((kind or "all", f["n"], f["p50"], f["p95"], f"{f['found']}/{f['n']}",
                     i["p50"], i["p95"], f"{i['found']}/{i['n']}",
                     harness.ratio(i["p50"], f["p50"]), harness.ratio(i["p95"], f["p95"])))
    harness.print_table(["queries", "n", "find p50 ms", "p95 ms", "found", "ILIKE p50 ms",
                         "p95 ms", "found", "ILIKE/find p50", "p95"], rows,
                        ["", "", ".2f", ".2f", "", ".1f", ".1f", "", ".0f", ".0f"])
    f_all = _stats(queries, info["find"], None)
    verdict = "meets" if f_all["p95"] <= TARGETS["p95_ms"] else "MISSES"
    print(f"find p95 {f_all['p95']:.1f} ms {verdict} the target of {TARGETS['p95_ms']:.0f} ms; "
          f"open_snapshot {info['find']['open_ms']:.1f} ms, warm-up query "
          f"{info['find']['warmup_ms']:.1f} ms; find peak RSS "
          f"{info['find']['peak_rss_mib']:,.0f} MiB, ILIKE peak RSS "
          f"{info['ilike']['peak_rss_mib']:,.0f} MiB")


def run_tier(tier: str, args: argparse.Namespace) -> dict[str, Any]:
    tdir = FWORK / tier
    tdir.mkdir(parents=True, exist_ok=True)
    plant, _facts = gb.ensure_plant(tier, args.seed)
    lake, lake_info = ensure_lake(tier, plant, tdir)
    print(f"[{tier}] building the search index ...", flush=True)
    build = harness.run_child(__file__, "build", tdir)
    if "error" in build:
        raise SystemExit(f"[{tier}] index build failed: {build['error']}")
    queries = pick_queries(lake, args.queries, args.seed)
    (tdir / "queries.json").write_text(json.dumps(queries, indent=1))
    info: dict[str, Any] = {"tier": tier, "units": gb.TIERS[tier][0], "lake": lake_info,
                            "build": build, "queries": queries,
                            "env": harness.environment()}
    for peer in ("find", "ilike"):
        if peer not in args.peers.split(","):
            previous = FWORK / f"results-{tier}.json"  # the last run's (same queries, same seed)
            if not previous.exists():
                raise SystemExit(f"[{tier}] no earlier {peer} results: run with --peers find,ilike")
            print(f"[{tier}] {peer}: from the last run ({previous.name})", flush=True)
            info[peer] = json.loads(previous.read_text())[peer]
            continue
        print(f"[{tier}] {peer} ...", flush=True)
        info[peer] = harness.run_child(__file__, peer, tdir)
        if "error" in info[peer]:
            raise SystemExit(f"[{tier}] {peer} failed: {info[peer]['error']}")
    harness.write_json(FWORK / f"results-{tier}.json", info)
    report(tier, info)
    return info


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--tiers", default="S", help=f"comma-separated, of {', '.join(gb.TIERS)}")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peers", default="find,ilike",
                        help="which to run; a peer left out is taken from the last run's results "
                             "(the ILIKE scans take minutes at M)")
    args = parser.parse_args()
    if args.child:
        child_main(args.child, Path(args.dir), args)
        return
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    unknown = [t for t in tiers if t not in gb.TIERS]
    if unknown:
        raise SystemExit(f"unknown tier(s) {unknown}; known: {', '.join(gb.TIERS)}")
    for tier in tiers:
        run_tier(tier, args)


if __name__ == "__main__":
    main()
