"""``tracelake lot-effects --component C --lot L``: what one lot moves, on the sample lake, as the
recall page's "What does this lot move?" answers it (tracelake.derived.quality.lot_moves)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from tests.helpers import Lake
from tracelake.cli import app
from tracelake.derived.quality.lot_moves import lot_moves
from tracelake.lake.snapshot import open_snapshot

runner = CliRunner()


def _run(lake: Lake, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["lot-effects", "--lake", str(lake.paths.root), *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_is_the_libraries_answer(sample_lake: Lake) -> None:
    code, out, err = _run(sample_lake, "--component", "LAMP-D2", "--lot", "L-8801",
                          "--format", "json", "--all")
    assert code == 0, err
    doc = json.loads(out)
    con = open_snapshot(sample_lake.paths)
    try:
        expected = lot_moves(con, "LAMP-D2", "L-8801")
    finally:
        con.close()
    # the sample's lamp lot L-8801 sits in 8 spectrometers; 5 series have enough units on
    # both sides, none moves at alpha 0.05 (focus_error has g 1.41, adjusted p 0.158)
    assert (doc["units"], doc["series_compared"], doc["flagged"]) == (8, 5, [])
    assert doc["query"] == {"component_code": "LAMP-D2", "lot_number": "L-8801",
                            "min_effect": 0.5, "alpha": 0.05}
    assert len(doc["series"]) == expected.series_compared == 5
    focus = next(s for s in doc["series"] if s["measurement"] == "focus_error")
    assert focus["hedges_g"] == pytest.approx(1.409, abs=0.001)
    assert focus["p_adjusted"] == pytest.approx(0.1578, abs=0.0001)
    assert focus["flagged"] is False
    # without --all the series are left out, as lot-effects leaves out its lots
    code, out, _ = _run(sample_lake, "--component", "LAMP-D2", "--lot", "L-8801",
                        "--format", "json")
    assert code == 0 and "series" not in json.loads(out)


def test_a_looser_alpha_flags_the_series_in_table_and_csv(sample_lake: Lake) -> None:
    code, out, err = _run(sample_lake, "--component", "LAMP-D2", "--lot", "L-8801",
                          "--alpha", "0.2", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["product_code"], r["test_step"], r["measurement"], r["n"], r["n_rest"])
            for r in rows] == [("SPX-200", "ALIGN", "focus_error", "8", "6")]
    assert rows[0]["link"] == "spc?product=SPX-200&step=ALIGN&measurement=focus_error"
    code, out, _ = _run(sample_lake, "--component", "LAMP-D2", "--lot", "L-8801",
                        "--alpha", "0.2")
    assert code == 0
    assert "focus_error" in out
    assert "1 measurement(s) of 5 compared move LAMP-D2 lot L-8801 (8 units hold it)" in out


def test_unknown_lot_is_one_line_exit_1(sample_lake: Lake) -> None:
    code, out, err = _run(sample_lake, "--component", "LAMP-D2", "--lot", "L-0000")
    assert code == 1 and out == ""
    assert err.strip() == "error: lot LAMP-D2/L-0000 is not in the lake"


@pytest.mark.parametrize(("args", "says"), [
    (["--component", "LAMP-D2"], "a lot needs --component and --lot together"),
    (["--lot", "L-8801"], "a lot needs --component and --lot together"),
    (["--component", "LAMP-D2", "--lot", "L-8801", "--step", "ALIGN"], "not both"),
    (["--component", "LAMP-D2", "--lot", "L-8801", "--product", "SPX-200"],
     "--product, --from and --to choose the results of a measurement"),
    ([], "give --step and --measurement (the lots that move it) or --component and --lot"),
    (["--step", "ALIGN"], "give --step and --measurement"),
])
def test_a_wrong_selection_is_a_wrong_command_line(sample_lake: Lake, args: list[str],
                                                   says: str) -> None:
    code, out, err = _run(sample_lake, *args)
    assert code == 2 and out == ""
    assert says in err and len(err.strip().splitlines()) == 1
