"""The lake's genealogy out as one GS1 EPCIS 2.0 JSON-LD document (``tracelake export epcis``).

:func:`export_epcis` selects jobs and serials as the trace commands do (:mod:`.select`), builds
the events from lake queries (:mod:`.document`), names things with GS1 keys or a private URN
scheme (:mod:`.identifiers`), gives each event its CBV hash ID (:mod:`.event_hash`) and writes
the document as a stream (:mod:`.stream`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path
from typing import TextIO

import duckdb

from tracelake.errors import InputError, LakeError
from tracelake.exports.epcis.document import CONTEXT, NAMESPACE, Events
from tracelake.exports.epcis.event_hash import event_hash
from tracelake.exports.epcis.identifiers import Identifiers, private_urn, valid_gtin
from tracelake.exports.epcis.select import Scope, Selection, resolve
from tracelake.exports.epcis.stream import WriteStats, write_document

__all__ = ["CONTEXT", "NAMESPACE", "ExportResult", "Identifiers", "Selection",
           "event_hash", "export_epcis", "export_memory", "open_for_export", "out_of_memory",
           "private_urn",
           "valid_gtin"]

#: DuckDB's memory limit on an export's connection: a floor plus so much per DuckDB thread (one
#: a core; each thread's sort and hash table start at a few blocks). A key range's query needs
#: ~30 MiB on 2 threads; the rest of the pool fills with the lake's blocks read so far, which
#: DuckDB keeps until the limit (without one they grow with the lake: 13 MiB at 25,000 units,
#: 74 MiB at 200,000). ``TRACELAKE_EXPORT_MEMORY`` overrides it (e.g. ``1GB``).
EXPORT_MEMORY_FLOOR_MB, EXPORT_MEMORY_THREAD_MB = 32, 16


def export_memory() -> str:
    """The memory limit an export's connection is opened with (InputError: the override is
    not a size)."""
    from tracelake.lake.query import memory_setting

    override = os.environ.get("TRACELAKE_EXPORT_MEMORY")
    if override:
        try:
            return memory_setting(override)
        except InputError:
            raise InputError(f"TRACELAKE_EXPORT_MEMORY={override!r} is not a size (e.g. 1GB, "
                             f"512MB)") from None
    return f"{EXPORT_MEMORY_FLOOR_MB + EXPORT_MEMORY_THREAD_MB * (os.cpu_count() or 1)}MB"


def out_of_memory(limit: str) -> LakeError:
    """The one-line error of an export that ran out of DuckDB's ``limit``."""
    return LakeError(f"the export needs more memory than DuckDB's limit on its connection "
                     f"({limit}): a job, unit or order holds too many rows for it; set "
                     f"TRACELAKE_EXPORT_MEMORY (e.g. 1GB) and export again")


def open_for_export(lake: Path | str) -> duckdb.DuckDBPyConnection:
    """The published snapshot of ``lake``, opened as ``tracelake export epcis`` opens it (with
    :func:`export_memory` as DuckDB's memory limit)."""
    from tracelake.lake.paths import LakePaths
    from tracelake.lake.snapshot import open_snapshot

    return open_snapshot(LakePaths.of(Path(lake)), memory_limit=export_memory())


@dataclasses.dataclass
class ExportResult:
    """What an export wrote: events by kind, bytes, and a message when the selection is empty
    or some products' GTINs are not valid (those products use the private URN scheme)."""

    events: int
    by_kind: dict[str, int]
    bytes: int
    messages: list[str]


def export_epcis(con: duckdb.DuckDBPyConnection, out: TextIO, selection: Selection | None = None,
                 *, digital_link: bool = False, since: dt.datetime | None = None,
                 until: dt.datetime | None = None,
                 created: dt.datetime | None = None) -> ExportResult:
    """Write the EPCIS document of ``selection`` (default: the whole lake) to ``out``.

    ``since`` / ``until`` keep the events at or after / before those times.
    """
    selection = selection or Selection()
    scope: Scope = resolve(con, selection)
    events = Events(con, scope, digital_link=digital_link, since=since, until=until)
    try:
        header = {"tl:selection": selection.describe() or {"all": True}}
        if since is not None:
            header["tl:since"] = since.isoformat()
        if until is not None:
            header["tl:until"] = until.isoformat()
        stats: WriteStats = write_document(out, events, CONTEXT, header, created)
    except duckdb.OutOfMemoryException as exc:  # one key's rows (a job, a unit) beyond the limit
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
        raise out_of_memory(str(limit[0]) if limit else "?") from exc
    finally:
        events.close()
    messages = [scope.message] if scope.message else []
    for code, raw in sorted(events.ids.invalid.items()):
        messages.append(f"products: GTIN {raw!r} of {code} is not a valid GTIN (length or check "
                        f"digit); its items are named urn:tracelake:serial:{code}:…")
    return ExportResult(stats.events, dict(events.counts), stats.bytes, messages)
