"""Shared helpers for the benchmarks (run by hand, never in CI)."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from sim.process import emulators

ROOT = Path(__file__).resolve().parent.parent
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"


def pinned_emulator(*args: str):  # type: ignore[no-untyped-def]
    """The emulators in their own process on the last CPU; this process (and what it starts later)
    on the others, so the two sides do not trade places on the cores mid-measurement."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return emulators(*args)
    os.sched_setaffinity(0, set(cpus[:-1]))
    return emulators(*args, cpus={cpus[-1]})


emulator = pinned_emulator


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def row(name: str, ms: list[float]) -> str:
    return (f"{name:<34} {len(ms):>5} {statistics.median(ms):>9.2f} {pct(ms, 99):>9.2f} {statistics.mean(ms):>9.2f}"
            f" {max(ms):>9.2f}")


HEADER = f"{'path':<34} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'max ms':>9}"
