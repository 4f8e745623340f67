"""The search box in every page's header: anything typed or scanned, every record that names it.

Hits come from ``tracelake.derived.search.find`` (through ``data.find``); each carries a link
``{"page": ..., "params": {...}}`` and is shown as a button that opens that page at that record
(the router switches page on the next run, with the parameters in the query string).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboards import data, strings, ui
from tracelake.errors import TracelakeError

#: Page names a find link may use, to this app's pages (url paths).
PAGE_ALIASES = {
    "recall": "recall", "where_used": "recall", "lot": "recall",
    "device": "device", "device_history": "device", "dhr": "device", "serial": "device",
    "batch": "batch", "batch_record": "batch", "bmr": "batch", "job": "batch",
    "trends": "trends", "ncr_trends": "trends",
    "calibration": "calibration", "equipment": "calibration",
    "data-quality": "data-quality", "data_quality": "data-quality", "quality": "data-quality",
    "ask": "ask", "sql": "ask",
}


def _go(page: str, params: dict[str, str]) -> None:
    st.session_state["_goto"] = (page, params)
    st.session_state[strings.SEARCH_KEY] = ""


def _field(hit: Any, name: str) -> Any:
    return hit.get(name) if isinstance(hit, Mapping) else getattr(hit, name, None)


def search_box(pages: Mapping[str, Any]) -> None:
    """The header's search box and, when something is typed, its hits as links."""
    text = st.text_input(strings.SEARCH_LABEL, key=strings.SEARCH_KEY,
                         placeholder=strings.SEARCH_PLACEHOLDER, icon=":material/search:")
    if not text.strip():
        return
    try:
        hits, message = data.find(text.strip())
    except TracelakeError as exc:  # e.g. no lake, or no search index yet
        st.caption(ui.esc(exc))
        return
    if not hits:
        st.caption(ui.esc(message) if message
                   else strings.SEARCH_NONE.format(text=ui.esc(repr(text.strip()))))
        return
    st.caption(strings.SEARCH_HITS.format(n=len(hits), text=ui.esc(repr(text.strip()))))
    with st.container(border=True, height=min(320, 16 + 40 * len(hits))):
        for i, hit in enumerate(hits[:50]):
            link = _field(hit, "link") or {}
            page = PAGE_ALIASES.get(str(link.get("page")))
            label = f"**{ui.esc(_field(hit, 'kind'))}** {ui.esc(_field(hit, 'id'))}"
            context = ui.esc(_field(hit, "context")) if _field(hit, "context") else None
            if page is None or page not in pages:
                st.markdown(f"{label} — {context}" if context else label)
                continue
            params = {k: str(v) for k, v in (link.get("params") or {}).items()}
            st.button(f"{label} — {context}" if context else label, key=f"search_hit_{i}",
                      type="tertiary", on_click=_go, args=(page, params),
                      help=f"open {pages[page].title}")
