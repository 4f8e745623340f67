"""The login and the batch page's review panel, in AppTest: nothing without a login once users
exist; a viewer sees the review but no signing controls; a reviewer's disposition is signed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dashboards import strings
from tests.dashboards.apptest import FILES, no_traceback, opener, texts
from tests.helpers import Lake
from tracelake.review import add_user

PASSWORD = "apptest pass 1"


@pytest.fixture
def signing_lake(sample_lake: Path, tmp_path: Path) -> Lake:
    root = tmp_path / "lake"
    root.mkdir()
    for name in ("lake.duckdb", "serving.duckdb"):
        shutil.copyfile(sample_lake / name, root / name)
    lake = Lake(root)
    add_user(lake.paths, "rita", "reviewer", PASSWORD, "Rita Okafor")
    add_user(lake.paths, "vic", "viewer", PASSWORD, "Vic Viewer")
    return lake


def _login(signing_lake: Lake, monkeypatch: pytest.MonkeyPatch, user: str, password: str):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    from tests.dashboards.apptest import APP

    monkeypatch.setenv("TRACELAKE_LAKE", str(signing_lake.paths.root))
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    at.switch_page(f"app_pages/{FILES['batch']}.py")
    at.query_params.update({"job": "J-1042"})
    at.run()
    no_traceback(at)
    assert strings.LOGIN_TITLE in texts(at) and strings.REVIEW_TITLE not in texts(at)
    at.text_input(key="login_user").set_value(user)
    at.text_input(key="login_password").set_value(password)
    next(b for b in at.button if b.label == strings.LOGIN_BUTTON).click()
    at.run()
    no_traceback(at)
    return at


def test_a_wrong_password_does_not_log_in(signing_lake: Lake,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    at = _login(signing_lake, monkeypatch, "rita", "not it")
    assert strings.LOGIN_FAILED in texts(at) and strings.REVIEW_TITLE not in texts(at)


def test_a_viewer_sees_no_signing_controls(signing_lake: Lake,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    at = _login(signing_lake, monkeypatch, "vic", PASSWORD)
    shown = texts(at)
    assert strings.REVIEW_TITLE in shown and "Awaiting dispositions" in shown
    assert strings.REVIEW_VIEW_ONLY.format(role="viewer") in shown
    assert not [b for b in at.button if b.label in (strings.DISPOSE_BUTTON, strings.SIGN_BUTTON)]


def test_a_reviewer_signs_a_disposition(signing_lake: Lake,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    at = _login(signing_lake, monkeypatch, "rita", PASSWORD)
    at.multiselect(key="dispose_keys").set_value(
        [k for k in at.multiselect(key="dispose_keys").value if "DMM-04" in k])
    at.selectbox(key="dispose_as").set_value("ncr_raised")
    at.text_input(key="dispose_ncr").set_value("NCR-0240")
    at.text_input(key="dispose_password").set_value(PASSWORD)
    next(b for b in at.button if b.label == strings.DISPOSE_BUTTON).click()
    at.run()
    no_traceback(at)
    assert "1 disposition(s) signed by Rita Okafor." in texts(at)
    rows = signing_lake.query("SELECT signer, disposition, ncr_id, finding_record "
                              "FROM review_entries")
    assert rows == [("rita", "ncr_raised", "NCR-0240", "calibrations:DMM-04/CERT-2026-0467")]
    assert "6 major finding(s) without a disposition" in texts(at)


def test_without_users_nobody_logs_in(sample_lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opener(sample_lake, monkeypatch)("batch", job="J-1042")
    shown = texts(at)
    assert strings.LOGIN_TITLE not in shown and strings.REVIEW_TITLE in shown
    assert strings.REVIEW_NO_SIGNERS in shown
