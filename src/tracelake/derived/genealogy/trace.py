"""Where-used and where-from: the questions the genealogy exists to answer, as library calls.

Each answer is a small object whose ``as_dict()`` is the JSON of ``tracelake trace`` in the CLI
contract. All reads go through the index built by :mod:`tracelake.derived.genealogy.index`. Where-used
is one lookup of the start and one query: the closure rows of the start with the unit row of
each holder; paths are walked in numpy along ``via_down``. The affected units stay Arrow
columns until someone reads ``affected`` (then the list of dicts is built once, in bulk), so a
recall of thousands of units, its summary and its export frame cost milliseconds.
"""

from __future__ import annotations

from tracelake.derived.genealogy.answers import WhereFrom, WhereUsed
from tracelake.derived.genealogy.where_from import where_from
from tracelake.derived.genealogy.where_used import supplier_lots, supplier_recall, where_used

__all__ = ["WhereFrom", "WhereUsed", "supplier_lots", "supplier_recall", "where_from",
           "where_used"]
