"""XML read safely and in a stream: no entity expansion, no external references, no huge trees.

A report that declares entities (the "billion laughs" bomb) or points at an external DTD or
entity is rejected before any of its content is read, as defusedxml would; the parser never
touches the network and keeps libxml2's size limits (``huge_tree`` off). Reports are read with
``iterparse`` so that a 200 MB report never sits in memory whole: callers clear each element
once they have taken what they need (:func:`release`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from tracelake.errors import FileRejected

__all__ = ["local", "release", "root_tag", "safe_iterparse"]

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_ENTITY = re.compile(rb"<!ENTITY", re.I)


def local(tag: object) -> str:
    """An element's name without its namespace (``{urn:...}TestResult`` -> ``TestResult``)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _parser_kwargs() -> dict[str, Any]:
    return {"resolve_entities": False, "no_network": True, "huge_tree": False,
            "load_dtd": False, "dtd_validation": False, "remove_comments": True,
            "remove_pis": True}


def _check_prolog(path: Path, head: bytes) -> None:
    """Reject a document whose prolog declares entities or names an external DTD."""
    if not _DOCTYPE.search(head):
        return
    if _ENTITY.search(head):
        raise FileRejected(str(path), "the XML declares entities (<!ENTITY>); reports are read "
                           "without entity expansion, so the file is rejected")
    doctype = head[_DOCTYPE.search(head).start():]  # type: ignore[union-attr]
    if re.match(rb"<!DOCTYPE\s+[\w:.-]+\s+(SYSTEM|PUBLIC)\b", doctype, re.I):
        raise FileRejected(str(path), "the XML refers to an external DTD (<!DOCTYPE ... SYSTEM>); "
                           "reports are read without external references, so the file is "
                           "rejected")


def _check_docinfo(path: Path, root: Any) -> None:
    """The parser's own view of the DTD: declared entities or an external subset are refused."""
    info = root.getroottree().docinfo
    dtd = info.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise FileRejected(str(path), "the XML declares entities (<!ENTITY>); reports are read "
                           "without entity expansion, so the file is rejected")
    if info.system_url or info.public_id:
        raise FileRejected(str(path), "the XML refers to an external DTD; reports are read "
                           "without external references, so the file is rejected")


def root_tag(path: Path) -> str | None:
    """The local name of the document's root element, or None if the file is not XML."""
    parser = etree.XMLPullParser(events=("start",), **_parser_kwargs())
    try:  # fed in small blocks: the root is known even when the document breaks further on
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(4096), b""):
                broken = False
                try:
                    parser.feed(block)
                except etree.XMLSyntaxError:
                    broken = True
                for _event, element in parser.read_events():
                    return local(element.tag)
                if broken:
                    return None
    except (etree.XMLSyntaxError, OSError, ValueError):
        return None
    return None


def safe_iterparse(path: Path, *, events: tuple[str, ...] = ("end",),
                   tag: str | list[str] | None = None) -> Iterator[tuple[str, Any]]:
    """``lxml.etree.iterparse`` over a report, refusing entities and external references.

    Parse errors (a truncated or malformed file) become one-line :class:`FileRejected` reasons
    naming the line.
    """
    with path.open("rb") as fh:
        _check_prolog(path, fh.read(1 << 16))
        fh.seek(0)
        parser = etree.iterparse(fh, events=events, tag=tag, **_parser_kwargs())
        checked = False
        try:
            for event, element in parser:
                if not checked:  # the prolog (and any DTD) is parsed before the first event
                    _check_docinfo(path, element)
                    checked = True
                yield event, element
        except etree.XMLSyntaxError as exc:
            raise FileRejected(str(path), _syntax_reason(path, exc)) from None


def _syntax_reason(path: Path, exc: etree.XMLSyntaxError) -> str:
    msg = (exc.msg or str(exc)).strip().splitlines()[0]
    line = exc.lineno or 0
    if "Excessive depth" in msg:
        return (f"the XML nests elements deeper than 256 levels (line {line}), which no report "
                "does (a limit kept against hostile files); nothing of it is loaded")
    if "XML_PARSE_HUGE" in msg or "Resource limit" in msg:
        return (f"the XML holds a value (attribute or text) larger than 10 MB (line {line}), "
                "which no report does (a limit kept against hostile files); nothing of it is "
                "loaded")
    if not line:
        return f"is not well-formed XML ({msg}); nothing of it is loaded"
    if "entity" in msg.lower():
        return (f"the XML uses an entity at line {line} ({msg}); reports are read without "
                "entity expansion, so the file is rejected")
    if line and line >= _line_count(path):
        return (f"the XML report is cut off at line {line} ({msg}): the file ends before its "
                "elements are closed; nothing of it is loaded")
    return f"is not well-formed XML at line {line} ({msg}); nothing of it is loaded"


def _line_count(path: Path) -> int:
    """Lines in the file (read in blocks; only on the error path)."""
    lines = 1
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines


def release(element: Any) -> None:
    """Free an element already read, and the siblings before it, so memory stays flat."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
