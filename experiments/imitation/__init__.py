"""One-shot imitation from a video: reading video files, scoring frames against the sub-goal
captions, decoding the demonstrated plan, executing it with a trained run, and rendering
demonstration videos.

May import sim, perception, planner, policy and ``experiments.collect_infer``.
"""
