"""Writing reviews: one transaction on the lake's writer database, then a new published snapshot,
so pages, records and ``tracelake sql`` read the review at once. In the scale-out mode the entries
go into the DuckLake and this machine's serving copy is brought up to the snapshot they made."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

import duckdb

from tracelake.errors import LakeError, LakeNotFound
from tracelake.lake import ducklake, snapshot
from tracelake.lake.storage import LakePaths, connect_writer
from tracelake.review import chain

__all__ = ["review_writer", "write_review"]

T = TypeVar("T")


class ReviewConflict(LakeError):
    """Two sites signed at the same moment (scale-out mode) and this review lost its commit."""


def write_review(lake: LakePaths, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run ``work`` in :func:`review_writer` and return what it returns; when it lost its commit
    to a review another site signed at the same moment, run it again (it then sees that review,
    so the chain goes on from it; a record hash the signer saw is checked again too)."""
    for attempt in range(1, ducklake.MAX_RETRIES + 1):
        try:
            with review_writer(lake) as con:
                return work(con)
        except ReviewConflict:
            if attempt == ducklake.MAX_RETRIES:
                raise
            ducklake.back_off(attempt)
    raise AssertionError("unreachable")


@contextmanager
def review_writer(lake: LakePaths) -> Iterator[duckdb.DuckDBPyConnection]:
    """The writer connection (holding the lake's writer lock, like ingest) in a transaction;
    commits when the block ends without error, then publishes the snapshot.

    Raises:
        LakeNotFound: there is no lake here.
        LakeError: another process is writing the lake, or the snapshot could not be published.
    """
    if not (lake.scaleout or lake.database.exists()):
        raise LakeNotFound(f"{lake.root}: no lake here yet; build one with "
                           f"'tracelake ingest PATH --lake {lake.root}'")
    with connect_writer(lake) as con:
        chain.create_table(con)
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            with suppress(duckdb.Error):  # (a COMMIT that lost has already rolled back)
                con.execute("ROLLBACK")
            if ducklake.is_conflict(exc):
                raise ReviewConflict("another site recorded a review at the same moment; "
                                     "nothing of this one was recorded: look at the record "
                                     "again and sign again") from None
            raise
        if not lake.scaleout:  # (scale-out: published below, once the writer has closed)
            try:
                snapshot.publish(con, lake)
            except Exception as exc:  # the review is committed; only the reader copy failed
                raise LakeError(f"{lake.serving}: the review was recorded but the snapshot for "
                                f"readers could not be published ({exc})") from exc
    if lake.scaleout:
        from tracelake.ingest.serving import refresh_serving

        try:
            refresh_serving(lake, force=True)
        except Exception as exc:  # the review is committed; only this machine's copy failed
            raise LakeError(f"{lake.serving}: the review was recorded but this machine's "
                            f"serving copy could not be brought up to date ({exc}); run "
                            f"'tracelake publish --lake {lake.root}'") from exc
