"""The paper's experiments: exploration (Fig. 4/5), lifelong data reuse (Fig. 7), skill
scheduling, learning from a video, and the sparseness of each task.

May import sim, perception, planner, policy, ``experiments.collect_infer`` and
``experiments.imitation``.
"""
