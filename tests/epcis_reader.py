"""A small EPCIS reader for the tests: rebuilds where-used from an exported document alone.

It knows only the standard's event types and our private URN scheme, as a partner's system
would: lots go into a job's outputs (TransformationEvent), parts into their parents
(AggregationEvent ADD, undone by DELETE), shipments name the customer (ObjectEvent shipping).
The contract's rule holds: a lot issued to a job reaches every output unless fitment records
(AggregationEvents of that lot into the job's outputs) say which units took it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import unquote


def serial_of(epc: str) -> str:
    """The serial of an SGTIN URN, a Digital Link or a private serial URN."""
    if epc.startswith("urn:epc:id:sgtin:"):
        return unquote(epc.split(".", 2)[2])
    if epc.startswith("https://"):
        return unquote(epc.rsplit("/21/", 1)[1])
    if epc.startswith("urn:tracelake:serial:"):
        return unquote(epc.split(":")[4])
    raise ValueError(epc)


def lot_of(epc_class: str) -> tuple[str, str] | str:
    """(component, lot) of a private lot URN; the URN itself for a GS1 class."""
    if epc_class.startswith("urn:tracelake:lot:"):
        _, _, _, code, lot = epc_class.split(":")
        return unquote(code), unquote(lot)
    return epc_class


def where_used(doc: dict[str, Any], component: str, lot: str) -> dict[str, dict[str, Any]]:
    """Top-level units holding (component, lot): serial -> {job_id, customer, shipped_at,
    depth}, from the events alone."""
    events = doc["epcisBody"]["eventList"]
    outputs: dict[str, list[str]] = {}  # job -> output serials
    job_of: dict[str, str] = {}
    takes_lot: dict[tuple[str, str], list[str]] = {}  # lot -> jobs
    parent_of: dict[str, str] = {}
    lot_fits: dict[tuple[str, str], set[str]] = {}  # lot -> units it was fitted into
    shipped: dict[str, tuple[str, str]] = {}
    for e in events:
        if e["type"] == "TransformationEvent":
            job = unquote(e["transformationID"].split(":")[-1])
            outs = [serial_of(x) for x in e.get("outputEPCList", [])]
            outputs[job] = outs
            for s in outs:
                job_of[s] = job
            for q in e.get("inputQuantityList", []):
                key = lot_of(q["epcClass"])
                if isinstance(key, tuple):
                    takes_lot.setdefault(key, []).append(job)
        elif e["type"] == "AggregationEvent":
            parent = serial_of(e["parentID"])
            for child in e.get("childEPCs", []):
                if e["action"] == "ADD":
                    parent_of[serial_of(child)] = parent
                elif parent_of.get(serial_of(child)) == parent:
                    del parent_of[serial_of(child)]
            for q in e.get("childQuantityList", []):
                key = lot_of(q["epcClass"])
                if isinstance(key, tuple) and e["action"] == "ADD":
                    lot_fits.setdefault(key, set()).add(parent)
        elif e["type"] == "ObjectEvent" and e.get("bizStep") == "shipping":
            customer = unquote(e["destinationList"][0]["destination"].split(":")[-1])
            for epc in e["epcList"]:
                shipped[serial_of(epc)] = (customer, e["eventTime"])
    start = (component, lot)
    reached: dict[str, int] = {}
    for job in takes_lot.get(start, []):
        fitted = lot_fits.get(start, set()) & set(outputs[job])
        for s in (fitted or outputs[job]):
            reached[s] = 1
    for s in lot_fits.get(start, set()):
        reached.setdefault(s, 1)
    tops: dict[str, dict[str, Any]] = {}
    for s, depth in reached.items():
        while s in parent_of:
            s, depth = parent_of[s], depth + 1
        customer, when = shipped.get(s, (None, None))
        best = tops.get(s)
        if best is None or depth < best["depth"]:
            tops[s] = {"job_id": job_of.get(s), "customer": customer, "depth": depth,
                       "shipped_at": dt.datetime.fromisoformat(when) if when else None}
    return tops
