"""Hindsight relabelling: exactly the steps that newly achieved a caption get it as goal."""
from __future__ import annotations

import subprocess
import sys

import pytest

from policy.relabel import first_success, merge_labels, relabel_env_success, relabel_newly_detected

GRASP_RED = "the robot is grasping the red object"
GRASP_BLUE = "the robot is grasping the blue object"
RED_ON_BLUE = "the red object is on top of the blue object"
GREEN_ON_RED = "the green object is on top of the red object"


def test_newly_detected_caption_labels_exactly_the_step_that_achieved_it() -> None:
    # s0 -a0-> s1 (grasped red) -a1-> s2 (red placed on blue) -a2-> s3 (nothing new)
    detected = [set(), {GRASP_RED}, {RED_ON_BLUE}, {RED_ON_BLUE}]
    assert relabel_newly_detected(detected) == [(0, GRASP_RED), (1, RED_ON_BLUE)]


def test_caption_already_true_gets_no_credit() -> None:
    # red already on blue in the initial frame: no step achieved it
    detected = [{RED_ON_BLUE}, {RED_ON_BLUE}, {RED_ON_BLUE, GRASP_BLUE}]
    assert relabel_newly_detected(detected) == [(1, GRASP_BLUE)]
    assert relabel_newly_detected([{GRASP_RED}] * 5) == []


def test_several_captions_newly_true_at_once_each_get_the_step() -> None:
    detected = [set(), {GRASP_RED}, {GRASP_RED, RED_ON_BLUE, GREEN_ON_RED}]
    assert relabel_newly_detected(detected) == [(0, GRASP_RED), (1, GREEN_ON_RED), (1, RED_ON_BLUE)]
    # with a caption list: only those are credited, in that order
    only = [RED_ON_BLUE, GREEN_ON_RED]
    assert relabel_newly_detected(detected, only) == [(1, RED_ON_BLUE), (1, GREEN_ON_RED)]


def test_lost_then_regained_caption_is_credited_again() -> None:
    detected = [set(), {GRASP_RED}, set(), {GRASP_RED}]
    assert relabel_newly_detected(detected) == [(0, GRASP_RED), (2, GRASP_RED)]


def test_degenerate_inputs() -> None:
    assert relabel_newly_detected([set()]) == []  # T = 0
    with pytest.raises(ValueError):
        relabel_newly_detected([])


def test_env_success_labels_every_step_up_to_the_first_success_with_its_pursued_caption() -> None:
    pursued = [GRASP_RED, RED_ON_BLUE, "", GRASP_BLUE, GRASP_BLUE]
    rewards = [0.0, 0.0, 0.0, 1.0, 1.0]
    assert first_success(rewards) == 3
    assert relabel_env_success(pursued, rewards) == [(0, GRASP_RED), (1, RED_ON_BLUE), (3, GRASP_BLUE)]
    assert relabel_env_success(pursued, [0.0] * 5) == []
    assert relabel_env_success(pursued[:2], [1.0, 0.0]) == [(0, GRASP_RED)]
    with pytest.raises(ValueError):
        relabel_env_success(pursued, rewards[:2])


def test_merge_labels_deduplicates_and_orders_by_step() -> None:
    a = [(1, RED_ON_BLUE), (0, GRASP_RED)]
    b = [(0, GRASP_RED), (1, GRASP_BLUE)]
    assert merge_labels(a, b) == [(0, GRASP_RED), (1, RED_ON_BLUE), (1, GRASP_BLUE)]


def test_relabel_and_store_do_not_import_torch() -> None:
    code = "import sys, policy.relabel, policy.store; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
