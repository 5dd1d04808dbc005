"""A reproduction's Collect & Infer runs: read back when finished, else resumed or trained,
and never mixed with a stored run made with other settings (``collect_infer.identity``)."""
from __future__ import annotations

from typing import Any, Callable


def finished_run(cfg: Any, run: Any, progress: bool, say: Callable[[str], None],
                 what: str) -> list[dict[str, Any]]:
    """The "final" records of the run ``cfg`` (a ``TrainConfig``) in ``run`` (a ``RunDir``):
    read back when it is finished, else resumed or trained. A stored run is reused only if it
    is this very run, or its shorter self (``min_env_steps``); otherwise ValueError."""
    from experiments.collect_infer.identity import check_reusable
    from experiments.collect_infer.loop import train

    if run.config_path.exists():
        check_reusable(run.read_config(), cfg, str(run.root))
    final = run.records("final")
    if not final or final[-1]["env_steps"] < cfg.min_env_steps:
        resume = run.config_path.exists()
        if not resume:
            run.create()
        say(f"{'resuming' if resume else 'running'} {what} (<= {cfg.max_env_steps} env steps) "
            f"in {run.root}")
        train(cfg, run, resume=resume, progress=progress)
        final = run.records("final")
    return final
