"""``find``: every kind of hit on the sample plant and on small hand-made lakes, GS1 labels, typos,
NCR words, the CLI's JSON, and the index kept current by ingest and by Dagster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from tests.helpers import JOB_HEADER, SAMPLE, UNIT_HEADER, Lake, job_row, write_csv
from tracelake.cli import FindKind, app
from tracelake.derived.search import KINDS, FindAnswer, find, has_search_index, parse_label
from tracelake.derived.search.query import is_one_edit
from tracelake.errors import InputError, LakeError
from tracelake.lake.snapshot import open_snapshot
from tracelake.lake.storage import LakePaths

PAGES = {"device_history", "batch_record", "recall", "calibration", "ncr", "data_quality"}
MI_HEADER = ["issue_id", "job_id", "component_code", "lot_number", "quantity", "issued_at",
             "issued_by", "supplier", "supplier_lot"]
NCR_HEADER = ["ncr_id", "raised_at", "raised_by", "job_id", "defect_code", "description",
              "disposition"]


def _snapshot(lake: Lake) -> duckdb.DuckDBPyConnection:
    return open_snapshot(lake.paths)


def _hits(answer: FindAnswer, kind: str | None = None) -> list[dict[str, Any]]:
    return [h for h in answer.hits if kind is None or h["kind"] == kind]


def _only(answer: FindAnswer, kind: str) -> dict[str, Any]:
    hits = _hits(answer, kind)
    assert len(hits) == 1, answer.hits
    return hits[0]


# ------------------------------------------------------------------ the sample plant, kind by kind

def test_a_unit_serial_opens_its_device_history(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "SPX200-0004")
    hit = answer.hits[0]
    assert (hit["kind"], hit["id"], hit["record"], hit["match"], hit["score"]) == (
        "serial", "SPX200-0004", "units:SPX200-0004", "exact", 1.0)
    assert hit["link"] == {"page": "device_history", "params": {"serial": "SPX200-0004"}}
    assert "J-1042" in hit["context"] and "shipped" in hit["context"]


def test_a_fitted_part_serial_opens_the_unit_it_went_into(sample: duckdb.DuckDBPyConnection) -> None:
    hit = _only(find(sample, "D2-26-0314"), "serial")
    assert hit["component"] == "LAMP-D2"
    assert hit["record"] == "unit_components:SPX200-0004/D2-26-0314"
    assert "removed from SPX200-0004" in hit["context"]
    assert hit["link"] == {"page": "device_history", "params": {"serial": "SPX200-0004"}}


def test_one_lot_number_on_two_components_gives_two_labelled_lot_hits(
        sample: duckdb.DuckDBPyConnection) -> None:
    hits = _hits(find(sample, "L-4471"), "lot")
    assert {h["component"] for h in hits} == {"CAP-100", "SCR-M3"}
    assert {json.dumps(h["link"], sort_keys=True) for h in hits} == {
        json.dumps({"page": "recall", "params": {"component": c, "lot": "L-4471"}},
                   sort_keys=True) for c in ("CAP-100", "SCR-M3")}
    assert all(h["match"] == "exact" for h in hits)


def test_a_lot_number_that_is_also_a_job_returns_both_labelled(
        sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "J-1038")  # PCB-MAIN sub-assemblies are issued as lot J-1038
    assert {(h["kind"], h.get("component")) for h in answer.hits} == {("lot", "PCB-MAIN"),
                                                                     ("job", None)}
    assert _only(answer, "job")["link"] == {"page": "batch_record", "params": {"job": "J-1038"}}
    assert _only(answer, "lot")["link"]["page"] == "recall"
    assert answer.by_kind == {"lot": 1, "job": 1}
    assert [h["kind"] for h in find(sample, "J-1038", kind="job").hits] == ["job"]


def test_ncr_and_ecn_numbers_open_the_batch_records_they_touch(
        sample: duckdb.DuckDBPyConnection) -> None:
    ncr = _only(find(sample, "NCR-0240"), "ncr")
    assert ncr["link"] == {"page": "batch_record", "params": {"job": "J-1047"}}
    assert "pending" in ncr["context"] and ncr["component"] == "OPT-GRAT"
    ecn = _hits(find(sample, "ECN-014"), "ecn")
    assert sorted(h["link"]["params"]["job"] for h in ecn) == ["J-1042", "J-1047"]
    assert {h["record"] for h in ecn} == {"job_ecns:J-1042/ECN-014", "job_ecns:J-1047/ECN-014"}


def test_equipment_and_certificates_open_calibration(sample: duckdb.DuckDBPyConnection) -> None:
    eq = _only(find(sample, "DMM-04"), "equipment")
    assert eq["link"] == {"page": "calibration", "params": {"equipment": "DMM-04"}}
    cert = _only(find(sample, "CERT-2026-0467"), "certificate")
    assert cert["link"] == {"page": "calibration", "params": {"equipment": "DMM-04"}}
    assert "out of tolerance" in cert["context"]


def test_an_order_gives_a_hit_per_job_it_shipped(sample: duckdb.DuckDBPyConnection) -> None:
    hits = _hits(find(sample, "SO-5530"), "order")  # 2 SPX-200 of J-1042, 2 kits of J-1050
    assert sorted((h["link"]["params"]["job"], h["context"].split(" · ")[1]) for h in hits) == [
        ("J-1042", "2 unit(s) of job J-1042"), ("J-1050", "2 unit(s) of job J-1050")]
    assert all(h["context"].startswith("Kestrel Pharma Ltd") for h in hits)


def test_a_supplier_lot_opens_the_recall_of_our_lot(sample: duckdb.DuckDBPyConnection) -> None:
    hit = _only(find(sample, "FW2609-88213"), "supplier_lot")
    assert hit["link"] == {"page": "recall", "params": {"component": "CAP-100", "lot": "L-4471"}}


def test_a_customer_by_the_start_of_its_name(sample: duckdb.DuckDBPyConnection) -> None:
    hits = _hits(find(sample, "Kestrel"), "customer")
    assert {h["record"] for h in hits} == {"shipments:SO-5530/J-1042", "shipments:SO-5530/J-1050",
                                           "shipments:SO-5537/J-1042"}
    assert {h["match"] for h in hits} == {"prefix"}
    assert all(0.8 <= h["score"] < 1 for h in hits)


# ------------------------------------------------------------------ match types and order

def test_prefix_and_case_insensitive_matches_score_below_exact(
        sample: duckdb.DuckDBPyConnection) -> None:
    prefix = find(sample, "NCR-023")
    assert [(h["id"], h["match"]) for h in prefix.hits] == [("NCR-0231", "prefix"),
                                                             ("NCR-0232", "prefix")]
    lower = find(sample, "spx200-0004")
    assert (lower.hits[0]["id"], lower.hits[0]["match"]) == ("SPX200-0004", "case_insensitive")
    assert 0.6 <= lower.hits[0]["score"] < 0.8 < prefix.hits[0]["score"] < 1.0


def test_exact_ranks_before_prefix_then_case_insensitive(lake: Lake, landing: Path) -> None:
    write_csv(landing / "units.csv", UNIT_HEADER,
              [["A-1", "P", "J-1", "wip"], ["A-10", "P", "J-1", "wip"], ["a-100", "P", "J-1", "wip"]])
    lake.ingest(landing)
    with _snapshot(lake) as con:
        answer = find(con, "A-1")
    assert [(h["id"], h["match"]) for h in answer.hits] == [
        ("A-1", "exact"), ("A-10", "prefix"), ("a-100", "case_insensitive")]
    scores = [h["score"] for h in answer.hits]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3


def test_a_wrong_character_is_forgiven_only_when_nothing_matches(
        sample: duckdb.DuckDBPyConnection) -> None:
    wrong = find(sample, "SPX200-0O04")  # letter O for zero: a look-alike, ranked high
    assert [(h["id"], h["match"], h["score"]) for h in wrong.hits] == [
        ("SPX200-0004", "typo", 0.48)]
    assert all(h["match"] != "typo" for h in find(sample, "SPX200-000").hits)


def test_a_swapped_pair_is_forgiven(sample: duckdb.DuckDBPyConnection) -> None:
    swapped = find(sample, "CERT-2026-0476")  # ...0467 with its last two digits swapped
    assert (swapped.hits[0]["id"], swapped.hits[0]["score"]) == ("CERT-2026-0467", 0.5)
    ids = {h["id"] for h in swapped.hits if h["match"] == "typo"}
    assert all(is_one_edit(i.lower(), "cert-2026-0476") for i in ids)
    # other certificates one wrong digit away rank below the swapped pair
    assert all(h["score"] < 0.5 for h in swapped.hits[1:])
    assert find(sample, "DMM-40").hits[0]["id"] == "DMM-04"


def one_edit_variants(text: str, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789-") -> set[str]:
    """Every string one wrong, missing, extra or swapped character away (brute force)."""
    s = text.lower()
    out = {s[:i] + s[i + 1:] for i in range(len(s))}
    out |= {s[:i] + s[i + 1] + s[i] + s[i + 2:] for i in range(len(s) - 1)}
    for c in alphabet:
        out |= {s[:i] + c + s[i + 1:] for i in range(len(s))}
        out |= {s[:i] + c + s[i:] for i in range(len(s) + 1)}
    return out - {s}


def test_one_edit_helpers_agree_with_each_other() -> None:
    variants = one_edit_variants("ab-1")
    assert {"ab1", "ba-1", "ab-12", "xb-1"} <= variants and "ab-1" not in variants
    for other in ["ab-1", "b-1a", "ab--11", "a"]:
        assert other not in variants and not is_one_edit(other, "ab-1")
    for other in variants:
        assert is_one_edit(other, "ab-1")


# ------------------------------------------------------------------ GS1 labels

def test_a_label_string_from_the_lake_finds_its_serial(sample: duckdb.DuckDBPyConnection) -> None:
    label = sample.execute("SELECT label_data FROM label_checks WHERE serial_number = 'CK5-0003'"
                           ).fetchone()[0]  # type: ignore[index]
    answer = find(sample, label)
    hit = _only(answer, "serial")
    assert (hit["id"], hit["match"], hit["product"]) == ("CK5-0003", "gs1", "CAL-KIT-5")
    assert answer.as_dict()["gs1"]["gtin"] == "05060123450026"


@pytest.mark.parametrize("scan", [
    "0105060123450019" "21SPX200-0002" "\x1d" "11261104",     # as a scanner sends it (GS = FNC1)
    "]d20105060123450019" "21SPX200-0002" "\x1d" "11261104",  # with a symbology identifier
    "0105060123450019" "21SPX200-0002" "<GS>" "11261104",     # typed with a spelled-out GS
    "https://id.gs1.org/01/05060123450019/21/SPX200-0002",   # a GS1 Digital Link
])
def test_raw_element_strings_and_digital_links(sample: duckdb.DuckDBPyConnection,
                                               scan: str) -> None:
    hit = _only(find(sample, scan), "serial")
    assert (hit["id"], hit["match"], hit["link"]["params"]) == (
        "SPX200-0002", "gs1", {"serial": "SPX200-0002"})


def test_a_digital_link_with_a_lot_finds_the_lot(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "https://example.com/01/05060123450019/10/L-8801?17=281106")
    assert [(h["kind"], h["component"], h["match"]) for h in answer.hits] == [
        ("lot", "LAMP-D2", "gs1")]


def test_a_gtin_alone_lists_the_jobs_of_its_product(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "05060123450019")
    assert {h["id"] for h in answer.hits} == {"J-1042", "J-1047"}
    assert {h["product"] for h in answer.hits} == {"SPX-200"}


def test_plain_identifiers_are_not_read_as_labels() -> None:
    for text in ("10L-4471", "21-0007", "J-1038", "SPX200-0001", "05060123450018"):
        assert parse_label(text) is None, text
    label = parse_label("(01)05060123450019(21)SPX200-0001(10)L-1")
    assert label is not None and (label.gtin, label.serial, label.lot) == (
        "05060123450019", "SPX200-0001", "L-1")


# ------------------------------------------------------------------ words

def test_words_of_an_ncr_description(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "scratch on front panel")
    hit = _only(answer, "text")
    assert (hit["id"], hit["record"], hit["match"], hit["source"]) == (
        "NCR-0240", "ncrs:NCR-0240", "full_text", "ncr")
    assert hit["link"] == {"page": "batch_record", "params": {"job": "J-1047"}}
    assert "Scratch on grating" in hit["context"] and 0.1 <= hit["score"] <= 0.3


def test_words_are_stemmed_and_ranked(sample: duckdb.DuckDBPyConnection) -> None:
    noisy = find(sample, "noisy lamps")
    assert {h["id"] for h in noisy.hits} == {"NCR-0231", "NCR-0232"}
    ecn = find(sample, "stainless screws corrosion")
    assert ecn.hits[0]["id"] == "ECN-014" and ecn.hits[0]["source"] == "ecn"


def test_quarantine_reasons_and_quarantined_identifiers(lake: Lake, landing: Path) -> None:
    write_csv(landing / "units.csv", UNIT_HEADER,
              [["A-1", "P", "J-1", "wip"], ["A-2", "P", "J-1", "exploded"]])
    lake.ingest(landing)
    with _snapshot(lake) as con:
        words = find(con, "exploded")
        held = find(con, "A-2")
    hit = _only(words, "text")
    assert hit["source"] == "quarantine" and hit["link"]["page"] == "data_quality"
    assert hit["link"]["params"]["table"] == "units" and hit["link"]["params"]["row"] == 3
    serial = _only(held, "serial")
    assert serial["record"].startswith("quarantine:") and "exploded" in serial["context"]


def test_unknown_text_gives_no_hits_and_a_message(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "zz-no-such-thing-77")
    assert answer.hits == [] and "nothing in the lake matches" in (answer.message or "")
    assert answer.as_dict()["message"] == answer.message


def test_arguments_are_checked(sample: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputError, match="not a kind"):
        find(sample, "J-1042", kind="widget")
    assert len(find(sample, "SPX200", limit=3).hits) == 3
    assert find(sample, "   ").message


def test_every_hit_has_the_contract_keys_and_a_page(sample: duckdb.DuckDBPyConnection) -> None:
    for text in ("J-10", "L-", "SO-55", "CERT", "lamp", "SPX200-0", "ECN"):
        for hit in find(sample, text).hits:
            assert {"kind", "id", "record", "context", "score", "match", "link"} <= set(hit)
            assert hit["kind"] in KINDS and hit["link"]["page"] in PAGES
            assert isinstance(hit["link"]["params"], dict) and hit["link"]["params"]
            assert ":" in hit["record"] and isinstance(hit["score"], float)


def test_the_cli_kinds_are_the_library_kinds() -> None:
    assert tuple(k.value for k in FindKind) == KINDS


# ------------------------------------------------------------------ hand-made lakes and upkeep

def test_a_lot_that_is_also_a_job_on_a_hand_made_lake(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("W-77"), job_row("W-78")])
    write_csv(landing / "material_issues.csv", MI_HEADER, [
        ["MI-1", "W-78", "RES-1", "W-77", 10, "2026-10-20T09:00", "stores", "Acme", "AC-9"],
        ["MI-2", "W-78", "CAP-2", "W-77", 5, "2026-10-20T09:05", "stores", "Bolt", "BO-1"]])
    lake.ingest(landing)
    with _snapshot(lake) as con:
        answer = find(con, "W-77")
        supplier = find(con, "AC-9")
    assert sorted((h["kind"], h.get("component")) for h in answer.hits) == [
        ("job", None), ("lot", "CAP-2"), ("lot", "RES-1")]
    assert _only(supplier, "supplier_lot")["link"]["params"] == {"component": "RES-1",
                                                                 "lot": "W-77"}


def test_the_index_follows_every_ingest(lake: Lake, landing: Path, tmp_path: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    first = lake.ingest(landing)
    assert first.search is not None and first.search["entries"] == 1
    with _snapshot(lake) as con:
        assert find(con, "J-2").hits == [] and find(con, "cracked").hits == []
    more = tmp_path / "more"
    write_csv(more / "jobs_2.csv", JOB_HEADER, [job_row("J-2")])
    write_csv(more / "ncrs.csv", NCR_HEADER,
              [["N-9", "2026-10-21T10:00", "qa", "J-2", "CRACK", "Cracked housing at final", "scrap"]])
    second = lake.ingest(more)
    assert second.search is not None and second.published
    with _snapshot(lake) as con:
        assert _only(find(con, "J-2"), "job")["record"] == "jobs:J-2"
        assert _only(find(con, "cracked housings"), "text")["id"] == "N-9"
        assert _only(find(con, "J-1"), "job")["match"] == "exact"  # the first run's rows stay
    again = lake.ingest(more)  # nothing new: the index is not rebuilt
    assert again.search is None


def test_a_lake_without_a_search_index_says_how_to_get_one(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    lake.ingest(landing, search=False)
    with _snapshot(lake) as con:
        assert not has_search_index(con)
        with pytest.raises(LakeError, match="no search index"):
            find(con, "J-1")
    lake.ingest(landing)  # a run with nothing new still builds (and publishes) a missing index
    with _snapshot(lake) as con:
        assert _only(find(con, "J-1"), "job")


# ------------------------------------------------------------------ command line and Dagster

def test_cli_find_json_is_the_contract_document(tmp_path: Path) -> None:
    runner = CliRunner()
    lake = str(tmp_path / "lake")
    assert runner.invoke(app, ["ingest", str(SAMPLE), "--exclude", "bad/*", "--lake", lake]
                         ).exit_code == 0
    result = runner.invoke(app, ["find", "J-1038", "--lake", lake, "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["query"] == "J-1038" and set(doc) >= {"query", "hits"}
    assert [(h["kind"], h["id"]) for h in doc["hits"]] == [("lot", "J-1038"), ("job", "J-1038")]
    for hit in doc["hits"]:
        assert set(hit) >= {"kind", "id", "record", "context", "score", "link"}
    only = runner.invoke(app, ["find", "J-1038", "--kind", "job", "--lake", lake, "--format", "csv"])
    assert only.exit_code == 0 and only.stdout.splitlines()[1].startswith("job,J-1038,")
    none = runner.invoke(app, ["find", "qq-nothing", "--lake", lake, "--format", "json"])
    assert none.exit_code == 0 and json.loads(none.stdout)["hits"] == []
    assert "nothing in the lake matches" in none.stderr
    assert runner.invoke(app, ["find", "x", "--kind", "widget", "--lake", lake]).exit_code == 2


def test_the_dagster_search_index_asset_keeps_the_snapshot_searchable(tmp_path: Path) -> None:
    import dagster as dg
    from tracelake_pipelines.assets import genealogy_index, lake_snapshot, search_index, table_assets
    from tracelake_pipelines.resources import TracelakeResource

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    shutil.copytree(SAMPLE, landing, ignore=shutil.ignore_patterns("bad"))
    resource = TracelakeResource(landing=str(landing), lake=str(lake))
    assets = [*table_assets, genealogy_index, search_index, lake_snapshot]

    def materialize() -> dict[str, Any]:
        result = dg.materialize(assets, resources={"tracelake": resource})
        assert result.success
        event = next(e for e in result.get_asset_materialization_events()
                     if e.asset_key.to_user_string() == "search_index")
        return {k: v.value for k, v in event.materialization.metadata.items()}

    first = materialize()
    assert first["mode"] == "full" and first["entries"] > 100
    with open_snapshot(LakePaths.of(lake)) as con:
        assert _only(find(con, "NCR-0240"), "ncr")
        assert find(con, "W-900").hits == []
    write_csv(landing / "jobs_late.csv", JOB_HEADER, [job_row("W-900")])
    second = materialize()
    # the run since: kept up with its rows, not rebuilt
    assert second["mode"] == "incremental" and second["entries"] == first["entries"] + 1
    with open_snapshot(LakePaths.of(lake)) as con:
        assert _only(find(con, "W-900"), "job")["link"]["params"] == {"job": "W-900"}
    alone = dg.materialize([search_index], resources={"tracelake": resource})
    mode = next(e for e in alone.get_asset_materialization_events()
                ).materialization.metadata["mode"].value
    assert mode == "current"  # no ingest run since the last build


def test_find_inside_the_transaction_that_built_the_index(lake: Lake, landing: Path) -> None:
    # uncommitted rows have transaction-local rowids: the lookups by rowid must notice and
    # fall back to eid, or typo hits would silently vanish
    from tracelake.derived.search import build_search_index
    from tracelake.lake.storage import connect_writer

    write_csv(landing / "units.csv", UNIT_HEADER,
              [["SN-1001", "P", "J-1", "wip"], ["SN-2002", "P", "J-1", "wip"]])
    lake.ingest(landing, search=False)
    with connect_writer(lake.paths) as con:
        con.execute("BEGIN TRANSACTION")
        build_search_index(con)
        assert [h["id"] for h in find(con, "SN-1010").hits] == ["SN-1001"]  # swapped pair
        assert _only(find(con, "SN-2002"), "serial")["match"] == "exact"
        con.execute("ROLLBACK")


def test_a_plain_connection_loads_the_extension_or_says_why_it_cannot(lake: Lake,
                                                                      landing: Path) -> None:
    write_csv(landing / "ncrs.csv", NCR_HEADER,
              [["N-1", "2026-10-21T10:00", "qa", "J-1", "CRACK", "Cracked housing", "scrap"]])
    lake.ingest(landing)
    con = duckdb.connect(str(lake.paths.serving), read_only=True)
    try:
        assert _only(find(con, "cracked"), "text")["id"] == "N-1"
    finally:
        con.close()
    con = duckdb.connect(str(lake.paths.serving), read_only=True)
    con.execute("SET enable_external_access = false")
    try:
        assert _only(find(con, "N-1", kind="ncr"), "ncr")  # identifiers need no extension
        with pytest.raises(LakeError, match="open_snapshot"):
            find(con, "cracked")
    finally:
        con.close()


def test_typo_hits_are_exactly_the_ids_one_edit_away(lake: Lake, landing: Path) -> None:
    # the index keeps a candidate only where the deletion positions say "one edit": check it
    # against brute force for every kind of edit, with repeated letters (deletions that agree)
    import random

    rng = random.Random(7)
    serials = sorted({"".join(rng.choice("AB1-") for _ in range(rng.randint(5, 7)))
                      for _ in range(300)})
    write_csv(landing / "units.csv", UNIT_HEADER, [[s, "P", "J-1", "wip"] for s in serials])
    lake.ingest(landing)
    lowered = [s.lower() for s in serials]
    checked = 0
    with _snapshot(lake) as con:
        for _ in range(200):
            s = rng.choice(serials)
            i = rng.randrange(len(s) - 1)
            edit = rng.choice(["wrong", "swap", "extra", "missing"])
            text = {"wrong": s[:i] + "Z" + s[i + 1:], "swap": s[:i] + s[i + 1] + s[i] + s[i + 2:],
                    "extra": s[:i] + "Z" + s[i:], "missing": s[:i] + s[i + 1:]}[edit]
            if any(k.startswith(text.lower()) for k in lowered):
                continue  # an exact or prefix match: no typo search
            expected = {k for k in serials if is_one_edit(k.lower(), text.lower())}
            if len(expected) > 10:  # at most 10 typo hits
                continue
            got = find(con, text)
            assert {h["id"] for h in got.hits if h["match"] == "typo"} == expected, (text, edit)
            checked += 1
    assert checked > 100


def test_the_index_is_stored_in_key_order(sample: duckdb.DuckDBPyConnection) -> None:
    # prefix lookups read a range of eids and stop at the limit: they need eid = rank of
    # lower(id), and rowid = eid (rows are fetched by rowid)
    rows = sample.execute("SELECT rowid, eid, lower(id) FROM search.entries").fetchall()
    assert [r[0] for r in rows] == [r[1] for r in rows] == list(range(len(rows)))
    keys = [r[2] for r in rows]
    assert keys == sorted(keys) and len(keys) > 100
    fence = sample.execute("SELECT eid, k FROM search.fence ORDER BY eid").fetchall()
    assert fence and all(keys[e] == k for e, k in fence)


# ------------------------------------------------------------------ near misses a user types

def test_one_word_of_a_customer_name_mistyped(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "Kestrel Pharna Ltd")
    assert answer.hits and {h["id"] for h in answer.hits} == {"Kestrel Pharma Ltd"}
    assert {(h["kind"], h["match"]) for h in answer.hits} == {("customer", "word_typo")}
    assert find(sample, "Kestrel Pharna Ltx").hits == []  # two words wrong is no match


def test_an_identifier_with_its_separators_changed(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "spx200 0004")
    assert [(h["id"], h["match"]) for h in answer.hits if h["kind"] == "serial"] == [
        ("SPX200-0004", "separator")]
    answer = find(sample, "J1042")  # the separator left out (one edit: a typo hit)
    assert "J-1042" in {h["id"] for h in answer.hits}
    answer = find(sample, "spx 200 0004")  # two separators changed: no typo, still found
    assert [h["id"] for h in answer.hits if h["kind"] == "serial"] == ["SPX200-0004"]


def test_a_mistyped_word_of_ncr_text(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "scrach")
    assert [h["id"] for h in answer.hits] == ["NCR-0240"]
    assert answer.hits[0]["match"] == "full_text_typo"
    assert answer.hits[0]["score"] < find(sample, "scratch").hits[0]["score"]


def test_a_component_code_with_its_separator_left_out(sample: duckdb.DuckDBPyConnection) -> None:
    answer = find(sample, "CAP100")
    assert {h["id"] for h in answer.hits if h["kind"] == "lot"} == {"L-4471", "L-4502"}
    assert {h["match"] for h in answer.hits} == {"separator"}
    assert {h["id"] for h in find(sample, "CAP100", kind="lot").hits} == {"L-4471", "L-4502"}
