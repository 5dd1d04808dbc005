"""Fuzzing the whole CLI with bad input.

The real parser (``experiments.cli.build_parser()``) is walked to list every command and
option. Each case gives one command one *poison*: a value that is bad for that option by
construction (a missing path, a file where a folder is expected, a corrupt config or
checkpoint, a garbled video, a negative or NaN number, a gibberish instruction, a malformed
``LANGSTACK_CLIP_PRETRAINED``, ...), plus valid values for the required options and a few
random optional ones. Every case must end with exit code 2 and exactly one stderr line, never
a traceback, and must not touch the disk (its fresh working folder, the fixtures it was given
and the cache stay as they were). Cases run in-process; the expensive entry points (detector
load or build, training, evaluation, the simulator, the paper's experiments) are replaced by a
sentinel, so a case that gets past validation into real work fails the test.

Unreadable fixtures (chmod 000) hold garbage too: tests often run as root, who reads them
anyway, so they stay bad input either way. A GIF with a huge frame duration is read correctly
(subsampled), so it is not bad input: it is only used as a valid video.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from tests.experiments.conftest import REPO
from tests.experiments.test_cli_errors import (
    GRASP, fake_detector, fake_run, snapshot, write_config,
)

SEED = 20240611
N_CASES = 540
SUBPROCESS_SAMPLE = 6
SLOW_CASE_S = 20.0


class RealWork(BaseException):
    """A case got past validation into real work (a validation bug, or not bad input)."""


SENTINELS: tuple[tuple[str, str], ...] = (
    ("experiments.collect_infer.loop", "train"),
    ("experiments.collect_infer.evaluate", "evaluate_run"),
    ("experiments.collect_infer.evaluate", "load_run_policy"),
    ("experiments.collect_infer.prepare", "plan_and_goals"),
    ("experiments.collect_infer.prepare", "pin_detector"),
    ("perception", "load_detector"),
    ("perception.loader", "load_detector"),
    ("perception.loader", "build_detector"),
    ("perception.loader", "ensure_default_detector"),
    ("perception.dataset", "ensure_split"),
    ("perception.evaluate", "eval_splits"),
    ("perception.evaluate", "fig10_sweep"),
    ("experiments.paper.exploration", "run_exploration"),
    ("experiments.paper.exploration", "run_one"),
    ("experiments.paper.reuse", "run_reuse"),
    ("experiments.paper.scheduling", "run_scheduling"),
    ("experiments.paper.video", "run_video_experiment"),
    ("experiments.paper.sparsity", "measure_stages"),
    ("experiments.paper.sparsity", "measure_direct"),
    ("experiments.imitation.imitate", "read_plan"),
    ("experiments.imitation.imitate", "execute_plan"),
    ("experiments.imitation.demo_video", "write_demo_video"),
    ("experiments.bench.world", "run_probe"),
    ("experiments.bench.collect", "other_checkout_rate"),
    ("experiments.paper.peers", "run_peers"),
    ("experiments.collect_infer.cluster", "connect"),
    ("open_clip.pretrained", "download_pretrained"),
    ("huggingface_hub", "hf_hub_download"),
)
"""(module, function) pairs that start real work; each raises :class:`RealWork` here."""
SENTINEL_METHODS: tuple[tuple[str, str, str], ...] = (
    ("perception.detector", "Detector", "load"),
    ("sim.bullet", "Bullet", "__init__"),
)
"""(module, class, method): loading a detector's weights, starting a physics client."""

BAD_INSTRUCTIONS: tuple[str, ...] = (
    "", "   ", "blah blah", "make me a sandwich", "grasp the yellow object",
    "stack the red object on top of the red object", "grasp\nthe purple object",
    "stapel das rote Objekt \U0001F7E5 auf \u00e9", "\u4e09\u4e2a\u7269\u4f53",
    "x" * 5000, "grasp the red object and " + "zq " * 2000,
)
POSITIVE_INT_BAD = ("-1", "0", "nan", "inf", "-inf", "abc", "", "1.5", "1e999", "0x10")
NON_NEGATIVE_INT_BAD = ("-1", "nan", "inf", "abc", "", "2.5", "-99999999999999999999999")
INT_BAD = ("nan", "inf", "abc", "", "2.5", "1e3")
FLOAT_BAD = ("nan", "inf", "-inf", "abc", "", "1,5")
CHOICE_BAD = ("bogus", "", "FRAMEWORK", "clip ")
ENV_BAD = ("garbage", "ViT-B-32:no-such-tag", "NoSuchModel:openai", "ViT-B-32:openai",
           "/no/such/weights.safetensors", "ViT-B-32:", ":")
"""LANGSTACK_CLIP_PRETRAINED values that are malformed or name weights not on this machine."""
RANGE_BAD: dict[tuple[str, str], tuple[str, ...]] = {
    ("train", "target_success"): ("0", "-0.5", "-1e300"),
    ("reproduce exploration", "target_success"): ("0", "1.5", "-1", "1e300"),
    ("reproduce exploration", "budget_scale"): ("0", "-1", "10.5", "1e300"),
    ("reproduce reuse", "budget_scale"): ("0", "-1", "10.5", "1e300"),
    ("demo-video", "size"): ("8", "15"),
    ("reproduce reuse", "first_seed"): ("-1", "-100"),
    ("reproduce reuse", "earlier_steps"): ("-1",),
    ("bench sim", "seconds"): ("0", "-1"),
}
"""Numbers of the right type that are out of the option's range."""
ENV_COMMANDS = ("train", "reproduce exploration", "reproduce reuse", "imitate",
                "reproduce video", "perception eval")
"""Commands that may use the default detector, whose weights the variable names."""
ALWAYS_FILLED = {("train", "task")}
"""Optional to the parser, needed by the command (a new run needs its task)."""
ENV_CONFLICTS = {"detector_path", "detector"}
"""With a poisoned variable, an explicit detector would make the variable irrelevant."""


# ----------------------------------------------------------------------------- the world
@dataclass
class World:
    """Fixture paths: valid inputs (fillers) and bad ones (poisons)."""

    root: Path
    p: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return str(self.p[name])


def _gif(path: Path, frames: list[np.ndarray], durations: list[int] | int = 80) -> Path:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0)
    return path


def _unreadable(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0)
    return path


def build_world(root: Path) -> World:
    """Every fixture, made once; the test checks that no case changes any of them."""
    from PIL import Image

    from experiments.data.minari_io import export_store
    from policy.episode import Episode
    from policy.store import EpisodeStore
    from sim import STATE_DIM

    root.mkdir()
    w = World(root)
    p = w.p
    rng = np.random.default_rng(0)
    colour = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
    p["missing"] = root / "does-not-exist"
    p["file"] = root / "plain.txt"
    p["file"].write_text("just text\n")
    p["under_file"] = p["file"] / "sub"
    p["empty_file"] = root / "empty.json"
    p["empty_file"].write_bytes(b"")
    p["corrupt_json"] = root / "corrupt.json"
    p["corrupt_json"].write_text('{"train": {"task": ')
    p["unreadable"] = _unreadable(root / "unreadable.json", b"\x00\xffgarbage")
    p["empty_dir"] = root / "empty-dir"
    p["empty_dir"].mkdir()
    p["foreign_dir"] = root / "home"
    p["foreign_dir"].mkdir()
    (p["foreign_dir"] / ".bashrc").write_text("# mine\n")
    p["dir_mp4"] = root / "folder.mp4"
    p["dir_mp4"].mkdir()
    p["corrupt_st"] = root / "corrupt.safetensors"
    p["corrupt_st"].write_bytes(b"\xff" * 64)
    p["empty_st"] = root / "empty.safetensors"
    p["empty_st"].write_bytes(b"")
    p["garbage_pt"] = root / "weights.pt"
    p["garbage_pt"].write_bytes(b"not a zip or pickle")

    p["detector"] = fake_detector(root / "detector")
    p["detector2"] = fake_detector(root / "detector2")
    p["det_corrupt_json"] = fake_detector(root / "det-corrupt-json")
    (p["det_corrupt_json"] / "detector.json").write_text("{nope")
    p["det_json_list"] = fake_detector(root / "det-json-list")
    (p["det_json_list"] / "detector.json").write_text("[1, 2]")
    p["det_corrupt_st"] = fake_detector(root / "det-corrupt-st")
    (p["det_corrupt_st"] / "model.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"garbage!")
    p["det_truncated_st"] = fake_detector(root / "det-truncated-st")
    st = p["det_truncated_st"] / "model.safetensors"
    st.write_bytes(st.read_bytes()[:-3])
    p["det_no_weights"] = fake_detector(root / "det-no-weights")
    (p["det_no_weights"] / "model.safetensors").unlink()

    p["run"] = fake_run(root / "run", p["detector"])
    store = EpisodeStore(p["run"] / "episodes")
    store.append(Episode(task=GRASP, states=np.zeros((3, STATE_DIM), np.float32),
                         actions=np.zeros((2, 2), np.float32), pursued=["", ""],
                         env_rewards=np.zeros(2, np.float32), meta={"seed": 0}))
    store.close()
    p["store"] = p["run"] / "episodes"
    p["minari"] = Path(export_store(p["store"], root / "minari-root", "langstack/fuzz-v0")["path"])
    p["run_bad_metrics"] = fake_run(root / "run-bad-metrics", p["detector"])
    (p["run_bad_metrics"] / "metrics.jsonl").write_text('{"kind": "round"}\n{torn\n{"kind": "x"}\n')
    p["run_baseline"] = fake_run(root / "run-baseline", p["detector"], agent="baseline")
    p["run_no_ckpt"] = fake_run(root / "run-no-ckpt", p["detector"], checkpoint=False)
    p["run_corrupt_ckpt"] = fake_run(root / "run-corrupt-ckpt", p["detector"])
    (p["run_corrupt_ckpt"] / "checkpoints/latest/model.safetensors").write_bytes(b"\x00" * 40)
    p["run_ckpt_bad_config"] = fake_run(root / "run-ckpt-bad-config", p["detector"])
    (p["run_ckpt_bad_config"] / "checkpoints/latest/config.json").write_text('{"format": 3}')
    p["run_missing_detector"] = fake_run(root / "run-missing-detector", root / "gone-detector")
    good = json.loads((p["run"] / "config.json").read_text())["train"]
    for name, config in {
        "run_empty_config": {},
        "run_old_version": {"train": {**good, "gamma_schedule": "cosine"}},
        "run_missing_task": {"train": {k: v for k, v in good.items() if k != "task"}},
        "run_wrong_types": {"train": {**good, "seed": "0", "actors": 1.5}},
        "run_wrong_shape": {"train": [good]},
        "run_bad_values": {"train": {**good, "agent": "robot", "horizon": 0}},
    }.items():
        p[name] = write_config(root / name.replace("_", "-"), config)
    p["run_corrupt_json"] = root / "run-corrupt-json"
    p["run_corrupt_json"].mkdir()
    (p["run_corrupt_json"] / "config.json").write_text('{"train": ')
    p["run_unreadable"] = root / "run-unreadable"
    p["run_unreadable"].mkdir()
    _unreadable(p["run_unreadable"] / "config.json", b"\xff\xfe garbage")
    p["corrupt_store"] = root / "corrupt-store"
    p["corrupt_store"].mkdir()
    (p["corrupt_store"] / "manifest.jsonl").write_text("{not json}\n{also not}\n")

    p["out_runs_foreign"] = root / "out-runs-foreign"
    (p["out_runs_foreign"] / "runs" / "stranger").mkdir(parents=True)
    p["out_runs_broken"] = root / "out-runs-broken"
    write_config(p["out_runs_broken"] / "runs" / "grasp-the-red-object__framework__0", {})

    p["gif"] = _gif(root / "good.gif", colour)
    p["huge_gif"] = _gif(root / "huge-duration.gif", colour, [10, 655350, 655350, 655350])
    p["gray_gif"] = _gif(root / "gray.gif", [np.repeat(f[..., :1], 3, axis=2) for f in colour])
    p["tiny_gif"] = _gif(root / "tiny.gif", [f[:8, :8] for f in colour])
    p["text_gif"] = root / "text.gif"
    p["text_gif"].write_text("GIF89a but not really\n")
    p["garbled_gif"] = root / "garbled.gif"
    p["garbled_gif"].write_bytes(p["gif"].read_bytes()[:40] + bytes(rng.integers(0, 256, 300,
                                                                             dtype=np.uint8)))
    p["empty_mp4"] = root / "empty.mp4"
    p["empty_mp4"].write_bytes(b"")
    p["garbled_mp4"] = root / "garbled.mp4"
    p["garbled_mp4"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(rng.integers(
        0, 256, 2000, dtype=np.uint8)))
    p["not_video"] = root / "notes.txt"
    p["not_video"].write_text("a video? no\n")
    p["unreadable_gif"] = _unreadable(root / "unreadable.gif", b"garbage, not a GIF")
    p["frames_empty"] = root / "frames-empty"
    (p["frames_empty"] / "sub").mkdir(parents=True)
    p["frames_bad"] = root / "frames-bad"
    p["frames_bad"].mkdir()
    (p["frames_bad"] / "0001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    p["frames_mixed"] = root / "frames-mixed"
    p["frames_mixed"].mkdir()
    Image.fromarray(colour[0]).save(p["frames_mixed"] / "0001.png")
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
        p["frames_mixed"] / "0002.png")
    return w


# ----------------------------------------------------------------------------- the parser
@dataclass
class Option:
    """One argument of a command as the parser declares it."""

    command: str
    dest: str
    flags: tuple[str, ...]
    kind: str
    """"flag", "choice", "positive_int", "non_negative_int", "int", "float", "finite_float",
    "probability", or a role of ROLES (paths and texts)."""
    required: bool
    nargs: Any
    choices: tuple[str, ...] = ()
    group: int | None = None
    """Index of its mutually exclusive group, if any."""

    @property
    def positional(self) -> bool:
        return not self.flags


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[str, list[Option]]:
    """Every leaf command (e.g. "reproduce video") with its options, from the real parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if subs:
        out: dict[str, list[Option]] = {}
        for name, sub in subs[0].choices.items():
            out.update(walk(sub, (*path, name)))
        return out
    command = " ".join(path)
    groups = {id(a): i for i, g in enumerate(parser._mutually_exclusive_groups)
              for a in g._group_actions}
    options = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        options.append(Option(command, action.dest, tuple(action.option_strings),
                              _kind(command, action), bool(action.required), action.nargs,
                              tuple(action.choices or ()), groups.get(id(action))))
    return {command: options}


def _kind(command: str, action: argparse.Action) -> str:
    if isinstance(action, argparse._StoreTrueAction):
        return "flag"
    if (command, action.dest) in ROLES:
        return ROLES[(command, action.dest)]
    if action.choices:
        return "choice"
    name = getattr(action.type, "__name__", "")
    if name in ("positive_int", "non_negative_int", "int", "finite_float", "float", "probability"):
        return name
    return "unknown"  # see test_the_parser_walk_covers_every_command


ROLES: dict[tuple[str, str], str] = {
    ("expert", "task"): "instruction", ("expert", "video"): "video_out",
    ("sparsity", "task"): "sparsity_task",
    ("bench perception", "detector"): "detector_dir", ("bench collect", "against"): "checkout",
    ("bench reader", "reader"): "detector_dir",
    ("bench world", "against"): "checkout",
    ("bench collect", "actors"): "actor_counts",
    ("plan", "instruction"): "instruction", ("plan", "model"): "plan_model",
    ("perception train", "model"): "clip_model", ("perception train", "pretrained"): "pretrained",
    ("perception train", "out"): "detector_out", ("perception train", "device"): "device",
    ("perception eval", "detector"): "detector_dir", ("perception eval", "sizes"): "sizes",
    ("perception eval", "docs"): "docs", ("perception eval", "notes"): "free_text",
    ("perception eval", "device"): "device",
    ("train", "task"): "instruction", ("train", "also"): "instructions",
    ("train", "detector_path"): "detector_dir", ("train", "run_dir"): "train_run_dir",
    ("train", "reuse_from"): "reuse_from", ("train", "resume"): "resume",
    ("eval", "run_dir"): "run", ("eval", "task"): "instruction",
    ("reproduce exploration", "out"): "reproduce_out",
    ("reproduce exploration", "detector_path"): "detector_dir",
    ("reproduce exploration", "tasks"): "exploration_tasks",
    ("reproduce reuse", "out"): "reproduce_out",
    ("reproduce reuse", "detector_path"): "detector_dir",
    ("reproduce scheduling", "run_dir"): "run",
    ("reproduce scheduling", "instructions"): "instructions",
    ("reproduce scheduling", "out"): "reproduce_out",
    ("reproduce video", "instructions"): "instructions",
    ("reproduce video", "out"): "reproduce_out", ("reproduce video", "run_dir"): "imitating_run",
    ("reproduce video", "detector"): "video_detector",
    ("run", "instruction"): "instruction", ("run", "run_dir"): "run",
    ("run", "video"): "video_out",
    ("data export-minari", "run_dir"): "export_run", ("data export-minari", "store"): "export_store",
    ("data export-minari", "out"): "minari_out", ("data export-minari", "dataset_id"): "dataset_id",
    ("data import-minari", "path"): "minari_in", ("data import-minari", "store"): "import_store",
    ("imitate", "video"): "video_in", ("imitate", "run_dir"): "imitating_run",
    ("imitate", "detector"): "video_detector",
    ("demo-video", "instruction"): "instruction", ("demo-video", "out"): "video_out",
    ("train", "ray_address"): "ray_address", ("bench collect", "ray_address"): "ray_address",
    ("train", "clip"): "clip_weights", ("imitate", "clip"): "clip_weights",
    ("perception train", "clip"): "clip_weights", ("perception eval", "clip"): "clip_weights",
    ("reproduce peers", "tasks"): "instructions", ("reproduce peers", "grid"): "grid",
    ("reproduce peers", "out"): "reproduce_out",
    ("reproduce peers", "detector_path"): "detector_dir",
    ("reproduce all", "out"): "reproduce_out", ("reproduce all", "steps"): "all_steps",
    ("reproduce all", "publish"): "publish_dir",
}
"""What each path or text option is, which decides its bad and its valid values."""


# ----------------------------------------------------------------------------- values
@dataclass(frozen=True)
class Poison:
    """What makes a case bad: argv tokens and/or environment variables."""

    name: str
    tokens: tuple[str, ...]
    """The option's flag and values, a combination of options, or a positional's values."""
    env: tuple[tuple[str, str], ...] = ()
    taken: frozenset[str] = frozenset()
    """The dests it sets (no valid value is added for them)."""
    positional: bool = False

RUN_POISONS = ("missing", "file", "empty_dir", "under_file", "run_empty_config",
               "run_old_version", "run_missing_task", "run_wrong_types", "run_wrong_shape",
               "run_bad_values", "run_corrupt_json", "run_unreadable", "run_no_ckpt",
               "run_corrupt_ckpt", "run_ckpt_bad_config", "run_missing_detector")
DETECTOR_POISONS = ("missing", "file", "empty_dir", "unreadable", "det_corrupt_json",
                    "det_json_list", "det_corrupt_st", "det_truncated_st", "det_no_weights")
VIDEO_POISONS = ("missing", "empty_dir", "empty_mp4", "garbled_mp4", "garbled_gif", "text_gif",
                 "gray_gif", "tiny_gif", "not_video", "unreadable_gif", "frames_empty",
                 "frames_bad", "frames_mixed", "file")


def bad_values(opt: Option, w: World) -> list[list[str]]:
    """Values bad for ``opt`` by construction (each a list: one value, or several for nargs)."""
    one = lambda *names: [[w[n]] for n in names]  # noqa: E731
    texts = lambda values: [[v] for v in values]  # noqa: E731
    kind = opt.kind
    if kind == "positive_int":
        values = texts(POSITIVE_INT_BAD)
    elif kind == "non_negative_int":
        values = texts(NON_NEGATIVE_INT_BAD)
    elif kind == "int":
        values = texts(INT_BAD)
    elif kind in ("finite_float", "float"):
        values = texts(FLOAT_BAD)
    elif kind == "probability":
        values = texts((*FLOAT_BAD, "1.5", "-0.1", "1e300"))
    elif kind == "choice":
        values = texts(v for v in CHOICE_BAD if v not in opt.choices)
    else:
        values = {
            "instruction": texts(BAD_INSTRUCTIONS),
            "sparsity_task": texts((*BAD_INSTRUCTIONS, "pick up the red cube, then put it on "
                                    "the blue cube, then grasp the green object")),
            "instructions": [[b] for b in BAD_INSTRUCTIONS] + [[GRASP, "blah"]],
            "video_out": [["out.avi"], ["out"], [w["dir_mp4"]], ["no-such-dir/out.mp4"],
                          [w["under_file"] + ".gif"]],
            "detector_dir": one(*DETECTOR_POISONS),
            "checkout": one("missing", "file", "empty_dir"),
            "actor_counts": [["0"], ["1", "-1"], ["abc"], ["2"], ["1", "nan"]],
            "clip_model": [["no-such-model"], [""]],
            "pretrained": [["no-such-tag"], ["/no/such/w.safetensors"], [w["corrupt_st"]],
                           [w["empty_st"]], [w["garbage_pt"]]],
            "detector_out": one("file", "foreign_dir", "under_file"),
            "device": [["tpu"], [""], ["cuda:x"], ["cuda"], ["cuda:7"]],
            "reuse_from": one("missing", "file", "empty_dir", "run_no_ckpt") + [
                [w["run"], w["missing"]]],
            "run": one(*RUN_POISONS),
            "imitating_run": one(*RUN_POISONS, "run_baseline"),
            "reproduce_out": one("file", "foreign_dir", "under_file", "out_runs_foreign",
                                 "out_runs_broken"),
            "exploration_tasks": [["bogus"], [""], [","], ["grasp,bogus"]],
            "video_detector": [["bogus"], [""]] + one(*DETECTOR_POISONS),
            "export_run": one("missing", "file", "empty_dir", "run_no_ckpt"),
            "export_store": one("missing", "file", "empty_dir", "corrupt_store"),
            "minari_out": one("file", "under_file"),
            "dataset_id": [[""], ["no-version"], ["../../escape-v0"]],
            "minari_in": one("missing", "file", "empty_dir", "corrupt_json", "foreign_dir",
                             "store"),
            "import_store": one("file", "under_file", "corrupt_store", "minari"),
            "video_in": one(*VIDEO_POISONS),
            "ray_address": [["not an address"], ["host:99999"], ["host:0"], [""], [":"],
                            ["ray://head:10001"], ["head:port"]],
            "clip_weights": [["ViT-B-32"], ["NoSuchModel:openai"], ["ViT-B-32:no-such-tag"],
                             ["hf-hub:a/b/c"], ["hf-hub:"], [""], [":"]],
            "grid": [["abc"], ["-5"], ["0"], ["1,2,x"], [""], ["10000000000"], ["1,,2"]],
            "all_steps": [["bogus"], [""], [","], ["sparsity,bogus"]],
            "publish_dir": one("file", "under_file"),
        }.get(kind, [])
    extra = RANGE_BAD.get((opt.command, opt.dest), ())
    return values + texts(extra)


def combination_poisons(command: str, w: World) -> list[Poison]:
    """Poisons made of several options, or of the environment."""
    out: list[Poison] = []
    if command == "plan":
        out += [Poison("grammar + --model", ("--planner", "grammar", "--model", "x"),
                       taken=frozenset({"planner", "model"})),
                Poison("flan-t5 from a missing dir", ("--planner", "flan-t5", "--model",
                                                      w["missing"]),
                       taken=frozenset({"planner", "model"})),
                Poison("flan-t5 without weights", ("--planner", "flan-t5"),
                       taken=frozenset({"planner"}))]
    if command == "perception eval":
        out += [Poison(f"--fig10 --sizes {v!r}", ("--fig10", "--sizes", v),
                       taken=frozenset({"fig10", "sizes"})) for v in ("a,b", "0", "-5", "", ",")]
        out += [Poison(f"--fig10 --docs {n}", ("--fig10", "--docs", w[n]),
                       taken=frozenset({"fig10", "docs"})) for n in ("file", "under_file")]
    if command == "train":
        out += [Poison("baseline with --also", ("--agent", "baseline", "--also",
                                                "grasp the blue object"),
                       taken=frozenset({"agent", "also"})),
                Poison("flan-t5 without weights", ("--planner", "flan-t5"),
                       taken=frozenset({"planner"}))]
        out += [Poison(f"--resume {n}", ("--resume", "--run-dir", w[n]),
                       taken=frozenset({"resume", "run_dir"}))
                for n in (*RUN_POISONS, "run_bad_metrics") if n not in (
                    "run_no_ckpt", "run_corrupt_ckpt", "run_ckpt_bad_config")]
        conflicts = [("--seed", "5"), ("--agent", "baseline"), ("--detector", "clip"),
                     ("--planner", "auto"), ("--eval-every", "7"), ("--explore-held", "policy"),
                     ("--task", "grasp the blue object"), ("--also", GRASP),
                     ("--detector-path", w["detector2"]), ("--reuse-from", w["run"])]
        out += [Poison(f"--resume with {flag} {value[:30]}",
                       ("--resume", "--run-dir", w["run"], flag, value),
                       taken=frozenset({"resume", "run_dir", flag[2:].replace("-", "_")}))
                for flag, value in conflicts]
    clip = ("--clip", "ViT-B-32:openai")
    if command == "train":
        out += [Poison(f"--clip with {extra[0]}", (*clip, *extra),
                       taken=frozenset({"clip", extra[0][2:].replace("-", "_")}))
                for extra in (("--detector", "oracle"), ("--detector-path", w["detector"]))]
        out += [Poison("--clip with --resume", (*clip, "--resume", "--run-dir", w["run"]),
                       taken=frozenset({"clip", "resume", "run_dir"}))]
    if command == "perception train":
        out += [Poison(f"--clip with {flag}", (*clip, flag, value),
                       taken=frozenset({"clip", flag[2:]}))
                for flag, value in (("--model", "ViT-B-32"), ("--pretrained", "openai"))]
    if command in ("perception eval", "imitate"):
        out += [Poison("--clip with --detector DIR", (*clip, "--detector", w["detector"]),
                       taken=frozenset({"clip", "detector"}))]
    if command in ENV_COMMANDS:
        out += [Poison(f"LANGSTACK_CLIP_PRETRAINED={v!r}", (),
                       (("LANGSTACK_CLIP_PRETRAINED", v),), frozenset(ENV_CONFLICTS))
                for v in ENV_BAD]
    return out


def filler(opt: Option, w: World, resume: bool) -> list[str] | None:
    """A valid value for ``opt`` (a list of tokens after the flag), or None to leave it out."""
    kind = opt.kind
    if kind == "flag":
        return [] if opt.dest not in ("resume", "fig10") else None
    if kind == "positive_int":
        return ["2"]
    if kind in ("non_negative_int", "int"):
        return ["1"]
    if kind in ("finite_float", "float"):
        return {"target_success": ["0.9"], "budget_scale": ["0.5"]}.get(opt.dest, ["1.0"])
    if kind == "probability":
        return ["0.5"]
    if kind == "choice":
        return [str(opt.choices[0])]
    return {
        "instruction": [GRASP], "sparsity_task": [GRASP], "instructions": [GRASP],
        "video_out": ["out.gif"], "detector_dir": [w["detector"]], "detector_out": ["det-out"],
        "device": ["cpu"], "sizes": ["100,300"], "docs": ["docs-out"], "free_text": ["notes"],
        "train_run_dir": [w["run"]] if resume else ["new-run"], "run": [w["run"]],
        "imitating_run": [w["run"]], "reproduce_out": ["out"], "exploration_tasks": ["grasp"],
        "video_detector": ["default"], "export_run": [w["run"]], "minari_out": ["minari"],
        "minari_in": [w["minari"]], "import_store": ["new-store"], "video_in": [w["gif"]],
        "actor_counts": ["1"], "all_steps": ["sparsity"], "publish_dir": ["docs-out"],
    }.get(kind)


# ----------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One bad invocation."""

    argv: list[str]
    env: dict[str, str]
    poison: str
    """What makes it bad (for the report)."""


def make_case(rng: random.Random, command: str, options: list[Option], w: World,
              poison: Poison) -> Case:
    """``command`` with ``poison``, valid required options and a few random valid ones."""
    resume = "resume" in poison.taken
    skip = set(poison.taken) | (ENV_CONFLICTS if poison.env else set())
    groups = {o.group for o in options if o.dest in skip and o.group is not None}
    positional = list(poison.tokens) if poison.positional else []
    rest = [] if poison.positional else list(poison.tokens)
    for opt in options:
        if opt.dest in skip or opt.dest == "json" or opt.group in groups - {None}:
            continue
        needed = opt.required or (opt.command, opt.dest) in ALWAYS_FILLED and not resume
        if not needed and (rng.random() > 0.3 or (resume and opt.command == "train")):
            continue
        value = filler(opt, w, resume)
        if value is None:
            continue
        groups.add(opt.group)
        if opt.positional:
            positional += value
        else:
            rest += [opt.flags[-1], *value]
    if rng.random() < 0.3:
        rest.append("--json")
    return Case([*command.split(), *positional, *rest], dict(poison.env), f"{command}: {poison.name}")


def single_poisons(options: list[Option], w: World) -> list[Poison]:
    """One poison per bad value of every option."""
    out = []
    for opt in options:
        if opt.kind == "train_run_dir":
            values = [[w[n]] for n in ("file", "foreign_dir", "run", "under_file")]
        else:
            values = bad_values(opt, w)
        for value in values:
            tokens = tuple(value) if opt.positional else (opt.flags[-1], *value)
            out.append(Poison(f"{opt.dest} = {value[0][:40]!r}", tokens,
                              taken=frozenset({opt.dest}), positional=opt.positional))
    return out


def generate(commands: dict[str, list[Option]], w: World, n: int, seed: int) -> list[Case]:
    """Every poison of every command once, then random ones up to ``n``, in a seeded order."""
    rng = random.Random(seed)
    pools = {c: single_poisons(opts, w) + combination_poisons(c, w)
             for c, opts in commands.items()}
    cases = [make_case(rng, c, commands[c], w, poison)
             for c in sorted(pools) for poison in pools[c]]
    while len(cases) < n:
        command = rng.choice(sorted(pools))
        cases.append(make_case(rng, command, commands[command], w, rng.choice(pools[command])))
    rng.shuffle(cases)
    return cases


# ----------------------------------------------------------------------------- running
@dataclass
class Outcome:
    code: Any
    stdout: str
    stderr: str
    error: str | None
    seconds: float


def run_in_process(case: Case, cwd: Path) -> Outcome:
    """``experiments.cli.main(argv)`` in ``cwd`` with stdout/stderr captured."""
    from experiments.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in case.env}
    os.chdir(cwd)
    os.environ.update(case.env)
    t0, error, code = time.perf_counter(), None, None
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(case.argv)
            except SystemExit as exc:
                code = exc.code
    except RealWork as exc:
        error = f"started real work: {exc}"
    except BaseException:  # noqa: BLE001 - every escape is a failure to report
        error = traceback.format_exc(limit=-4)
    finally:
        os.chdir(old_cwd)
        for key, value in old_env.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return Outcome(code, out.getvalue(), err.getvalue(), error, time.perf_counter() - t0)


def problems(outcome: Outcome, changed: bool) -> list[str]:
    """What the outcome does wrong (empty: a clean refusal)."""
    lines = [ln for ln in outcome.stderr.splitlines() if ln.strip()]
    found = []
    if outcome.error:
        found.append(outcome.error.strip().splitlines()[-1] if "real work" not in outcome.error
                     else outcome.error)
    if outcome.code != 2:
        found.append(f"exit code {outcome.code!r}")
    if len(lines) != 1:
        found.append(f"{len(lines)} stderr lines: {outcome.stderr[-300:]!r}")
    elif not lines[0].startswith("langstack") or "error" not in lines[0]:
        found.append(f"stderr line does not say the error: {lines[0][:200]!r}")
    if "Traceback" in outcome.stderr:
        found.append("traceback on stderr")
    if changed:
        found.append("changed files on disk")
    if outcome.seconds > SLOW_CASE_S:
        found.append(f"took {outcome.seconds:.0f} s")
    return found


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    """The world, the cases, and an environment whose caches are empty temp folders."""
    base = tmp_path_factory.mktemp("fuzz")
    saved = {k: os.environ.get(k) for k in ("LANGSTACK_CACHE_DIR", "HF_HOME", "HF_HUB_OFFLINE",
                                            "LANGSTACK_CLIP_PRETRAINED", "LANGSTACK_CLIP_MODEL")}
    os.environ.update({"LANGSTACK_CACHE_DIR": str(base / "cache"), "HF_HOME": str(base / "hf"),
                       "HF_HUB_OFFLINE": "1"})
    for key in ("LANGSTACK_CLIP_PRETRAINED", "LANGSTACK_CLIP_MODEL"):
        os.environ.pop(key, None)
    (base / "cache").mkdir()
    (base / "hf").mkdir()
    world = build_world(base / "world")
    from experiments.cli import build_parser

    commands = walk(build_parser())
    cases = generate(commands, world, N_CASES, SEED)
    yield {"base": base, "world": world, "commands": commands, "cases": cases}
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    for path in base.rglob("*"):  # let pytest clean up the unreadable fixtures
        path.chmod(0o700)


def _sentinel(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RealWork(name)
    return refuse


@pytest.fixture
def sentinels(monkeypatch):
    """Replace every entry point of real work by a :class:`RealWork` raiser."""
    import importlib

    for module_name, attr in SENTINELS:
        module = importlib.import_module(module_name)
        if hasattr(module, attr):
            monkeypatch.setattr(module, attr, _sentinel(f"{module_name}.{attr}"))
    for module_name, cls, attr in SENTINEL_METHODS:
        owner = getattr(importlib.import_module(module_name), cls)
        monkeypatch.setattr(owner, attr, _sentinel(f"{module_name}.{cls}.{attr}"))


def test_the_parser_walk_covers_every_command(fuzz) -> None:
    commands = fuzz["commands"]
    assert {"train", "eval", "run", "imitate", "reproduce exploration", "data import-minari",
            "perception eval", "bench sim", "plan", "demo-video"} <= set(commands)
    unknown = [f"{o.command} {o.flags[-1] if o.flags else o.dest}"
               for options in commands.values() for o in options if o.kind == "unknown"]
    assert not unknown, f"add these options to ROLES (what they are decides their bad values): {unknown}"
    poisoned = {case.poison.split(":")[0] for case in fuzz["cases"]}
    assert poisoned == set(commands)
    assert len(fuzz["cases"]) >= 500


def test_every_bad_input_is_one_line_and_exit_2_without_touching_the_disk(fuzz, sentinels) -> None:
    base, world = fuzz["base"], fuzz["world"]
    failures, t0 = [], time.perf_counter()
    for i, case in enumerate(fuzz["cases"]):
        cwd = base / "cwd" / str(i)
        cwd.mkdir(parents=True)
        before = snapshot(cwd, world.root, base / "cache", base / "hf")
        outcome = run_in_process(case, cwd)
        changed = snapshot(cwd, world.root, base / "cache", base / "hf") != before
        found = problems(outcome, changed)
        if found:
            failures.append(f"{case.poison}\n    argv: {case.argv!r:.300}\n    env: {case.env}"
                            f"\n    " + "\n    ".join(found))
    elapsed = time.perf_counter() - t0
    assert not failures, (f"{len(failures)} of {len(fuzz['cases'])} bad inputs were not refused "
                          f"cleanly ({elapsed:.0f} s):\n" + "\n".join(failures[:25]))


def test_the_real_entry_point_refuses_a_sample_the_same_way(fuzz, sentinels) -> None:
    """A few cases through ``python -m experiments.cli``: the same one line and exit 2."""
    base, world = fuzz["base"], fuzz["world"]
    sample, seen = [], set()
    for case in fuzz["cases"]:
        command = case.poison.split(":")[0]
        if command not in seen and not command.startswith("bench"):
            seen.add(command)
            sample.append(case)
        if len(sample) == SUBPROCESS_SAMPLE:
            break
    for i, case in enumerate(sample):
        cwd = base / "subprocess" / str(i)
        cwd.mkdir(parents=True)
        before = snapshot(cwd, world.root, base / "cache", base / "hf")
        proc = subprocess.run([sys.executable, "-m", "experiments.cli", *case.argv], cwd=cwd,
                              env={**os.environ, **case.env, "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, timeout=300)
        outcome = Outcome(proc.returncode, proc.stdout, proc.stderr, None, 0.0)
        changed = snapshot(cwd, world.root, base / "cache", base / "hf") != before
        assert not problems(outcome, changed), (case, proc.stderr)
        again = base / "subprocess" / f"{i}-in-process"
        again.mkdir()
        assert run_in_process(case, again).stderr.strip() == proc.stderr.strip(), case
