"""Speed benchmarks (sim, perception, collection), measured in one run on this machine.

May import sim, perception, planner, policy and ``experiments.collect_infer``.
"""
