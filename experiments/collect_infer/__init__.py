"""Collect & Infer, the paper's Algorithm 1: the sub-goal agent, detectors (CLIP or oracle),
collecting episodes, inferring hindsight labels, actors (in-process or Ray), the training
loop, lifelong data reuse, evaluation and run directories.

May import sim, perception, planner and policy; imports no other experiments subpackage.
"""
