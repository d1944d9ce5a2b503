"""`python -m sim --aster 0` as a process: one JSON line of base URLs when ready, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from sim.process import ROOT
from tests.simproc import sim_process


def test_python_m_sim_aster_prints_its_url_and_stops_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "--aster", "0", "--hyperliquid", "0", "--tick", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())
        assert set(urls) == {"aster", "hyperliquid"} and urls["aster"].startswith("http://127.0.0.1:")
        with urllib.request.urlopen(urls["aster"] + "/fapi/v1/time", timeout=5) as r:
            assert "serverTime" in json.loads(r.read())
        with urllib.request.urlopen(urls["aster"] + "/api/v3/ticker/price?symbol=BTCUSDT", timeout=5) as r:
            assert json.loads(r.read())["price"] == "100000.00"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_aster_emulator_alone_through_the_process_helper():
    with sim_process("--aster", "0", "--tick", "0") as urls:
        assert list(urls) == ["aster"]
        with urllib.request.urlopen(urls["aster"] + "/fapi/v3/exchangeInfo", timeout=5) as r:
            assert {s["symbol"] for s in json.loads(r.read())["symbols"]} >= {"BTCUSDT", "ETHUSDT"}
