"""CPU steal accounting for build reports: /proc/stat parsing and the share between readings."""
from __future__ import annotations

from pathlib import Path

import pytest

from perception.cpustat import PROC_STAT, CpuTicks, read_ticks, steal_fraction


def test_the_cpu_line_is_read_with_its_steal_column(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 50 0 25 400 5 0 2 18 3 0\n")
    assert read_ticks(stat) == CpuTicks(steal=35, total=1000)  # guest time is inside user


def test_steal_share_between_two_readings():
    assert steal_fraction(CpuTicks(35, 1000), CpuTicks(135, 2000)) == pytest.approx(0.1)
    assert steal_fraction(CpuTicks(35, 1000), CpuTicks(35, 1000)) is None  # no time passed
    assert steal_fraction(None, CpuTicks(35, 1000)) is None


@pytest.mark.parametrize("text", ["", "intr 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n", "cpu 1 2 3\n"])
def test_unreadable_stat_gives_none(tmp_path, text):
    stat = tmp_path / "stat"
    stat.write_text(text)
    assert read_ticks(stat) is None
    assert read_ticks(tmp_path / "missing") is None


@pytest.mark.skipif(not Path(PROC_STAT).is_file(), reason="no /proc/stat on this system")
def test_this_machine_reports_a_share_between_zero_and_one():
    before = read_ticks()
    sum(i * i for i in range(2_000_000))  # let some ticks pass
    share = steal_fraction(before, read_ticks())
    assert share is not None and 0.0 <= share <= 1.0
