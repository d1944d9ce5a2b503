"""`tradebot run` starts on the embedded default (paper, SQLite) and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_until_signal_then_clean_shutdown(tmp_path, sig):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "tradebot running" in line or not line:
                break
        assert any("exchange paper connected: account value 10000 USDC" in x for x in lines), lines
        proc.send_signal(sig)
        rest = proc.stderr.read()
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped cleanly" in rest
    with sqlite3.connect(tmp_path / "tradebot.db") as db:  # the embedded default's store
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1


def test_the_seed_config_with_aster_loads_unchanged(tmp_path):
    cfg = (ROOT / "tests/data/seed_config.json").read_text()
    (tmp_path / "config.json").write_text(cfg)
    (tmp_path / "config.json").chmod(0o600)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ASTER_API_KEY": "k", "ASTER_API_SECRET": "s"}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "check-config"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "aster" in proc.stdout and "V1 (HMAC)" in proc.stdout
