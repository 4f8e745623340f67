"""Links to the dashboards' pages, as answers carry them (``batch?job=J-1042``): relative to the
dashboards' root, so the same answer works behind any host name or prefix."""

from __future__ import annotations

from urllib.parse import urlencode

__all__ = ["link"]


def link(page: str, **params: str | None) -> str:
    """A dashboards link: ``batch?job=J-1042`` (values URL-encoded, empty ones left out)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{page}?{query}" if query else page
