"""The hostile-string corpus through every page in AppTest: lake text reaches the page as plain
text (st.text) or escaped Markdown, never as Markdown, HTML or a directive."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards import strings
from tests.dashboards.apptest import no_traceback, opener, table, texts
from tests.helpers import Lake
from tests.hostile import HOSTILE, NCR_IDS, hostile_plant, shown


@pytest.fixture(scope="module")
def hostile_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dash-hostile")
    lake = Lake(root / "lake")
    lake.ingest(hostile_plant(root / "plant"))
    return lake.paths.root


def test_device_page_shows_each_description_as_plain_text(
        hostile_lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opener(hostile_lake, monkeypatch)("device", serial="SPX200-0004")
    at.session_state[strings.DEVICE_TAB_KEY] = "NCRs"  # only the open tab is made
    at.run()
    plain = [str(t.value) for t in at.text]
    for name, text in HOSTILE.items():
        assert shown(text) in plain, name
    # and no Markdown element carries a hostile string unescaped
    raw = "\n".join(str(m.value) for m in at.markdown)
    assert ":red[URGENT]" not in raw and "<script>" not in raw and "{{ 7*7 }}" not in raw


def test_ask_page_table_holds_the_strings(hostile_lake: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sql = "SELECT ncr_id, description FROM ncrs WHERE ncr_id LIKE 'NCR-H%' ORDER BY ncr_id"
    at = opener(hostile_lake, monkeypatch)("ask", sql=sql)
    frame = table(at, "description")
    got = dict(zip(frame["ncr_id"], frame["description"], strict=True))
    assert got == {NCR_IDS[n]: shown(t) for n, t in HOSTILE.items()}


@pytest.mark.parametrize(("page", "query"), [("recall", {}), ("batch", {"job": "J-1042"}),
                                             ("trends", {}), ("calibration", {}),
                                             ("data-quality", {}), ("ask", {})])
def test_every_page_opens(hostile_lake: Path, monkeypatch: pytest.MonkeyPatch, page: str,
                          query: dict[str, str]) -> None:
    at = opener(hostile_lake, monkeypatch)(page, **query)
    no_traceback(at)
    assert "Something went wrong" not in texts(at)
