"""The lake's genealogy as EPCIS 2.0 events, built from lake queries one event at a time.

* a ``TransformationEvent`` per job: its input lots (material issues at lot level, summed per
  lot) as classes with quantities, parts issued by serial as input EPCs, its units as output
  EPCs, ``transformationID`` the job, the job as a ``prodorder`` business transaction;
* an ``AggregationEvent`` per fitment (``unit_components``): ADD at ``fitted_at``, and DELETE at
  ``removed_at`` for a part removed in rework (the NCR as a business transaction);
* ``ObjectEvent``: an inspection per (unit, test step, run, attempt, equipment) with its results
  as sensor reports and disposition ``conformant`` / ``non_conformant``; a shipment per
  (order, customer, time); ``destroying`` for a scrapped unit; ``recalled`` for the units of a
  recall answer.

Rows are read in batches (Arrow record batches) and each event is handed on as soon as it is
built, so memory does not grow with the number of events. ``eventID`` is the CBV event hash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from tracelake.exports.epcis.event_hash import event_hash
from tracelake.exports.epcis.identifiers import Identifiers
from tracelake.exports.epcis.select import Scope
from tracelake.lake.plant_time import plant_zone

__all__ = ["CONTEXT", "NAMESPACE", "Events"]

NAMESPACE = "https://tracelake.dev/epcis/"
GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CONTEXT: list[Any] = [GS1_CONTEXT, {"tl": NAMESPACE}]
_NS = {"tl": NAMESPACE}
BATCH = 4096
#: rows of the table a family reads per key range: each range's query (its sort, its groups,
#: its joins) touches about this many, whatever the size of the lake
RANGE_ROWS = 40_000
#: at most about this many keys are sampled (by hash) to place the ranges' bounds
SAMPLE_KEYS = 8192


#: :func:`_time` in DuckDB, of ``<timestamptz> AT TIME ZONE 'UTC'`` (milliseconds cut, not
#: rounded, as ``isoformat(timespec="milliseconds")`` cuts them): no Python datetime per value
_SQL_TIME = "%Y-%m-%dT%H:%M:%S.%gZ"


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Events:
    """Builds the events of one export (``scope`` from :func:`select.resolve`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, scope: Scope, *, digital_link: bool = False,
                 since: dt.datetime | None = None, until: dt.datetime | None = None) -> None:
        self.con = con
        self.scope = scope
        self.since, self.until = since, until
        self.zone: ZoneInfo = plant_zone(con)
        gtins = dict(con.execute("SELECT product_code, gtin FROM products").fetchall())
        self.ids = Identifiers(gtins, digital_link=digital_link)
        self._offsets: dict[tuple[int, int, int, int], str] = {}
        self.counts: dict[str, int] = {}
        self._scope_tables: dict[str, pa.Table] = {}
        if scope.serials is not None:
            self._scope_tables["_epcis_serials"] = pa.table({"serial_number": pa.array(
                sorted(scope.serials), pa.string())})
        if scope.jobs is not None:
            self._scope_tables["_epcis_jobs"] = pa.table({"job_id": pa.array(
                sorted(scope.jobs), pa.string())})
        for name, table in self._scope_tables.items():
            con.register(name, table)

    def close(self) -> None:
        """Drop the registered scope tables."""
        for name in ("_epcis_serials", "_epcis_jobs"):
            with contextlib.suppress(duckdb.Error):  # not registered
                self.con.unregister(name)

    # -- helpers ------------------------------------------------------------------------------

    def _offset(self, when: dt.datetime) -> str:
        key = (when.year, when.month, when.day, when.hour)
        hit = self._offsets.get(key)
        if hit is None:
            off = when.astimezone(self.zone).utcoffset() or dt.timedelta(0)
            minutes = int(off.total_seconds() // 60)
            sign = "+" if minutes >= 0 else "-"
            hit = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
            self._offsets[key] = hit
        return hit

    def _in_window(self, when: dt.datetime) -> bool:
        return (self.since is None or when >= self.since) and (self.until is None or when < self.until)

    def _finish(self, kind: str, event: dict[str, Any]) -> dict[str, Any]:
        event_id = event_hash(event, _NS)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return {"type": event.pop("type"), "eventID": event_id, **event}

    def _ranges(self, source: str, key: str) -> Iterator[tuple[str | None, str | None]]:
        """Key ranges ``[lo, hi)`` of ``key`` holding about :data:`RANGE_ROWS` rows of
        ``source`` each (``None``: open), streamed: one open range when it holds fewer.

        The bounds come from DuckDB, on a cursor of their own, from a sample of at most about
        :data:`SAMPLE_KEYS` keys (those whose hash falls in one bucket of ``n / SAMPLE_KEYS``),
        each weighed by its rows: nothing here, nor in DuckDB, grows with the lake's keys.
        The hash is DuckDB's, so the same lake gives the same ranges (and document) each time.
        """
        cur = self.con.cursor()
        try:
            for name, table in self._scope_tables.items():
                cur.register(name, table)
            row = cur.execute(f"SELECT count({key}), approx_count_distinct({key}) "
                              f"FROM {source}").fetchone()
            rows, keys = (row or (0, 0))
            if rows <= RANGE_ROWS:
                yield None, None
                return
            step = max(1, keys // SAMPLE_KEYS)
            cur.execute(f"""
                WITH s AS (SELECT {key} AS k, count(*) * {step} AS w FROM {source}
                           WHERE {key} IS NOT NULL AND hash({key}) % {step} = 0 GROUP BY ALL),
                c AS (SELECT k, sum(w) OVER (ORDER BY k ROWS UNBOUNDED PRECEDING) - w AS before
                      FROM s)
                SELECT min(k) AS cut FROM c GROUP BY before // {RANGE_ROWS} HAVING min(before) > 0
                ORDER BY cut""")
            lo: str | None = None
            while (cut := cur.fetchone()) is not None:
                yield lo, cut[0]
                lo = cut[0]
            yield lo, None
        finally:
            cur.close()

    def _source(self, table: str, key: str, *, scoped: str = "serial_number",
                where: str | None = None) -> str:
        """The rows of ``table`` a family reads, as a subquery of ``key`` for :meth:`_ranges`
        (restricted to the selection, and ``where``)."""
        conds = [where] if where else []
        if scoped == "job_id" and self.scope.jobs is not None:
            conds.append("job_id IN (SELECT job_id FROM _epcis_jobs)")
        elif scoped != "job_id" and self.scope.serials is not None:
            conds.append(f"{scoped} IN (SELECT serial_number FROM _epcis_serials)")
        return f"(SELECT {key} FROM {table}{' WHERE ' + ' AND '.join(conds) if conds else ''})"

    def _rows(self, template: str, column: str, *, source: str, key: str,
              by_job: bool = False, scoped: str | None = None, extra: str | None = None
              ) -> Iterator[dict[str, Any]]:
        """Rows of ``template`` (its ``{where}`` filled with the scope, a range of ``column``
        — ranges of ``key`` in ``source``, see :meth:`_ranges` — and ``extra``; the
        selection's serials filter ``scoped``, default ``column``, its jobs ``column`` when
        ``by_job``), range after range, batch after batch."""
        scope_cond = ""
        if not by_job and self.scope.serials is not None:
            scope_cond = f"{scoped or column} IN (SELECT serial_number FROM _epcis_serials)"
        if by_job and self.scope.jobs is not None:
            scope_cond = f"{column} IN (SELECT job_id FROM _epcis_jobs)"
        for lo, hi in self._ranges(source, key):
            self.ids.forget()  # names cached for one range: memory flat in the lake's keys
            conds: list[str] = [scope_cond] if scope_cond else []
            params: dict[str, Any] = {}
            if lo is not None:
                conds.append(f"{column} >= $lo")
                params["lo"] = lo
            if hi is not None:
                conds.append(f"{column} < $hi")
                params["hi"] = hi
            elif lo is not None:  # the last range also holds rows without a key: none lost
                conds[-1] = f"({column} >= $lo OR {column} IS NULL)"
            if extra:
                conds.append(extra)
            sql = template.format(where=("WHERE " + " AND ".join(conds)) if conds else "")
            reader = self.con.execute(sql, params).to_arrow_reader(BATCH)
            for batch in reader:
                yield from batch.to_pylist()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.transformations()
        yield from self.aggregations()
        yield from self.inspections()
        yield from self.shipments()
        yield from self.scrapped()
        yield from self.recall()

    # -- events -------------------------------------------------------------------------------

    def transformations(self) -> Iterator[dict[str, Any]]:
        """One TransformationEvent per job: input lots and serials, output units."""
        sql = """
            WITH j AS (SELECT * FROM jobs j {where}),
            lots AS (
                SELECT job_id, list({{'c': component_code, 'l': lot_number, 'q': q, 'u': uom}}
                                    ORDER BY component_code, lot_number, uom) AS lots
                FROM (SELECT m.job_id, m.component_code, m.lot_number, m.uom, sum(m.quantity) AS q
                      FROM material_issues m JOIN j USING (job_id)
                      WHERE m.component_serial IS NULL GROUP BY ALL) GROUP BY job_id),
            parts AS (
                SELECT m.job_id, list(DISTINCT {{'c': m.component_code, 's': m.component_serial}})
                       AS parts
                FROM material_issues m JOIN j USING (job_id)
                WHERE m.component_serial IS NOT NULL GROUP BY m.job_id),
            outs AS (
                SELECT u.job_id, list({{'p': u.product_code, 's': u.serial_number}}
                                      ORDER BY u.serial_number) AS outs,
                       max(u.built_at) AS built
                FROM units u JOIN j USING (job_id) GROUP BY u.job_id)
            SELECT j.job_id, j.product_code, coalesce(outs.built, j.released_at, j.created_at) AS t,
                   lots.lots, parts.parts, outs.outs
            FROM j LEFT JOIN lots USING (job_id) LEFT JOIN parts USING (job_id)
                 LEFT JOIN outs USING (job_id)
            ORDER BY t, j.job_id"""
        ids = self.ids
        for row in self._rows(sql, "j.job_id", by_job=True, key="job_id", source=(
                f"({self._source('units', 'job_id', scoped='job_id')} UNION ALL "
                f"{self._source('material_issues', 'job_id', scoped='job_id')})")):
            when = row["t"]
            if not self._in_window(when):
                continue
            event: dict[str, Any] = {"type": "TransformationEvent", "eventTime": _time(when),
                                     "eventTimeZoneOffset": self._offset(when)}
            if row["parts"]:
                event["inputEPCList"] = sorted({ids.unit(p["c"], p["s"]) for p in row["parts"]})
            if row["lots"]:
                event["inputQuantityList"] = [
                    {"epcClass": ids.lot(x["c"], x["l"]), "quantity": float(x["q"]),
                     **({"uom": _REC20[_key(x["u"])]} if _key(x["u"]) in _REC20 else {})}
                    for x in row["lots"]]
            if row["outs"]:
                event["outputEPCList"] = [ids.unit(o["p"], o["s"]) for o in row["outs"]]
            event["transformationID"] = self.ids.urn("job", row["job_id"])
            event["bizStep"] = "assembling" if (row["lots"] or row["parts"]) else "commissioning"
            event["bizTransactionList"] = [{"type": "prodorder",
                                            "bizTransaction": self.ids.urn("job", row["job_id"])}]
            other = [x for x in row["lots"] or [] if x["u"] and _key(x["u"]) not in _REC20
                     and _key(x["u"]) not in _COUNTS]
            if other:  # units of measure with no UN/ECE code: said, not dropped
                event["tl:inputUom"] = [{"tl:epcClass": ids.lot(x["c"], x["l"]), "tl:uom": x["u"]}
                                        for x in other]
            yield self._finish("TransformationEvent", event)

    def aggregations(self) -> Iterator[dict[str, Any]]:
        """An AggregationEvent ADD per fitment, and DELETE for each removal."""
        sql = """
            SELECT c.serial_number, u.product_code, c.component_code, c.component_serial,
                   c.lot_number, c.fitted_at, c.removed_at, c.removal_ncr_id
            FROM unit_components c LEFT JOIN units u USING (serial_number) {where}
            ORDER BY c.fitted_at, c.serial_number, c.component_code, c.component_serial,
                     c.lot_number"""
        ids = self.ids
        for row in self._rows(sql, "c.serial_number", key="serial_number",
                              source=self._source("unit_components", "serial_number")):
            parent = ids.unit(row["product_code"] or "", row["serial_number"])
            if row["component_serial"]:
                child = {"childEPCs": [ids.unit(row["component_code"], row["component_serial"])]}
            else:
                child = {"childQuantityList": [{"epcClass": ids.lot(row["component_code"],
                                                                    row["lot_number"])}]}
            when = row["fitted_at"]
            if self._in_window(when):
                yield self._finish("AggregationEvent", {
                    "type": "AggregationEvent", "eventTime": _time(when),
                    "eventTimeZoneOffset": self._offset(when), "parentID": parent, **child,
                    "action": "ADD", "bizStep": "installing"})
            at = row["removed_at"]
            if at is not None and self._in_window(at):  # right after its fitment: no list kept
                event = {"type": "AggregationEvent", "eventTime": _time(at),
                         "eventTimeZoneOffset": self._offset(at), "parentID": parent,
                         **child, "action": "DELETE", "bizStep": "removing"}
                if row["removal_ncr_id"]:
                    event["bizTransactionList"] = [{
                        "type": NCR_TYPE,
                        "bizTransaction": self.ids.urn("ncr", row["removal_ncr_id"])}]
                yield self._finish("AggregationEvent", event)

    def inspections(self) -> Iterator[dict[str, Any]]:
        """An ObjectEvent ``inspecting`` per unit, test step, run, attempt and equipment.

        The results come as flat rows in event order (each inspection's rows together, its time
        and verdict joined from a grouping without lists), grouped here: DuckDB sorts flat rows,
        not a list per inspection, so a range of serials costs a fraction of the memory (lists
        built by an ordered aggregate took ~1 KiB a result)."""
        sql = """
            WITH g AS (
                SELECT t.serial_number, t.test_step, t.equipment_id, t.run_id, t.attempt,
                       max(t.tested_at) AS t, bool_or(t.result = 'fail') AS failed
                FROM test_results t {where} GROUP BY ALL)
            SELECT g.t, g.failed, t.serial_number, u.product_code, t.test_step, t.equipment_id,
                   t.run_id, t.attempt, t.measurement AS m, t.value AS v, t.value_text AS x,
                   t.units AS un, t.low_limit AS lo, t.high_limit AS hi, t.result AS r,
                   strftime(t.tested_at AT TIME ZONE 'UTC', '{time_format}') AS "at"
            FROM test_results t
            JOIN g ON g.serial_number = t.serial_number
                  AND g.test_step IS NOT DISTINCT FROM t.test_step
                  AND g.equipment_id IS NOT DISTINCT FROM t.equipment_id
                  AND g.run_id IS NOT DISTINCT FROM t.run_id
                  AND g.attempt IS NOT DISTINCT FROM t.attempt
            LEFT JOIN units u ON u.serial_number = t.serial_number
            {where}
            ORDER BY g.t, t.serial_number, t.test_step, t.run_id, t.attempt, t.equipment_id,
                     t.tested_at, t.measurement"""
        sql = sql.replace("{time_format}", _SQL_TIME)
        rows = self._rows(sql, "t.serial_number", key="serial_number",
                          source=self._source("test_results", "serial_number"))
        yield from _events(rows, lambda r: (r["t"], r["serial_number"], r["test_step"],
                                            r["run_id"], r["attempt"], r["equipment_id"]),
                           self._inspection)

    def _inspection(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The event of one inspection's result rows (None: outside the time window)."""
        row = rows[0]
        when = row["t"]
        if not self._in_window(when):
            return None
        device = self.ids.urn("equipment", row["equipment_id"])
        elements = []
        for r in rows:
            report: dict[str, Any] = {"type": self.ids.urn("measurement", row["test_step"],
                                                          r["m"])}
            if r["v"] is not None:
                report["value"] = float(r["v"])
            elif r["x"] is not None:
                report["stringValue"] = r["x"]
            if r["un"]:
                report["tl:units"] = r["un"]
            if r["lo"] is not None:
                report["tl:lowLimit"] = float(r["lo"])
            if r["hi"] is not None:
                report["tl:highLimit"] = float(r["hi"])
            report["tl:result"] = r["r"]
            elements.append({"sensorMetadata": {"time": r["at"], "deviceID": device},
                             "sensorReport": [report]})
        event: dict[str, Any] = {
            "type": "ObjectEvent", "eventTime": _time(when),
            "eventTimeZoneOffset": self._offset(when),
            "epcList": [self.ids.unit(row["product_code"] or "", row["serial_number"])],
            "action": "OBSERVE", "bizStep": "inspecting",
            "disposition": "non_conformant" if row["failed"] else "conformant",
            "readPoint": {"id": device}, "sensorElementList": elements,
            "tl:testStep": row["test_step"]}
        if row["run_id"]:
            event["tl:runId"] = row["run_id"]
        if row["attempt"] is not None:
            event["tl:attempt"] = int(row["attempt"])
        return self._finish("ObjectEvent:inspecting", event)

    def shipments(self) -> Iterator[dict[str, Any]]:
        """An ObjectEvent ``shipping`` per order, customer and time (its units from flat rows
        in event order, grouped here, as :meth:`inspections`)."""
        sql = """
            SELECT s.order_ref, s.customer, s.shipped_at, s.ship_to_country, u.product_code AS p,
                   s.serial_number AS s
            FROM shipments s LEFT JOIN units u USING (serial_number) {where}
            ORDER BY s.shipped_at, s.order_ref, s.customer, s.ship_to_country, s.serial_number"""
        rows = self._rows(sql, "s.order_ref", scoped="s.serial_number", key="order_ref",
                          source=self._source("shipments", "order_ref"))
        yield from _events(rows, lambda r: (r["shipped_at"], r["order_ref"], r["customer"],
                                            r["ship_to_country"]), self._shipment)

    def _shipment(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The event of one shipment's rows (None: outside the time window)."""
        row = rows[0]
        when = row["shipped_at"]
        if not self._in_window(when):
            return None
        ids = self.ids
        event: dict[str, Any] = {
            "type": "ObjectEvent", "eventTime": _time(when),
            "eventTimeZoneOffset": self._offset(when),
            "epcList": [ids.unit(u["p"] or "", u["s"]) for u in rows],
            "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "bizTransactionList": [{"type": "po",
                                    "bizTransaction": self.ids.urn("order", row["order_ref"])}],
            "destinationList": [{"type": "owning_party",
                                 "destination": self.ids.urn("party", row["customer"])}]}
        if row["ship_to_country"]:
            event["tl:shipToCountry"] = row["ship_to_country"]
        return self._finish("ObjectEvent:shipping", event)

    def scrapped(self) -> Iterator[dict[str, Any]]:
        """An ObjectEvent ``destroying`` per scrapped unit (when: its scrap NCR, else built)."""
        sql = """
            SELECT u.serial_number, u.product_code,
                   coalesce(n.t, u.built_at, j.released_at, j.created_at) AS t, n.ncr_id
            FROM units u LEFT JOIN jobs j USING (job_id)
            LEFT JOIN (SELECT serial_number, arg_max(ncr_id, coalesce(closed_at, raised_at)) AS ncr_id,
                              max(coalesce(closed_at, raised_at)) AS t
                       FROM ncrs WHERE disposition = 'scrap' AND serial_number IS NOT NULL
                       GROUP BY serial_number) n USING (serial_number)
            {where}
            ORDER BY t, u.serial_number"""
        for row in self._rows(sql, "u.serial_number", extra="u.status = 'scrapped'",
                              key="serial_number", source=self._source(
                                  "units", "serial_number", where="status = 'scrapped'")):
            when = row["t"]
            if when is None or not self._in_window(when):
                continue
            event: dict[str, Any] = {
                "type": "ObjectEvent", "eventTime": _time(when),
                "eventTimeZoneOffset": self._offset(when),
                "epcList": [self.ids.unit(row["product_code"], row["serial_number"])],
                "action": "DELETE", "bizStep": "destroying", "disposition": "destroyed"}
            if row["ncr_id"]:
                event["bizTransactionList"] = [{"type": NCR_TYPE, "bizTransaction":
                                                self.ids.urn("ncr", row["ncr_id"])}]
            yield self._finish("ObjectEvent:destroying", event)

    def recall(self) -> Iterator[dict[str, Any]]:
        """For a recall answer: one ObjectEvent, disposition ``recalled``, for its units and
        lots, at the time of the lake state it describes (its last ingest run)."""
        if not self.scope.recalled_units and not self.scope.recalled_lots:
            return
        row = self.con.execute("SELECT max(finished_at) FROM ingest_runs").fetchone()
        when = row[0] if row and row[0] is not None else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        products = dict(self.con.execute(
            "SELECT serial_number, product_code FROM units WHERE list_contains($s, serial_number)",
            {"s": self.scope.recalled_units}).fetchall()) if self.scope.recalled_units else {}
        event: dict[str, Any] = {
            "type": "ObjectEvent", "eventTime": _time(when),
            "eventTimeZoneOffset": self._offset(when),
            "epcList": [self.ids.unit(products.get(s, ""), s) for s in self.scope.recalled_units]}
        if self.scope.recalled_lots:
            event["quantityList"] = [{"epcClass": self.ids.lot(c, lot)}
                                     for c, lot in self.scope.recalled_lots]
        event.update({"action": "OBSERVE", "disposition": "recalled"})
        yield self._finish("ObjectEvent:recalled", event)


NCR_TYPE = NAMESPACE + "btt/ncr"  # a business transaction type of our own: the NCR behind a step


#: plant units of measure -> UN/ECE Recommendation 20 codes (EPCIS ``uom``); counts carry none
#: (a quantity without ``uom`` is a number of items)
_REC20 = {"kg": "KGM", "g": "GRM", "mg": "MGM", "t": "TNE", "m": "MTR", "mm": "MMT", "cm": "CMT",
          "km": "KMT", "m2": "MTK", "l": "LTR", "ml": "MLT", "m3": "MTQ", "h": "HUR", "kgm": "KGM",
          "grm": "GRM", "mtr": "MTR", "ltr": "LTR"}
_COUNTS = {"ea", "each", "pc", "pcs", "piece", "pieces", "unit", "units", "no", "nos", "h87",
           "c62", "ct"}


def _key(uom: str | None) -> str:
    return (uom or "").strip().lower().replace("²", "2").replace("³", "3")


def _events(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], tuple[Any, ...]],
            build: Callable[[list[dict[str, Any]]], dict[str, Any] | None]
            ) -> Iterator[dict[str, Any]]:
    """One event per run of consecutive rows sharing ``key`` (rows come sorted), skipping the
    groups ``build`` leaves out (None: outside the time window)."""
    for _k, group in itertools.groupby(rows, key=key):
        event = build(list(group))
        if event is not None:
            yield event
