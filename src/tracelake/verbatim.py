"""Text from the lake shown as stored: control characters made visible, nothing interpreted.

Every surface (CLI tables and messages, dashboards, records, CSV/XLSX exports) passes lake text
through these few functions, so a description such as ``*spec* :red[x] [link](http://e)`` or
``=HYPERLINK(...)`` reads the same everywhere and never acts. A leaf module: anyone may import it.
"""

from __future__ import annotations

import re

__all__ = ["ACTING", "FORMULA_START", "csv_safe", "md_escape", "visible"]

#: C0 controls except tab and newline, DEL, C1 controls; and the bidirectional overrides and
#: isolates that reorder the characters around them (Trojan Source): shown, never obeyed.
ACTING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    c = match.group()
    code = ord(c)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ␁ … ␟: the Unicode "control pictures"
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"[U+{code:04X}]"


def visible(text: str) -> str:
    """``text`` with every character that would act (NUL, escape sequences, carriage return,
    bidi overrides) replaced by a visible stand-in (``␀``, ``␛``, ``[U+202E]``); tab and newline
    kept. Right-to-left letters and emoji are left as they are."""
    return ACTING.sub(_picture, text) if ACTING.search(text) else text


#: The first characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A cell for CSV/XLSX: text that a spreadsheet would run as a formula gets a leading ``'``
    (OWASP), so it is shown, not evaluated. Anything else is left as it is."""
    return "'" + text if text.startswith(FORMULA_START) else text


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^\"'&%/@;?,])")


def md_escape(text: str) -> str:
    """``text`` for a Markdown element (Streamlit's ``st.markdown``, captions, labels) so it reads
    as stored: every ASCII punctuation character backslash-escaped (no emphasis, links, HTML,
    ``:red[...]`` colours, ``:emoji:`` codes, ``$math$``), runs of spaces kept, line breaks kept,
    control characters made visible."""
    escaped = _MD_SPECIAL.sub(r"\\\1", visible(text))
    escaped = escaped.replace("\t", "\u2003").replace("  ", " \u00a0")
    return escaped.replace("\n", "  \n")
