"""Ingest floor: what the parts of a first ingest cost on their own, beside the raw DuckDB load.

    uv run python benchmarks/ingest_floor.py [--units 100000] [--seed 1]

Each step runs in its own child process on the same plant (``ingest.py``'s), in CPU seconds
(user + system of every thread: steadier than wall seconds on a shared machine) and wall:

* baseline      DuckDB ``read_csv`` of every file (all text) into a database file (ingest.py's)
* duckdb-typed  the same, then each column cast by DuckDB (``TRY_CAST``) into the lake's tables
                with the lineage columns: the load as DuckDB alone would type it (no checks)
* read          tracelake's reader alone: every file hashed (sha256) and parsed to text columns
* read+type     and each chunk typed by tracelake (``coerce_frame``: the contract's forms)
* read+type+insert  and each typed chunk written into the lake's table with its lineage
                (what a first load cannot do without: no checks, no ledger, no indexes)
* load          ``ingest`` without the genealogy and search upkeep and without publishing
* genealogy     the genealogy index built on that lake (one transaction, committed)
* search        the search index built on that lake (one transaction, committed)
* tracelake     the whole ``ingest`` (as ingest.py measures it)

The floor of a first ingest is read+type+insert plus the index builds; what ``load`` costs above
read+type+insert is the checks, staging of failures, the ledger and the orphan list.
Results: ``benchmarks/.work/ingest-floor.json``.
"""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

import harness

WORK = harness.WORK


def _files(plant: Path) -> list[tuple[Path, str]]:
    from tracelake.intake.mapping import Mapping

    mapping = Mapping()
    return [(f, mapping.source_for(f).table or "") for f in sorted(plant.glob("*.csv"))]


def _chunks(path: Path, table: str):  # type: ignore[no-untyped-def]
    """The file read by tracelake's reader, chunk by chunk (as the ingest cuts it)."""
    from tracelake.ingest.run import chunk_rows, sha256_of
    from tracelake.intake.readers import read_source

    sha256_of(path)
    raw = read_source(path, table=table, stream=True)
    try:
        size = chunk_rows()
        for start in range(0, raw.frame.height, size):
            yield raw.frame.slice(start, size)
    finally:
        raw.close()


def _typed(path: Path, table: str):  # type: ignore[no-untyped-def]
    from tracelake.contracts import CONTRACTS
    from tracelake.intake.coerce import coerce_frame

    for chunk in _chunks(path, table):
        yield coerce_frame(chunk, CONTRACTS[table]).frame


def _lake(lake: Path):  # type: ignore[no-untyped-def]
    from tracelake.lake.storage import LakePaths, connect_writer

    return connect_writer(LakePaths.of(lake))


def _lineage(path: Path) -> dict[str, str]:
    """The lineage columns' values (constants of the file), as SQL."""
    return {"_source_file": f"'{path}'", "_sha256": "'sha'", "_run_id": "'run'",
            "_loaded_at": "now()", "_site": "'main'"}


def child(kind: str, lake: Path, plant: Path) -> dict[str, object]:
    """In the child: one step on the plant; rows, seconds, CPU seconds, peak RSS."""
    t = time.perf_counter()
    rows = 0
    if kind == "baseline":
        import duckdb

        con = duckdb.connect(str(lake / "raw.duckdb"))
        for i, f in enumerate(sorted(plant.glob("*.csv"))):
            con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv('{f}', all_varchar=true)")
            rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]  # type: ignore[index]
        con.close()
    elif kind == "duckdb-typed":
        from tracelake.contracts import CONTRACTS
        from tracelake.lake.storage import duckdb_type

        with _lake(lake) as con:
            con.execute("BEGIN")
            for f, table in _files(plant):
                contract = CONTRACTS[table]
                have = con.sql(f"SELECT * FROM read_csv('{f}', all_varchar=true) LIMIT 0"
                               ).columns
                cols = [c for c in contract.dtypes if c in have]
                casts = ", ".join(f'TRY_CAST("{c}" AS {duckdb_type(contract.dtypes[c])})'
                                  for c in cols)
                names = ", ".join(f'"{c}"' for c in cols)
                con.execute(f"""INSERT INTO main."{table}" ({names}, _row, _source_file,
                                    _sha256, _run_id, _loaded_at, _site)
                                SELECT {casts}, row_number() OVER () + 1,
                                       {", ".join(_lineage(f).values())}
                                FROM read_csv('{f}', all_varchar=true)""")
                rows += con.execute(f'SELECT count(*) FROM main."{table}"').fetchone()[0]  # type: ignore[index]
            con.execute("COMMIT")
    elif kind in ("read", "read+type"):
        for f, table in _files(plant):
            for chunk in (_chunks(f, table) if kind == "read" else _typed(f, table)):
                rows += chunk.height
    elif kind == "read+type+insert":
        import polars as pl

        with _lake(lake) as con:
            con.execute("BEGIN")
            for f, table in _files(plant):
                names = [r[0] for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' "
                    "AND table_name = ? AND database_name = current_database() "
                    "ORDER BY column_index", [table]).fetchall()]
                lineage = _lineage(f)
                project = ", ".join(lineage.get(n, f'"{n}"') + f' AS "{n}"' for n in names)
                for typed in _typed(f, table):
                    part = typed.select([c for c in names if c in typed.columns])
                    con.from_arrow(part.to_arrow(compat_level=pl.CompatLevel.newest())
                                   ).project(project).insert_into(f'main."{table}"')
                    rows += typed.height
            con.execute("COMMIT")
    elif kind in ("load", "tracelake"):
        from tracelake.ingest import ingest

        full = kind == "tracelake"
        r = ingest([plant], lake, genealogy=full, search=full, publish=full)
        rows = r.totals["rows_loaded"]
    elif kind in ("genealogy", "search"):
        from tracelake.derived.genealogy import build_index
        from tracelake.derived.search.index import build_search_index

        with _lake(lake) as con:
            con.execute("BEGIN")
            stats = build_index(con) if kind == "genealogy" else build_search_index(con)
            con.execute("COMMIT")
        rows = int(getattr(stats, "edges", 0) or getattr(stats, "entries", 0))
    use = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the child (DuckDB's too)
    return {"rows": rows, "seconds": time.perf_counter() - t, "peak_rss_mib": harness.rss_mib(),
            "cpu_seconds": use.ru_utime + use.ru_stime}


KINDS = ("baseline", "duckdb-typed", "read", "read+type", "read+type+insert", "load",
         "genealogy", "search", "tracelake")


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
    harness.ensure_plant(plant, args.units, args.seed)
    results: dict[str, dict] = {}
    for kind in KINDS:
        lake = WORK / f"floor-{kind.replace('+', '-')}"
        shutil.rmtree(lake, ignore_errors=True)
        if kind in ("genealogy", "search"):  # on a copy of the lake ``load`` left
            shutil.copytree(WORK / "floor-load", lake)
        lake.mkdir(parents=True, exist_ok=True)
        res = harness.run_child(__file__, kind, WORK, ["--plant", str(plant), "--lake",
                                                       str(lake)], tag=f"floor-{kind}")
        if "error" in res:
            raise SystemExit(f"{kind} failed: {res['error']}")
        results[kind] = res
        if kind not in ("load",):
            shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(WORK / "floor-load", ignore_errors=True)
    base = results["baseline"]
    print(f"\n{args.units:,} finished units: the parts of a first ingest, each on its own\n")
    harness.print_table(
        ["step", "rows", "seconds", "x baseline", "CPU s", "CPU x baseline", "peak RSS MiB"],
        [(k, r["rows"], r["seconds"], harness.ratio(r["seconds"], base["seconds"]),
          r["cpu_seconds"], harness.ratio(r["cpu_seconds"], base["cpu_seconds"]),
          r["peak_rss_mib"]) for k, r in results.items()],
        ["", ",", ".2f", ".2f", ".2f", ".2f", ",.0f"])
    floor = sum(results[k]["cpu_seconds"] for k in ("read+type+insert", "genealogy", "search"))
    print(f"\nfloor (read+type+insert + genealogy + search, CPU, imports counted thrice): "
          f"{floor:.2f} s = {floor / base['cpu_seconds']:.2f}x baseline; tracelake "
          f"{results['tracelake']['cpu_seconds'] / base['cpu_seconds']:.2f}x")
    harness.write_json(WORK / "ingest-floor.json", results)


if __name__ == "__main__":
    main()
