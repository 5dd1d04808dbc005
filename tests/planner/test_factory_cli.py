"""make_planner's resolution and fallback, and the ``langstack plan`` command."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import planner.flan_t5 as flan_t5
from experiments.cli import main
from perception.captions import grasp_caption, on_top_caption
from planner import GrammarPlanner, PlannerUnavailable, make_planner


def test_grammar_kind_and_unknown_kind() -> None:
    assert isinstance(make_planner("grammar"), GrammarPlanner)
    with pytest.raises(ValueError, match="unknown planner 'gpt'"):
        make_planner("gpt")


def test_auto_falls_back_to_grammar_and_says_so_once(tmp_path: Path) -> None:
    said: list[str] = []
    missing = str(tmp_path / "no-weights-here")
    for _ in range(2):
        planner = make_planner("auto", model=missing, announce=said.append)
        assert planner.name == "grammar"
        assert planner.plan("grasp the red object") == [grasp_caption("red")]
    assert said == [f"planner: grammar (no FLAN-T5 weights found offline for {missing})"]


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        (None, "`hf download google/flan-t5-base`"),
        ("langstack-test/no-such-model", "weights for 'langstack-test/no-such-model' are not available offline"),
        ("/no/such/dir", "no such directory '/no/such/dir'"),
    ],
)
def test_flan_t5_without_weights_says_how_to_provide_them(model: str | None, fragment: str, monkeypatch) -> None:
    if model is None:  # whatever this machine's cache holds, behave as if it were empty
        monkeypatch.setattr(flan_t5, "weights_present", lambda model_id: False)
    with pytest.raises(PlannerUnavailable) as info:
        make_planner("flan-t5", model=model)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_a_directory_without_weights_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")  # passes the cheap check, fails the real load
    with pytest.raises(PlannerUnavailable, match="no FLAN-T5 weights in"):
        make_planner("flan-t5", model=str(tmp_path))
    with pytest.raises(PlannerUnavailable, match="no FLAN-T5 weights in"):
        make_planner("flan-t5", model=str(tmp_path / ".."))


def test_importing_the_planner_is_light() -> None:
    code = (
        "import sys, planner, planner.factory, planner.flan_t5, planner.grammar; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_json_and_human_output(capsys) -> None:
    assert main(["plan", "Put the red block onto the blue one.", "--planner", "grammar", "--json"]) == 0
    assert _json(capsys) == {
        "planner": "grammar",
        "subgoals": [grasp_caption("red"), on_top_caption("red", "blue")],
    }
    assert main(["plan", "grasp the blue object", "--planner", "grammar"]) == 0
    out = capsys.readouterr().out
    assert "grammar" in out and f"1. {grasp_caption('blue')}" in out and "{" not in out


def test_cli_auto_default_falls_back_and_says_which(capsys, monkeypatch) -> None:
    monkeypatch.setattr(flan_t5, "weights_present", lambda model_id: False)
    monkeypatch.setattr("planner.factory._ANNOUNCED", set())
    assert main(["plan", "stack all three objects", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["planner"] == "grammar"
    assert "planner: grammar (no FLAN-T5 weights found offline for google/flan-t5-base)" in captured.err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["plan", ""], "the instruction is empty"),
        (["plan", "hello", "--planner", "grammar"], "nothing the robot can do"),
        (["plan", "stack the red object on the red object", "--planner", "grammar"], "on itself"),
        (["plan", "grasp the yellow cube", "--planner", "grammar", "--json"], "unknown colour 'yellow'"),
        (["plan", "stack the red block", "--planner", "grammar"], "does not say where"),
        (["plan", "put the sphere on the blue block", "--planner", "grammar"], "unknown object 'sphere'"),
        (["plan", "grasp red", "--planner", "flan-t5", "--model", "/no/such/dir"], "no such directory"),
        (["plan", "grasp red", "--planner", "grammar", "--model", "x"], "--model applies to"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv: list[str], fragment: str, capsys) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("langstack plan: error: ")
    assert fragment in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == ""
