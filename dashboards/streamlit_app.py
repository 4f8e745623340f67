"""tracelake dashboards: the router. Page set-up, the header with the search box, then the chosen page.

    streamlit run dashboards/streamlit_app.py          (the lake from $TRACELAKE_LAKE, else ./lake)
    tracelake dashboard --lake PATH                    (the same, started for you)
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # pages import `dashboards.*` however streamlit was started
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboards import auth, data, strings, ui  # noqa: E402
from dashboards.search import search_box  # noqa: E402

st.set_page_config(layout="wide", page_title="tracelake", page_icon=":material/hub:")

_FILES = {"overview": "overview", "spc": "spc", "recall": "recall", "device": "device",
          "batch": "batch", "trends": "trends",
          "calibration": "calibration", "data-quality": "data_quality", "ask": "ask"}
PAGES = {path: st.Page(f"app_pages/{_FILES[path]}.py", title=title, icon=icon, url_path=path)
         for path, title, icon in strings.PAGES}
HOME = st.Page(lambda: None, title=strings.APP_TITLE, url_path="home", default=True,
               visibility="hidden")

page = st.navigation([HOME, *PAGES.values()], position="top")
goto = st.session_state.pop("_goto", None)  # a search result was clicked on the last run
if goto is not None:
    st.switch_page(PAGES[goto[0]], query_params=goto[1])
if page is HOME:  # the root URL opens the overview; with a lot in its query string, the recall
    query = st.query_params.to_dict()
    first = strings.RECALL[0] if set(query) & set(strings.PARAMS["recall"]) else \
        strings.OVERVIEW[0]
    st.switch_page(PAGES[first], query_params=query)


def header() -> None:
    """The app's name, the page, what lake this is, and the search box."""
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        st.markdown(f"## {page.icon} {page.title}")
        lake = ui.esc(ui.file_name(data.lake_path().resolve()))
        try:
            info = data.lake_info()
        except Exception:  # the page itself explains a missing lake
            st.caption(f"{strings.APP_TITLE} · lake {lake}")
            return
        last = info["last_run"]
        when = ui.local_times_value(data.published_at(), info["timezone"])
        st.caption(f"{strings.APP_TITLE} · lake {lake} · {ui.units_headline(info)} · "
                   f"snapshot published {when}"
                   + (f" (run {last['run_id']})" if last else "")
                   + f" · times in {info['timezone']}")
    with right:
        search_box(PAGES)


if not auth.gate():  # once any user exists, each session logs in first
    st.stop()
header()
auth.badge()
try:
    data.snapshot()  # no lake: say what to run, whatever the page
    page.run()
except Exception as exc:  # shown as one message, never a traceback
    ui.show_error(exc)
