"""``--as-of WHEN``: one option, one help text and one reader for every command that answers
from the lake (``sql``, ``trace``, ``impact``, ``bmr``, ``dhr``, ``findings``, ``export``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from tracelake.cli.app import _reader, err

__all__ = ["AS_OF_HELP", "AsOfOption", "as_of_reader"]

AS_OF_HELP = ("Answer as the lake stood then: an ISO 8601 date (the end of that day in plant "
              "time), an ISO 8601 time (UTC when it has no offset), or an ingest run id (as "
              "that run left the lake). Review entries count when signed by then.")

AsOfOption = Annotated[str | None, typer.Option("--as-of", metavar="WHEN", help=AS_OF_HELP,
                                                show_default=False)]


@contextmanager
def as_of_reader(lake: Path, as_of: str | None, *, memory_limit: str | None = None
                 ) -> Iterator[tuple[Any, dict[str, Any] | None]]:
    """A read-only connection to the lake (now, or as it stood at ``as_of``) that holds a
    genealogy index, and the point as records and JSON answers carry it (None: now);
    ``memory_limit``: DuckDB's, on that connection.

    With a point, one line on stderr says which state of the lake answers.
    """
    if as_of is None:
        with _reader(lake, memory_limit=memory_limit) as con:
            yield con, None
        return
    from tracelake.derived.genealogy import build_index, has_index
    from tracelake.errors import LakeError
    from tracelake.lake.asof import open_as_of
    from tracelake.lake.paths import LakePaths

    con, point = open_as_of(LakePaths.of(lake), as_of, index=build_index,
                            memory_limit=memory_limit)
    try:
        if not has_index(con):
            raise LakeError(f"{lake}: the lake has no genealogy index yet; run "
                            "'tracelake ingest' (any new run builds it)")
        err.print(f"answering {point.label()}", highlight=False, markup=False)
        yield con, point.as_dict()
    finally:
        con.close()
