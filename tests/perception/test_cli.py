"""``langstack perception ...`` and ``langstack bench perception`` as a user runs them."""
from __future__ import annotations

import json

import pytest

from tests.experiments.conftest import assert_clean_usage_error, langstack, last_json
from tests.perception.test_detector import TINY_CONFIG


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A saved detector of a tiny random model (its config travels inside the checkpoint)."""
    import open_clip
    import torch

    from perception.detector import Detector
    from perception.factory import create_model

    folder = tmp_path_factory.mktemp("cli")
    (folder / "langstack-test-cli.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder / "langstack-test-cli.json")
    torch.manual_seed(0)
    model, spec = create_model("langstack-test-cli")
    return Detector(model, spec, gamma=0.2).save(folder / "det", extra={"train_pairs": 7})


def test_bench_perception_reports_frames_per_second(tiny_checkpoint):
    proc = langstack("bench", "perception", "--detector", str(tiny_checkpoint), "--batch", "16",
                     "--frames", "32", "--json")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc)
    assert out["frames_per_s"] > 0 and out["batch"] == 16 and out["frames"] == 32
    assert out["image_size"] == 128 and out["cameras"] == 2 and out["threads"] == 2
    assert "detector: langstack-test-cli" in proc.stderr  # says which detector, once
    assert proc.stderr.count("detector:") == 1


def test_bench_reader_reads_a_foreign_demo_and_reports_frames_per_second(tiny_checkpoint,
                                                                        tmp_path):
    from perception.detector import Detector
    from perception.localise import Localiser
    from perception.reader import VideoReader

    reader = VideoReader(Localiser(8), Detector.load(tiny_checkpoint)).save(tmp_path / "reader")
    proc = langstack("bench", "reader", "--reader", str(reader), "--frames", "24", "--json")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc)
    assert out["frames_per_s"] > 0 and out["frames"] == 24 and out["threads"] == 2
    assert 240 <= min(out["frame_hw"]) <= 400  # a foreign demo's own frame size
    assert_clean_usage_error(langstack("bench", "reader", "--reader", str(tiny_checkpoint)),
                             "holds no video reader")


@pytest.mark.parametrize("args, needle", [
    (("perception", "eval", "--detector", "/nonexistent/detector"), "no detector"),
    (("bench", "perception", "--detector", "/nonexistent/detector"), "no detector"),
    (("perception", "train", "--model", "ViT-B-32", "--pretrained", "no-such-tag"),
     "neither a file nor a known open_clip tag"),
    (("perception", "train", "--model", "no-such-model", "--train-pairs", "1", "--val-pairs", "1"),
     "unknown open_clip model"),
    (("perception", "eval", "--fig10", "--sizes", "10,x", "--detector", "/nonexistent"), "--sizes"),
    (("perception", "train", "--device", "tpu"), "unknown device"),
])
def test_bad_input_is_one_clear_line(args, needle):
    assert_clean_usage_error(langstack(*args), needle)


def test_bad_numbers_are_rejected_by_the_parser():
    proc = langstack("perception", "train", "--train-pairs", "0")
    assert proc.returncode == 2 and "positive integer" in proc.stderr
    assert "Traceback" not in proc.stderr
