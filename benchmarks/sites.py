"""Sites benchmark: three writers at once against one writer (DuckLake), and the cost of a small run.

    uv run python benchmarks/sites.py [--units 100000] [--seed 1] [--big 100000] [--s3]

Starts its own PostgreSQL (the catalog) on 127.0.0.1 (tests/scaleout/servers.py), data in a local
folder (``--s3``: moto's S3 server instead; that measures moto more than S3). Each measurement
runs in its own child process.

* sites: the plant's CSV files split by site (rows of a job go to the job's site, rows naming a
  serial follow its unit's job, the rest split in thirds). ``one writer`` ingests the three
  site folders in one run; ``three writers`` are three processes ingesting one site folder each,
  at once, into another lake. Both lakes must then hold exactly the same rows (per table: count
  and a hash of every contract column and ``_extra``). Writers skip the derived indexes
  (measured below), so this is the lake's own write path.
* small run: a lake holding 99 % of a ``--big``-unit plant; the run adds the last 1 % of every
  file. Embedded: ingest + genealogy/search upkeep + the full copy to serving.duckdb. DuckLake:
  ingest (commit to the catalog + Parquet) + this machine's derived indexes brought up to date
  and published (a copy of the derived file only, never of the lake's tables).

Results: ``benchmarks/.work/sites-results.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import harness

WORK = harness.WORK
sys.path.insert(0, str(harness.ROOT))  # tests/scaleout/servers.py starts the servers
SITES = ("north", "south", "east")


# ------------------------------------------------------------------------------------------
# splitting a plant


def split_by_site(plant: Path, out: Path) -> dict[str, Path]:
    """The plant's CSV files split into one folder per site (see the module docstring)."""
    import polars as pl

    folders = {s: out / s for s in SITES}
    if (out / ".complete").exists():
        return folders
    shutil.rmtree(out, ignore_errors=True)
    for folder in folders.values():
        folder.mkdir(parents=True)
    units = pl.read_csv(plant / "units.csv", infer_schema=False)
    job_site = {}
    for job in units["job_id"].unique().sort().to_list():
        job_site[job] = SITES[zlib.crc32(str(job).encode()) % 3]
    serial_site = dict(zip(units["serial_number"].to_list(),
                           [job_site[j] for j in units["job_id"].to_list()], strict=True))
    for f in sorted(plant.glob("*.csv")):
        frame = pl.read_csv(f, infer_schema=False)
        if "job_id" in frame.columns:
            site = [job_site.get(j) or SITES[zlib.crc32(str(j).encode()) % 3]
                    for j in frame["job_id"].to_list()]
        elif "serial_number" in frame.columns:
            site = [serial_site.get(s) or SITES[0] for s in frame["serial_number"].to_list()]
        else:
            third = max(1, -(-frame.height // 3))
            site = [SITES[min(i // third, 2)] for i in range(frame.height)]
        frame = frame.with_columns(pl.Series("_site_", site))
        for s, folder in folders.items():
            frame.filter(pl.col("_site_") == s).drop("_site_").write_csv(folder / f.name)
    (out / ".complete").write_text("ok")
    return folders


def split_tail(plant: Path, out: Path, share: float = 0.01) -> tuple[Path, Path]:
    """The plant's CSV files as ``base`` (the first 99 % of each file's rows) and ``run`` (the
    last 1 %)."""
    import polars as pl

    base, run = out / "base", out / "run"
    if (out / ".complete").exists():
        return base, run
    shutil.rmtree(out, ignore_errors=True)
    base.mkdir(parents=True)
    run.mkdir(parents=True)
    for f in sorted(plant.glob("*.csv")):
        frame = pl.read_csv(f, infer_schema=False)
        cut = frame.height - max(1, int(frame.height * share)) if frame.height > 1 else frame.height
        frame.head(cut).write_csv(base / f.name)
        frame.tail(frame.height - cut).write_csv(run / f.name)
    (out / ".complete").write_text("ok")
    return base, run


# ------------------------------------------------------------------------------------------
# children


def child(kind: str, lake: Path, paths: list[Path], site: str | None) -> dict[str, Any]:
    """In the child: one ingest run; rows, seconds, commit conflicts (each retried), peak RSS."""
    from tracelake.ingest import ingest
    from tracelake.lake.paths import LakePaths

    t = time.perf_counter()
    if kind == "writer":  # the lake's write path only
        r = ingest(paths, LakePaths.of(lake), publish=False, genealogy=False, search=False,
                   site=site)
    else:  # a whole run: indexes kept and readers' copy published (both modes)
        r = ingest(paths, LakePaths.of(lake), site=site)
    seconds = time.perf_counter() - t
    return {"rows": r.totals["rows_loaded"], "quarantined": r.totals["rows_quarantined"],
            "seconds": seconds, "conflicts": r.conflicts, "files_reused": r.files_reused,
            "run_id": r.run_id,
            "phases": r.seconds,
            "peak_rss_mib": harness.rss_mib()}


def run(kind: str, lake: Path, paths: list[Path], tag: str, site: str | None = None
        ) -> dict[str, Any]:
    extra = ["--lake", str(lake), "--paths", json.dumps([str(p) for p in paths])]
    if site:
        extra += ["--site", site]
    res = harness.run_child(__file__, kind, WORK, extra, tag=tag)
    if "error" in res:
        raise SystemExit(f"{tag} failed: {res['error']}")
    return res


# ------------------------------------------------------------------------------------------
# what a lake holds


def digest(lake: Path) -> dict[str, tuple[int, int]]:
    """Per canonical table: rows, and a hash of every contract column and _extra (lineage and
    site left out: they name the run and file, which differ by design)."""
    from tracelake.contracts import CONTRACTS
    from tracelake.lake.paths import LakePaths
    from tracelake.lake.storage import connect_writer

    out = {}
    with connect_writer(LakePaths.of(lake)) as con:
        for name, contract in CONTRACTS.items():
            cols = ", ".join(f'"{c}"' for c in [*contract.dtypes, "_extra"])
            n, h = con.execute(f"SELECT count(*), coalesce(sum(hash(row({cols}))), 0) "
                               f'FROM main."{name}"').fetchone()  # type: ignore[misc]
            out[name] = (int(n), int(h))
    return out


def configure(servers: Any, lake: Path, name: str, s3: bool) -> None:
    from tracelake.lake.config import LakeConfig, write_config

    shutil.rmtree(lake, ignore_errors=True)
    if s3:
        servers.configure(lake, name=name)
        return
    data = WORK / "sites-data" / name
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    write_config(lake, LakeConfig(catalog=servers.postgres.url, data=str(data),
                                  metadata_schema=name))


def folder_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


# ------------------------------------------------------------------------------------------


def main() -> None:
    parser = harness.parser(__doc__, child_args=("child", "dir", "tag", "plant", "lake",
                                                 "paths", "site"))
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=100_000,
                        help="units of the large lake a 1 %% run is added to")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--s3", action="store_true", help="data on moto's S3, not a folder")
    parser.add_argument("--skip", default="", help="'sites' or 'small' to leave one part out")
    parser.add_argument("--modes", default="embedded,ducklake",
                        help="the small run's modes (e.g. 'ducklake' alone: the 1M embedded "
                             "build takes half an hour)")
    args = parser.parse_args()
    if args.child:
        harness.child_done(Path(args.dir), args.tag, child(
            args.child, Path(args.lake), [Path(p) for p in json.loads(args.paths)], args.site))
        return

    import os

    from tests.scaleout.servers import Servers, make_bucket, start_moto, start_postgres, stop_servers

    postgres = start_postgres()
    s3 = start_moto()
    servers = Servers(postgres, s3)
    make_bucket(s3, servers.bucket)
    os.environ.update({k: v for k, v in s3.env.items() if k != "AWS_ENDPOINT_URL"})
    results: dict[str, Any] = {"environment": harness.environment(), "units": args.units,
                               "big": args.big, "data": "s3 (moto)" if args.s3 else "folder"}
    try:
        if args.skip != "sites":
            results["sites"] = sites_part(args, servers)
        if args.skip != "small":
            results["small_run"] = small_part(args, servers)
    finally:
        stop_servers(servers)
    harness.write_json(WORK / "sites-results.json", results)


def sites_part(args: Any, servers: Any) -> dict[str, Any]:
    plant = harness.plant_dir(args.units, args.seed)
    harness.ensure_plant(plant, args.units, args.seed)
    folders = split_by_site(plant, WORK / f"sites-{args.units}-{args.seed}")
    one, three = WORK / "lake-sites-one", WORK / "lake-sites-three"
    configure(servers, one, f"sites_one_{args.units}", args.s3)
    configure(servers, three, f"sites_three_{args.units}", args.s3)
    for lake in (one, three):  # the lake's tables created before the clocks start
        from tracelake.lake.paths import LakePaths
        from tracelake.lake.storage import connect_writer

        with connect_writer(LakePaths.of(lake)):
            pass
    single = run("writer", one, list(folders.values()), "sites-one")
    t = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        writers = list(pool.map(lambda s: run("writer", three, [folders[s]], f"sites-{s}", s),
                                SITES))
    wall = time.perf_counter() - t
    same = digest(one) == digest(three)
    rows = sum(w["rows"] for w in writers)
    def read_s(w: dict[str, Any]) -> float:  # reading and checking, every attempt's
        return w["phases"].get("read", 0.0) + w["phases"].get("check", 0.0)

    table = [("one writer, all sites", single["rows"], single["wall"],
              single["rows"] / single["wall"], single["conflicts"], single["files_reused"],
              read_s(single), 1.0)]
    table += [(f"  writer {s} (at once)", w["rows"], w["wall"], w["rows"] / w["wall"],
               w["conflicts"], w["files_reused"], read_s(w), None)
              for s, w in zip(SITES, writers, strict=True)]
    table.append(("three writers at once", rows, wall, rows / wall,
                  sum(w["conflicts"] for w in writers), sum(w["files_reused"] for w in writers),
                  sum(read_s(w) for w in writers), harness.ratio(wall, single["wall"])))
    print(f"\n{args.units:,}-unit plant split by site; DuckLake on PostgreSQL, data "
          f"{'on S3 (moto)' if args.s3 else 'in a folder'}\n")
    harness.print_table(["run", "rows", "seconds", "rows/s", "conflicts retried",
                         "files reused", "read+check s", "x one writer"],
                        table, ["", ",", ".1f", ",.0f", "", "", ".1f", ".2f"])
    print(f"\nsame rows in both lakes (count and hash of every column, per table): {same}")
    if not same:
        raise SystemExit("the lakes differ: a row was lost or doubled")
    return {"one": single, "writers": dict(zip(SITES, writers, strict=True)), "wall": wall,
            "same_rows": same}


def small_part(args: Any, servers: Any) -> dict[str, Any]:
    plant = harness.plant_dir(args.big, args.seed)
    harness.ensure_plant(plant, args.big, args.seed)
    base, inc = split_tail(plant, WORK / f"tail-{args.big}-{args.seed}")
    emb, dl = WORK / "lake-small-embedded", WORK / "lake-small-ducklake"
    shutil.rmtree(emb, ignore_errors=True)
    configure(servers, dl, f"small_{args.big}", args.s3)
    out: dict[str, Any] = {}
    for name, lake in (("embedded", emb), ("ducklake", dl)):
        if name not in args.modes.split(","):
            continue
        built = run("whole", lake, [base], f"small-{name}-base")
        added = run("whole", lake, [inc], f"small-{name}-run")
        out[name] = {"base": built, "run": added,
                     "local_mib": folder_mib(lake),
                     "data_mib": folder_mib(WORK / "sites-data" / f"small_{args.big}")
                     if name == "ducklake" and not args.s3 else None}
    if len(out) < 2:  # one mode: its own numbers, no comparison
        for n, r in out.items():
            print(f"\n{n}: build {r['base']['wall']:.1f} s ({r['base']['rows']:,} rows), 1 % run "
                  f"{r['run']['wall']:.1f} s ({r['run']['rows']:,} rows), phases "
                  f"{r['run'].get('phases')}")
        return out
    e, d = out["embedded"], out["ducklake"]
    print(f"\na run adding 1 % to a {args.big:,}-unit lake ({e['base']['rows']:,} rows): "
          "ingest, indexes kept, readers' copy published\n")
    harness.print_table(
        ["mode", "lake rows", "build s", "1 % rows", "1 % run s", "x embedded", "local MiB"],
        [(n, r["base"]["rows"], r["base"]["wall"], r["run"]["rows"], r["run"]["wall"],
          harness.ratio(r["run"]["wall"], e["run"]["wall"]), r["local_mib"])
         for n, r in (("embedded (+ full copy)", e), ("ducklake (+ derived copy)", d))],
        ["", ",", ".1f", ",", ".1f", ".2f", ",.0f"])
    if d["data_mib"] is not None:
        print(f"\nDuckLake data folder: {d['data_mib']:,.0f} MiB of Parquet (catalog in "
              "PostgreSQL); local MiB: lake.duckdb + serving.duckdb (embedded), derived + "
              "serving (DuckLake)")
    return out


if __name__ == "__main__":
    main()
