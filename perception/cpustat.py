"""How much of the machine a piece of work got: CPU steal time on a virtual machine.

On a shared virtual machine the hypervisor can take a large share of the CPUs ("steal"
time; 28-49% was measured during one training on this project's machine), which slows a
build without any change to the work. Build reports state the share next to the wall time,
so timings taken in different conditions can be told apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuTicks:
    """Cumulative all-CPU tick counters."""

    steal: int
    total: int


def read_ticks(path: str | Path = PROC_STAT) -> CpuTicks | None:
    """The ``cpu`` line of ``/proc/stat`` (Linux); None where it is missing or unreadable."""
    try:
        fields = Path(path).read_text().splitlines()[0].split()
        ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, IndexError, ValueError):
        return None
    if fields[0] != "cpu" or len(ticks) < 8:
        return None
    return CpuTicks(steal=ticks[7], total=sum(ticks))


def steal_fraction(before: CpuTicks | None, after: CpuTicks | None) -> float | None:
    """Share of all CPU time between two readings that the hypervisor took (None: unknown)."""
    if before is None or after is None or after.total <= before.total:
        return None
    return (after.steal - before.steal) / (after.total - before.total)
