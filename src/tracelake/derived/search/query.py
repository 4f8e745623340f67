"""Answering ``find``: what the lake holds under a piece of text, best first, each hit a link.

Order of evidence (the ``match`` of a hit, and its score):

* ``exact`` 1.0 — the identifier, as typed; ``gs1`` 1.0 — the serial, lot or GTIN of a label;
* ``prefix`` 0.8–0.9 — identifiers starting with the text (closer lengths first);
* ``case_insensitive`` 0.6–0.7 — the same, ignoring case;
* ``typo`` 0.44–0.5 — one wrong, missing, extra or swapped character, only when none of the
  above and the text is one word; swapped pairs first, then look-alike characters (0/O), other
  wrong ones, missing or extra ones (at most 10: a serial in a dense range has many neighbours);
* ``separator`` 0.4–0.45 — the identifier with its separators left out or changed (``CAP100``
  for ``CAP-100``, ``spx200 0004``), only when none of the above;
* ``word_typo`` 0.35–0.4 — a name of several words (a customer, a supplier) with one word one
  edit away (``Kestrel Pharna Ltd``), only when none of the above;
* ``full_text`` 0.1–0.3 — words of NCR and ECN descriptions and quarantine reasons (BM25); a
  word the descriptions never use is read as the nearest one that they do, one edit away
  (``scrach`` finds ``scratch``), and such hits score at most 0.2.

An identifier that names several things (a lot number that is also a job number, one lot
number on two components) gives one hit for each, labelled by ``kind``.
"""

from __future__ import annotations

import json
import re
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from tracelake.derived.search.gs1 import Gs1Label, parse_label
from tracelake.derived.search.index import (
    DELETE_HASH,
    DELETED_CHAR,
    ID_PARAM,
    KINDS,
    TYPO_LENGTHS,
    has_search_index,
)
from tracelake.derived.search.merge import (
    DELTA_ORDER,
    KEYED_COLUMNS,
    dead_between,
    delta_of,
    merged,
    order,
)
from tracelake.errors import InputError, LakeError
from tracelake.lake.extensions import load_fts
from tracelake.lake.literals import execute

__all__ = ["FindAnswer", "find", "hits_frame"]

#: At most this many typo hits (a serial in a dense range has many neighbours one edit away).
TYPO_MAX_HITS = 10
#: Characters easily typed or read for each other: such a wrong character ranks above others.
LOOK_ALIKE = {frozenset(p) for p in ("0o", "1l", "1i", "5s", "8b", "2z", "6g", "0d", "il")}
FULL_TEXT_KIND = "text"

@dataclass
class FindAnswer:
    """The answer of ``tracelake find``: the hits for a text, best first."""

    query: str
    hits: list[dict[str, Any]] = field(default_factory=list)
    kind: str | None = None
    label: Gs1Label | None = None
    message: str | None = None

    @property
    def by_kind(self) -> dict[str, int]:
        """How many hits of each kind, in the order of :data:`KINDS`."""
        counts = Counter(h["kind"] for h in self.hits)
        return {k: counts[k] for k in KINDS if counts[k]}

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document (plus ``by_kind``, the GS1 label read, and a message)."""
        out: dict[str, Any] = {"query": self.query, "hits": self.hits, "by_kind": self.by_kind}
        if self.kind:
            out["kind"] = self.kind
        if self.label:
            out["gs1"] = self.label.as_dict()
        if self.message:
            out["message"] = self.message
        return out


def hits_frame(answer: FindAnswer) -> pl.DataFrame:
    """The hits as a flat table (CSV and the terminal): the link as page and JSON parameters."""
    return pl.DataFrame(
        [{"kind": h["kind"], "id": h["id"], "component": h.get("component"),
          "match": h["match"], "score": h["score"], "record": h["record"],
          "context": h["context"], "page": h["link"]["page"],
          "params": json.dumps(h["link"]["params"], ensure_ascii=False)} for h in answer.hits],
        schema={"kind": pl.String, "id": pl.String, "component": pl.String, "match": pl.String,
                "score": pl.Float64, "record": pl.String, "context": pl.String,
                "page": pl.String, "params": pl.String})


def find(con: duckdb.DuckDBPyConnection, text: str, *, kind: str | None = None,
         limit: int = 50) -> FindAnswer:
    """Every record naming ``text`` (an identifier, a GS1 label, or words), best first.

    ``con`` is a connection to the lake or its snapshot (``open_snapshot``); ``kind`` keeps only
    hits of that kind; at most ``limit`` hits. Each hit is ``{"kind", "id", "record", "context",
    "score", "match", "link": {"page", "params"}}``, with ``component`` for lots and fitted
    parts. Unknown text gives no hits and a message, not an error.
    """
    query = text.strip()
    if kind is not None and kind not in KINDS:
        raise InputError(f"--kind {kind!r} is not a kind of hit; use one of: {', '.join(KINDS)}")
    if limit < 1:
        raise InputError(f"limit = {limit}: give at least 1")
    answer = FindAnswer(query=query, kind=kind)
    if not query:
        answer.message = "nothing to find: give an identifier, a label or some words"
        return answer
    if not has_search_index(con):
        raise LakeError("the lake has no search index yet; run 'tracelake ingest' "
                        "(any new run builds it)")
    kinds = [kind] if kind else [k for k in KINDS if k != FULL_TEXT_KIND]
    hits: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def add(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            key = (row["kind"], row["id"], row["record"], json.dumps(row["link"]))
            if key not in hits or hits[key]["score"] < row["score"]:
                hits[key] = row

    answer.label = parse_label(query)
    if answer.label is not None:
        add(_label_hits(con, answer.label, kinds, limit))
    if answer.label is None or answer.label.form == "gtin":
        ids = [k for k in kinds if k != FULL_TEXT_KIND]
        if ids:
            add(_identifier_hits(con, query, ids, limit))
            if not hits and _typo_candidate(query):
                add(_typo_hits(con, query, ids, limit))
            if not hits:
                add(_separator_hits(con, query, ids, limit))
            if not hits:
                add(_word_typo_hits(con, query, ids, limit))
        if kind in (None, FULL_TEXT_KIND):
            found = _text_hits(con, query, limit)
            if not found:
                corrected = _corrected_words(con, query)
                if corrected != query:
                    found = [{**h, "match": "full_text_typo", "score": round(h["score"] * 0.66, 4)}
                             for h in _text_hits(con, corrected, limit)]
            add(found)
    ranked = sorted(hits.values(), key=lambda h: (-h["score"], h["_ord"], h["id"], h["record"]))
    answer.hits = [{k: v for k, v in h.items() if k != "_ord"} for h in ranked[:limit]]
    if not answer.hits:
        what = f" of kind {kind}" if kind else ""
        answer.message = (f"nothing{what} in the lake matches {query!r}: no identifier, "
                          "label part or description words")
    return answer


def _typo_candidate(text: str) -> bool:
    """Whether a text may be a mistyped identifier: one word of a length identifiers have."""
    return TYPO_LENGTHS[0] <= len(text) <= TYPO_LENGTHS[1] and not any(c.isspace() for c in text)


def _hit(row: tuple[Any, ...], match: str, score: float) -> dict[str, Any]:
    _eid, kind, id_, component, record, context, page, params = row
    hit: dict[str, Any] = {"kind": kind, "id": id_, "record": record, "context": context,
                           "score": round(score, 4), "match": match}
    if component is not None:
        hit["component"] = component
    hit["link"] = {"page": page,
                   "params": {ID_PARAM[page]: id_} if params is None else json.loads(params)}
    hit["_ord"] = KINDS.index(kind)
    return hit


def _kind_filter(kinds: list[str]) -> tuple[str, list[Any]]:
    if len(kinds) == len(KINDS) - 1:
        return "", []
    return " AND kind IN (SELECT unnest(?::VARCHAR[]))", [kinds]


def _prefix_rows(con: duckdb.DuckDBPyConnection, text: str, kinds: list[str],
                 limit: int) -> list[tuple[Any, ...]]:
    """Entries whose lower-case id starts with the lower-case text: exact ones first."""
    lo, hi = execute(con, """
        SELECT coalesce((SELECT max(eid) FROM search.fence WHERE k < lower($q)), 0),
               coalesce((SELECT min(eid) FROM search.fence WHERE k > lower($q) || chr(1114111)),
                        (SELECT count(*) FROM search.entries))""", {"q": text}).fetchone()  # type: ignore[misc]
    where, params = _kind_filter(kinds)
    delta = delta_of(con)
    dead = dead_between(con, lo, hi) if delta.dead else set()
    # no ORDER BY: rows come in table (eid) order, and the scan stops at the limit; the
    # exact key sorts first among the keys it prefixes (entries no longer current are read
    # past: at most as many more rows as there are dead ones in the range)
    rows = execute(con, f"""
        SELECT {KEYED_COLUMNS} FROM search.entries
        WHERE eid >= ?::UINTEGER AND eid < ?::UINTEGER AND starts_with(lower(id), lower(?)){where}
        LIMIT ?""", [lo, hi, text, *params, limit + len(dead)]).fetchall()
    rows = sorted((r for r in rows if r[0] not in dead), key=lambda r: r[0])[:limit]
    if not delta.entries:
        return [r[:8] for r in rows]
    recent = execute(con, f"""
        SELECT {KEYED_COLUMNS} FROM search.entries_delta
        WHERE starts_with(lower(id), lower(?)){where}
        ORDER BY {DELTA_ORDER} LIMIT ?""", [text, *params, limit]).fetchall()
    return merged(rows, recent)[:limit]


def _identifier_hits(con: duckdb.DuckDBPyConnection, text: str, kinds: list[str],
                     limit: int) -> list[dict[str, Any]]:
    hits = []
    for row in _prefix_rows(con, text, kinds, limit):
        id_ = row[2]
        if id_ == text:
            hits.append(_hit(row, "exact", 1.0))
        elif id_.startswith(text):
            hits.append(_hit(row, "prefix", 0.8 + 0.1 * len(text) / len(id_)))
        else:
            closeness = len(text) / len(id_)
            hits.append(_hit(row, "case_insensitive", 0.6 + 0.1 * closeness))
    return hits


def _typo_hits(con: duckdb.DuckDBPyConnection, text: str, kinds: list[str],
               limit: int) -> list[dict[str, Any]]:
    """Identifiers one edit away, from the symmetric-delete index, likeliest first.

    The text (deletion position q = 0) and each of its one-character deletions (q > 0) is one
    point lookup (zone maps prune it to a row group). A row of the index (an id's deletion at
    position k of character c, or none) is one edit away when: the id is one longer and q = 0
    (a missing character), one shorter and k = 0 (an extra one), the same length and k = q (a
    wrong one), or k = q +/- 1 with the same character deleted from both (a swapped pair). So
    the hits are known before any id is read, and only those kept are read (and checked, for
    32-bit hash collisions). Swapped pairs rank first, then look-alike characters (0/O, 1/l).
    """
    n = len(text)
    variants = execute(con, f"""
        SELECT i, {DELETE_HASH.format(s='lower($q)')}, {DELETED_CHAR.format(s='lower($q)')} & 65535
        FROM range(0, length($q) + 1) r(i)""", {"q": text}).fetchall()
    rank: dict[int, int] = {}
    delta = delta_of(con)
    tables = ["search.deletes"] + ([] if not delta.entries else ["search.deletes_delta"])
    found = con.execute(" UNION ALL ".join(
        f"SELECT {q} AS q, {cq} AS cq, v FROM {table} WHERE h = {int(h)}::UINTEGER"
        for q, h, cq in variants for table in tables)).fetchall()
    dead: set[int] = set()
    if delta.dead and found:
        dead = {r[0] for r in execute(con, "SELECT eid FROM search.dead WHERE eid = ANY("
                                           "?::UINTEGER[])", [sorted({v >> 32 for *_, v in found})]
                                      ).fetchall()}
    for q, cq, v in found:
        eid, k, length, c = v >> 32, (v >> 24) & 0xFF, (v >> 16) & 0xFF, v & 0xFFFF
        if q == 0:
            r = 3 if length == n + 1 and k > 0 else None  # a missing character
        elif length == n - 1 and k == 0:
            r = 3  # an extra character
        elif length != n or not k:
            r = None
        elif k == q:
            r = None if c == cq else 1 if frozenset((chr(c), chr(cq))) in LOOK_ALIKE else 2
        else:
            r = 0 if abs(k - q) == 1 and c == cq else None  # a swapped pair
        if r is not None and eid not in dead:
            rank[eid] = min(r, rank.get(eid, r))
    wanted, lowered = set(kinds), text.lower()
    best = sorted((e for e in rank if e < delta.base), key=lambda e: (rank[e], e))
    best = best[:TYPO_MAX_HITS]
    recent = [e for e in rank if e >= delta.base]
    if recent:  # the likeliest of base and delta, in index order within a rank
        cut = rank[best[-1]] if len(best) == TYPO_MAX_HITS else max(rank.values())
        keyed = _entries(con, best + [e for e in recent if rank[e] <= cut], keyed=True)
        ranked = sorted(keyed, key=lambda r: (rank[r[0]], order(r)))[:TYPO_MAX_HITS]
        best = [r[0] for r in ranked]
    hits = []
    for row in _entries(con, best):
        if row[1] in wanted and is_one_edit(row[2].lower(), lowered):
            hits.append(_hit(row, "typo", 0.5 - 0.02 * rank[row[0]]))
    return hits[:limit]


def _loose(text: str) -> str:
    """An identifier without case or separators: ``CAP-100`` and ``cap 100`` are ``cap100``."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _separator_hits(con: duckdb.DuckDBPyConnection, text: str, kinds: list[str],
                    limit: int) -> list[dict[str, Any]]:
    """Identifiers equal to (or starting with) the text once case and separators are ignored."""
    key = _loose(text)
    # worth a scan: a separator typed, or one left out between letters and digits
    if len(key) < 3 or (key == text.lower() and not re.search(r"[a-z][0-9]|[0-9][a-z]", key)):
        return []
    where, params = _kind_filter(kinds)
    where = where.replace("?::", "$kinds::")
    match = f"""TRUE{where} AND (starts_with(regexp_replace(lower(id), '[^0-9a-z]', '', 'g'), $k)
              OR regexp_replace(lower(component), '[^0-9a-z]', '', 'g') = $k)"""
    args = {"k": key, "n": limit, **({"kinds": params[0]} if params else {})}
    delta = delta_of(con)
    alive = "" if not delta.dead else " AND eid NOT IN (SELECT eid FROM search.dead)"
    rows = execute(con, f"""
        SELECT {KEYED_COLUMNS} FROM search.entries WHERE {match}{alive}
        ORDER BY length(id), eid LIMIT $n""", args).fetchall()
    recent = [] if not delta.entries else execute(con, f"""
        SELECT {KEYED_COLUMNS} FROM search.entries_delta WHERE {match}
        ORDER BY length(id), {DELTA_ORDER} LIMIT $n""", args).fetchall()
    rows = merged(rows, recent, lead=lambda r: len(r[2]))[:limit]
    return [_hit(r, "separator", 0.45 if _loose(r[2]) == key else 0.4 + 0.04 * len(key) /
                 max(len(_loose(r[2])), 1)) for r in rows]


def _word_typo_hits(con: duckdb.DuckDBPyConnection, text: str, kinds: list[str],
                    limit: int) -> list[dict[str, Any]]:
    """Names of several words with the same words, one of them one edit away."""
    words = text.lower().split()
    if len(words) < 2:
        return []
    where, params = _kind_filter(kinds)
    delta = delta_of(con)
    alive = "" if not delta.dead else " AND eid NOT IN (SELECT eid FROM search.dead)"
    match = f"TRUE{where} AND contains(id, ' ') AND length(id) BETWEEN ? AND ?"
    args = [*params, len(text) - 2, len(text) + 2]
    rows = execute(con, f"SELECT {KEYED_COLUMNS} FROM search.entries WHERE {match}{alive} "
                        "ORDER BY eid", args).fetchall()
    recent = [] if not delta.entries else execute(
        con, f"SELECT {KEYED_COLUMNS} FROM search.entries_delta WHERE {match}", args).fetchall()
    rows = merged(rows, recent)
    hits = []
    for row in rows:
        theirs = row[2].lower().split()
        if len(theirs) != len(words):
            continue
        differ = [(a, b) for a, b in zip(theirs, words, strict=True) if a != b]
        if len(differ) == 1 and is_one_edit(*differ[0]):
            hits.append(_hit(row, "word_typo", 0.38))
    return hits[:limit]


def _corrected_words(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """The text with each word the descriptions never use replaced by the nearest word they do
    use (one edit away, the most used first); words already known are kept."""
    _ensure_fts(con)
    out = []
    for word in text.split():
        known = execute(con,
            "SELECT count(*) FROM fts_search_docs.dict WHERE term IN "
            "(SELECT stem(unnest(fts_search_docs.tokenize(?)), 'porter'))", [word]).fetchone()
        if (known and known[0]) or len(word) < 4 or not word.isalpha():
            out.append(word)
            continue
        near = execute(con, """
            SELECT d.term FROM fts_search_docs.dict d
            WHERE abs(length(d.term) - length(lower($w))) <= 1
              AND damerau_levenshtein(d.term, lower($w)) = 1
            ORDER BY d.df DESC, d.term LIMIT 1""", {"w": word}).fetchone()
        out.append(near[0] if near else word)
    return " ".join(out)


def is_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one wrong, missing, extra or swapped character."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (a[i:i + 2] == b[i:i + 2][::-1] and a[i + 2:] == b[i + 2:])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1:] == shorter[i:]


def _entries(con: duckdb.DuckDBPyConnection, eids: list[int], *,
             keyed: bool = False) -> list[tuple[Any, ...]]:
    """Entries by eid, in index order (with ``keyed``: keyed rows, see ``merge.order``).

    A committed index has rowid = eid (it is stored in eid order), and DuckDB fetches rows by
    rowid directly where a filter on eid reads whole row groups (~20 ms at 500k entries); the
    eids are checked, and looked up by column if the rowids ever disagree (e.g. an index read
    inside the transaction that built it).
    """
    base = delta_of(con).base
    wanted = sorted(e for e in set(eids) if e < base)
    recent = sorted(e for e in set(eids) if e >= base)
    rows = []
    if wanted:
        rows = execute(con, f"SELECT {KEYED_COLUMNS} FROM search.entries "
                           "WHERE rowid = ANY(?::BIGINT[]) ORDER BY eid", [wanted]).fetchall()
        if [r[0] for r in rows] != wanted:
            rows = execute(con, f"SELECT {KEYED_COLUMNS} FROM search.entries "
                               "WHERE eid = ANY(?::UINTEGER[]) ORDER BY eid", [wanted]).fetchall()
    if recent:
        rows = sorted(rows + execute(con, f"SELECT {KEYED_COLUMNS} FROM search.entries_delta "
                                         "WHERE eid = ANY(?::UINTEGER[])", [recent]).fetchall(),
                      key=order)
    return rows if keyed else [r[:8] for r in rows]


def _label_hits(con: duckdb.DuckDBPyConnection, label: Gs1Label, kinds: list[str],
                limit: int) -> list[dict[str, Any]]:
    """Hits for a label's serial (AI 21), lot (AI 10: a lot or a job) and GTIN (AI 01)."""
    product = None
    if label.gtin:
        row = execute(con, "SELECT product_code FROM products WHERE lpad(gtin, 14, '0') = "
                          "lpad(?, 14, '0') LIMIT 1", [label.gtin]).fetchone()
        product = row[0] if row else None
    hits: list[dict[str, Any]] = []
    wanted = [(label.serial, ["serial"]), (label.lot, ["lot", "job"])]
    for value, value_kinds in wanted:
        if not value:
            continue
        ks = [k for k in value_kinds if k in kinds]
        if ks:
            hits += [_hit(r, "gs1", 1.0) for r in _prefix_rows(con, value, ks, limit)
                     if r[2].lower() == value.lower()]
    if product and not hits and "job" in kinds:
        jobs = [r[0] for r in execute(con,
            "SELECT job_id FROM jobs WHERE product_code = ? ORDER BY created_at DESC LIMIT ?",
            [product, limit]).fetchall()]
        for job in jobs:
            hits += [_hit(r, "gs1", 0.95) for r in _prefix_rows(con, job, ["job"], 1)
                     if r[2] == job]
    for h in hits:
        if product:
            h["product"] = product
    return hits


def _text_hits(con: duckdb.DuckDBPyConnection, text: str, limit: int) -> list[dict[str, Any]]:
    """NCR and ECN descriptions and quarantine reasons matching the words (BM25)."""
    _ensure_fts(con)
    terms = execute(con, _TERMS, [text]).fetchall()
    if not terms:
        return []
    ids = ", ".join(str(int(t[0])) for t in terms)
    idf = ", ".join(repr(float(t[1])) for t in terms)
    scored = execute(con, f"""
        SELECT doc_id, sum(p.tfw * q.idf) AS score
        FROM search.postings p
        JOIN (SELECT unnest([{ids}]) AS termid, unnest([{idf}]) AS idf) q USING (termid)
        WHERE p.termid IN ({ids})
        GROUP BY doc_id ORDER BY score DESC, doc_id LIMIT ?""", [limit]).fetchall()
    if not scored:
        return []
    docs = {r[0]: r[1:] for r in execute(con,
        "SELECT doc_id, source, id, record, context, page, params FROM search.docs "
        "WHERE doc_id IN (SELECT unnest(?::INTEGER[]))", [[d for d, _ in scored]]).fetchall()}
    top = scored[0][1]
    out = []
    for doc_id, score in scored:
        source, id_, record, context, page, params = docs[doc_id]
        out.append({"kind": FULL_TEXT_KIND, "id": id_, "record": record,
                    "context": context if len(context) <= 160 else context[:157] + "…",
                    "score": round(0.1 + 0.2 * score / top, 4), "match": "full_text",
                    "source": source, "link": {"page": page, "params": json.loads(params)},
                    "_ord": KINDS.index(FULL_TEXT_KIND)})
    return out


_FTS_READY: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, bool] = weakref.WeakKeyDictionary()


def _ensure_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Make sure the FTS extension is loaded (from its wheel) before a full-text query, so that
    DuckDB never tries to download it (autoinstall) on a connection not from open_snapshot."""
    if con in _FTS_READY:
        return
    try:
        loaded = con.execute("SELECT count(*) FROM duckdb_extensions() "
                             "WHERE extension_name = 'fts' AND loaded").fetchone()[0]  # type: ignore[index]
        if not loaded:
            load_fts(con)
    except duckdb.PermissionException:  # file access is off: it was loaded before, or cannot be
        try:
            con.execute("SELECT stem('checks', 'porter')").fetchall()
        except duckdb.Error:
            raise LakeError("full-text search needs the FTS extension, which loads only before "
                            "file access is switched off: open the lake with "
                            "tracelake.lake.snapshot.open_snapshot") from None
    _FTS_READY[con] = True


# The words of the text as the index holds them (the extension's tokenizer and stemmer), with
# their inverse document frequency; BM25's other factor is precomputed in ``search.postings``.
_TERMS = """
SELECT termid, ln((num_docs - df + 0.5) / (df + 0.5) + 1) AS idf
FROM fts_search_docs.dict, fts_search_docs.stats
WHERE term IN (SELECT stem(unnest(fts_search_docs.tokenize(?)), 'porter'))"""
