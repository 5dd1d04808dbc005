"""``langstack perception train|eval``: build the sub-goal detector and measure it."""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from experiments.cli.hub import (
    add_clip_option, add_offline_flag, apply_hub_flags, clip_build_weights, use_clip,
)
from experiments.cli.util import (
    UsageError, add_json_flag, check_out_dir, emit, non_negative_int, one_line, positive_int, say,
)
from perception.card import CARD_FILE
from perception.detector import CONFIG_FILE, WEIGHTS_FILE

DETECTOR_FILES = frozenset({CONFIG_FILE, WEIGHTS_FILE, CARD_FILE})
"""What ``perception train --out`` writes: the detector and its model card (a re-run
overwrites a detector there)."""

# Two busy cores: OpenMP threads that spin while waiting make torch several times slower
# whenever another process shares the machine. Only effective before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def register(subparsers: Any) -> None:
    """Add ``perception`` with its ``train`` and ``eval`` sub-commands."""
    from dataclasses import fields

    from perception.factory import EMBEDDED_MODEL
    from perception.loader import BuildConfig

    # the field defaults, without building a BuildConfig (its TrainConfig imports torch,
    # which would cost every `langstack ...` call ~3 s)
    build = {f.name: f.default for f in fields(BuildConfig)}
    p = subparsers.add_parser("perception", help="CLIP sub-goal detector: train and evaluate",
                              description=__doc__)
    sub = p.add_subparsers(dest="perception_command", metavar="SUBCOMMAND",
                           parser_class=type(p))
    sub.required = True

    t = sub.add_parser("train", help="generate in-domain frames, train and calibrate a detector")
    t.add_argument("--model", default=None,
                   help="open_clip model name (default: the embedded default "
                        f"'{EMBEDDED_MODEL}', or the model of --pretrained weights)")
    t.add_argument("--pretrained", default=None,
                   help="open_clip tag (from the local cache, or downloaded when online) or "
                        "checkpoint file of pretrained CLIP weights to fine-tune; default: "
                        "train from scratch")
    add_clip_option(t)
    add_offline_flag(t)
    t.add_argument("--train-pairs", type=positive_int, default=None,
                   help=f"training pairs (frames with caption sets); default {build['train_pairs']}")
    t.add_argument("--val-pairs", type=positive_int, default=None,
                   help=f"validation pairs for calibrating gamma; default {build['val_pairs']}")
    t.add_argument("--epochs", type=positive_int, default=None, help="training epochs")
    t.add_argument("--seed", type=non_negative_int, default=0, help="training seed (default 0)")
    t.add_argument("--recipe", choices=("default", "plain"), default="default",
                   help="default: train and calibrate on frames with the arm painted in random "
                        "colours (the detector judges cubes and grasps, not the arm's paint); "
                        "plain: frames of the arm as rendered, for comparison (default: default)")
    t.add_argument("--out", default=None,
                   help="checkpoint directory (default: the user cache, where "
                        "`load_detector()` finds it)")
    t.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    add_json_flag(t)
    t.set_defaults(func=run)

    e = sub.add_parser("eval", help="precision/recall in-domain and shifted (builds the default "
                                    "detector on first use)")
    e.add_argument("--detector", default=None,
                   help="detector checkpoint directory (default: the cached default)")
    add_clip_option(e)
    add_offline_flag(e)
    e.add_argument("--test-pairs", type=positive_int, default=600,
                   help="held-out in-domain frames (default 600)")
    e.add_argument("--shifted-pairs", type=positive_int, default=600,
                   help="visually shifted frames (default 600)")
    e.add_argument("--test-seed", type=non_negative_int, default=0,
                   help="which block of held-out episodes to test on (default 0); every seed "
                        "gives other episodes, none of them used in training or calibration")
    e.add_argument("--fig10", action="store_true",
                   help="also train detectors on growing training sets and write the Fig. 10 "
                        "table and plot (slow: one training run per size)")
    e.add_argument("--sizes", default="100,300,1000,2000",
                   help="training-set sizes for --fig10 (comma-separated)")
    e.add_argument("--docs", default="docs", help="directory for fig10.md / fig10.png")
    e.add_argument("--notes", default="", help="text appended to fig10.md (e.g. how it was run)")
    e.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    add_json_flag(e)
    e.set_defaults(func=run)


def _device(name: str) -> str:
    """--device: cpu, auto, or a CUDA device this machine has."""
    if name == "cpu":
        return name
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    index = name.partition(":")[2]
    if not (name == "cuda" or (name.startswith("cuda:") and index.isdigit())):
        raise UsageError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto")
    if not torch.cuda.is_available() or int(index or 0) >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: no such CUDA device on this machine")
    return name


def run(args: argparse.Namespace) -> int:
    """Dispatch ``perception train`` / ``perception eval``."""
    apply_hub_flags(args)
    if args.perception_command == "train":
        return _train(args)
    return _eval(args)


def _check_model_name(model: str) -> None:
    """Refuse an unknown open_clip model before any other output (``hf-hub:`` models are
    checked when their config is fetched)."""
    import open_clip

    from perception.factory import HF_HUB_PREFIX, register_configs

    register_configs()
    if model.startswith(HF_HUB_PREFIX):
        return
    if model not in open_clip.list_models():
        raise UsageError(f"unknown open_clip model {model!r}")


def _train(args: argparse.Namespace) -> int:
    from perception.factory import (
        EMBEDDED_MODEL, HF_HUB_PREFIX, PretrainedWeightsMissing, find_pretrained,
    )
    from perception.loader import (
        RECIPES, BuildConfig, build_detector, default_detector_dir, pretrained_train_config,
    )

    device = _device(args.device)
    if args.clip is not None and (args.model is not None or args.pretrained is not None):
        raise UsageError("--clip MODEL:TAG names both the model and its weights: leave out "
                         "--model and --pretrained")
    if args.out:
        check_out_dir(Path(args.out), DETECTOR_FILES)
    model, pretrained = (clip_build_weights(args.clip) if args.clip
                         else (args.model, args.pretrained))
    if model is None:
        model = EMBEDDED_MODEL if pretrained is None else "ViT-B-32"
    _check_model_name(model)
    if pretrained is not None and not args.clip:
        _check_pretrained(model, pretrained)
    cfg = BuildConfig(model=model, pretrained=pretrained, **RECIPES[args.recipe])
    if pretrained is not None or model.startswith(HF_HUB_PREFIX):
        cfg.train = pretrained_train_config()
    elif model != EMBEDDED_MODEL and find_pretrained() is None:
        say(f"note: training {model} from scratch (no pretrained weights given)")
    if args.train_pairs:
        cfg.train_pairs = args.train_pairs
    if args.val_pairs:
        cfg.val_pairs = args.val_pairs
    cfg.train = replace(cfg.train, seed=args.seed,
                        epochs=args.epochs or cfg.train.epochs)
    out = Path(args.out) if args.out else default_detector_dir(model, pretrained, args.recipe)
    t0 = time.perf_counter()
    try:
        det = build_detector(out, cfg, progress=not args.quiet, say=say, device=device)
    except PretrainedWeightsMissing as exc:
        raise UsageError(f"{exc}; pass a checkpoint file to --pretrained, or omit it to train "
                         "the embedded default") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cal = det.meta["calibration"]
    result = {"detector": str(out), "model": model, "weights": det.spec.source,
              "train_pairs": det.meta["train_pairs"], "val_pairs": det.meta["val_pairs"],
              "gamma": det.gamma, "val_precision": cal["precision"], "val_recall": cal["recall"],
              "seconds": round(time.perf_counter() - t0, 1),
              "train_seconds": det.meta["train"]["seconds"],
              "cpu_steal": det.meta["build"]["cpu_steal"]}
    human = (f"trained {model} on {result['train_pairs']} pairs in {result['seconds']:.0f} s\n"
             f"gamma = {det.gamma:.3f} (validation precision {cal['precision']:.3f}, "
             f"recall {cal['recall']:.3f})\nsaved to {out}")
    emit(result, args.json, human)
    return 0


def _check_pretrained(model: str, pretrained: str) -> None:
    """--pretrained names an open_clip tag of ``model`` that is cached or downloadable, or a
    readable checkpoint file."""
    from perception.factory import PretrainedWeightsMissing
    from perception.pretrained import check_obtainable

    if Path(pretrained).is_file():
        _check_weights_file(Path(pretrained))
        return
    try:
        check_obtainable(model, pretrained)
    except PretrainedWeightsMissing as exc:
        raise UsageError(f"--pretrained: {exc}; pass a checkpoint file, or omit it to train "
                         "the embedded default") from None


def _check_weights_file(path: Path) -> None:
    """--pretrained FILE is a complete safetensors file or a torch (zip) checkpoint."""
    import zipfile

    from experiments.collect_infer.prepare import check_safetensors

    if path.suffix == ".safetensors":
        try:
            check_safetensors(path)
        except ValueError as exc:
            raise UsageError(f"--pretrained: {exc}") from None
    elif not zipfile.is_zipfile(path):
        raise UsageError(f"--pretrained: {path} is neither a .safetensors file nor a torch "
                         "checkpoint")


def _eval(args: argparse.Namespace) -> int:
    from experiments.collect_infer.prepare import check_detector_dir
    from experiments.collect_infer.rundir import check_creatable
    from perception.evaluate import eval_splits, fig10_report, summary
    from perception.loader import load_detector

    device = _device(args.device)
    sizes = _sizes(args.sizes) if args.fig10 else []
    if args.fig10:
        check_creatable(Path(args.docs), "--docs")
    if args.detector is not None and args.clip is not None:
        raise UsageError("--clip applies to the default detector, not to --detector DIR")
    use_clip(args.clip)  # fetched (or the fallback said) before the default is built
    if args.detector is not None:
        try:
            check_detector_dir(Path(args.detector))
        except (ValueError, OSError) as exc:
            raise UsageError(f"--detector: {one_line(exc)}") from None
    else:
        from perception.factory import find_pretrained

        find_pretrained()  # a malformed LANGSTACK_CLIP_PRETRAINED fails before any build
    try:
        det = load_detector(args.detector, device=device, progress=not args.quiet, say=say)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    splits = eval_splits(args.test_pairs, args.shifted_pairs, seed=args.test_seed,
                         progress=not args.quiet)
    result = summary(det, splits)
    if args.fig10:
        result["fig10"] = fig10_report(det, splits, sizes, args.docs, args.notes,
                                       progress=not args.quiet, say=say, details=result)
    human = _human(result)
    if not args.json:
        result.pop("details")
    emit(result, args.json, human)
    return 0


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise UsageError(f"--sizes must be comma-separated integers, got {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise UsageError(f"--sizes must be positive integers, got {text!r}")
    return sizes


def _human(result: dict[str, Any]) -> str:
    from perception.captions import CAPTIONS

    lines = [f"detector {result['model']} ({result['weights']}), trained on "
             f"{result['train_pairs']} pairs, gamma = {result['gamma']:.3f}, cameras: "
             f"{result['camera_rule']} of the per-view cosines"]
    for split in ("in_domain", "shifted"):
        r, d = result[split], result["details"][split]
        lines.append(f"{split.replace('_', '-'):>9}: precision {r['precision']:.3f}  "
                     f"recall {r['recall']:.3f}  ({r['frames']} frames)")
        for c in CAPTIONS:
            pc = d["per_caption"][c]
            lines.append(f"    {c:<44} P {pc['precision']:.3f}  R {pc['recall']:.3f}  "
                         f"(n={pc['support']})")
    if "fig10" in result:
        lines.append("fig10: " + ", ".join(
            f"{row['train_pairs']}: P {row['in_domain']['precision']:.2f} R {row['in_domain']['recall']:.2f}"
            for row in result["fig10"]["rows"]))
        lines.append(f"wrote {result['fig10']['table']} and {result['fig10']['plot']}")
    return "\n".join(lines)
