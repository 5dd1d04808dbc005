"""Experiments: the composition root. Only this package composes sim, perception, planner
and policy; one subpackage per job:

- ``collect_infer``: the algorithm (agent, detectors, collect, infer, actors, training loop,
  reuse, evaluation, run directories);
- ``imitation``: one-shot imitation from a video (reading, scoring, plan decoding, execution,
  demo videos);
- ``paper``: the paper's experiments (exploration, reuse, scheduling, video) and sparseness;
- ``bench``: speed benchmarks;  ``data``: dataset export and import (Minari);
- ``cli``: the ``langstack`` parser, one module per command, output and exit codes.

Arrows point one way: ``cli`` -> everything; ``paper`` -> ``collect_infer``, ``imitation``;
``imitation`` -> ``collect_infer``; ``bench`` and ``data`` -> ``collect_infer``; nothing
imports ``cli``. Only ``cli`` turns exceptions into exit codes (tests/experiments/test_layout.py).
"""
