"""The page furniture of a printed record: fonts, running header and footer, headings, tables.

``RecordPDF`` is an fpdf2 document laid out like a controlled record: A4, a running header (record
title, job, product revision), a footer ("Page N of M", when it was generated, "uncontrolled when
printed"), numbered section headings that are also PDF bookmarks, and tables drawn row by row
with ``cell`` (several times faster than fpdf2's ``table()`` on a 500-unit batch).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from tracelake.records.forms import Fields
from tracelake.records.tables import Col, Table
from tracelake.verbatim import visible

__all__ = ["RecordPDF", "find_font"]

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/share/fonts/TTF"), Path("/usr/local/share/fonts"), Path("/Library/Fonts"))

NAVY = (31, 58, 95)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
ZEBRA = (246, 248, 250)
#: tone -> (fill, text colour)
TONES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "bad": ((253, 226, 225), (160, 20, 30)),
    "warn": ((255, 243, 205), (120, 72, 0)),
    "good": ((220, 242, 226), (20, 100, 50)),
    "info": ((226, 236, 248), (31, 58, 95)),
    "muted": ((255, 255, 255), (108, 117, 125)),
}
STRONG = {"bad": (176, 0, 32), "warn": (178, 106, 0), "good": (27, 127, 59), "info": NAVY}

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
#: What a core (Latin-1/Windows-1252) font cannot show, spelled so it stays visible.
_ASCII = {"→": "->", "←": "<-", "≤": "<=", "≥": ">=", "−": "-", "✓": "[ok]", "✗": "[x]", "≠": "!="}


def find_font(name: str) -> Path | None:
    """A TrueType font file on this system, or None."""
    for d in FONT_DIRS:
        if (d / name).is_file():
            return d / name
    for d in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
        if d.is_dir():
            for hit in d.rglob(name):
                return hit
    return None


class RecordPDF(FPDF):
    """An A4 record with running header and footer, bookmarked headings and fast tables."""

    def __init__(self, *, title: str, header_right: str, footer_left: str,
                 fonts: bool = True) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.title_text = title
        self.header_right = header_right
        self.footer_left = footer_left
        self.running = ""  # shown under the header's right side (the unit being read)
        self.running_pages: dict[int, str] = {}  # pages whose running line is set in advance
        self.set_margins(12, 21, 12)
        self.set_auto_page_break(True, 17)
        self.c_margin = 1.2
        self.alias_nb_pages("{nb_pg}")
        self.set_title(title)
        self.set_creator("tracelake")
        self._glyphs: set[int] | None = None
        self.cond_stretch = 100  # horizontal scaling of table text when there is no condensed face
        self._widths: dict[tuple[str, str, str], float] = {}
        self._load_fonts(fonts)
        self.core_fonts_encoding = "windows-1252"

    # ---- fonts and text ------------------------------------------------------------------------
    def _load_fonts(self, wanted: bool) -> None:
        regular = find_font("DejaVuSans.ttf") if wanted else None
        if regular is None:
            self.sans = self.cond = "helvetica"
            return
        self.sans = "dejavu"
        for style, name in (("", "DejaVuSans.ttf"), ("B", "DejaVuSans-Bold.ttf"),
                            ("I", "DejaVuSans-Oblique.ttf")):
            self.add_font(self.sans, style, find_font(name) or regular)
        cond = find_font("DejaVuSansCondensed.ttf")
        if cond is not None:
            self.cond = "dejavucond"
            for style, name in (("", "DejaVuSansCondensed.ttf"), ("B", "DejaVuSansCondensed-Bold.ttf"),
                                ("I", "DejaVuSansCondensed-Oblique.ttf")):
                self.add_font(self.cond, style, find_font(name) or cond)
        else:  # fonts-dejavu-core has no condensed face: narrow the regular one instead
            self.cond = self.sans
            self.cond_stretch = 88
        self._glyphs = set(self.fonts[self.sans].cmap)

    def normalize_text(self, text: str) -> str:
        """Text as the font can draw it: control characters as their visible stand-ins
        (``tracelake.verbatim.visible``), characters the font lacks as ``[U+XXXX]`` markers."""
        if not text.isascii():
            text = self._visible(text)
        elif not text.isprintable():
            text = self._visible(_CONTROL.sub(" ", text.replace("\t", " ")) if self._glyphs is None
                                 else text)
        return super().normalize_text(text)

    def _visible(self, text: str) -> str:
        out = []
        for c in unicodedata.normalize("NFC", visible(text.replace("\t", " "))):
            if c < " " and c != "\n":
                out.append(" ")
            elif self._glyphs is not None:
                out.append(c if c.isascii() or ord(c) in self._glyphs else f"[U+{ord(c):04X}]")
            else:
                try:
                    c.encode(self.core_fonts_encoding)
                    out.append(c)
                except UnicodeEncodeError:
                    out.append(_ASCII.get(c, f"[U+{ord(c):04X}]"))
        return "".join(out)

    def font(self, size: float, style: str = "", *, cond: bool = False,
             color: tuple[int, int, int] = INK) -> None:
        """Select a face, size and colour."""
        self.set_font(self.cond if cond else self.sans, style, size)
        self.set_stretching(self.cond_stretch if cond else 100)
        self.set_text_color(*color)

    # ---- page furniture ------------------------------------------------------------------------
    def header(self) -> None:
        """Running header: record title left, job and product revision right, a rule below."""
        self.set_xy(self.l_margin, 8)
        self.font(8.5, "B", color=NAVY)
        self.cell(self.epw * 0.55, 4.5, self.title_text)
        self.font(8, color=INK)
        self.cell(self.epw * 0.45, 4.5, self.header_right, align="R", new_x=XPos.LMARGIN,
                  new_y=YPos.NEXT)
        running = self.running_pages.get(self.page, self.running)
        if running:
            self.font(7.5, color=MUTED)
            self.cell(self.epw, 3.8, running, align="R")
        self.set_draw_color(*NAVY)
        self.set_line_width(0.4)
        self.line(self.l_margin, 17, self.w - self.r_margin, 17)
        self.set_line_width(0.2)
        self.set_xy(self.l_margin, self.t_margin)

    def footer(self) -> None:
        """Footer: who generated it and when, uncontrolled when printed, Page N of M."""
        y = self.h - 13
        self.set_draw_color(*RULE)
        self.line(self.l_margin, y, self.w - self.r_margin, y)
        self.set_xy(self.l_margin, y + 1.2)
        self.font(6.8, color=MUTED)
        self.lines_at(self.l_margin, y + 1.2, self.epw - 30, self.wrap(self.footer_left, self.epw - 30),
                      3.2)
        self.font(8, "B", color=INK)
        self.set_xy(self.w - self.r_margin - 27, y + 1.2)
        self.cell(27, 4, f"Page {self.page_no()} of {self.str_alias_nb_pages}")

    def ensure(self, height: float) -> None:
        """Start a new page unless ``height`` mm still fit on this one."""
        if self.y + height > self.page_break_trigger:
            self.add_page()

    # ---- headings and text ---------------------------------------------------------------------
    def heading(self, text: str, level: int = 0, *, bookmark: bool = True,
                outline_level: int | None = None, keep: float = 22) -> None:
        """A section heading (level 0), sub-heading (1) or minor heading (2), bookmarked in the
        PDF outline at ``outline_level`` (default: its level)."""
        size, gap = ((12.5, 4.0), (10, 2.5), (8.8, 1.8))[min(level, 2)]
        self.ensure(size * 0.5 + gap + keep)
        if self.y > self.t_margin + 1:
            self.ln(gap)
        if bookmark:
            self.start_section(text, level=level if outline_level is None else outline_level,
                               strict=False)
        self.font(size, "B", color=NAVY)
        lines = self.wrap(text, self.epw)
        self.lines_at(self.l_margin, self.y, self.epw, lines, size * 0.5)
        self.set_xy(self.l_margin, self.y + size * 0.5)
        if level == 0:
            self.set_draw_color(*NAVY)
            self.set_line_width(0.3)
            self.line(self.l_margin, self.y + 0.6, self.l_margin + self.epw, self.y + 0.6)
            self.set_line_width(0.2)
            self.ln(2.2)
        else:
            self.ln(1)

    def para(self, text: str, *, size: float = 8.5, style: str = "",
             color: tuple[int, int, int] = INK, gap: float = 1.2) -> None:
        """A paragraph across the page."""
        self.font(size, style, color=color)
        line_h = size * 0.45
        for line in self.wrap(text, self.epw):
            self.ensure(line_h)
            self.cell(self.epw, line_h, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(gap)

    def note(self, text: str) -> None:
        """A muted one-liner, e.g. "None recorded"."""
        self.para(text, size=8, style="I", color=MUTED)

    def fields(self, pairs: Sequence[tuple[str, str]], *, columns: int = 2, label_w: float = 30,
               tones: dict[str, str] | None = None) -> None:
        """Label/value pairs in a grid, as on the head of a form."""
        col_w = self.epw / columns
        line_h = 4.1
        for start in range(0, len(pairs), columns):
            chunk = pairs[start:start + columns]
            self.font(8.3, cond=True)
            wrapped = [self.wrap(value or "—", col_w - label_w - 2) for _, value in chunk]
            first = True
            while wrapped:
                n = max(len(w) for w in wrapped)
                fit = self._lines_that_fit(n, line_h, 1.6, self.y)
                if fit is None:
                    self.add_page()
                    continue
                y, h = self.y, fit * line_h + 1.6
                for i, ((label, _), lines) in enumerate(zip(chunk, wrapped, strict=True)):
                    x = self.l_margin + i * col_w
                    self.font(7.3, "B", cond=True, color=MUTED)
                    self.lines_at(x, y + 0.8, label_w, [label.upper() if first else ""], line_h)
                    tone = (tones or {}).get(label)
                    self.font(8.3, "B" if tone else "", cond=True,
                              color=STRONG.get(tone, INK) if tone else INK)
                    self.lines_at(x + label_w, y + 0.8, col_w - label_w - 2, lines[:fit], line_h)
                self.set_draw_color(*RULE)
                self.line(self.l_margin, y + h, self.l_margin + self.epw, y + h)
                self.set_y(y + h)
                wrapped = [w[fit:] for w in wrapped] if fit < n else []
                first = False
                if wrapped:
                    self.add_page()
        self.ln(2)

    def _lines_that_fit(self, n: int, line_h: float, pad: float, y: float) -> int | None:
        """How many of a block's ``n`` lines to draw from ``y``: all if they fit; as many as fit
        if the block is taller than a page anyway; None to start it on the next page."""
        room = self.page_break_trigger - y
        if n * line_h + pad <= room:
            return n
        full = self.page_break_trigger - self.t_margin - self.HEAD_H
        if n * line_h + pad <= full:
            return None
        fit = int((room - pad) // line_h)
        return fit if fit >= 3 else None

    # ---- measuring and wrapping (fpdf2's multi_cell is exact but slow) -------------------------
    def text_w(self, text: str) -> float:
        """Width in mm of ``text`` (already made visible) in the current font and size."""
        key = (self.font_family, self.font_style, text)
        units = self._widths.get(key)
        if units is None:
            cw = self.current_font.cw
            if self.is_ttf_font:
                units = sum(cw[ord(c)] for c in text)
            else:
                units = sum(cw[c] for c in text.encode(self.core_fonts_encoding, "replace")
                            .decode("latin-1"))
            if len(self._widths) < 200_000:
                self._widths[key] = units
        return units * self.font_size_pt * 0.001 / self.k * self.font_stretching / 100

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines that fit ``width`` mm: at spaces, else after ``/ _ - :``."""
        room = width - 2 * self.c_margin
        text = self._visible(text) if not (text.isascii() and text.isprintable()) else text
        out: list[str] = []
        for para in text.split("\n"):
            if self.text_w(para) <= room:
                out.append(para)
                continue
            line = ""
            for word in para.split(" "):
                cand = f"{line} {word}" if line else word
                if self.text_w(cand) <= room:
                    line = cand
                    continue
                if line:
                    out.append(line)
                while self.text_w(word) > room and len(word) > 1:
                    cut = self._cut(word, room)
                    out.append(word[:cut])
                    word = word[cut:]
                line = word
            out.append(line)
        return out

    def _cut(self, word: str, room: float) -> int:
        i = 1
        while i < len(word) and self.text_w(word[:i + 1]) <= room:
            i += 1
        soft = max(word.rfind(c, 0, i) for c in "/_-:.,;")
        return soft + 1 if soft > i // 3 else i

    def lines_at(self, x: float, y: float, w: float, lines: Sequence[str], line_h: float,
                 align: str = "L", link: Any = "") -> None:
        """Draw pre-wrapped lines from (x, y) down (with ``text``: much cheaper than ``cell``)."""
        if link:
            for k, line in enumerate(lines):
                self.set_xy(x, y + k * line_h)
                self.cell(w, line_h, line, align=align, link=link)
            return
        base = y + 0.5 * line_h + 0.3 * self.font_size
        for k, line in enumerate(lines):
            if not line:
                continue
            if align == "L":
                left = x + self.c_margin
            else:
                tw = self.text_w(self._visible(line) if not (line.isascii() and line.isprintable())
                                 else line)
                left = x + w - self.c_margin - tw if align == "R" else x + (w - tw) / 2
            self.text(left, base + k * line_h, line)
        self.set_xy(x + w, y)

    def fit(self, text: str, width: float) -> str:
        """Text shortened with "…" to fit on one line of ``width`` mm."""
        room = width - 2 * self.c_margin
        text = self._visible(text) if not (text.isascii() and text.isprintable()) else text
        if self.text_w(text) <= room:
            return text
        while text and self.text_w(text + "…") > room:
            text = text[:-1]
        return text + "…"

    # ---- tables --------------------------------------------------------------------------------
    ROW_H = 3.5   # one text line in a table row
    PAD = 0.9     # above and below the text of a row
    HEAD_H = 5.2

    def widths(self, cols: Sequence[Col]) -> list[float]:
        """Column widths in mm, the page width shared by weight."""
        total = sum(c.weight for c in cols)
        return [self.epw * c.weight / total for c in cols]

    def draw(self, t: Table, *, links: Sequence[Any] | None = None, one_line: bool = False,
             size: float = 7.2) -> None:
        """Draw a record table (see :mod:`tracelake.records.tables`)."""
        self.table(t.cols, t.rows, tones=t.tones, links=links, one_line=one_line, empty=t.empty,
                   size=size)

    def form(self, f: Fields, *, columns: int = 2, label_w: float = 30) -> None:
        """Draw a form block (see :mod:`tracelake.records.forms`)."""
        self.fields(f.pairs, columns=columns, label_w=label_w, tones=f.tones)

    def table_head(self, cols: Sequence[Col], widths: Sequence[float]) -> None:
        """A table's header row (repeated at the top of each page it runs onto)."""
        self.set_fill_color(*NAVY)
        self.rect(self.l_margin, self.y, sum(widths), self.HEAD_H, style="F")
        self.font(6.8, "B", cond=True, color=(255, 255, 255))
        y = self.y
        x = self.l_margin
        self.set_fill_color(255, 255, 255)  # text takes the fill colour: no q/Q per cell
        for c, w in zip(cols, widths, strict=True):
            self.lines_at(x, y + 0.8, w, [self.fit(c.title, w)], self.HEAD_H - 1.6, c.align)
            x += w
        self.set_xy(self.l_margin, y + self.HEAD_H)

    def table(self, cols: Sequence[Col], rows: Sequence[Sequence[str]], *,
              tones: Sequence[str | None] | None = None, links: Sequence[Any] | None = None,
              link_col: int = 0, one_line: bool = False, empty: str = "None recorded.",
              size: float = 7.2) -> None:
        """Rows under a header that repeats on each new page; ``tones`` highlight rows
        ("bad", "warn", "good", "info", "muted"); ``one_line`` cuts cells to one line so the
        table's height is known in advance (see ``one_line_pages``)."""
        if not rows:
            self.note(empty)
            return
        widths = self.widths(cols)
        for i, row in enumerate(rows):
            tone = tones[i] if tones else None
            self.font(size, cond=True)
            cells = ([[self.fit(t, w)] for t, w in zip(row, widths, strict=True)] if one_line
                     else [self.wrap(t, w) for t, w in zip(row, widths, strict=True)])
            if i == 0:
                self.ensure(self.HEAD_H + min(max(len(c) for c in cells), 3) * self.ROW_H + 2 * self.PAD)
                self.table_head(cols, widths)
            while cells:  # a row taller than a page continues on the next
                n = max(len(c) for c in cells)
                fit = self._lines_that_fit(n, self.ROW_H, 2 * self.PAD, self.y)
                if fit is None:
                    self.add_page()
                    self.table_head(cols, widths)
                    continue
                self._row(cols, widths, [c[:fit] for c in cells], fit * self.ROW_H + 2 * self.PAD,
                          tone=tone, zebra=i % 2 == 1, link=links[i] if links else None,
                          link_col=link_col, size=size)
                cells = [c[fit:] for c in cells] if fit < n else []
                if cells:
                    self.add_page()
                    self.table_head(cols, widths)
        self.set_draw_color(*NAVY)
        self.line(self.l_margin, self.y, self.l_margin + sum(widths), self.y)
        self.ln(2.5)

    def _row(self, cols: Sequence[Col], widths: Sequence[float], cells: Sequence[Sequence[str]],
             h: float, *, tone: str | None, zebra: bool, link: Any, link_col: int,
             size: float) -> None:
        y = self.y
        fill = TONES[tone][0] if tone in TONES else (ZEBRA if zebra else None)
        if fill and fill != (255, 255, 255):
            self.set_fill_color(*fill)
            self.rect(self.l_margin, y, sum(widths), h, style="F")
        color = TONES[tone][1] if tone in TONES else INK
        self.font(size, cond=True, color=color)
        self.set_fill_color(*color)  # text is painted in the fill colour: no q/Q around each line
        x = self.l_margin
        for j, (c, w, lines) in enumerate(zip(cols, widths, cells, strict=True)):
            if link is not None and j == link_col:
                self.set_text_color(*STRONG["info"])
                self.lines_at(x, y + self.PAD, w, lines, self.ROW_H, c.align, link=link)
                self.set_text_color(*color)
            else:
                self.lines_at(x, y + self.PAD, w, lines, self.ROW_H, c.align)
            x += w
        self.set_draw_color(*RULE)
        self.line(self.l_margin, y + h, self.l_margin + sum(widths), y + h)
        self.set_xy(self.l_margin, y + h)

    def one_line_pages(self, n_rows: int, start_y: float) -> int:
        """Pages a ``one_line`` table of ``n_rows`` starting at ``start_y`` takes (same breaks
        as ``table``)."""
        row_h = self.ROW_H + 2 * self.PAD
        y, pages = start_y, 1
        if y + self.HEAD_H + row_h > self.page_break_trigger:
            pages, y = 2, self.t_margin
        y += self.HEAD_H
        for _ in range(n_rows):
            if y + row_h > self.page_break_trigger:
                pages += 1
                y = self.t_margin + self.HEAD_H
            y += row_h
        return pages

    def table_pages(self, t: Table, start_y: float, *, size: float = 7.2) -> int:
        """Pages ``draw(t)`` takes from ``start_y``, each cell wrapped as it will be drawn (same
        breaks as ``table``): a table drawn later, into pages reserved now, never cuts a cell."""
        if not t.rows:
            return 1
        widths = self.widths(t.cols)
        self.font(size, cond=True)
        heights = [max(len(self.wrap(c, w)) for c, w in zip(row, widths, strict=True))
                   for row in t.rows]
        y, pages = start_y, 1
        for i, n in enumerate(heights):
            if i == 0:
                if y + self.HEAD_H + min(n, 3) * self.ROW_H + 2 * self.PAD > self.page_break_trigger:
                    pages, y = pages + 1, self.t_margin
                y += self.HEAD_H
            while n:
                fit = self._lines_that_fit(n, self.ROW_H, 2 * self.PAD, y)
                if fit is None:
                    pages, y = pages + 1, self.t_margin + self.HEAD_H
                    continue
                y += fit * self.ROW_H + 2 * self.PAD
                n = n - fit if fit < n else 0
                if n:
                    pages, y = pages + 1, self.t_margin + self.HEAD_H
        return pages

    def verdict_box(self, headline: str, lines: Sequence[str], tone: str, *,
                    sub: str | None = None) -> None:
        """The release decision in large type inside a tinted box with a strong left bar."""
        fill, _ = TONES[tone]
        inner = self.epw - 9
        self.font(8.6)
        wrapped = [self.wrap(t, inner) for t in lines]
        heights = [len(w) * 4.2 + 0.8 for w in wrapped]
        h = 4 + (4.5 if sub else 0) + 12 + sum(heights) + 3
        self.ensure(h)
        y = self.y
        self.set_fill_color(*fill)
        self.rect(self.l_margin, y, self.epw, h, style="F")
        self.set_fill_color(*STRONG[tone])
        self.rect(self.l_margin, y, 2.4, h, style="F")
        self.set_xy(self.l_margin + 6, y + 4)
        if sub:
            self.font(7.5, "B", color=MUTED)
            self.cell(inner, 4.5, sub.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font(22, "B", color=STRONG[tone])
        self.cell(inner, 10, headline, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.ln(2)
        self.font(8.6, color=INK)
        yy = self.y
        for w in wrapped:
            self.lines_at(self.l_margin + 6, yy, inner, w, 4.2)
            yy += len(w) * 4.2 + 0.8
        self.set_xy(self.l_margin, y + h + 3)
