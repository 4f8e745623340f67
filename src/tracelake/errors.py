"""The errors tracelake raises, each with a message a plant user can act on.

Every error is a :class:`TracelakeError`; the CLI prints ``str(error)`` as one line and exits 1.

* TracelakeError
  + InputError (ValueError) ......... a file or argument the user gave cannot be used
    - FileRejected .................. a whole input file cannot be read (names the file, row, column)
    - MappingError .................. a mapping file is missing, unreadable or inconsistent
  + LakeError ....................... the lake cannot be opened, written or published
    - LakeNotFound .................. no lake (or no published snapshot) at the given path
    - RecordNotFound ................ the job, serial or record asked for is not in the lake
  + QueryRefused (PermissionError) .. ``tracelake sql`` was asked for anything but a read
  + QueryStopped .................... a query passed its time or memory limit and was stopped
"""

from __future__ import annotations

__all__ = [
    "FileRejected",
    "InputError",
    "LakeError",
    "LakeNotFound",
    "MappingError",
    "QueryRefused",
    "QueryStopped",
    "RecordNotFound",
    "TracelakeError",
]


class TracelakeError(Exception):
    """Base class of every error tracelake raises on purpose."""


class InputError(TracelakeError, ValueError):
    """A file or argument given by the user cannot be used."""


class FileRejected(InputError):
    """A whole input file cannot be read; nothing of it is loaded.

    The message names the file and, where known, the row and column at fault.
    """

    def __init__(self, path: str, reason: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        self.path = path
        self.reason = reason
        self.row = row
        self.column = column
        where = path
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")


class MappingError(InputError):
    """A mapping file is missing, unreadable or says something inconsistent."""


class LakeError(TracelakeError):
    """The lake cannot be opened, written or published."""


class LakeNotFound(LakeError):
    """There is no lake, or no published snapshot of it, at the given path."""


class RecordNotFound(LakeError, LookupError):
    """The job, serial or other record asked for is not in the lake."""


class QueryRefused(TracelakeError, PermissionError):
    """A query was refused because it would write, attach or touch files."""


class QueryStopped(TracelakeError):
    """A query ran past its time limit or needed more than its memory limit, and was stopped."""
