"""What every benchmark measures the same way: peak memory, CPU pressure (Linux PSI), median (min-max)."""

from __future__ import annotations

import resource
from collections.abc import Sequence
from pathlib import Path
from statistics import median


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_stall_s() -> float | None:
    """Seconds some task on this machine waited for a CPU, since boot (Linux PSI), or None."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]  # some avg10=... total=<us>
        return float(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return None


def pressure(stall_before: float | None, seconds: float) -> float | None:
    """The share of ``seconds`` some task waited for a CPU, from a :func:`cpu_stall_s` taken before."""
    after = cpu_stall_s()
    if stall_before is None or after is None or seconds <= 0:
        return None
    return (after - stall_before) / seconds


def spread(values: Sequence[float | None], fmt: str = "{:.1f}") -> str:
    """``median (min-max)``, the value alone when there is one, ``-`` when there is none."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    middle = fmt.format(median(present))
    if len(present) < 2 or fmt.format(min(present)) == fmt.format(max(present)):
        return middle
    return f"{middle} ({fmt.format(min(present))}-{fmt.format(max(present))})"
