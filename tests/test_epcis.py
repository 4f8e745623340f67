"""EPCIS 2.0 export: GS1's schema, identifiers, the sample story worked out by hand, event hash
IDs, reading the export back into where-used, and the command line."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pytest
from biip import ParseError
from biip.gtin import Gtin
from typer.testing import CliRunner

from tests.epcis_reader import where_used as read_where_used
from tests.helpers import JOB_HEADER, REPO, UNIT_HEADER, Lake, job_row, write_csv
from tracelake.cli import app
from tracelake.derived.genealogy import where_used
from tracelake.exports.epcis import Selection, event_hash, export_epcis
from tracelake.exports.epcis.event_hash import canonical_digital_link, prehash
from tracelake.exports.epcis.identifiers import Identifiers, parse_private, valid_gtin

# GS1's files stay where the project keeps real-world inputs, beside the repository (never copied in)
GS1 = REPO.parent / "shared" / "realworld" / "epcis"
SCHEMA = GS1 / "EPCIS-JSON-Schema.json"
SGTIN = "urn:epc:id:sgtin:506012345.0001."  # SPX-200, GTIN 05060123450019 (GCP 506012345)


def test_gs1_schema_is_where_the_tests_read_it() -> None:
    assert SCHEMA.is_file(), f"GS1's EPCIS schema is missing at {SCHEMA}"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    assert {"uri", "date-time"} <= set(checker.checkers), "jsonschema[format-nongpl] missing"
    return jsonschema.Draft7Validator(schema, format_checker=checker)


def export(con: duckdb.DuckDBPyConnection, selection: Selection | None = None,
           **kw: Any) -> dict[str, Any]:
    buf = io.StringIO()
    export_epcis(con, buf, selection, **kw)
    return json.loads(buf.getvalue())


def events(doc: dict[str, Any], kind: str | None = None, **match: Any) -> list[dict[str, Any]]:
    return [e for e in doc["epcisBody"]["eventList"] if (kind is None or e["type"] == kind)
            and all(e.get(k) == v for k, v in match.items())]


def identifiers_of(doc: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for e in doc["epcisBody"]["eventList"]:
        for key in ("epcList", "inputEPCList", "outputEPCList", "childEPCs"):
            out.update(e.get(key, []))
        if "parentID" in e:
            out.add(e["parentID"])
        for key in ("quantityList", "inputQuantityList", "childQuantityList"):
            out.update(q["epcClass"] for q in e.get(key, []))
    return out


def check_identifier(uri: str) -> None:
    """An SGTIN/LGTIN URN or Digital Link with a valid GTIN, or our private URN; nothing else."""
    if m := re.fullmatch(r"urn:epc:(?:id:sgtin|class:lgtin):(\d{6,12})\.(\d{1,7})\.(.{1,60})", uri):
        gcp, item = m.group(1), m.group(2)
        assert len(gcp) + len(item) == 13, uri
        digits = item[0] + gcp + item[1:]
        gtin = Gtin.parse(digits + str(_check_digit(digits)))
        assert gtin.company_prefix is not None and gtin.company_prefix.value == gcp, uri
    elif m := re.fullmatch(r"https://id\.gs1\.org/01/(\d{14})/(?:21|10)/[^/]+", uri):
        Gtin.parse(m.group(1))  # raises on a wrong check digit
        assert valid_gtin(m.group(1)) == m.group(1)
    else:
        parsed = parse_private(uri)
        assert parsed is not None and parsed[0] in {"serial", "lot"} and all(parsed[1]), uri


def _check_digit(digits: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


SELECTIONS = {
    "all": None,
    "job": Selection(job="J-1042"),
    "lot": Selection(component="CAP-100", lot="L-4471"),
    "serial": Selection(serial="SPX200-0004"),
    "supplier": Selection(supplier="Lumatec Lamps GmbH"),
    "supplier+component": Selection(component="CAP-100", supplier="Farwell Components Ltd"),
}


@pytest.mark.parametrize("digital_link", [False, True])
@pytest.mark.parametrize("name", list(SELECTIONS))
def test_every_export_validates_against_gs1_schema(sample: duckdb.DuckDBPyConnection,
                                                   validator: jsonschema.Draft7Validator,
                                                   name: str, digital_link: bool) -> None:
    doc = export(sample, SELECTIONS[name], digital_link=digital_link)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert doc["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert doc["epcisBody"]["eventList"]
    ids = identifiers_of(doc)
    for uri in ids:
        check_identifier(uri)
    spx = {u for u in ids if "SPX200-" in u}
    assert spx and all(u.startswith("https://id.gs1.org/01/05060123450019/21/" if digital_link
                                    else SGTIN) for u in spx)
    # PCB-MAIN has no GTIN: never an invented one
    assert all(u.startswith("urn:tracelake:serial:PCB-MAIN:") for u in ids if "PCB-M-" in u)
    # the schema does not check the events' own @context-less shape: a few things it leaves
    for e in doc["epcisBody"]["eventList"]:
        assert re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", e["eventID"])


def test_schema_and_checks_catch_a_broken_document(sample: duckdb.DuckDBPyConnection,
                                                   validator: jsonschema.Draft7Validator) -> None:
    doc = export(sample, Selection(job="J-1042"))
    doc["epcisBody"]["eventList"][0]["eventTime"] = "5 Nov 2026"
    doc["epcisBody"]["eventList"][1]["action"] = "FIT"
    assert len(list(validator.iter_errors(doc))) >= 2
    with pytest.raises(ParseError):  # a wrong check digit
        check_identifier("https://id.gs1.org/01/05060123450018/21/SPX200-0001")
    with pytest.raises(AssertionError):
        check_identifier("urn:example:SPX200-0001")


# ------------------------------------------------------------------------------------------
# the sample story, worked out by hand


@pytest.fixture(scope="module")
def j1042(sample: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return export(sample, Selection(job="J-1042"))


def test_j1042_transformation_inputs_and_outputs(j1042: dict[str, Any]) -> None:
    [t] = events(j1042, "TransformationEvent")
    assert t["transformationID"] == "urn:tracelake:job:J-1042"
    assert t["bizStep"] == "assembling"
    assert t["bizTransactionList"] == [{"type": "prodorder",
                                        "bizTransaction": "urn:tracelake:job:J-1042"}]
    lots = {q["epcClass"]: q["quantity"] for q in t["inputQuantityList"]}
    assert lots == {"urn:tracelake:lot:CAP-100:L-4471": 20, "urn:tracelake:lot:OPT-GRAT:L-3051": 10,
                    "urn:tracelake:lot:SCR-M3:L-4471": 80, "urn:tracelake:lot:CASE-200:L-7720": 10,
                    "urn:tracelake:lot:CUV-HOLD:L-2950": 10, "urn:tracelake:lot:LBL-UDI:L-3390": 10,
                    "urn:tracelake:lot:SCR-M3-SS:L-5120": 32}
    assert all("uom" not in q for q in t["inputQuantityList"])  # "ea": a count, no UN/ECE code
    pcbs = [f"urn:tracelake:serial:PCB-MAIN:PCB-M-01{n:02d}" for n in range(1, 11)]
    lamps = [f"urn:tracelake:serial:LAMP-D2:D2-26-0{n}" for n in [*range(311, 321), 457, 458]]
    assert sorted(t["inputEPCList"]) == sorted(lamps + pcbs)
    assert t["outputEPCList"] == [f"{SGTIN}SPX200-{n:04d}" for n in range(1, 11)]
    assert t["eventTime"] == "2026-11-05T12:37:00.000Z"  # the last unit's built_at
    assert t["eventTimeZoneOffset"] == "+00:00"  # GMT in November


def test_j1042_fitments_and_the_rework(j1042: dict[str, Any]) -> None:
    adds = events(j1042, "AggregationEvent", action="ADD")
    pcb = {(e["parentID"], e["childEPCs"][0]) for e in adds
           if e.get("childEPCs", [""])[0].startswith("urn:tracelake:serial:PCB-MAIN:")}
    assert pcb == {(f"{SGTIN}SPX200-{n:04d}", f"urn:tracelake:serial:PCB-MAIN:PCB-M-01{n:02d}")
                   for n in range(1, 11)}
    assert all(e["bizStep"] == "installing" for e in adds)
    screws = {e["parentID"]: e["childQuantityList"][0]["epcClass"] for e in adds
              if "childQuantityList" in e}
    assert screws == {f"{SGTIN}SPX200-{n:04d}": ("urn:tracelake:lot:SCR-M3:L-4471" if n <= 6
                                                  else "urn:tracelake:lot:SCR-M3-SS:L-5120")
                      for n in range(1, 11)}
    assert len(adds) == 10 + 12 + 10  # PCBs, lamps (10 + 2 replacements), screw lots
    deletes = events(j1042, "AggregationEvent", action="DELETE")
    assert [(e["parentID"], e["childEPCs"], e["eventTime"], e["bizStep"],
             e["bizTransactionList"][0]["bizTransaction"]) for e in deletes] == [
        (f"{SGTIN}SPX200-0004", ["urn:tracelake:serial:LAMP-D2:D2-26-0314"],
         "2026-11-03T09:05:00.000Z", "removing", "urn:tracelake:ncr:NCR-0231"),
        (f"{SGTIN}SPX200-0007", ["urn:tracelake:serial:LAMP-D2:D2-26-0317"],
         "2026-11-03T09:50:00.000Z", "removing", "urn:tracelake:ncr:NCR-0232")]


def test_j1042_eight_shipped_on_four_orders(j1042: dict[str, Any]) -> None:
    ships = events(j1042, "ObjectEvent", bizStep="shipping")
    got = {e["bizTransactionList"][0]["bizTransaction"]:
           (e["destinationList"][0]["destination"], sorted(e["epcList"]), e["tl:shipToCountry"])
           for e in ships}
    leeds = "urn:tracelake:party:University%20of%20Leeds%20%E2%80%94%20School%20of%20Chemistry"
    kestrel, norsk = "urn:tracelake:party:Kestrel%20Pharma%20Ltd", "urn:tracelake:party:Norsk%20Analyse%20AS"
    u = lambda *ns: [f"{SGTIN}SPX200-{n:04d}" for n in ns]  # noqa: E731
    assert got == {"urn:tracelake:order:SO-5521": (leeds, u(1, 2, 3), "GB"),
                   "urn:tracelake:order:SO-5530": (kestrel, u(5, 6), "GB"),
                   "urn:tracelake:order:SO-5537": (kestrel, u(4), "GB"),
                   "urn:tracelake:order:SO-5541": (norsk, u(8, 9), "NO")}
    assert sum(len(e["epcList"]) for e in ships) == 8
    assert all(e["disposition"] == "in_transit" and e["action"] == "OBSERVE" for e in ships)


def test_j1042_inspections_carry_results_and_disposition(j1042: dict[str, Any]) -> None:
    inspections = events(j1042, "ObjectEvent", bizStep="inspecting")
    failed = [e for e in inspections if e["disposition"] == "non_conformant"]
    assert sorted((e["epcList"][0], e["tl:testStep"], e["tl:attempt"]) for e in failed) == [
        (f"{SGTIN}SPX200-0004", "NOISE", 1), (f"{SGTIN}SPX200-0007", "NOISE", 1)]
    noise = next(e for e in failed if e["epcList"][0].endswith("SPX200-0004"))
    reports = {el["sensorReport"][0]["type"]: el["sensorReport"][0]
               for el in noise["sensorElementList"]}
    r = reports["urn:tracelake:measurement:NOISE:photometric_noise"]
    assert (r["value"], r["tl:units"], r["tl:lowLimit"], r["tl:highLimit"], r["tl:result"]) == \
        (0.142, "mAU", 0.0, 0.1, "fail")
    assert noise["readPoint"] == {"id": "urn:tracelake:equipment:RIG-3"}
    assert noise["tl:runId"] == "R3-20261030-004"
    retest = [e for e in inspections if e.get("tl:runId") == "R3-20261104-001"
              and e["tl:testStep"] == "NOISE"]
    assert [e["disposition"] for e in retest] == ["conformant"]


def test_recall_answer_marks_units_recalled(sample: duckdb.DuckDBPyConnection) -> None:
    answer = where_used(sample, "CAP-100", "L-4471")
    for doc in (export(sample, Selection(component="CAP-100", lot="L-4471")),
                export(sample, Selection(answer=answer))):
        [recall] = events(doc, "ObjectEvent", disposition="recalled")
        assert recall["quantityList"] == [{"epcClass": "urn:tracelake:lot:CAP-100:L-4471"}]
        expected = {f"{SGTIN}SPX200-{n:04d}" for n in range(1, 11)} | {
            "urn:tracelake:serial:PCB-MAIN:PCB-M-0111", "urn:tracelake:serial:PCB-MAIN:PCB-M-0112"}
        assert set(recall["epcList"]) == expected
        jobs = {e["transformationID"] for e in events(doc, "TransformationEvent")}
        assert jobs == {"urn:tracelake:job:J-1038", "urn:tracelake:job:J-1042"}


# ------------------------------------------------------------------------------------------
# reading the export back


@pytest.mark.parametrize("selection", [None, Selection(component="CAP-100", lot="L-4471")])
@pytest.mark.parametrize("digital_link", [False, True])
def test_reading_the_export_back_gives_trace_forward(sample: duckdb.DuckDBPyConnection,
                                                     selection: Selection | None,
                                                     digital_link: bool) -> None:
    doc = export(sample, selection, digital_link=digital_link)
    rebuilt = read_where_used(doc, "CAP-100", "L-4471")
    answer = where_used(sample, "CAP-100", "L-4471").as_dict()
    expected = {a["serial_number"]: {"job_id": a["job_id"], "customer": a["customer"],
                                     "depth": a["depth"], "shipped_at": a["shipped_at"]}
                for a in answer["affected"]}
    assert len(expected) == 12 and rebuilt == expected
    # and the other lot of the same name: only the screws' six units, no PCB
    screws = read_where_used(export(sample), "SCR-M3", "L-4471")
    assert sorted(screws) == [f"SPX200-{n:04d}" for n in range(1, 7)]
    assert sorted(screws) == sorted(a["serial_number"] for a in
                                    where_used(sample, "SCR-M3", "L-4471").affected)


# ------------------------------------------------------------------------------------------
# event hash IDs


def test_same_export_twice_same_ids_and_digital_link_hashes_alike(
        sample: duckdb.DuckDBPyConnection) -> None:
    first, second = export(sample), export(sample)
    ids = [e["eventID"] for e in first["epcisBody"]["eventList"]]
    assert ids == [e["eventID"] for e in second["epcisBody"]["eventList"]]
    assert len(set(ids)) == len(ids)
    dl = export(sample, digital_link=True)
    assert [e["eventID"] for e in dl["epcisBody"]["eventList"]] == ids
    assert identifiers_of(dl) != identifiers_of(first)


def test_event_id_is_the_hash_of_the_event_without_it(j1042: dict[str, Any]) -> None:
    ns = {"tl": j1042["@context"][1]["tl"]}
    for e in j1042["epcisBody"]["eventList"]:
        assert event_hash(e, ns) == e["eventID"]
        assert event_hash({**e, "eventID": "x", "recordTime": "2027-01-01T00:00:00Z"}, ns) \
            == e["eventID"]
    e = j1042["epcisBody"]["eventList"][0]
    assert event_hash({**e, "eventTime": "2026-11-05T12:37:00.001Z"}, ns) != e["eventID"]


# The GS1 standard's own examples, hashed by the reference implementation
# (epcis-event-hash-generator 1.9.3, run offline outside this project).
REFERENCE_HASHES = {
    "Example_9.6.1-ObjectEvent.jsonld": [
        "ni:///sha-256;df6523665bc5e5803d6c7b84f5a04e103694d8220f2abc4f2c74310e89f31bc6?ver=CBV2.0",
        "ni:///sha-256;32547b2344d525ea60ab1b899d82a9011fd9c39bb26ed936e113066146f49941?ver=CBV2.0"],
    "Example_9.6.3-AggregationEvent.jsonld": [
        "ni:///sha-256;96b6bf98742a60dbfaa2dda08b63435ce67079d224ea27d63e55e62a7843b878?ver=CBV2.0"],
    "Example_9.6.4-TransformationEvent.jsonld": [
        "ni:///sha-256;c794227acf3a4d9be9ba1f8340425782f88a0f4e3f35b533a8bf8f1bc206a379?ver=CBV2.0"],
}


@pytest.mark.parametrize("name", list(REFERENCE_HASHES))
def test_event_hash_matches_the_reference_on_gs1_examples(name: str) -> None:
    path = GS1 / name
    assert path.is_file(), path
    doc = json.loads(path.read_text(encoding="utf-8"))
    ns = {k: v for c in doc["@context"] if isinstance(c, dict) for k, v in c.items()}
    assert [event_hash(e, ns) for e in doc["epcisBody"]["eventList"]] == REFERENCE_HASHES[name]


def test_event_hash_of_our_own_event_shapes() -> None:
    event = {"type": "ObjectEvent", "eventTime": "2026-11-09T10:30:00+00:00",
             "eventTimeZoneOffset": "+00:00", "epcList": [f"{SGTIN}B", f"{SGTIN}A"],
             "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
             "bizTransactionList": [{"type": "po", "bizTransaction": "urn:tracelake:order:SO-1"}],
             "destinationList": [{"type": "owning_party", "destination": "urn:tracelake:party:X"}],
             "tl:shipToCountry": "GB"}
    assert prehash(event, {"tl": "https://tracelake.dev/epcis/"}) == (
        "eventType=ObjectEventeventTime=2026-11-09T10:30:00.000ZeventTimeZoneOffset=+00:00"
        "epcListepc=https://id.gs1.org/01/05060123450019/21/Aepc=https://id.gs1.org/01/"
        "05060123450019/21/Baction=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shipping"
        "disposition=https://ref.gs1.org/cbv/Disp-in_transitbizTransactionListtype=https://"
        "ref.gs1.org/cbv/BTT-pobizTransaction=urn:tracelake:order:SO-1destinationListtype="
        "https://ref.gs1.org/cbv/SDT-owning_partydestination=urn:tracelake:party:X"
        "{https://tracelake.dev/epcis/}shipToCountry=GB")
    reordered = dict(reversed(list(event.items())))
    assert event_hash(reordered, {"tl": "https://tracelake.dev/epcis/"}) == \
        event_hash(event, {"tl": "https://tracelake.dev/epcis/"})
    assert canonical_digital_link("urn:epc:class:lgtin:506012345.0001.L%2F1") == \
        "https://id.gs1.org/01/05060123450019/10/L%2F1"


# ------------------------------------------------------------------------------------------
# identifiers


def test_identifiers_gs1_keys_and_private_scheme() -> None:
    ids = Identifiers({"SPX-200": "05060123450019", "BAD": "05060123450018", "NONE": None,
                       "G8": "96385074"})
    assert ids.unit("SPX-200", "SPX200-0001") == f"{SGTIN}SPX200-0001"
    assert ids.lot("SPX-200", "L/7") == "urn:epc:class:lgtin:506012345.0001.L%2F7"
    assert ids.invalid == {"BAD": "05060123450018"}  # wrong check digit: never used
    assert ids.unit("BAD", "1") == "urn:tracelake:serial:BAD:1"
    assert ids.unit("NONE", "a:b c") == "urn:tracelake:serial:NONE:a%3Ab%20c"
    assert parse_private("urn:tracelake:serial:NONE:a%3Ab%20c") == ("serial", ["NONE", "a:b c"])
    assert ids.unit("SPX-200", "X" * 21) == "urn:tracelake:serial:SPX-200:" + "X" * 21  # > 20
    assert ids.unit("G8", "5") == "https://id.gs1.org/01/00000096385074/21/5"  # no GCP known
    dl = Identifiers({"SPX-200": "5060123450019"}, digital_link=True)
    assert dl.unit("SPX-200", "S(1)") == "https://id.gs1.org/01/05060123450019/21/S%281%29"


# ------------------------------------------------------------------------------------------
# a plant of our own: a product with a wrong GTIN, a scrapped unit


def test_own_plant_wrong_gtin_and_scrap(tmp_path: Path,
                                        validator: jsonschema.Draft7Validator) -> None:
    land = tmp_path / "landing"
    write_csv(land / "products.csv", ["product_code", "description", "gtin", "serialised"],
              [["DEV", "Device", "05060123450018", "true"], ["OK", "Other", "05060123450026",
                                                               "true"]])
    write_csv(land / "jobs.csv", JOB_HEADER, [job_row("J-1", product_code="DEV", quantity=2)])
    write_csv(land / "units.csv", [*UNIT_HEADER, "built_at"],
              [["D-1", "DEV", "J-1", "shipped", "2026-10-20T10:00"],
               ["D-2", "DEV", "J-1", "scrapped", "2026-10-20T11:00"]])
    write_csv(land / "ncrs.csv", ["ncr_id", "raised_at", "raised_by", "serial_number",
                                  "defect_code", "description", "disposition", "closed_at"],
              [["NCR-1", "2026-10-21T09:00", "QA", "D-2", "DROP", "Dropped", "scrap",
                "2026-10-21T15:00"]])
    lake = Lake(tmp_path / "lake")
    lake.ingest(land)
    from tracelake.lake.snapshot import open_snapshot

    con = open_snapshot(lake.paths)
    try:
        buf = io.StringIO()
        result = export_epcis(con, buf)
        doc = json.loads(buf.getvalue())
    finally:
        con.close()
    assert list(validator.iter_errors(doc)) == []
    assert any("05060123450018" in m and "DEV" in m for m in result.messages)
    [scrap] = events(doc, "ObjectEvent", bizStep="destroying")
    assert scrap["epcList"] == ["urn:tracelake:serial:DEV:D-2"]
    assert (scrap["action"], scrap["disposition"], scrap["eventTime"]) == \
        ("DELETE", "destroyed", "2026-10-21T14:00:00.000Z")  # 15:00 BST
    assert scrap["bizTransactionList"][0]["bizTransaction"] == "urn:tracelake:ncr:NCR-1"
    assert "05060123450018" not in json.dumps(doc)
    assert result.by_kind["TransformationEvent"] == 1


# ------------------------------------------------------------------------------------------
# command line


def test_cli_export_to_file_and_stdout(sample_lake: Lake, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "j.jsonld"
    lake = str(sample_lake.paths.root)
    r = runner.invoke(app, ["export", "epcis", "--job", "J-1042", "-o", str(out), "--lake", lake])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(events(doc, "TransformationEvent")) == 1
    r = runner.invoke(app, ["export", "epcis", "--serial", "SPX200-0004", "--digital-link",
                            "--since", "2026-11-01", "--until", "2026-11-04T00:00Z",
                            "--lake", lake])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    times = [e["eventTime"] for e in doc["epcisBody"]["eventList"]]
    assert times and all("2026-11-01" <= t < "2026-11-04" for t in times)
    assert doc["tl:selection"] == {"serial": "SPX200-0004"}


@pytest.mark.parametrize("args", [["--lot", "L-4471"], ["--job", "J-1042", "--serial", "X"],
                                  ["--component", "CAP-100"], ["--since", "last week"]])
def test_cli_wrong_selectors_are_one_line(sample_lake: Lake, args: list[str]) -> None:
    r = CliRunner().invoke(app, ["export", "epcis", *args, "--lake",
                                 str(sample_lake.paths.root)])
    assert r.exit_code == 1
    assert r.stdout == "" or "error" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_direct_prehash_equals_the_general_one(sample: duckdb.DuckDBPyConnection) -> None:
    """The fast builder and the reference's tree walk agree on every event we write, and on
    values that trip the reference's heuristics (CBV words as values, numbers as text)."""
    from tracelake.exports.epcis.event_hash import fast_prehash

    ns = {"tl": "https://tracelake.dev/epcis/"}
    n = 0
    for sel in (None, Selection(component="CAP-100", lot="L-4471")):
        for dl in (False, True):
            for e in export(sample, sel, digital_link=dl)["epcisBody"]["eventList"]:
                assert fast_prehash(e, ns) == prehash(e, ns)
                n += 1
    assert n > 300
    tricky = {"type": "ObjectEvent", "eventTime": "2026-10-20T08:05:00+01:00",
              "eventTimeZoneOffset": "+01:00", "epcList": [f"{SGTIN}0042", f"{SGTIN}A%2FB"],
              "action": "OBSERVE", "bizStep": "inspecting", "disposition": "conformant",
              "readPoint": {"id": "urn:tracelake:equipment:RIG%203"},
              "sensorElementList": [{"sensorMetadata": {"time": "2026-10-20T07:05:00Z",
                                                        "deviceID": "urn:tracelake:equipment:X"},
                                     "sensorReport": [{"type": "Voltage", "value": 5,
                                                       "tl:units": "inspecting",
                                                       "tl:lowLimit": 4.750, "tl:r": "0.10"}]},
                                    {"sensorReport": [{"type": "urn:x:y", "stringValue": "1e3"}]}],
              "tl:testStep": "conformant", "tl:attempt": 2, "tl:note": "  spaced  "}
    assert fast_prehash(tricky, ns) == prehash(tricky, ns)
    assert fast_prehash({**tricky, "tl:empty": ""}, ns) is None  # left to the general path
    empty = {**tricky, "tl:empty": ""}
    assert event_hash(empty, ns).split(";")[1][:64] == \
        __import__("hashlib").sha256(prehash(empty, ns).encode()).hexdigest()


def test_a_whole_lake_read_in_key_ranges_gives_the_same_events(
        sample: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelake.exports.epcis import document

    whole = export(sample)
    monkeypatch.setattr(document, "RANGE_ROWS", 7)
    monkeypatch.setattr(document, "SAMPLE_KEYS", 4)
    ranges: list[tuple[str | None, str | None]] = []
    ranged_rows = document.Events._ranges

    def counted(self: Any, source: str, key: str) -> Any:
        for bounds in ranged_rows(self, source, key):
            ranges.append(bounds)
            yield bounds

    monkeypatch.setattr(document.Events, "_ranges", counted)
    ranged = export(sample)
    assert len(ranges) > 20  # every family read in several ranges
    ids = sorted(e["eventID"] for e in whole["epcisBody"]["eventList"])
    assert sorted(e["eventID"] for e in ranged["epcisBody"]["eventList"]) == ids
    assert len(ids) == len(set(ids)) > 150


def test_names_are_cached_for_one_key_range_only(sample: duckdb.DuckDBPyConnection,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The identifiers' cache is emptied at each key range (it never holds more than one
    range's names, however big the lake), and the document is the same as with no cache."""
    from tracelake.exports.epcis import document
    from tracelake.exports.epcis.identifiers import private_urn

    whole = export(sample)
    monkeypatch.setattr(document, "RANGE_ROWS", 7)
    monkeypatch.setattr(document, "SAMPLE_KEYS", 4)
    sizes: list[int] = []
    forget = Identifiers.forget

    def counted(self: Identifiers) -> None:
        sizes.append(len(self._cache) + len(self._units))
        forget(self)
        assert not self._cache and not self._units

    monkeypatch.setattr(Identifiers, "forget", counted)
    ranged = export(sample)
    assert len(sizes) > 20 and max(sizes) > 0
    assert max(sizes) < sum(sizes) / 4  # one range's names, not the lake's
    assert sorted(e["eventID"] for e in ranged["epcisBody"]["eventList"]) == \
        sorted(e["eventID"] for e in whole["epcisBody"]["eventList"])
    ids = Identifiers({})
    assert ids.urn("job", "J:1 x") == private_urn("job", "J:1 x") == "urn:tracelake:job:J%3A1%20x"
    assert not hasattr(private_urn, "cache_info")  # no cache living as long as the process


def test_key_ranges_hold_about_range_rows_each(sample: duckdb.DuckDBPyConnection,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every range of a family's key holds at most RANGE_ROWS rows of the table it reads, or
    one key's rows (all its keys weighed when there are fewer than SAMPLE_KEYS), and the ranges
    cover every row once."""
    from tracelake.exports.epcis import document
    from tracelake.exports.epcis.select import Scope

    monkeypatch.setattr(document, "RANGE_ROWS", 30)
    events = document.Events(sample, Scope())
    heaviest = sample.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM test_results "
                              "GROUP BY serial_number)").fetchone()[0]
    total = sample.execute("SELECT count(*) FROM test_results").fetchone()[0]
    seen = 0
    ranges = list(events._ranges("(SELECT serial_number FROM test_results)", "serial_number"))
    assert len(ranges) >= total // (30 + heaviest)
    for lo, hi in ranges:
        n = sample.execute("SELECT count(*) FROM test_results WHERE ($lo IS NULL OR "
                           "serial_number >= $lo) AND ($hi IS NULL OR serial_number < $hi)",
                           {"lo": lo, "hi": hi}).fetchone()[0]
        assert 0 < n <= 30 + heaviest, (lo, hi, n)
        seen += n
    assert seen == total


def test_cli_export_beyond_its_memory_limit_is_one_line(sample_lake: Lake,
                                                        tmp_path: Path) -> None:
    """A fresh process (this one has the snapshot open without the limit): the limit from
    TRACELAKE_EXPORT_MEMORY applies, and running out of it is one line naming the way out,
    with no document left behind."""
    import os
    import subprocess
    import sys

    out = tmp_path / "all.jsonld"
    run = subprocess.run([sys.executable, "-m", "tracelake.cli", "export", "epcis", "-o",
                          str(out), "--lake", str(sample_lake.paths.root)],
                         env={**os.environ, "TRACELAKE_EXPORT_MEMORY": "4MB"},
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1, run.stderr
    assert "TRACELAKE_EXPORT_MEMORY" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert not out.exists() and not list(tmp_path.glob(".all.jsonld*"))
    run = subprocess.run([sys.executable, "-m", "tracelake.cli", "export", "epcis", "-o",
                          str(out), "--lake", str(sample_lake.paths.root)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["epcisBody"]["eventList"]
