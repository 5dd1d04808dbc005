"""Past one machine: Ray actors on a two-node cluster, fed through the object store, and an
actor killed mid-round replaced without losing or changing any episode.

The cluster is real (``ray.cluster_utils.Cluster``: a head node and a worker node, one CPU
each, on this machine); the pool joins it by its address through the same check
``--ray-address`` goes through (``experiments.cli.util.ray_address``).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
from dataclasses import replace

import numpy as np
import pytest

from experiments.cli.util import UsageError, ray_address
from experiments.collect_infer.actors import Actor, ActorPool, ActorsLost
from experiments.collect_infer.detectors import read_blob
from policy.model import PolicyConfig, make_policy
from tests.experiments.test_actors import _spec, _weights
from tests.experiments.test_cli_errors import GRASP, user  # noqa: F401  (fixture)
from tests.experiments.test_learning import _random_policy_success
from tests.experiments.test_train_resume import tiny_detector  # noqa: F401  (fixture)

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def two_nodes():
    """A head node and a worker node with one CPU each (two actors need both)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 150 * 1024 ** 2})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=150 * 1024 ** 2)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def _alive_nodes() -> set[str]:
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def test_a_run_on_two_nodes_spreads_its_actors_and_learns(tmp_path, two_nodes, tiny_detector):
    """The real train loop, 2 actors joined through --ray-address's check: every episode
    records the node it was collected on, both nodes collected, and the policy learned."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.rundir import RunDir
    from sim.seeds import FINAL

    # the learner of tests/experiments/test_learning.py (600 env steps, default model and
    # rounds): a smaller one (300 steps, 30 BC steps per round) learned 0.97 once, 0.33 once
    cfg = TrainConfig(task="grasp the red object", detector="oracle", actors=2, seed=1,
                      planner="grammar", max_env_steps=600, eval_every=10_000, eval_episodes=4,
                      final_eval_episodes=30, target_success=None, video=False,
                      detector_path=str(tiny_detector))
    run = RunDir(tmp_path / "run").create()
    try:
        result = train(cfg, run, progress=False, ray_address=ray_address(two_nodes.address, 2))
        nodes = _alive_nodes()
    finally:
        ray.shutdown()
    manifest = [json.loads(x) for x in (run.root / "episodes" / "manifest.jsonl")
                .read_text().splitlines()]
    assert len(nodes) == 2
    assert {e["meta"]["node"] for e in manifest} == nodes  # both nodes collected
    assert {e["meta"]["actor"] for e in manifest} == {0, 1}
    assert json.loads(run.config_path.read_text())["train"].get("ray_address") is None
    random_rate = _random_policy_success(FINAL.seeds(cfg.seed, 30))
    assert result["env_steps"] >= 600
    assert result["eval_success_rate"] >= 0.7, result
    assert result["eval_success_rate"] >= random_rate + 0.3, (result, random_rate)


def test_clip_actors_build_their_detector_from_the_object_store(tmp_path, two_nodes,
                                                                 tiny_detector):
    """The detector's files are read once on the driver and deleted before the actors start:
    the actors (one per node) build it from the bytes Ray sent, and collect exactly the
    episodes, frame embeddings included, an in-process actor collects from the files."""
    from perception.captions import CAPTIONS
    from perception.detector import Detector

    det_dir = tmp_path / "detector"
    shutil.copytree(tiny_detector, det_dir)
    text = Detector.load(det_dir).text_embeddings(list(CAPTIONS))
    goals = dict(zip(CAPTIONS, text.astype(np.float32)))
    oracle = _spec()
    config = {**oracle.policy_config, "goal_dim": text.shape[1]}
    spec = replace(oracle, goal_embeddings=goals, policy_config=config, detector="clip",
                   detector_path=str(det_dir), horizon=2)
    weights = _weights(make_policy(PolicyConfig(**config), seed=0))
    seeds = [300, 301, 302, 303]
    local = Actor(spec, 0)
    try:
        expected = {s: r for i in (0, 1) for s, r in
                    zip(seeds[i::2], local.collect(seeds[i::2], weights, {}))}
    finally:
        local.close()
    blob = read_blob("clip", str(det_dir))
    shutil.rmtree(det_dir)  # nothing left on disk for an actor to read
    pool = None
    try:
        pool = ActorPool(spec, 2, ray_address(two_nodes.address, 2), detector_blob=blob)
        where = pool.where()
        rollouts = pool.collect(seeds, weights, {})
    finally:
        if pool is not None:
            pool.close()
        ray.shutdown()
    assert len({w["node"] for w in where}) == 2
    assert [w["detector_from"] for w in where] == ["memory", "memory"]
    assert [r.episode.meta["seed"] for r in rollouts] == seeds
    for r in rollouts:
        want = expected[r.episode.meta["seed"]].episode
        assert r.episode.frame_embs is not None and r.episode.frame_embs.shape[-1] == 16
        np.testing.assert_allclose(r.episode.frame_embs, want.frame_embs, atol=1e-5)
        np.testing.assert_array_equal(r.episode.actions, want.actions)
        assert r.episode.meta["detected"] == want.meta["detected"]


def test_an_actor_killed_mid_round_is_replaced_and_the_round_is_unchanged(two_nodes, capfd):
    """SIGKILL to one actor's process while a round and an overlapping one are in flight: one
    fresh actor from the same spec re-collects that actor's seeds of both, and each round
    equals an undisturbed one. With no deaths allowed, the same kill is a clear ActorsLost."""
    spec = _spec()
    weights = _weights(make_policy(PolicyConfig(**spec.policy_config), seed=0))
    seeds, counts = list(range(400, 412)), {"the robot is grasping the red object": 3}
    pool = ActorPool(spec, 2, ray_address(two_nodes.address, 2))
    try:
        calm = pool.collect(seeds, weights, counts)
        before = pool.where()
        pending = pool.submit_collect(seeds, weights, counts)
        ahead = pool.submit_collect(seeds, weights, counts)  # as the loop's overlapping round
        os.kill(before[1]["pid"], signal.SIGKILL)  # mid-round: 6 episodes were just handed over
        rough, rough_ahead = pending.result(), ahead.result()
        after = pool.where()
        deaths = list(pool.deaths)
        err = capfd.readouterr().err

        pool.max_deaths = 1  # no replacement allowed: the same kill ends the round
        pending = pool.submit_collect(seeds, weights, counts)
        os.kill(after[0]["pid"], signal.SIGKILL)
        with pytest.raises(ActorsLost, match=r"collector actor 0 died 1 time\(s\) in a row"):
            pending.result()
    finally:
        pool.close()
        ray.shutdown()
    assert [r.episode.meta["seed"] for r in rough] == seeds
    for a, b in zip(calm + calm, rough + rough_ahead):
        np.testing.assert_array_equal(a.episode.states, b.episode.states)
        np.testing.assert_array_equal(a.episode.actions, b.episode.actions)
        assert a.success == b.success and a.episode.meta["actor"] == b.episode.meta["actor"]
    assert after[0]["pid"] == before[0]["pid"] and after[1]["pid"] != before[1]["pid"]
    assert {w["node"] for w in after} == {w["node"] for w in before}  # capacity came back
    assert deaths == [0, 0]  # the replacement's success ends the streak
    assert err.count("actor 1 died") == 1 and "re-runs its 6 seed(s)" in err  # one replacement


def test_bad_addresses_fail_within_seconds_with_one_clear_line(monkeypatch) -> None:
    """A malformed address, a closed port, or RAY_ADDRESS naming one: a UsageError (one
    line, exit 2 at the CLI) before anything starts; one in-process actor ignores RAY_ADDRESS."""
    import socket
    import time

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    start = time.monotonic()
    for flag, needle in (("nonsense", "expected HOST:PORT"), ("ray://h:1", "not supported"),
                         ("127.0.0.1:99999", "expected HOST:PORT"),
                         (closed, "connection refused")):
        with pytest.raises(UsageError, match=needle) as info:
            ray_address(flag, 2)
        assert str(info.value).startswith("--ray-address: ") and "\n" not in str(info.value)
    monkeypatch.setenv("RAY_ADDRESS", closed)
    with pytest.raises(UsageError, match="^RAY_ADDRESS: no Ray cluster at"):
        ray_address(None, 2)
    assert ray_address(None, 1) is None
    assert time.monotonic() - start < 10

    with socket.socket() as mute:  # accepts connections, never answers (not a Ray head)
        mute.bind(("127.0.0.1", 0))
        mute.listen(4)
        start = time.monotonic()
        with pytest.raises(UsageError, match="does not speak Ray's protocol"):
            ray_address(f"127.0.0.1:{mute.getsockname()[1]}", 2)
    assert time.monotonic() - start < 10


def test_the_cli_refuses_a_bad_cluster_before_any_work(user) -> None:
    """`langstack train --ray-address` and `bench collect` with $RAY_ADDRESS naming no
    cluster: exit 2, one line naming the option, nothing written (no run directory)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    user("train", "--task", GRASP, "--actors", "2", "--ray-address", closed, "--run-dir", "r",
         needles=("--ray-address: no Ray cluster at", "connection refused"))
    assert not (user.cwd / "r").exists()
    user("bench", "collect", "--actors", "1", "2", env={"RAY_ADDRESS": "head.example:"},
         needles=("RAY_ADDRESS: expected HOST:PORT",))


def test_bench_collect_measures_actors_on_both_nodes(two_nodes) -> None:
    """``bench collect`` on the cluster: the 2-actor pool runs on both nodes, and the figures
    account for the CPU the actors got (cores busy, env steps per CPU second)."""
    from experiments.bench.collect import measure

    try:
        result = measure([1, 2], 2, ("oracle",), floor_seconds=0.2,
                         ray_address=ray_address(two_nodes.address, 2))
    finally:
        ray.shutdown()
    mode = result["modes"]["state-only"]
    assert mode["nodes"] == {"1": 1, "2": 2}
    assert mode["speedup_vs_1"]["1"] == 1.0 and mode["speedup_vs_1"]["2"] > 0
    for n, most in (("1", 1.05), ("2", 2.1)):  # a process keeps at most one core busy
        assert 0 < mode["cores_busy"][n] <= most, mode
        assert mode["env_steps_per_cpu_s"][n] == pytest.approx(
            mode["env_steps_per_s"][n] / mode["cores_busy"][n])
