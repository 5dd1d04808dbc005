"""Dataset export and import: a run's episode store as a Minari dataset and back.

May import sim, policy and ``experiments.collect_infer``.
"""
