"""The login: once any user exists, every session logs in once (name and password); the user is
kept in the session. Signing asks for the password again (21 CFR 11.200)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards import data, strings
from tracelake.review import AuthError

KEY = "_tracelake_user"


def current_user() -> Any:
    """The logged-in user of this session, or None (also when nobody needs to log in)."""
    return st.session_state.get(KEY)


def gate() -> bool:
    """True when the page may be shown: no users exist, or this session has logged in.
    Otherwise draws the login form and returns False."""
    if current_user() is not None or not data.users_exist():
        return True
    _, middle, _ = st.columns([1, 1, 1])
    with middle, st.form("login"):
        st.markdown(f"#### {strings.LOGIN_TITLE}")
        name = st.text_input(strings.LOGIN_USER, key="login_user")
        password = st.text_input(strings.LOGIN_PASSWORD, type="password", key="login_password")
        if st.form_submit_button(strings.LOGIN_BUTTON, type="primary"):
            try:
                st.session_state[KEY] = data.login(name, password)
            except AuthError:
                st.error(strings.LOGIN_FAILED)
                return False
            st.rerun()
    return False


def badge() -> None:
    """Who is logged in, and a button to log out (nothing when no login is needed)."""
    user = current_user()
    if user is None:
        return
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.caption(f"Logged in as {user.printed_name} ({user.name}, {user.role})")
    if right.button(strings.LOGOUT_BUTTON, key="logout"):
        del st.session_state[KEY]
        st.rerun()
