"""``langstack reproduce all``: steps in order and resumable, the sparseness step on the real
simulator, and the results page generated from the steps' outputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import experiments.paper.everything as everything
from experiments.paper.everything import AllConfig, STEPS, run_all, sparsity_step
from experiments.paper.results_page import DEVIATIONS, publish, write_results_page
from tests.experiments.conftest import assert_clean_usage_error, langstack


def test_bad_options_are_refused_before_anything_is_made(tmp_path) -> None:
    out = tmp_path / "all"
    for args, needle in ((("--steps", "sparsity,juggle"), "juggle"),
                         (("--budget-scale", "0"), "budget-scale"),
                         (("--seeds", "0"), "seeds")):
        proc = langstack("reproduce", "all", "--out", str(out), *args)
        assert_clean_usage_error(proc, needle)
    assert not out.exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    proc = langstack("reproduce", "all", "--out", str(tmp_path / "other"), "--steps", "sparsity")
    assert_clean_usage_error(proc, "notes.txt")


def _fake_steps(monkeypatch, calls: list[str]) -> None:
    def step(name):
        def run(cfg, out, progress, say):
            calls.append(name)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.md").write_text(f"| table of {name} |")
            return {"summary_file": str(out / f"{name}.json")}
        return run

    for name in STEPS:
        monkeypatch.setattr(everything, f"{name}_step", step(name))


def test_steps_run_in_order_and_the_page_names_the_command_and_the_missing(tmp_path,
                                                                           monkeypatch) -> None:
    calls: list[str] = []
    _fake_steps(monkeypatch, calls)
    cfg = AllConfig(seeds=2, budget_scale=0.5, steps=("sparsity", "reuse"))
    summary = run_all(cfg, tmp_path, progress=False, say=lambda m: None)
    assert calls == ["sparsity", "reuse"]
    page = Path(summary["page"]).read_text()
    assert "`langstack reproduce all --seeds 2 --budget-scale 0.5 --steps sparsity,reuse`" in page
    assert "| table of sparsity |" in page and "| table of reuse |" in page
    assert page.count("Not run in this reproduction.") == len(STEPS) - 2
    assert "not the experiment" in page and DEVIATIONS.strip() in page
    started = json.loads((tmp_path / "started.json").read_text())
    assert "finished on " in page and started["commit"] in page  # the commit it ran on
    wall = json.loads((tmp_path / "wall.json").read_text())
    run_all(cfg, tmp_path, progress=False, say=lambda m: None)  # a resumed run adds its time
    again = json.loads((tmp_path / "wall.json").read_text())
    assert set(again) == {"sparsity", "reuse"} and again["reuse"] >= wall["reuse"]


def test_the_exploration_bar_is_read_from_its_json(tmp_path) -> None:
    folder = tmp_path / "exploration"
    folder.mkdir()
    (folder / "exploration.md").write_text("| the exploration table |")
    (folder / "fig4.png").write_bytes(b"png")

    def task(label, median):
        return {"label": label, "baseline": {"median_steps_to_50": median}}

    summary = {"tasks": [task("Grasp red", 3000), task("Triple Stack", None)],
               "steps_ratio_last_to_first": {"ratio": 12.5, "ci95": [8.0, None]}}
    (folder / "exploration.json").write_text(json.dumps({"summary": summary}))
    cfg = AllConfig(steps=("exploration",))
    page = write_results_page(tmp_path, cfg).read_text()
    assert "12.5x (95% bootstrap [8.0x, unbounded]): met" in page
    assert "the baseline's medians: 3000, not reached env steps" in page
    assert "![fig4.png](exploration/fig4.png)" in page and "not the experiment" not in page
    docs = tmp_path / "docs"
    published = publish(tmp_path, docs).read_text()
    assert "](results/fig4.png)" in published and (docs / "results" / "fig4.png").is_file()


def test_sparseness_is_measured_directly_beside_the_estimate(tmp_path) -> None:
    cfg = AllConfig(budget_scale=0.02, sparsity_samples=30)
    sparsity_step(cfg, tmp_path, progress=False, say=lambda m: None)
    rows = json.loads((tmp_path / "sparsity.json").read_text())["tasks"]
    assert [r["label"] for r in rows] == ["Grasp red", "Stack red on blue", "Triple Stack"]
    grasp, stack, triple = rows
    assert grasp["direct_steps"] == 40 and stack["direct_steps"] == 400
    assert "direct_steps" not in triple and 0 < grasp["estimated"] < 1e3
    if triple["estimated"] is not None and stack["estimated"] is not None:
        assert triple["estimated"] > stack["estimated"]
    for r in (grasp, stack):
        lo, hi = r["measured_ci95"]
        if r["direct_successes"]:
            assert lo <= r["measured"] <= (hi or float("inf"))
            assert r["measured"] == pytest.approx(r["direct_steps"] / r["direct_successes"])
        else:
            assert r["measured"] is None and lo > 0
    table = (tmp_path / "sparsity.md").read_text()
    assert "not measured (too rare)" in table and "| Grasp red |" in table
