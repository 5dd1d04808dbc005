"""Experiments: the composition root (agent, Collect & Infer, baselines, paper experiments, CLI)."""
