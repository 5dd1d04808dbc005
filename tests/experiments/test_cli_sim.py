"""The sim's CLI commands as a user runs them: JSON results and clean errors."""
from __future__ import annotations

import pytest

from tests.experiments.conftest import assert_clean_usage_error, langstack, last_json


def test_expert_reports_success_rate_as_json_and_writes_a_video(tmp_path) -> None:
    video = tmp_path / "expert.gif"
    proc = langstack("expert", "--task", "stack the red object on top of the blue object",
                     "--episodes", "2", "--video", str(video), "--json")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["success_rate"] == 1.0 and result["mean_steps"] == 2.0
    assert video.stat().st_size > 10_000  # frames were written


@pytest.mark.parametrize("args,needle", [
    (["expert", "--task", "stack the red object on top of the red object"], "itself"),
    (["expert", "--task", "grasp the yellow object"], "yellow"),
    (["expert", "--task", "grasp the red object", "--episodes", "0"], "positive integer"),
    (["expert", "--task", "grasp the red object", "--video", "out.avi"], ".mp4 or .gif"),
    (["sparsity", "--task", "stack red on blue then green on red"], "Grasp, Stack and Triple"),
    (["bench", "sim", "--seconds", "-1"], "--seconds"),
])
def test_bad_input_gives_one_clear_line_and_exit_2(args, needle) -> None:
    assert_clean_usage_error(langstack(*args), needle)


def test_sparsity_measures_and_estimates_grasp() -> None:
    proc = langstack("sparsity", "--task", "grasp the red object", "--samples", "4",
                     "--direct-steps", "20", "--json")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["direct_steps"] == 20 and set(result["stages"]) >= {"pick", "place"}
    assert result["estimated_steps_per_success"] > 1  # a random policy needs more than one step


def test_building_the_cli_does_not_import_torch() -> None:
    """`langstack --help` and argument errors answer without loading torch (~3 s)."""
    import subprocess
    import sys

    code = ("import sys; from experiments.cli import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'pybullet', "
            "'open_clip', 'transformers', 'ray'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]", f"heavy packages imported: {proc.stdout.strip()}"
