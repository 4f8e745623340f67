"""Identifiers of an EPCIS export: GS1 keys of the products that have a GTIN, a private URN
scheme for everything else.

* A serialised unit of a product with a GTIN is an SGTIN (``urn:epc:id:sgtin:CCCCCCC.IIIIII.S``)
  or, with ``digital_link``, a GS1 Digital Link URI (``https://id.gs1.org/01/GTIN/21/S``); a
  lot of such a product is an LGTIN class (``urn:epc:class:lgtin:…``, ``…/01/GTIN/10/LOT``).
  The GTIN is checked (length, check digit) with biip; the EPC URN needs the GS1 Company
  Prefix, which biip knows from GS1's prefix length list. When it does not, the Digital Link
  form is used (both are EPCIS 2.0 identifiers).
* Everything else uses tracelake's private URN scheme, never a made-up GTIN:
  ``urn:tracelake:serial:<product>:<serial>``, ``urn:tracelake:lot:<component>:<lot>``,
  ``urn:tracelake:job:<job>``, ``urn:tracelake:order:<order>``, ``urn:tracelake:party:<customer>``,
  ``urn:tracelake:equipment:<id>``, ``urn:tracelake:measurement:<step>:<measurement>``.
  Each part is percent-encoded (UTF-8) except letters, digits and ``-._~``, so ``:`` inside a
  code cannot shift the parts. Serials or lots a GS1 key cannot carry (more than 20
  characters, or characters outside GS1's set) fall back to this scheme too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, unquote

from biip import ParseError
from biip.gtin import Gtin

__all__ = ["PRIVATE_PREFIX", "Identifiers", "parse_private", "private_urn", "valid_gtin"]

PRIVATE_PREFIX = "urn:tracelake:"
# GS1 AI encodable character set 82 (serials, lots), at most 20 characters
_AI82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
# characters an EPC URN must percent-encode (TDS 2.x, table "characters permitted in EPC URIs")
_URN_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
# characters a GS1 Digital Link path segment must percent-encode
_DL_ESCAPES = {"!": "%21", '"': "%22", "%": "%25", "&": "%26", "'": "%27", "(": "%28",
               ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", "/": "%2F", ":": "%3A",
               ";": "%3B", "<": "%3C", "=": "%3D", ">": "%3E", "?": "%3F"}
DL_HOST = "https://id.gs1.org"


def _escape(value: str, table: Mapping[str, str]) -> str:
    return "".join(table.get(ch, ch) for ch in value)


def private_urn(kind: str, *parts: str) -> str:
    """``urn:tracelake:<kind>:<part>:<part>`` with each part percent-encoded (no cache kept for
    the life of the process: an export caches names per key range, :meth:`Identifiers.urn`)."""
    return PRIVATE_PREFIX + kind + "".join(":" + _quote(str(p)) for p in parts)


_PLAIN = re.compile(r"^[A-Za-z0-9._~-]*$")


def _quote(part: str) -> str:
    return part if _PLAIN.match(part) else quote(part, safe="")


def parse_private(urn: str) -> tuple[str, list[str]] | None:
    """(kind, parts) of a private URN, or None."""
    if not urn.startswith(PRIVATE_PREFIX):
        return None
    kind, *parts = urn[len(PRIVATE_PREFIX):].split(":")
    return kind, [unquote(p) for p in parts]


def valid_gtin(value: str | None) -> str | None:
    """The GTIN as 14 digits when ``value`` is a valid GTIN-8/12/13/14 (check digit too), else None."""
    if not value:
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) not in (8, 12, 13, 14):
        return None
    try:
        return Gtin.parse(text).as_gtin_14()
    except ParseError:
        return None


class Identifiers:
    """Turns the lake's codes into EPCIS identifiers (``gtins``: product code -> GTIN as stored).

    Names made are cached until :meth:`forget` (an export calls it at each key range): the
    cache holds one range's names, however big the lake. A cache kept for the whole export
    (65,536 names) filled only on bigger plants and, evicting and refilling, spread over ever
    more of Python's memory arenas (an export's peak: 31 MiB more at 25,000 units,
    47 MiB more at 200,000)."""

    def __init__(self, gtins: Mapping[str, str | None], *, digital_link: bool = False) -> None:
        self.digital_link = digital_link
        self.gtins: dict[str, str] = {}
        self.invalid: dict[str, str] = {}  # product code -> GTIN as stored that is no GTIN
        self._gcp: dict[str, str | None] = {}
        for code, raw in gtins.items():
            gtin = valid_gtin(raw)
            if gtin is not None:
                self.gtins[code] = gtin
                self._gcp[code] = self._company_prefix(gtin)
            elif raw:
                self.invalid[code] = str(raw)
        self._cache: dict[tuple[str, ...], str] = {}  # private URNs by (kind, *parts)
        self._units: dict[tuple[str, str], str] = {}  # items by (product, serial)

    def forget(self) -> None:
        """Drop the cached names (at the start of each key range)."""
        self._cache.clear()
        self._units.clear()

    def urn(self, kind: str, *parts: str) -> str:
        """:func:`private_urn`, cached until :meth:`forget`."""
        key = (kind, *parts)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = private_urn(kind, *parts)
        return hit

    @staticmethod
    def _company_prefix(gtin14: str) -> str | None:
        try:
            prefix = Gtin.parse(gtin14).company_prefix
        except ParseError:
            return None
        return prefix.value if prefix is not None else None

    def _gs1(self, kind: str, code: str, value: str) -> str | None:
        gtin = self.gtins.get(code)
        if gtin is None or not _AI82.match(value):
            return None
        gcp = self._gcp.get(code)
        if self.digital_link or gcp is None:
            ai = "21" if kind == "serial" else "10"
            return f"{DL_HOST}/01/{gtin}/{ai}/{_escape(value, _DL_ESCAPES)}"
        item = gtin[0] + gtin[1 + len(gcp):13]
        scheme = "urn:epc:id:sgtin:" if kind == "serial" else "urn:epc:class:lgtin:"
        return f"{scheme}{gcp}.{item}.{_escape(value, _URN_ESCAPES)}"

    def unit(self, product_code: str, serial: str) -> str:
        """A serialised item: SGTIN / Digital Link, or ``urn:tracelake:serial:<product>:<serial>``."""
        key = (product_code, serial)
        hit = self._units.get(key)
        if hit is None:
            hit = self._gs1("serial", product_code, serial) or private_urn("serial", product_code,
                                                                             serial)
            self._units[key] = hit
        return hit

    def lot(self, code: str, lot: str) -> str:
        """A lot (an EPC class): LGTIN / Digital Link, or ``urn:tracelake:lot:<code>:<lot>``."""
        return self._gs1("lot", code, lot) or private_urn("lot", code, lot)
