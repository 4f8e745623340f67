"""The "as of" control: a sidebar run picker (and a day) that makes the page read the lake as it
stood then, and the banner that says so on the page. Pages where the past matters to an auditor
call :func:`control` first (batch, device, recall, calibration, ask); the other pages read the
lake as it stands now."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from dashboards import data, ui
from tracelake.errors import TracelakeError

NOW = "now"
PICK_KEY = "as_of_pick"
DAY_KEY = "as_of_day"
LINKED = "_as_of_linked"
LABEL = "Lake as of"
HELP = ("Read this page as the lake stood after an earlier ingest run (or at the end of a day, "
        "plant time): rows loaded later, values corrected later and reviews signed later are "
        "left out. Records made here say so on every page.")


def _picked() -> None:
    choice = st.session_state.get(PICK_KEY)
    data.set_as_of(None if choice in (None, NOW) else str(choice))


def _day_picked() -> None:
    day = st.session_state.get(DAY_KEY)
    if isinstance(day, dt.date):
        data.set_as_of(day.isoformat())


def _asked(when: str, tz: str) -> str:
    """A day or a time picked, as the picker shows it (as typed when it is neither)."""
    try:
        if len(when) == 10:
            return f"end of {dt.date.fromisoformat(when).isoformat()} (plant time)"
        value = dt.datetime.fromisoformat(when)
    except ValueError:
        return when
    return ui.local_times_value(value if value.tzinfo else value.replace(tzinfo=dt.UTC), tz)


def control() -> dict[str, Any] | None:
    """Draw the sidebar control and, when a point is picked, the page's banner; the point
    (``AsOf.as_dict()``), or None for the lake as it stands now."""
    data.show_as_of_here()
    linked = st.query_params.get(data.AS_OF_PARAM)
    if linked and st.session_state.get(LINKED) != linked:  # a link to a view as of a point
        st.session_state[LINKED] = linked
        data.set_as_of(linked)
    current = st.session_state.get(data.AS_OF_VALUE)
    runs = data.runs()
    tz = data.timezone()
    options = [NOW, *(r for r, _ in runs)]
    if current and current not in options:
        options.append(current)  # a day or a time
    shown = {r: f"{ui.local_times_value(at, tz)} · run {r}" for r, at in runs}
    if current and current not in shown:
        shown[current] = _asked(current, tz)
    if st.session_state.get(PICK_KEY) != (current or NOW):
        st.session_state[PICK_KEY] = current or NOW
    with st.sidebar:
        st.selectbox(LABEL, options, key=PICK_KEY, on_change=_picked, help=HELP,
                     format_func=lambda o: "now: the lake as it stands" if o == NOW
                     else shown.get(o, o))
        st.date_input("…or as it stood at the end of a day", value=None, key=DAY_KEY,
                      on_change=_day_picked, format="YYYY-MM-DD")
    if current:  # the address bar shows the point (a link to this view), not applied again
        st.query_params[data.AS_OF_PARAM] = current
    elif data.AS_OF_PARAM in st.query_params:
        del st.query_params[data.AS_OF_PARAM]
    st.session_state[LINKED] = current
    if not current:
        return None
    try:
        point = data.as_of_point(current)
    except TracelakeError as exc:
        st.warning(f"{ui.esc(exc)}. Showing the lake as it stands now.", icon=":material/history:")
        data.set_as_of(None)
        return None
    banner(point, tz)
    return point


def banner(point: dict[str, Any], tz: str) -> None:
    """The page's line saying which state of the lake it shows."""
    later = point.get("later_runs") or 0
    st.info(f"**As the lake stood on {ui.local_times_value(point['at'], tz)}** · after ingest "
            f"run {ui.esc(point['run_id'])} (committed "
            f"{ui.local_times_value(point['committed_at'], tz)}); "
            + (f"{later} later run(s), and reviews signed since, are left out."
               if later else "no run has changed the lake since.")
            + " Pick **now** in the sidebar for the lake as it stands.",
            icon=":material/history:")
