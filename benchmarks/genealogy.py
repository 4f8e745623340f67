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
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / ".work"
GWORK = WORK / "genealogy"

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


# ------------------------------------------------------------------------------------------
# small helpers


def _rss_mib() -> float:
    """Peak RSS of this process: VmHWM of its own address space.

    Not ``ru_maxrss``: Linux carries it across fork + exec, so a child would report the
    parent's RSS at the fork whenever that is larger than its own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mib() -> float:
    """Current resident set (not the peak), from /proc."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.array(values), q)) if values else float("nan")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    return obj


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(_jsonable(obj), indent=1))


def _library_hash() -> str:
    """A hash of the library source: a cached lake is rebuilt when the library changes."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "src" / "tracelake").rglob("*.py")):
        h.update(f.relative_to(ROOT).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _git_describe() -> str:
    """The commit the library was at, and whether src/ had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, text=True,
                               capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted changes in src/" if dirty else "")


def _q4_function() -> Any:
    try:
        from tracelake.derived.calibration import impact as calibration
    except ImportError:
        return None
    return getattr(calibration, "calibration_impact", None)


def _timed_loop(fn: Any, starts: list[Any], budget_s: float, min_n: int = 5
                ) -> tuple[list[float], list[Any], float]:
    """One warm-up call, then each start timed; stops early past ``budget_s`` (>= min_n runs).

    Returns (latencies in ms, raw answers, warm-up ms).
    """
    if not starts:
        return [], [], float("nan")
    t = time.perf_counter()
    fn(starts[0])
    warm = (time.perf_counter() - t) * 1000
    times: list[float] = []
    answers: list[Any] = []
    spent = 0.0
    for s in starts:
        t = time.perf_counter()
        r = fn(s)
        el = time.perf_counter() - t
        times.append(el * 1000)
        answers.append(r)
        spent += el
        if spent > budget_s and len(times) >= min_n:
            break
    return times, answers, warm


# ------------------------------------------------------------------------------------------
# plant, lake, starts (parent process)


def ensure_plant(tier: str, seed: int) -> tuple[Path, dict[str, Any]]:
    """The tier's plant folder (generated once) and its known facts."""
    units, opts = TIERS[tier]
    name = f"plant-{units}-{seed}" + ("-adv" if opts else "")
    plant = WORK / name
    facts_file = plant / ".genealogy-facts.json"
    if not ((plant / ".complete").exists() and facts_file.exists()):
        from tracelake.synthetic import PlantOptions, generate_plant

        print(f"[{tier}] generating {units:,}-unit plant {name} ...", flush=True)
        t = time.perf_counter()
        summary = generate_plant(plant, units, seed, options=PlantOptions(**opts))
        secs = time.perf_counter() - t
        (plant / ".complete").write_text("ok")
        facts = {"units": units, "seed": seed, "options": dataclasses.asdict(summary.options),
                 "rows": summary.rows, "links_per_unit": summary.links_per_unit,
                 "reworked": summary.reworked, "lot_facts": summary.lot_facts,
                 "serial_fact": summary.serial_fact, "hub_fact": summary.hub_fact,
                 "generate_seconds": secs}
        _write_json(facts_file, facts)
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
    key = {"plant": str(plant), "library": _library_hash(), "mode": mode}
    if info_file.exists():
        info = json.loads(info_file.read_text())
        if info.get("key") == key and (lake / "serving.duckdb").exists():
            return lake, info
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    print(f"[{tier}] ingesting {plant.name} into {lake} ({mode}) ...", flush=True)
    res = _run_child("ingest", tdir, extra=["--plant", str(plant), "--ingest-mode", mode])
    if "error" in res:
        raise SystemExit(f"[{tier}] ingest failed after {res['wall']:.0f} s: {res['error']}")
    if mode == "split":
        idx = _run_child("index", tdir)
        if "error" in idx:
            raise SystemExit(f"[{tier}] index build failed after {idx['wall']:.0f} s: "
                             f"{idx['error']}")
        res["genealogy"] = idx["genealogy"]
        res["index_process"] = idx
    res["mode"] = mode
    info = {"key": key, **res}
    _write_json(info_file, info)
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


# ------------------------------------------------------------------------------------------
# upkeep batch: the last top-level jobs copied as new production


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
    _write_json(done, info)
    return info


def _re_escape(s: str) -> str:
    import re

    return re.escape(s)


# ------------------------------------------------------------------------------------------
# children


def _run_child(kind: str, tdir: Path, extra: list[str] | None = None,
               tag: str | None = None) -> dict[str, Any]:
    out = tdir / f"result-{tag or kind}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--dir", str(tdir),
           "--tag", tag or kind, *(extra or [])]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode or not out.exists():
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        if proc.returncode < 0:
            why = f"killed by signal {-proc.returncode}" + (" (OOM killer?)"
                                                            if proc.returncode == -9 else "")
        return {"error": why, "wall": wall}
    res = json.loads(out.read_text())
    res["wall"] = wall
    return res


def child_ingest(tdir: Path, plant: Path, mode: str) -> dict[str, Any]:
    from tracelake.ingest import ingest

    split = mode == "split"
    t = time.perf_counter()
    r = ingest([plant], tdir / "lake", genealogy=not split, publish=not split)
    secs = time.perf_counter() - t
    if r.totals["rows_quarantined"]:
        raise SystemExit(f"{r.totals['rows_quarantined']} rows quarantined")
    return {"seconds": secs, "rows_loaded": r.totals["rows_loaded"], "genealogy": r.genealogy,
            "peak_rss_mib": _rss_mib()}


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
            "publish_s": time.perf_counter() - t, "peak_rss_mib": _rss_mib()}


def _tl_sets_q1(r: Any) -> list[str]:
    return sorted(a["serial_number"] for a in r.affected if not a.get("removed"))


def _tl_sets_q2(r: Any) -> list[str]:
    out = set()
    for c in r.components:
        if c.get("removed_at") is not None:
            continue
        if c["component_serial"]:
            out.add(c["component_serial"])
        if c["lot_number"]:
            out.add(f"{c['component_code']}/{c['lot_number']}")
    return sorted(out)


def child_tracelake(tdir: Path, budget: float, queries: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from tracelake.derived.genealogy import supplier_recall, where_from, where_used
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths

    t_import = time.perf_counter() - t0
    starts = json.loads((tdir / "starts.json").read_text())
    t = time.perf_counter()
    con = open_snapshot(LakePaths.of(tdir / "lake"))
    t_open = time.perf_counter() - t
    out: dict[str, Any] = {"import_s": t_import, "open_ms": t_open * 1000, "queries": {}}

    def q1(s: dict[str, Any]) -> Any:
        return where_used(con, s["code"], s["lot"])

    def q3(s: dict[str, Any]) -> Any:
        return supplier_recall(con, s["code"], s["supplier"], dt.datetime.fromisoformat(s["from"]),
                               dt.datetime.fromisoformat(s["to"]))

    # the first query after opening is the warm-up of Q1: record it (page cache warm)
    runs = {"Q1": (q1, _tl_sets_q1), "Q2": (lambda s: where_from(con, s["serial"]), _tl_sets_q2),
            "Q3": (q3, _tl_sets_q1), "Q5": (q1, _tl_sets_q1)}
    q4 = _q4_function()
    if q4 is not None:
        runs["Q4"] = (lambda s: q4(con, s["equipment"]), None)
    for q in QUERIES:
        if q not in runs or q not in queries or not starts[q]:
            continue
        fn, norm = runs[q]
        times, answers, warm = _timed_loop(fn, starts[q], budget)
        if q == queries[0]:
            out["first_query_ms"] = warm
        res: dict[str, Any] = {"ms": times, "warm_ms": warm}
        # the answers hold their rows as columns until read: the Python dicts of the CLI's
        # JSON (as_dict) are timed on their own, so the table can show both
        res["dicts_ms"] = []
        for a in answers:
            t = time.perf_counter()
            a.as_dict()
            res["dicts_ms"].append((time.perf_counter() - t) * 1000)
        if norm is not None:
            res["sets"] = [norm(a) for a in answers]
            res["counts"] = [len(s) for s in res["sets"]]
            if q != "Q2":
                res["customers"] = [a.summary["customers"] for a in answers]
        else:  # Q4
            res["counts"] = [a.summary["units"] for a in answers]
            res["results"] = [a.summary["results"] for a in answers]
        if q == "Q3":
            res["lots"] = [len(a.query["lots"]) for a in answers]
        del answers
        res["peak_rss_after_mib"] = _rss_mib()  # high-water mark once this query kind ran
        out["queries"][q] = res
    out["peak_rss_mib"] = _rss_mib()
    if "Q1" in queries:
        out["truth"] = _truth_check(con, starts, where_used, where_from)
    con.close()
    return out


def _truth_check(con: Any, starts: dict[str, Any], where_used: Any, where_from: Any
                 ) -> list[dict[str, Any]]:
    """tracelake against the generator's known facts (untimed)."""
    facts = starts["facts"]
    products = set(starts["products"])
    checks = []
    for f in [*facts["lot_facts"], *([facts["hub_fact"]] if facts["hub_fact"] else [])]:
        r = where_used(con, f["component_code"], f["lot_number"])
        got = {a["serial_number"] for a in r.affected if not a.get("removed")}
        finished = {a["serial_number"] for a in r.affected
                    if not a.get("removed") and a["product_code"] in products}
        want = set(f["finished_serials"])
        checks.append({"what": f"where_used {f['component_code']}/{f['lot_number']} "
                               f"(level {f['level']}, {f['grain']})",
                       "ok": finished == want, "want": len(want), "got_finished": len(finished),
                       "missing": sorted(want - finished)[:5], "extra": sorted(finished - want)[:5],
                       "other_top_units": len(got - finished)})
    sf = facts["serial_fact"]
    if sf:
        r = where_from(con, sf["serial_number"])
        got = set(_tl_sets_q2(r))
        want = set(sf["serials"]) | {f"{c}/{lot}" for c, lot in sf["lots"]}
        checks.append({"what": f"where_from {sf['serial_number']}", "ok": got == want,
                       "want": len(want), "got": len(got), "missing": sorted(want - got)[:5],
                       "extra": sorted(got - want)[:5]})
    return checks


def child_cte(tdir: Path, budget: float) -> dict[str, Any]:
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths

    starts = json.loads((tdir / "starts.json").read_text())
    con = open_snapshot(LakePaths.of(tdir / "lake"))
    up = """
        WITH RECURSIVE up(node) AS (
            {seed}
            UNION
            SELECT e.parent FROM genealogy.edges e JOIN up ON e.child = up.node)
        SELECT u.serial_number, u.customer FROM up
        JOIN genealogy.unit_info u ON u.node_id = up.node WHERE u.top"""
    q1_sql = up.format(seed="SELECT node_id FROM genealogy.lot_keys "
                            "WHERE component_code = ? AND lot_number = ?")
    q3_sql = up.format(seed="""SELECT DISTINCT k.node_id FROM material_issues mi
        JOIN genealogy.lot_keys k ON k.component_code = mi.component_code
             AND k.lot_number = mi.lot_number
        WHERE mi.component_code = ? AND lower(mi.supplier) = lower(?)
          AND mi.issued_at >= ?::TIMESTAMPTZ AND mi.issued_at < ?::TIMESTAMPTZ""")
    q2_sql = """
        WITH RECURSIVE down(node) AS (
            SELECT node_id FROM genealogy.serial_keys WHERE serial_number = ?
            UNION
            SELECT e.child FROM genealogy.edges e JOIN down ON e.parent = down.node)
        SELECT n.label FROM down JOIN genealogy.nodes n ON n.node_id = down.node
        WHERE n.serial_number IS DISTINCT FROM ?"""
    runs = {
        "Q1": lambda s: con.execute(q1_sql, [s["code"], s["lot"]]).fetchall(),
        "Q2": lambda s: con.execute(q2_sql, [s["serial"], s["serial"]]).fetchall(),
        "Q3": lambda s: con.execute(q3_sql, [s["code"], s["supplier"], s["from"],
                                             s["to"]]).fetchall(),
        "Q5": lambda s: con.execute(q1_sql, [s["code"], s["lot"]]).fetchall(),
    }
    out: dict[str, Any] = {"queries": {}}
    for q, fn in runs.items():
        if not starts[q]:
            continue
        times, answers, warm = _timed_loop(fn, starts[q], budget)
        sets = [sorted({r[0] for r in a}) for a in answers]
        out["queries"][q] = {"ms": times, "warm_ms": warm, "sets": sets,
                             "counts": [len(s) for s in sets]}
    out["peak_rss_mib"] = _rss_mib()
    plan = con.execute("EXPLAIN ANALYZE " + q1_sql, [starts["Q1"][0]["code"],
                                                    starts["Q1"][0]["lot"]]).fetchall()
    out["q1_explain_analyze"] = plan[0][1]
    con.close()
    return out


def child_graph(tdir: Path, lib: str, budget: float) -> dict[str, Any]:
    import duckdb
    import numpy as np

    starts = json.loads((tdir / "starts.json").read_text())
    t = time.perf_counter()
    if lib == "rustworkx":
        import rustworkx as gx
    else:
        import networkx as gx  # type: ignore[no-redef]
    t_import = time.perf_counter() - t
    rss0 = _rss_now_mib()
    t = time.perf_counter()
    con = duckdb.connect(str(tdir / "lake" / "serving.duckdb"), read_only=True)
    n = int(con.execute("SELECT max(node_id) + 1 FROM genealogy.nodes").fetchone()[0])  # type: ignore[index]
    e = con.execute("SELECT child, parent FROM genealogy.edges").fetchnumpy()
    ui = con.execute("""SELECT node_id, top, CASE WHEN customer IS NULL THEN -1
                                 ELSE dense_rank() OVER (ORDER BY customer) END::INTEGER AS cust
                          FROM genealogy.unit_info""").fetchnumpy()
    con.close()
    top = np.zeros(n, dtype=bool)
    top[ui["node_id"]] = ui["top"]
    customer = np.full(n, -1, dtype=np.int32)  # customer code per unit: the "join customers"
    customer[ui["node_id"]] = ui["cust"]
    del ui
    child, parent = e["child"], e["parent"]
    del e
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    chunk = 2_000_000
    if lib == "rustworkx":
        g = gx.PyDiGraph(check_cycle=False, multigraph=True)
        g.add_nodes_from(range(n))
        for i in range(0, len(child), chunk):
            g.add_edges_from_no_data(list(zip(child[i:i + chunk].tolist(),
                                              parent[i:i + chunk].tolist(), strict=True)))
        descendants, ancestors = gx.descendants, gx.ancestors
    else:
        g = gx.DiGraph()
        g.add_nodes_from(range(n))
        for i in range(0, len(child), chunk):
            g.add_edges_from(zip(child[i:i + chunk].tolist(), parent[i:i + chunk].tolist(),
                                 strict=True))
        descendants, ancestors = gx.descendants, gx.ancestors
    edges = len(child)
    del child, parent
    t_build = time.perf_counter() - t
    gc.collect()
    rss_loaded = _rss_now_mib()  # steady state with the graph and the lookup arrays
    rss_load_peak = _rss_mib()

    def used(nodes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        reached: set[int] = set()
        for s in nodes:
            reached |= descendants(g, s)
        ids = np.fromiter(reached, dtype=np.int64, count=len(reached))
        ids = ids[top[ids]]
        return ids, customer[ids]  # serials are looked up after timing

    runs = {"Q1": lambda s: used([s["node"]]), "Q3": lambda s: used(s["nodes"]),
            "Q5": lambda s: used([s["node"]]),
            "Q2": lambda s: np.fromiter(ancestors(g, s["node"]), dtype=np.int64)}
    out: dict[str, Any] = {"import_s": t_import, "read_s": t_read, "build_s": t_build,
                           "edges": edges, "rss_before_load_mib": rss0,
                           "rss_loaded_mib": rss_loaded,
                           "rss_load_peak_mib": rss_load_peak, "queries": {}}
    raw = {}
    for q, fn in runs.items():
        if not starts[q]:
            continue
        times, answers, warm = _timed_loop(fn, starts[q], budget)
        raw[q] = answers
        out["queries"][q] = {"ms": times, "warm_ms": warm}
    out["peak_rss_mib"] = _rss_mib()
    # ids -> serials / labels, untimed
    import pyarrow as pa

    con = duckdb.connect(str(tdir / "lake" / "serving.duckdb"), read_only=True)
    for q, answers in raw.items():
        sets = []
        for a in answers:
            ids = a[0] if isinstance(a, tuple) else a
            col = "serial_number" if q != "Q2" else "label"
            # a registered Arrow table, not a list parameter: binding a Python list costs
            # ~90 us per element in duckdb 1.5.5
            con.register("_ids", pa.table({"id": pa.array(ids, pa.int64())}))
            rows = con.execute(f"SELECT {col} FROM genealogy.nodes "
                               "WHERE node_id IN (SELECT id FROM _ids)").fetchall()
            con.unregister("_ids")
            sets.append(sorted(r[0] for r in rows))
        out["queries"][q]["sets"] = sets
        out["queries"][q]["counts"] = [len(s) for s in sets]
    con.close()
    return out


def child_cold(tdir: Path) -> dict[str, Any]:
    serving = tdir / "lake" / "serving.duckdb"
    evicted = False
    try:
        fd = os.open(serving, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            evicted = True
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    starts = json.loads((tdir / "starts.json").read_text())
    s = starts["Q1"][0]
    t0 = time.perf_counter()
    from tracelake.derived.genealogy import where_used
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths

    t1 = time.perf_counter()
    con = open_snapshot(LakePaths.of(tdir / "lake"))
    t2 = time.perf_counter()
    r = where_used(con, s["code"], s["lot"])
    t3 = time.perf_counter()
    where_used(con, s["code"], s["lot"])
    t4 = time.perf_counter()
    return {"page_cache_evicted": evicted, "import_s": t1 - t0, "open_ms": (t2 - t1) * 1000,
            "first_q1_ms": (t3 - t2) * 1000, "second_q1_ms": (t4 - t3) * 1000,
            "total_s": t3 - t0, "results": len(r.affected), "peak_rss_mib": _rss_mib()}


def child_rebuild(tdir: Path) -> dict[str, Any]:
    from tracelake.derived.genealogy import build_index
    from tracelake.lake.storage import LakePaths, connect_writer

    copy = tdir / "rebuild-lake"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    try:
        t = time.perf_counter()
        shutil.copyfile(tdir / "lake" / "lake.duckdb", copy / "lake.duckdb")
        t_copy = time.perf_counter() - t
        with connect_writer(LakePaths.of(copy)) as con:
            con.execute("BEGIN TRANSACTION")
            t = time.perf_counter()
            stats = build_index(con)
            secs = time.perf_counter() - t
            t = time.perf_counter()
            con.execute("COMMIT")  # not part of the build time (as before), shown beside it
            t_commit = time.perf_counter() - t
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return {"seconds": secs, "commit_s": t_commit, "copy_s": t_copy,
            "stats": dataclasses.asdict(stats), "peak_rss_mib": _rss_mib()}


_SIGNATURE = {
    "nodes": "SELECT count(*), sum(hash(label, kind)) FROM genealogy.nodes",
    "edges": """SELECT count(*), sum(hash(c.label, p.label, e.source)) FROM genealogy.edges e
                JOIN genealogy.nodes c ON c.node_id = e.child
                JOIN genealogy.nodes p ON p.node_id = e.parent""",
    "edges_by_parent": "SELECT count(*), sum(hash(child, parent)) FROM genealogy.edges_by_parent",
    "closure": """SELECT count(*), sum(hash(a.label, d.label, c.depth))
                  FROM genealogy.closure_by_anc c
                  JOIN genealogy.nodes a ON a.node_id = c.anc
                  JOIN genealogy.nodes d ON d.node_id = c.des""",
    "closure_by_des": "SELECT count(*), sum(hash(anc, des, depth)) FROM genealogy.closure_by_des",
    "unit_info": """SELECT count(*), sum(hash(serial_number, top, customer, status))
                    FROM genealogy.unit_info""",
    "removed": "SELECT count(*), sum(hash(child, parent, removed_at)) FROM genealogy.removed",
}


def _signature(con: Any) -> dict[str, list[Any]]:
    out = {}
    for k, sql in _SIGNATURE.items():
        try:
            out[k] = [str(v) for v in con.execute(sql).fetchone()]
        except Exception as exc:  # a table the index version does not have
            out[k] = [f"error: {exc}"]
    # the key-based ones must agree with their label-based twin, not with a rebuild
    return out


def child_upkeep(tdir: Path) -> dict[str, Any]:
    from tracelake.derived.genealogy import build_index
    from tracelake.ingest import ingest
    from tracelake.lake.storage import LakePaths, connect_writer

    batch = tdir / "batch"
    copy = tdir / "upkeep-lake"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    try:
        shutil.copyfile(tdir / "lake" / "lake.duckdb", copy / "lake.duckdb")
        t = time.perf_counter()
        r = ingest([batch], copy, publish=False)
        secs = time.perf_counter() - t
        out: dict[str, Any] = {"ingest_s": secs, "rows_loaded": r.totals["rows_loaded"],
                               "rows_quarantined": r.totals["rows_quarantined"],
                               "genealogy": r.genealogy, "peak_rss_mib": _rss_mib()}
        if r.genealogy and r.genealogy.get("mode", "full") != "full":
            # the incremental index against a full rebuild of the same lake
            with connect_writer(LakePaths.of(copy)) as con:
                inc = _signature(con)
                con.execute("BEGIN TRANSACTION")
                t = time.perf_counter()
                build_index(con)
                out["rebuild_after_batch_s"] = time.perf_counter() - t
                full = _signature(con)
                con.execute("ROLLBACK")
            label_based = ("nodes", "edges", "closure", "unit_info")
            out["verify"] = {k: {"incremental": inc[k], "full": full[k],
                                 "same": inc[k] == full[k] if k in label_based
                                 else inc[k][0] == full[k][0]} for k in inc}
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return out


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
    _write_json(tdir / f"result-{args.tag or kind}.json", res)


# ------------------------------------------------------------------------------------------
# cross-check and report


def cross_check(results: dict[str, dict[str, Any]], q: str) -> dict[str, Any]:
    """Per start: every peer's set against tracelake's. Returns mismatches per peer."""
    base = results.get("tracelake", {}).get("queries", {}).get(q)
    out: dict[str, Any] = {}
    if not base or "sets" not in base:
        return out
    for peer, res in results.items():
        if peer == "tracelake" or "queries" not in res or q not in res["queries"]:
            continue
        other = res["queries"][q].get("sets")
        if other is None:
            continue
        bad = []
        for i, (a, b) in enumerate(zip(base["sets"], other, strict=False)):
            if a != b:
                sa, sb = set(a), set(b)
                bad.append({"start": i, "tracelake": len(a), peer: len(b),
                            "only_tracelake": sorted(sa - sb)[:5],
                            f"only_{peer}": sorted(sb - sa)[:5]})
        out[peer] = bad
    return out


def _fmt_ms(v: float) -> str:
    if v != v:  # nan
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def _lat(res: dict[str, Any], q: str, with_dicts: bool = False) -> str:
    r = res.get("queries", {}).get(q)
    if not r or not r["ms"]:
        return "-"
    n = len(r["ms"])
    ms = r["ms"]
    if with_dicts:  # the call, then the answer's rows as Python dicts (the CLI's JSON)
        if "dicts_ms" not in r:
            return "-"
        ms = [a + b for a, b in zip(r["ms"], r["dicts_ms"], strict=False)]
    cell = f"{_fmt_ms(_pct(ms, 50))} / {_fmt_ms(_pct(ms, 95))}"
    return cell + (f" (n={n})" if n < 20 else "")


def report(tier: str, info: dict[str, Any]) -> None:
    res = info["peers"]
    st = info["storage"]
    units, opts = TIERS[tier]
    tl = res.get("tracelake", {})
    print()
    print(f"=== tier {tier}: {units:,} finished units"
          + (f", adversarial {json.dumps(opts)}" if opts else "")
          + f"; {st['nodes']:,} nodes, {st['edges']:,} edges, {st['closure_rows']:,} closure rows "
          f"({st['closure_rows'] / max(1, st['edges']):.2f} per edge)")
    print(f"    {info['starts_n']} starts per query (seed {info['seed']}), one warm-up each; "
          f"duckdb {info['env']['duckdb']}, {info['env']['cpus']} CPUs, "
          f"python {info['env']['python']}; tracelake at {info['env']['library']}")
    if info.get("library_changed_during_run"):
        print("    WARNING: the library source changed during this tier's run: its numbers mix "
              "versions")
    print(f"    targets at M: Q1/Q2 p95 <= {TARGETS['Q1']:g} ms, Q3/Q4 p95 <= {TARGETS['Q3']:g} ms, "
          f"rebuild <= {TARGETS['rebuild_s']:g} s, upkeep >= {TARGETS['upkeep_units_s']:,.0f} "
          f"units/s, peak RSS <= {TARGETS['rss_mib'] / 1024:g} GB, M/S latency <= "
          f"{TARGETS['scaling']:g}x\n")
    peers = [p for p in PEERS if p in res]
    head = f"{'query (p50 / p95 ms)':<24}{'results p50':>12}  " + "".join(
        f"{p:>22}" for p in peers[:1]) + f"{'tracelake +dicts':>22}" + "".join(
        f"{p:>22}" for p in peers[1:]) + f"  {'target p95':>11}  check"
    print(head)
    print("-" * len(head))
    for q in QUERIES:
        if q == "Q4" and "Q4" not in tl.get("queries", {}):
            print(f"{QNAMES[q]:<24}{'':>12}  not available "
                  f"(tracelake.derived.calibration.impact.calibration_impact not found)")
            continue
        if q not in tl.get("queries", {}) and not any(q in r.get("queries", {}) for r in
                                                       res.values()):
            continue
        counts = tl.get("queries", {}).get(q, {}).get("counts", [])
        rsize = f"{int(_pct(counts, 50)):,}" if counts else "-"
        cells = "".join(f"{_lat(res[p], q):>22}" for p in peers[:1]) + \
            f"{_lat(res.get('tracelake', {}), q, with_dicts=True):>22}" + \
            "".join(f"{_lat(res[p], q):>22}" for p in peers[1:])
        tgt = TARGETS.get(q)
        p95 = _pct(tl["queries"][q]["ms"], 95) if q in tl.get("queries", {}) else float("nan")
        tcol = f"<= {tgt:g} {'ok' if p95 <= tgt else 'MISS'}" if tgt else ""
        tcol = f"{tcol:>11}"
        mism = info["crosscheck"].get(q, {})
        bad = {p: len(v) for p, v in mism.items() if v}
        check = "counts agree" if mism and not bad else (
            "WARNING " + ", ".join(f"{p}: {n} starts differ" for p, n in bad.items())
            if bad else "")
        print(f"{QNAMES[q]:<24}{rsize:>12}  {cells}  {tcol}  {check}")
    q3 = tl.get("queries", {}).get("Q3")
    if q3:
        print(f"{'':<24}Q3 lots per window: p50 {_pct(q3['lots'], 50):.0f} "
              f"(min {min(q3['lots'])}, max {max(q3['lots'])})")
    q4 = tl.get("queries", {}).get("Q4")
    if q4:
        print(f"{'':<24}Q4 results = units concerned; suspect test results p50 "
              f"{_pct(q4['results'], 50):,.0f} (max {max(q4['results']):,})")
    print()
    ing = info["ingest"]
    rb = info.get("rebuild", {})
    if ing.get("mode") == "split":
        ip = ing["index_process"]
        print(f"ingest without the index:       {ing['seconds']:8.1f} s (peak RSS "
              f"{ing['peak_rss_mib']:,.0f} MiB); then rebuild_lake_index {ip['seconds']:.1f} s "
              f"(peak RSS {ip['peak_rss_mib']:,.0f} MiB) and publish_lake {ip['publish_s']:.1f} s")
    else:
        print(f"index build, inside ingest:     {ing['genealogy']['seconds']:8.1f} s "
              f"(ingest {ing['seconds']:.1f} s in all, peak RSS {ing['peak_rss_mib']:,.0f} MiB)")
    if "seconds" in rb:
        v = "ok" if rb["seconds"] <= TARGETS["rebuild_s"] else "MISS"
        commit = f", then COMMIT {rb['commit_s']:.1f} s" if "commit_s" in rb else ""
        print(f"full rebuild, fresh process:    {rb['seconds']:8.1f} s (peak RSS "
              f"{rb['peak_rss_mib']:,.0f} MiB{commit})   target at M <= "
              f"{TARGETS['rebuild_s']:g} s: {v}")
    else:
        print(f"full rebuild: failed ({rb.get('error')})")
    up = info.get("upkeep", {})
    if "ingest_s" in up:
        b = info["batch"]
        g = up["genealogy"] or {}
        rate = b["finished_units"] / g["seconds"] if g.get("seconds") else float("nan")
        v = "ok" if rate >= TARGETS["upkeep_units_s"] else "MISS"
        print(f"upkeep, batch of {b['finished_units']:,} finished units ({b['all_units']:,} units "
              f"at all levels, {sum(b['rows'].values()):,} rows): index mode "
              f"{g.get('mode', '?')!r} {g.get('seconds', float('nan')):.2f} s = "
              f"{rate:,.0f} finished units/s ({b['all_units'] / g['seconds']:,.0f} units/s at all "
              f"levels; target >= {TARGETS['upkeep_units_s']:,.0f}: {v}); "
              f"whole ingest {up['ingest_s']:.1f} s = {b['finished_units'] / up['ingest_s']:,.0f} "
              f"units/s")
        if "verify" in up:
            bad = [k for k, v in up["verify"].items() if not v["same"]]
            print("    incremental index vs full rebuild of the same lake: "
                  + ("identical" if not bad else "DIFFERENT in " + ", ".join(bad)))
    else:
        print(f"upkeep: failed ({up.get('error')})")
    cold = info.get("cold", {})
    if "first_q1_ms" in cold:
        print(f"cold start (fresh process, snapshot {'evicted from' if cold['page_cache_evicted'] else 'in'} "
              f"page cache): import {cold['import_s']:.2f} s, open {cold['open_ms']:.1f} ms, first Q1 "
              f"{cold['first_q1_ms']:,.1f} ms, second {cold['second_q1_ms']:,.1f} ms")
    if tl.get("first_query_ms") is not None:
        print(f"first Q1 in the query process (page cache warm): open {tl['open_ms']:.1f} ms + "
              f"query {tl['first_query_ms']:,.1f} ms")
    by_q = ", ".join(f"{q} {r['peak_rss_after_mib']:,.0f}" for q, r in tl.get("queries", {}).items()
                     if "peak_rss_after_mib" in r and q != "Q4")
    if by_q:
        print(f"tracelake query process, peak RSS (MiB) after each query kind: {by_q}; "
              f"Q4 in its own process: {(tl.get('q4_process') or {}).get('peak_rss_mib') or 0:,.0f}")
    if (tl.get("q4_process") or {}).get("error"):
        print(f"Q4 process failed: {tl['q4_process']['error']}")
    rss = ", ".join(f"{p} {res[p]['peak_rss_mib']:,.0f}" for p in peers if "peak_rss_mib" in res[p])
    v = "ok" if tl.get("peak_rss_mib", 0) <= TARGETS["rss_mib"] else "MISS"
    print(f"peak RSS (MiB), query processes: {rss}   (tracelake target <= "
          f"{TARGETS['rss_mib']:,.0f}: {v})")
    for p in ("rustworkx", "networkx"):
        if p in res and "build_s" in res[p]:
            r = res[p]
            per_edge = (r["rss_loaded_mib"] - r["rss_before_load_mib"]) * 2**20 / max(1, r["edges"])
            print(f"{p} load: read edges {r['read_s']:.1f} s + build {r['build_s']:.1f} s; RSS "
                  f"{r['rss_loaded_mib']:,.0f} MiB once loaded ({per_edge:.0f} B/edge over the "
                  f"process before loading), {r['rss_load_peak_mib']:,.0f} MiB peak while loading")
    print(f"disk: serving.duckdb {st['file_bytes'] / 2**20:,.0f} MiB = {st['bytes_per_edge']:.0f} B "
          f"per edge; genealogy tables {st['genealogy_share']:.0%} of its blocks "
          f"({st['genealogy_bytes'] / 2**20:,.0f} MiB, {st['genealogy_bytes_per_edge']:.0f} B/edge); "
          f"the lake folder holds 2 copies (lake.duckdb + serving.duckdb)")
    truth = tl.get("truth", [])
    if truth:
        bad = [t for t in truth if not t["ok"]]
        print(f"known facts: {len(truth) - len(bad)}/{len(truth)} agree"
              + ("" if not bad else "; DISAGREE: " + "; ".join(
                  f"{t['what']}: want {t['want']}, got {t.get('got_finished', t.get('got'))} "
                  f"(missing {t['missing']}, extra {t['extra']})" for t in bad)))
        extra = [t for t in truth if t.get("other_top_units")]
        for t in extra:
            print(f"    note: {t['what']} also reaches {t['other_top_units']} top-level units "
                  "that are not finished devices (scrapped PCBAs, a quarantined module)")
    for q, mism in info["crosscheck"].items():
        for peer, bad in mism.items():
            for b in bad[:3]:
                print(f"    {q} {peer} differs at start {b['start']}: {json.dumps(b)}")
    for p, r in res.items():
        if "error" in r:
            print(f"peer {p} failed: {r['error']}")


def _shown_pairs(all_info: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    pairs = [("S", "M"), ("adv", "adv-M"), ("M", "L")]
    return [(a, b) for a, b in pairs if a in all_info and b in all_info
            and not (all_info[a].get("from_earlier_run") and all_info[b].get("from_earlier_run"))]


def scaling(all_info: dict[str, dict[str, Any]]) -> None:
    for small, big in _shown_pairs(all_info):
        a, b = all_info[small]["peers"], all_info[big]["peers"]
        print(f"\n=== scaling {big} / {small} (same generator, lots of the same size, so result "
              f"sizes are comparable; target <= {TARGETS['scaling']:g}x)")
        print(f"{'query':<24}{'results ' + small:>12}{'results ' + big:>12}  "
              + "".join(f"{p + ' p50x':>16}{'p95x':>7}" for p in PEERS if p in a and p in b))
        for q in QUERIES:
            qa = a.get("tracelake", {}).get("queries", {}).get(q)
            qb = b.get("tracelake", {}).get("queries", {}).get(q)
            if not qa or not qb:
                continue
            na, nb = _pct(qa["counts"], 50), _pct(qb["counts"], 50)
            row = f"{QNAMES[q]:<24}{int(na):>12,}{int(nb):>12,}  "
            if not na or not nb or max(na, nb) / min(na, nb) > 1.5:
                print(row + "result sizes differ: not comparable")
                continue
            for p in PEERS:
                if p not in a or p not in b:
                    continue
                ra, rb = a[p].get("queries", {}).get(q), b[p].get("queries", {}).get(q)
                if not ra or not rb or not ra["ms"] or not rb["ms"]:
                    row += f"{'-':>16}{'-':>7}"
                    continue
                r50 = _pct(rb["ms"], 50) / _pct(ra["ms"], 50)
                r95 = _pct(rb["ms"], 95) / _pct(ra["ms"], 95)
                row += f"{r50:>15.2f}x{r95:>6.2f}x"
            print(row)


# ------------------------------------------------------------------------------------------


def run_tier(tier: str, args: argparse.Namespace) -> dict[str, Any]:
    import duckdb

    tdir = GWORK / tier
    tdir.mkdir(parents=True, exist_ok=True)
    lib_before = _library_hash()
    plant, facts = ensure_plant(tier, args.seed)
    mode = args.ingest_mode if args.ingest_mode != "auto" else (
        "split" if TIERS[tier][0] >= 1_000_000 else "one-step")
    lake, ingest_info = ensure_lake(tier, plant, tdir, mode)
    starts = pick_starts(lake, facts, args.starts, args.seed)
    _write_json(tdir / "starts.json", starts)
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
            results[p] = _run_child(p, tdir, ["--budget", str(args.budget)])
            continue
        # Q4 answers are large (every suspect result as a dict): its own process, so that its
        # memory does not hide the peak RSS of the trace queries
        results[p] = _run_child(p, tdir, ["--budget", str(args.budget),
                                          "--queries", "Q1,Q2,Q3,Q5"])
        if _q4_function() is not None:
            q4 = _run_child(p, tdir, ["--budget", str(args.budget), "--queries", "Q4"],
                            tag="tracelake-q4")
            if "queries" in q4 and "Q4" in q4["queries"]:
                results[p].setdefault("queries", {})["Q4"] = q4["queries"]["Q4"]
            results[p]["q4_process"] = {k: q4.get(k) for k in ("peak_rss_mib", "error",
                                                                 "first_query_ms")}
    info: dict[str, Any] = {
        "tier": tier, "units": units, "options": TIERS[tier][1], "seed": args.seed,
        "starts_n": args.starts, "storage": storage, "ingest": ingest_info,
        "env": {"duckdb": duckdb.__version__, "cpus": os.cpu_count(),
                "python": platform.python_version(), "machine": platform.machine(),
                "library": _git_describe(), "library_hash": lib_before},
        "peers": results,
    }
    print(f"[{tier}] cold start ...", flush=True)
    info["cold"] = _run_child("cold", tdir)
    if not args.skip_rebuild:
        print(f"[{tier}] full rebuild ...", flush=True)
        info["rebuild"] = _run_child("rebuild", tdir)
    if not args.skip_upkeep:
        print(f"[{tier}] upkeep batch ...", flush=True)
        info["batch"] = build_batch(plant, facts, tdir / "batch", args.upkeep_units)
        info["upkeep"] = _run_child("upkeep", tdir)
    info["crosscheck"] = {q: cross_check(results, q) for q in QUERIES}
    info["library_changed_during_run"] = _library_hash() != lib_before
    # keep the JSON light: sets are only needed for the cross-check
    for r in results.values():
        for qr in r.get("queries", {}).values():
            qr.pop("sets", None)
    _write_json(tdir.parent / f"results-{tier}.json", info)
    report(tier, info)
    if args.drop_lake:
        shutil.rmtree(tdir / "lake", ignore_errors=True)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--plant", help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
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
    _write_json(WORK / "genealogy-results.json",
                {t: i for t, i in all_info.items() if not i.get("from_earlier_run")})


if __name__ == "__main__":
    main()
