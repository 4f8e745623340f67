"""Genealogy benchmark: the tiers, queries and targets; each tier's plant, its lake (ingested in a
child process), the seeded starts every peer gets, storage figures, and the upkeep batch."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import harness

WORK = harness.WORK
GWORK = WORK / "genealogy"
#: the benchmark's script: its children are started as ``genealogy.py --child KIND``
SCRIPT = Path(__file__).with_name("genealogy.py")

ADVERSARIAL = {"shuffle_rows": True, "serial_prefix": "SN0000000", "hub_lot_share": 0.2,
               "rework_rate": 0.01, "bom_depth": 8}
TIERS: dict[str, tuple[int, dict[str, Any]]] = {
    "XS": (10_000, {}),  # smoke test
    "S": (100_000, {}),
    "M": (1_000_000, {}),
    "L": (3_000_000, {}),
    "adv": (100_000, ADVERSARIAL),
    "adv-M": (1_000_000, ADVERSARIAL),
}
# Targets at M (the brief): latency p95 in ms, rebuild s, upkeep units/s, RSS MiB, M/S ratio.
TARGETS = {"Q1": 2.0, "Q2": 2.0, "Q3": 50.0, "Q4": 50.0, "rebuild_s": 30.0,
           "upkeep_units_s": 10_000.0, "rss_mib": 4096.0, "scaling": 1.5}
QUERIES = ("Q1", "Q2", "Q3", "Q4", "Q5")
QNAMES = {"Q1": "Q1 where-used (lot)", "Q2": "Q2 where-from (unit)",
          "Q3": "Q3 supplier recall", "Q4": "Q4 calibration impact", "Q5": "Q5 hub lot"}
PEERS = ("tracelake", "cte", "rustworkx", "networkx")
NETWORKX_MAX_UNITS = 100_000
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def ensure_plant(tier: str, seed: int) -> tuple[Path, dict[str, Any]]:
    """The tier's plant folder (generated once) and its known facts."""
    units, opts = TIERS[tier]
    plant = harness.plant_dir(units, seed, adversarial=bool(opts))
    facts_file = plant / ".genealogy-facts.json"
    if not ((plant / ".complete").exists() and facts_file.exists()):
        print(f"[{tier}] generating {units:,}-unit plant {plant.name} ...", flush=True)
        t = time.perf_counter()
        summary = harness.ensure_plant(plant, units, seed, opts, ready=lambda _p: False)
        secs = time.perf_counter() - t
        facts = {"units": units, "seed": seed, "options": dataclasses.asdict(summary.options),
                 "rows": summary.rows, "links_per_unit": summary.links_per_unit,
                 "reworked": summary.reworked, "lot_facts": summary.lot_facts,
                 "serial_fact": summary.serial_fact, "hub_fact": summary.hub_fact,
                 "generate_seconds": secs}
        harness.write_json(facts_file, facts)
        print(f"[{tier}] generated in {secs:.1f} s", flush=True)
    return plant, json.loads(facts_file.read_text())


def ensure_lake(tier: str, plant: Path, tdir: Path, mode: str) -> tuple[Path, dict[str, Any]]:
    """The tier's lake (re-ingested when the plant or the library source changed).

    ``one-step``: ``ingest`` builds the index in its own transaction, as a user's first ingest
    does. ``split``: ``ingest(genealogy=False, publish=False)``, then ``rebuild_lake_index`` and
    ``publish_lake`` in a fresh process (the orchestrator path). At M the one-step ingest is
    killed by the OOM killer on a 24 GB machine (measured: the load holds ~11.7 GB resident in
    its transaction, then the index build climbs to DuckDB's default memory limit of 80 % of RAM).
    """
    lake = tdir / "lake"
    info_file = lake / ".ingest.json"
    key = {"plant": str(plant), "library": harness.library_hash(), "mode": mode}
    if info_file.exists():
        info = json.loads(info_file.read_text())
        if info.get("key") == key and (lake / "serving.duckdb").exists():
            return lake, info
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    print(f"[{tier}] ingesting {plant.name} into {lake} ({mode}) ...", flush=True)
    res = harness.run_child(SCRIPT, "ingest", tdir, extra=["--plant", str(plant), "--ingest-mode", mode])
    if "error" in res:
        raise SystemExit(f"[{tier}] ingest failed after {res['wall']:.0f} s: {res['error']}")
    if mode == "split":
        idx = harness.run_child(SCRIPT, "index", tdir)
        if "error" in idx:
            raise SystemExit(f"[{tier}] index build failed after {idx['wall']:.0f} s: "
                             f"{idx['error']}")
        res["genealogy"] = idx["genealogy"]
        res["index_process"] = idx
    res["mode"] = mode
    info = {"key": key, **res}
    harness.write_json(info_file, info)
    print(f"[{tier}] ingested {res['rows_loaded']:,} rows in {res['seconds']:.1f} s; index built "
          f"in {res['genealogy']['seconds']:.1f} s", flush=True)
    return lake, info


def _levels(depth: int) -> tuple[list[str], list[str], list[str]]:
    """(level-1 job-level lot codes, top-level lot codes, top-level products)."""
    from tracelake.synthetic import catalog as cat

    specs = cat.build_levels(depth)
    level1 = sorted({c.code for lines in specs[0].lines for c in lines if not c.unit_level})
    top = sorted({c.code for lines in specs[-1].lines for c in lines})
    return level1, top, list(specs[-1].products)


def pick_starts(lake: Path, facts: dict[str, Any], n: int, seed: int) -> dict[str, Any]:
    """Seeded starts shared by every peer, with node ids resolved for the graph peers."""
    import duckdb

    con = duckdb.connect(str(lake / "serving.duckdb"), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    rng = random.Random(seed)
    depth = facts["options"]["bom_depth"]
    level1, top_codes, products = _levels(depth)
    hub = facts.get("hub_fact")
    hub_key = (hub["component_code"], hub["lot_number"]) if hub else None

    def lots_of(codes: list[str]) -> list[tuple[str, str, int]]:
        rows = con.execute("""SELECT component_code, lot_number, node_id FROM genealogy.lot_keys
                              WHERE component_code IN (SELECT unnest(?::VARCHAR[]))
                              ORDER BY node_id""", [codes]).fetchall()
        return [r for r in rows if (r[0], r[1]) != hub_key]

    l1, l3 = lots_of(level1), lots_of(top_codes)
    q1 = rng.sample(l1, min(len(l1), n // 2)) + rng.sample(l3, min(len(l3), n - n // 2))
    rng.shuffle(q1)
    q1s = [{"code": c, "lot": lot, "node": node, "level": 1 if (c, lot, node) in l1 else depth}
           for c, lot, node in q1]

    finished = con.execute("""SELECT serial_number, node_id FROM genealogy.unit_info
                              WHERE product_code IN (SELECT unnest(?::VARCHAR[]))
                              ORDER BY node_id""", [products]).fetchall()
    q2s = [{"serial": s, "node": node} for s, node in rng.sample(finished, min(len(finished), n))]

    # Q3: a (component, supplier) and a window from the first issue of its lot i to that of
    # lot i+10 (lots in order of first issue): about 10 lots.
    issued = con.execute("""
        SELECT mi.component_code, mi.supplier, mi.lot_number, min(mi.issued_at) AS first
        FROM material_issues mi GROUP BY ALL ORDER BY 1, 2, 4, 3""").fetchall()
    by_pair: dict[tuple[str, str], list[tuple[str, dt.datetime]]] = {}
    for code, sup, lot, first in issued:
        by_pair.setdefault((code, sup), []).append((lot, first))
    width = min(10, max(len(v) for v in by_pair.values()) - 1)  # small plants: fewer lots
    pairs = sorted(p for p, lots in by_pair.items() if len(lots) > width)
    q3s = []
    from tracelake.derived.genealogy import supplier_lots

    for _ in range(n):
        code, sup = rng.choice(pairs)
        lots = by_pair[(code, sup)]
        i = rng.randrange(0, len(lots) - width)
        t_from, t_to = lots[i][1], lots[i + width][1]
        names = supplier_lots(con, code, sup, t_from, t_to)
        nodes = [r[0] for r in con.execute(
            """SELECT node_id FROM genealogy.lot_keys WHERE component_code = ?
               AND lot_number IN (SELECT unnest(?::VARCHAR[])) ORDER BY node_id""",
            [code, names]).fetchall()]
        q3s.append({"code": code, "supplier": sup, "from": t_from.isoformat(),
                    "to": t_to.isoformat(), "lots": names, "nodes": nodes})

    # Q4: equipment found out of tolerance at least once (the question only exists then)
    oot = [r[0] for r in con.execute("""SELECT DISTINCT equipment_id FROM calibrations
                                        WHERE as_found = 'out_of_tolerance' ORDER BY 1""").fetchall()]
    q4s = [{"equipment": oot[i % len(oot)]} for i in range(n)] if oot else []
    rng.shuffle(q4s)

    q5s = []
    if hub:
        node = con.execute("SELECT node_id FROM genealogy.lot_keys WHERE component_code = ? "
                           "AND lot_number = ?", list(hub_key)).fetchone()[0]  # type: ignore[index]
        q5s = [{"code": hub_key[0], "lot": hub_key[1], "node": node}] * 5  # type: ignore[index]
    con.close()
    return {"Q1": q1s, "Q2": q2s, "Q3": q3s, "Q4": q4s, "Q5": q5s, "products": products,
            "facts": {"lot_facts": facts["lot_facts"], "serial_fact": facts["serial_fact"],
                      "hub_fact": hub}}


def storage_stats(lake: Path) -> dict[str, Any]:
    """File size, edges, and each table's share of the file's blocks (pragma_storage_info)."""
    import duckdb

    path = lake / "serving.duckdb"
    con = duckdb.connect(str(path), read_only=True)
    block = con.execute("SELECT block_size, total_blocks FROM pragma_database_size()").fetchone()
    block_size, total_blocks = int(block[0]), int(block[1])  # type: ignore[index]
    tables = con.execute("""SELECT schema_name, table_name, estimated_size FROM duckdb_tables()
                            ORDER BY 1, 2""").fetchall()
    per: dict[str, dict[str, int]] = {}
    for schema, name, rows in tables:
        ids = con.execute(f"""
            SELECT count(DISTINCT b) FROM (
                SELECT block_id AS b FROM pragma_storage_info('{schema}."{name}"')
                WHERE persistent AND block_id >= 0
                UNION ALL
                SELECT unnest(additional_block_ids) FROM pragma_storage_info('{schema}."{name}"')
                WHERE persistent)""").fetchone()[0]  # type: ignore[index]
        per[f"{schema}.{name}"] = {"rows": int(rows), "blocks": int(ids)}
    edges = con.execute("SELECT count(*) FROM genealogy.edges").fetchone()[0]  # type: ignore[index]
    closure = con.execute("SELECT count(*) FROM genealogy.closure_by_anc").fetchone()[0]  # type: ignore[index]
    nodes = con.execute("SELECT count(*) FROM genealogy.nodes").fetchone()[0]  # type: ignore[index]
    con.close()
    gen = sum(v["blocks"] for k, v in per.items() if k.startswith("genealogy."))
    size = path.stat().st_size
    return {"file_bytes": size, "block_size": block_size, "total_blocks": total_blocks,
            "edges": int(edges), "closure_rows": int(closure), "nodes": int(nodes),
            "bytes_per_edge": size / max(1, edges),
            "genealogy_bytes": gen * block_size, "genealogy_share": gen / max(1, total_blocks),
            "genealogy_bytes_per_edge": gen * block_size / max(1, edges), "tables": per}


def build_batch(plant: Path, facts: dict[str, Any], out: Path, want_units: int) -> dict[str, Any]:
    """Copy the last top-level jobs (>= want_units units) and the sub-assembly jobs that fed them
    as new jobs: new job ids, serials and issue ids after every existing one, times shifted."""
    import polars as pl

    done = out / ".batch.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    _, _, products = _levels(facts["options"]["bom_depth"])
    prefix = facts["options"]["serial_prefix"]

    def scan(table: str) -> pl.LazyFrame:
        files = sorted(plant.glob(f"{table}.csv")) + sorted(plant.glob(f"{table}-[0-9]*.csv"))
        return pl.concat([pl.scan_csv(f, infer_schema=False) for f in files])

    units = scan("units").select("serial_number", "product_code", "job_id").collect()
    top_jobs = (units.filter(pl.col("product_code").is_in(products))
                .group_by("job_id").len().sort("job_id", descending=True))
    cum = top_jobs["len"].cum_sum()
    k = int((cum < want_units).sum()) + 1
    jobs = set(top_jobs["job_id"].head(k).to_list())
    sel = set(units.filter(pl.col("job_id").is_in(list(jobs)))["serial_number"].to_list())
    frontier = set(sel)
    uc = scan("unit_components")
    while frontier:  # down the BOM: the jobs that built the serials fitted into the batch
        kids = set(uc.filter(pl.col("serial_number").is_in(list(frontier))
                             & pl.col("component_serial").is_not_null())
                   .select("component_serial").collect()["component_serial"].to_list())
        new_jobs = set(units.filter(pl.col("serial_number").is_in(list(kids)))["job_id"]
                       .to_list()) - jobs
        jobs |= new_jobs
        added = set(units.filter(pl.col("job_id").is_in(list(new_jobs)))["serial_number"]
                    .to_list()) - sel
        sel |= added
        frontier = added

    # numbering past everything in the plant
    pat = f"^({_re_escape(prefix)}[A-Z])([0-9]+)$"
    parts = units.select(pl.col("serial_number").str.extract(pat, 1).alias("head"),
                         pl.col("serial_number").str.extract(pat, 2).alias("num"))
    width = int(parts["num"].str.len_chars().max())  # type: ignore[arg-type]
    offsets = dict(parts.group_by("head").agg(pl.col("num").cast(pl.Int64).max()).iter_rows())
    job_max = int(scan("jobs").select(pl.col("job_id").str.slice(3).cast(pl.Int64).max())
                  .collect().item())
    issue_max = int(scan("material_issues").select(
        pl.col("issue_id").str.slice(3).cast(pl.Int64).max()).collect().item())
    built = pl.col("built_at").str.strptime(pl.Datetime("us"), TS_FORMAT)
    span = scan("units").select(built.min().alias("a"), built.max().alias("b")).collect()
    shift = (span["b"][0] - span["a"][0]) + dt.timedelta(days=7)  # after the plant's last build

    def map_serial(col: str) -> pl.Expr:
        head = pl.col(col).str.extract(pat, 1)
        num = pl.col(col).str.extract(pat, 2).cast(pl.Int64)
        off = head.replace_strict(offsets, default=0, return_dtype=pl.Int64)
        new = head + (num + off).cast(pl.String).str.zfill(width)
        return pl.when(head.is_not_null()).then(new).otherwise(pl.col(col)).alias(col)

    def map_job(col: str) -> pl.Expr:
        return ("WO-" + (pl.col(col).str.slice(3).cast(pl.Int64) + (job_max - 100_000))
                .cast(pl.String)).alias(col)

    def shift_times(frame: pl.DataFrame) -> pl.DataFrame:
        exprs = []
        for c in frame.columns:
            if c.endswith("_at"):
                t = pl.col(c).str.strptime(pl.Datetime("us"), TS_FORMAT, strict=False)
                exprs.append((t + shift).dt.strftime(TS_FORMAT).alias(c))
            elif c == "due_date":
                d = pl.col(c).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
                exprs.append((d + pl.duration(days=shift.days)).dt.strftime("%Y-%m-%d").alias(c))
        return frame.with_columns(exprs)

    jl, sl = list(jobs), list(sel)
    tables = {
        "jobs": scan("jobs").filter(pl.col("job_id").is_in(jl)).collect()
                .with_columns(map_job("job_id")),
        "units": scan("units").filter(pl.col("serial_number").is_in(sl)).collect()
                 .with_columns(map_serial("serial_number"), map_job("job_id")),
        "unit_components": uc.filter(pl.col("serial_number").is_in(sl)).collect()
                           .with_columns(map_serial("serial_number"),
                                         map_serial("component_serial")),
        "material_issues": scan("material_issues").filter(pl.col("job_id").is_in(jl)).collect()
                           .with_columns(("MI-" + (pl.col("issue_id").str.slice(3)
                                                   .cast(pl.Int64) + issue_max)
                                          .cast(pl.String).str.zfill(8)).alias("issue_id"),
                                         map_job("job_id"), map_serial("component_serial")),
        "shipments": scan("shipments").filter(pl.col("serial_number").is_in(sl)).collect()
                     .with_columns(map_serial("serial_number")),
    }
    rows = {}
    for name, frame in tables.items():
        frame = shift_times(frame)
        frame.write_csv(out / f"{name}.csv")
        rows[name] = frame.height
    finished = int(tables["units"].filter(pl.col("product_code").is_in(products)).height)
    info = {"finished_units": finished, "all_units": len(sel), "jobs": len(jobs),
            "top_jobs": k, "rows": rows, "shift_days": shift.days}
    harness.write_json(done, info)
    return info


def _re_escape(s: str) -> str:
    import re

    return re.escape(s)


def child_ingest(tdir: Path, plant: Path, mode: str) -> dict[str, Any]:
    from tracelake.ingest import ingest

    split = mode == "split"
    t = time.perf_counter()
    r = ingest([plant], tdir / "lake", genealogy=not split, publish=not split)
    secs = time.perf_counter() - t
    if r.totals["rows_quarantined"]:
        raise SystemExit(f"{r.totals['rows_quarantined']} rows quarantined")
    return {"seconds": secs, "rows_loaded": r.totals["rows_loaded"], "genealogy": r.genealogy,
            "peak_rss_mib": harness.rss_mib()}


def child_index(tdir: Path) -> dict[str, Any]:
    """The orchestrator path after ``ingest(genealogy=False)``: build the index, publish."""
    from tracelake.derived.genealogy.index import rebuild_lake_index
    from tracelake.lake.snapshot import publish_lake
    from tracelake.lake.storage import LakePaths

    lake = LakePaths.of(tdir / "lake")
    t = time.perf_counter()
    stats = rebuild_lake_index(lake)
    t_index = time.perf_counter() - t
    t = time.perf_counter()
    publish_lake(lake)
    return {"genealogy": dataclasses.asdict(stats), "seconds": t_index,
            "publish_s": time.perf_counter() - t, "peak_rss_mib": harness.rss_mib()}
