"""Run `python -m sim ...` as a child process: used by the tests, the benchmarks and the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def emulators(*args: str, cpus: set[int] | None = None) -> Iterator[dict[str, str]]:
    """Start the named emulators (e.g. "--hyperliquid", "0") and yield their base URLs; stop on exit.
    `cpus` pins the emulator process to those CPUs (benchmarks: the measured side keeps its own)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        if cpus:
            os.sched_setaffinity(proc.pid, cpus)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulators exited before they were ready (exit code {proc.wait()})")
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
