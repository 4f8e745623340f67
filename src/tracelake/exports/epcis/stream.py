"""Writing an EPCIS document as a stream: the header, then each event as it comes, then the
closing brackets, so that an export of a million events holds one event in memory at a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any, TextIO

__all__ = ["WriteStats", "write_document"]


@dataclasses.dataclass
class WriteStats:
    """What a write produced: events by kind, and bytes written."""

    events: int = 0
    by_kind: dict[str, int] = dataclasses.field(default_factory=dict)
    bytes: int = 0


def write_document(out: TextIO, events: Iterable[dict[str, Any]], context: list[Any],
                   header: dict[str, Any] | None = None,
                   created: dt.datetime | None = None) -> WriteStats:
    """Write one ``EPCISDocument`` (schemaVersion 2.0) holding ``events`` to ``out``."""
    created = created or dt.datetime.now(dt.UTC)
    head = {"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": created.astimezone(dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"), **(header or {})}
    text = json.dumps(head, ensure_ascii=False)
    first = text[:-1] + ', "epcisBody": {"eventList": ['
    stats = WriteStats()
    out.write(first)
    stats.bytes += len(first)
    sep = "\n  "
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    for event in events:
        chunk = sep + dumps(event)
        out.write(chunk)
        stats.bytes += len(chunk)
        stats.events += 1
        sep = ",\n  "
    out.write("\n]}}\n")
    stats.bytes += 5
    return stats
