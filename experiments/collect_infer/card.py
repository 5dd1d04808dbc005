"""The model card of a run's policy checkpoint: ``<run>/checkpoints/latest/README.md``.

Written from what the run directory records (config.json, metrics.jsonl, the checkpoint and
the detector it pinned), so it can be rewritten at any time: the loop does so whenever it
saves the checkpoint and after the final evaluation. Success rates carry Wilson 95%
intervals; seed ranges come from :mod:`sim.seeds` (the one registry).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from experiments.collect_infer.rundir import RunDir
from perception.card import CARD_FILE, atomic_write_text, weights_sha256
from perception.detector import WEIGHTS_FILE as DETECTOR_WEIGHTS
from perception.stats import format_rate
from sim.seeds import CONFIRM, CURVE, FINAL, PEERS, TRAIN, SeedRange

BUDGET_KEYS = ("max_env_steps", "min_env_steps", "target_success", "horizon", "actors",
               "overlap", "episodes_per_round", "eval_every", "eval_at", "eval_range",
               "eval_episodes", "confirm_episodes", "final_eval_episodes")
LEARNER_KEYS = ("bc_steps_per_round", "batch_size", "lr", "bc_translate", "explore_eps",
                "set_down_exploring", "d_model", "n_layers")


@dataclass(frozen=True)
class Evaluation:
    """How a kind of greedy evaluation is logged in metrics.jsonl."""

    what: str
    seeds: SeedRange
    seeds_name: str
    """Where the seed range is defined (for the card)."""
    rate_field: str
    count_field: str
    setting: str
    """The TrainConfig setting that gives the episode count when the record has none."""


EVALUATIONS: dict[str, Evaluation] = {
    "final": Evaluation("final evaluation", FINAL, "sim.seeds.FINAL", "eval_success_rate",
                        "eval_episodes", "final_eval_episodes"),
    "confirm": Evaluation("confirmation before an early stop", CONFIRM, "sim.seeds.CONFIRM",
                          "success_rate", "episodes", "confirm_episodes"),
    "eval": Evaluation("learning-curve evaluation", CURVE, "sim.seeds.CURVE",
                       "eval_success_rate", "eval_episodes", "eval_episodes"),
}
"""Metrics record kind -> how that evaluation is logged."""
CURVE_RANGES: dict[str, tuple[SeedRange, str]] = {"curve": (CURVE, "sim.seeds.CURVE"),
                                                  "peers": (PEERS, "sim.seeds.PEERS")}
"""The run's ``eval_range`` setting -> the scenes of its learning-curve evaluations."""


def write_run_card(run: RunDir) -> Path:
    """Write the card of ``run``'s checkpoint directory from the run's files; returns its path.

    FileNotFoundError if the run has no config or no checkpoint yet.
    """
    if not run.checkpoint.is_dir():
        raise FileNotFoundError(f"the run has no policy checkpoint yet: {run.root}")
    return atomic_write_text(run.checkpoint / CARD_FILE, run_card(run))


def run_card(run: RunDir) -> str:
    """The markdown card of ``run`` (see :func:`write_run_card`)."""
    config = run.read_config()
    train = config["train"]
    records = run.records()
    sections = [_header(run, train), _task(config), _detector(train), _settings(train),
                _seeds(train, records), _success(train, records),
                _checkpoint(run, config, records), _usage(run, train)]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"


def latest_evaluation(train: dict[str, Any],
                      records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last greedy evaluation the run logged: what it was, its counts and its seeds.

    ``successes`` is None when the record gives no episode count and the run's setting does
    not fit its rate (an older record: the setting changed since)."""
    rec = next((r for r in reversed(records) if r.get("kind") in EVALUATIONS), None)
    if rec is None:
        return None
    kind = EVALUATIONS[rec["kind"]]
    if rec["kind"] == "eval":
        seeds, name = CURVE_RANGES[train.get("eval_range", "curve")]
        kind = replace(kind, seeds=seeds, seeds_name=name)
    n = int(rec.get(kind.count_field) or train[kind.setting])
    rate = float(rec[kind.rate_field])
    successes: int | None = round(rate * n)
    if abs(successes - rate * n) > 1e-6:  # never so for a count the record holds
        successes = None
    seed = int(train["seed"])
    return {"what": kind.what, "successes": successes, "episodes": n, "rate": rate,
            "env_steps": rec.get("env_steps"),
            "seeds": (kind.seeds.seed(seed, 0), kind.seeds.seed(seed, n - 1)),
            "range": kind.seeds_name}


def _header(run: RunDir, train: dict[str, Any]) -> list[str]:
    return [f"# Model card: langstack policy of run `{run.root.name}`", "",
            f"A language-conditioned transformer policy trained from scratch by Collect & Infer "
            f"(langstack) to carry out {train['task']!r}. This card is rewritten whenever the "
            "checkpoint is saved; `config.json` and `metrics.jsonl` in the run directory hold "
            "everything it quotes.", ""]


def _task(config: dict[str, Any]) -> list[str]:
    train = config["train"]
    agent = train.get("agent", "framework")
    lines = ["## Task and plan", "", f"- Task: {train['task']!r}"]
    if train.get("also"):
        lines.append(f"- Also learned in this run: {', '.join(map(repr, train['also']))}")
    if agent == "baseline":
        lines.append("- Agent: baseline (learns from the env reward alone; no sub-goals)")
    else:
        plan = "; ".join(f"{i}. {g}" for i, g in enumerate(config.get("plan") or [], 1))
        lines.append("- Agent: framework (sub-goals, detector rewards, hindsight relabelling, "
                     "self-imitation)")
        lines.append(f"- Plan (planner setting `{train.get('planner')}`): {plan}")
    if train.get("reuse_from"):
        lines.append(f"- Episodes re-scored and imported from: "
                     f"{', '.join(f'`{p}`' for p in train['reuse_from'])}")
    return lines + [""]


def _detector(train: dict[str, Any]) -> list[str]:
    path = train.get("detector_path")
    kind = train.get("detector")
    if train.get("agent") == "baseline":
        use = "not used for rewards (baseline: env reward)"
    elif kind == "oracle":
        use = "oracle: the simulator's ground-truth predicates give the sub-goal rewards"
    else:
        use = "CLIP: its detections give the sub-goal rewards"
    lines = ["## Detector", "", f"- Rewards: {use}"]
    if path:
        weights = Path(path) / DETECTOR_WEIGHTS
        digest = weights_sha256(weights) if weights.is_file() else "unavailable (file missing)"
        card = Path(path) / CARD_FILE
        role = "goal embeddings" if kind == "oracle" else "goal embeddings and rewards"
        lines.append(f"- CLIP detector ({role}): `{path}`, weights sha256 `{digest}`"
                     + (f"; its own card: `{card}`" if card.is_file() else ""))
    else:
        lines.append("- CLIP detector: not recorded (the default of the time)")
    return lines + [""]


def _settings(train: dict[str, Any]) -> list[str]:
    lines = ["## Budgets and learner settings", "", "| setting | value |", "|---|---|"]
    for group, keys in (("budget", BUDGET_KEYS), ("learner", LEARNER_KEYS)):
        lines += [f"| {group}: {k} | {train[k]} |" for k in keys if train.get(k, []) != []]
    return lines + ["", "Every other setting is in the run's `config.json` (\"train\").", ""]


def _seeds(train: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    seed = int(train["seed"])
    episodes = next((int(r["episodes"]) for r in reversed(records)
                     if r.get("kind") in ("round", "final") and "episodes" in r), 0)
    lines = ["## Seeds", "", f"- Run seed {seed} (torch seed of the policy and of BC)"]
    if episodes:
        lines.append(f"- Training episodes: {episodes}, scene seeds {TRAIN.seed(seed, 0)}.."
                     f"{TRAIN.seed(seed, episodes - 1)} (`sim.seeds.TRAIN`, block {seed})")
    else:
        lines.append("- Training episodes: none collected yet")
    return lines + [""]


def _success(train: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    lines = ["## Latest greedy success", ""]
    ev = latest_evaluation(train, records)
    if ev is None:
        return lines + ["No greedy evaluation has been logged yet.", ""]
    if ev["successes"] is None:
        counted, seeds = f"{ev['rate']:.3f} (episode count not recorded: no interval)", ""
    else:
        counted = format_rate(ev["successes"], ev["episodes"])
        seeds = "scene seeds {}..{}, ".format(*ev["seeds"])
    lines.append(f"- Success: {counted} on fresh greedy episodes ({ev['what']} at env step "
                 f"{ev['env_steps']}; {seeds}`{ev['range']}` block {train['seed']})")
    trained = next((r.get("env_steps") for r in reversed(records)
                    if r.get("kind") in ("round", "final")), None)
    if isinstance(trained, int) and isinstance(ev["env_steps"], int) and trained > ev["env_steps"]:
        lines.append(f"- That evaluation was of the weights at env step {ev['env_steps']}; the "
                     f"checkpoint has trained on {trained - ev['env_steps']} more env steps since "
                     "(the next curve point or the final evaluation measures it)")
    final = next((r for r in reversed(records) if r.get("kind") == "final"), None)
    if final is not None:
        reached = final.get("steps_to_50")
        lines.append(f"- Env steps to the first curve point >= 50%: "
                     f"{'not reached' if reached is None else reached}")
    return lines + [""]


def _checkpoint(run: RunDir, config: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    from policy.checkpoint import WEIGHTS_FILE

    last = next((r for r in reversed(records) if r.get("kind") in ("round", "final")), {})
    weights = run.checkpoint / WEIGHTS_FILE
    digest = weights_sha256(weights) if weights.is_file() else "unavailable (file missing)"
    policy = config.get("policy") or {}
    wall = last.get("wall_s")
    return ["## Checkpoint", "",
            f"- Directory: `{run.checkpoint}` (`{WEIGHTS_FILE}` sha256 `{digest}`, `config.json`)",
            f"- Policy: transformer, d_model {policy.get('d_model')}, {policy.get('n_layers')} "
            f"layer(s), {policy.get('goal_dim')}-d goal embeddings",
            f"- Trained for {last.get('env_steps', 0)} env steps "
            f"({last.get('episodes', 0)} episodes) in "
            + (f"{wall / 60:.1f} min of wall time" if isinstance(wall, (int, float))
               else "unrecorded wall time"), ""]


def _usage(run: RunDir, train: dict[str, Any]) -> list[str]:
    root = str(run.root)
    more = 2 * int(train["max_env_steps"])
    return ["## How to load", "", "```bash",
            f"langstack eval --run-dir {shlex.quote(root)} --episodes 100",
            f"langstack train --resume --run-dir {shlex.quote(root)} --max-env-steps {more}"
            "  # go on to twice the budget",
            "```", "", "```python",
            "from pathlib import Path",
            "",
            "from experiments.collect_infer.evaluate import load_run_policy",
            "from policy.checkpoint import load_policy",
            "",
            f"policy = load_policy({str(run.checkpoint)!r})  # safetensors, strict",
            "# with its goal embeddings (the detector's caption embeddings), a greedy actor spec:",
            f"spec, policy, cfg = load_run_policy(Path({root!r}), None)",
            "```", ""]
