"""One asset per canonical table, each ingesting its files from the landing folder, with a
contract check; then the snapshot readers use. Every asset is a thin call into the library."""


from pathlib import Path

import dagster as dg

from tracelake.contracts import CONTRACTS
from tracelake.derived.genealogy import rebuild_lake_index
from tracelake.derived.search import rebuild_lake_search_index
from tracelake.ingest import IngestReport, ingest
from tracelake.ingest.serving import refresh_serving
from tracelake.lake.snapshot import open_snapshot, publish_lake
from tracelake.lake.summary import lake_summary
from tracelake_pipelines.resources import TracelakeResource

__all__ = ["TABLE_KEYS", "genealogy_index", "lake_snapshot", "landing_tables", "search_index",
           "table_assets"]

#: Every asset that writes DuckDB runs in this pool (limit 1: DuckDB has a single writer).
POOL = "duckdb"


def _check_result(table: str, report: IngestReport) -> dg.AssetCheckResult:
    files = [f for f in report.files if f.table == table]
    rejected = [f for f in files if f.status == "rejected"]
    quarantined = sum(f.rows_quarantined for f in files)
    severity = dg.AssetCheckSeverity.ERROR if rejected else dg.AssetCheckSeverity.WARN
    rules: dict[str, int] = {}
    for f in files:
        for rule, n in f.quarantined_by_rule.items():
            rules[rule] = rules.get(rule, 0) + n
    return dg.AssetCheckResult(
        check_name="contract", asset_key=table,
        passed=not rejected and quarantined == 0, severity=severity,
        metadata={
            "rows_quarantined": quarantined,
            "files_rejected": len(rejected),
            # JSON, not Markdown: file names and reasons are shown as they are, never rendered
            "rejected": dg.MetadataValue.json(
                [{"file": Path(f.path).name, "reason": f.reason} for f in rejected]),
            "quarantined_by_rule": dg.MetadataValue.json(rules),
        },
        description=("a file was rejected whole" if rejected else
                     f"{quarantined} row(s) quarantined" if quarantined else "all rows loaded"))


class GenealogyConfig(dg.Config):
    """Run configuration of ``genealogy_index``."""

    full_rebuild: bool = False


class SearchConfig(dg.Config):
    """Run configuration of ``search_index``."""

    full_rebuild: bool = False


def _table_spec(table: str) -> dg.AssetSpec:
    contract = CONTRACTS[table]
    return dg.AssetSpec(table, group_name=contract.family, kinds={"duckdb", "polars"},
                        description=(contract.model.__doc__ or table).strip().splitlines()[0],
                        skippable=True)


@dg.multi_asset(
    name="landing_tables", specs=[_table_spec(t) for t in CONTRACTS], can_subset=True, pool=POOL,
    check_specs=[dg.AssetCheckSpec("contract", asset=t, blocking=True,
                                   description=f"rows of {t} files that break the import contract")
                 for t in CONTRACTS])
def landing_tables(context: dg.AssetExecutionContext, tracelake: TracelakeResource):  # type: ignore[no-untyped-def]
    """Every canonical table the run selects, ingested from the landing folder in ONE ingest run.

    One run, like ``tracelake ingest``: one transaction, one genealogy upkeep, one pass over the
    landing folder. Materialising a few tables (a subset) reads only their files.
    """
    selected = {k.to_user_string() for k in context.selected_asset_keys}
    site = context.run.tags.get("tracelake/site") if tracelake.sites else None
    report = ingest([Path(tracelake.site_landing(site))], tracelake.lake_paths(),
                    mapping=tracelake.load_mapping(), tables=selected,
                    exclude=tracelake.exclude, publish=False, search=False, site=site)
    context.log.info(f"run {report.run_id}: {len(report.files)} file(s) for "
                     f"{len(selected)} table(s)")
    for table in CONTRACTS:
        if table not in selected:
            continue
        files = [f for f in report.files if f.table == table]
        yield dg.MaterializeResult(
            asset_key=table,
            metadata={
                "run_id": report.run_id,
                "files": len(files),
                "files_loaded": sum(f.status == "loaded" for f in files),
                "files_duplicate": sum(f.status == "duplicate" for f in files),
                "rows_read": sum(f.rows_read for f in files),
                "rows_loaded": sum(f.rows_loaded for f in files),
                "rows_quarantined": sum(f.rows_quarantined for f in files),
            })
        yield _check_result(table, report)


#: The table assets (one multi-asset holding a key per canonical table).
table_assets = [landing_tables]
TABLE_KEYS = [dg.AssetKey(t) for t in CONTRACTS]


@dg.asset(group_name="genealogy", kinds={"duckdb"}, pool=POOL,
          deps=TABLE_KEYS,
          check_specs=[dg.AssetCheckSpec("no_cycles", asset="genealogy_index", blocking=True,
                                         description="no unit is (indirectly) inside itself")])
def genealogy_index(context: dg.AssetExecutionContext, tracelake: TracelakeResource,
                    config: GenealogyConfig) -> dg.MaterializeResult:
    """Lots, serials and jobs as integer keys, containment edges and their closure.

    Each table's ingest keeps the index current (incrementally where a run only adds units,
    fitments and issues); this asset builds it where there is none, or fully on request, and
    checks it for cycles.
    """
    if tracelake.lake_paths().scaleout:
        return _machine_genealogy(tracelake)
    stats = rebuild_lake_index(tracelake.lake_paths(), full=config.full_rebuild)
    context.log.info(f"genealogy: {stats.edges} edges, {stats.closure_rows} closure rows "
                     f"in {stats.seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={"mode": stats.mode, "nodes": stats.nodes, "edges": stats.edges,
                  "closure_rows": stats.closure_rows, "seconds": round(stats.seconds, 2),
                  "serials_under_two_parents": stats.multi_parent},
        check_results=[dg.AssetCheckResult(
            check_name="no_cycles", passed=stats.cycles == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"nodes_on_a_cycle": stats.cycles},
            description=("the genealogy has no cycle" if not stats.cycles else
                         f"{stats.cycles} node(s) are inside themselves: see genealogy.cycles"))])


@dg.asset(group_name="search", kinds={"duckdb"}, pool=POOL,
          deps=TABLE_KEYS)
def search_index(context: dg.AssetExecutionContext, tracelake: TracelakeResource,
                 config: SearchConfig) -> dg.MaterializeResult:
    """Every identifier and every NCR, ECN and quarantine text, for ``tracelake find`` and the
    dashboards' search box: rebuilt when an ingest run came after it (or on request)."""
    if tracelake.lake_paths().scaleout:  # this machine's index, from the runs it lacks
        done = refresh_serving(tracelake.lake_paths())
        return dg.MaterializeResult(metadata={"mode": "per machine", "runs_applied": done.runs,
                                              "lake_snapshot": done.snapshot})
    stats = rebuild_lake_search_index(tracelake.lake_paths(), full=config.full_rebuild)
    context.log.info(f"search: {stats.entries} entries, {stats.docs} texts, {stats.mode} "
                     f"in {stats.seconds:.1f} s")
    return dg.MaterializeResult(metadata={"mode": stats.mode, "entries": stats.entries,
                                          "texts": stats.docs,
                                          "seconds": round(stats.seconds, 2)})


@dg.asset(group_name="serving", kinds={"duckdb"}, pool=POOL,
          deps=[genealogy_index, search_index],
          check_specs=[dg.AssetCheckSpec("no_orphan_references", asset="lake_snapshot",
                                         description="rows naming records the lake lacks")])
def lake_snapshot(tracelake: TracelakeResource) -> dg.MaterializeResult:
    """The read-only snapshot dashboards and ``tracelake sql`` read, published atomically."""
    paths = tracelake.lake_paths()
    if paths.scaleout:  # no copy of the lake: this machine's indexes, published for its readers
        refresh_serving(paths, force=True)
    else:
        publish_lake(paths, refresh_orphans=False)  # the ingest run kept the orphan list current
    doc = lake_summary(paths)
    orphans = sum(o["references"] for o in doc["orphan_references"])
    return dg.MaterializeResult(
        metadata={"rows": sum(t["rows"] for t in doc["tables"]),
                  "orphan_references": orphans,
                  "snapshot": dg.MetadataValue.path(str(paths.serving))},
        check_results=[dg.AssetCheckResult(
            check_name="no_orphan_references", passed=orphans == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"by_kind": dg.MetadataValue.json(
                {f"{o['kind']} in {o['table']}": o["references"]
                 for o in doc["orphan_references"]})})])


def _machine_genealogy(tracelake: TracelakeResource) -> dg.MaterializeResult:
    """Scale-out: the genealogy index is this machine's own, brought up to date from the runs it
    has not applied (tracelake.ingest.serving), then counted and checked for cycles."""
    paths = tracelake.lake_paths()
    done = refresh_serving(paths, search=False)
    con = open_snapshot(paths)
    try:
        counts = {t: int(con.execute(f"SELECT count(*) FROM genealogy.{t}").fetchone()[0])  # type: ignore[index]
                  for t in ("nodes", "edges", "closure_by_anc", "cycles", "multi_parent")}
    finally:
        con.close()
    return dg.MaterializeResult(
        metadata={"mode": "per machine", "runs_applied": done.runs,
                  "lake_snapshot": done.snapshot, "nodes": counts["nodes"],
                  "edges": counts["edges"], "closure_rows": counts["closure_by_anc"],
                  "serials_under_two_parents": counts["multi_parent"]},
        check_results=[dg.AssetCheckResult(
            check_name="no_cycles", passed=counts["cycles"] == 0,
            severity=dg.AssetCheckSeverity.ERROR, metadata={"nodes_on_a_cycle": counts["cycles"]},
            description=("the genealogy has no cycle" if not counts["cycles"] else
                         f"{counts['cycles']} node(s) are inside themselves: see genealogy.cycles"))])
