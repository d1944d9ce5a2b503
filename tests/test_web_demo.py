"""`tradebot demo` and `tradebot run` as a newcomer runs them: one command, a link to open, Ctrl-C, and
nothing left behind (no process, no open port, no temporary directory)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(60)


def spawn(*args: str, cwd: Path = ROOT) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def read_until(proc: subprocess.Popen[str], marker: str, within: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + within
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"exited ({proc.wait()}) before {marker!r}: {lines} {proc.stderr.read()}")  # type: ignore[union-attr]
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} within {within}s: {lines}")


def port_of(url: str) -> int:
    m = re.match(r"http://127\.0\.0\.1:(\d+)", url)
    assert m, url
    return int(m.group(1))


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def open_page(url: str) -> tuple[urllib.request.OpenerDirector, str]:
    """Open the link as a browser does (the token becomes a cookie); the opener keeps the cookie."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(url, timeout=5) as r:
        assert r.status == 200 and b"<title>tradebot</title>" in r.read()
    return opener, url.split("/?")[0]


def ask(opener: urllib.request.OpenerDirector, base: str, text: str, has: str, within: float = 10) -> str:
    req = urllib.request.Request(f"{base}/api/send", json.dumps({"text": text}).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Origin": base})
    with opener.open(req, timeout=5) as r:
        assert r.status == 200
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with opener.open(f"{base}/api/history", timeout=5) as r:
            for m in json.load(r)["messages"]:
                found = json.dumps(m["body"], ensure_ascii=False)
                if not m["out"] and has in found:
                    return found
        time.sleep(0.05)
    raise AssertionError(f"no answer with {has!r} to {text!r}")


def stop_and_check(proc: subprocess.Popen[str], ports: list[int]) -> None:
    kids = children(proc.pid)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        assert proc.wait(10) == 0, proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not Path(f"/proc/{proc.pid}").exists()
    assert [k for k in kids if Path(f"/proc/{k}").exists()] == []  # nothing it started outlives it
    assert [p for p in ports if listening(p)] == []


def test_demo_starts_in_under_five_seconds_and_ctrl_c_leaves_nothing():
    t0 = time.monotonic()
    proc = spawn("demo", "--port", "0")
    try:
        lines = read_until(proc, "Demo ready", within=15)
        took = time.monotonic() - t0
        page = next(line.split("Chat page: ")[1] for line in lines if line.startswith("Chat page: "))
        venue = next(re.search(r"http://127\.0\.0\.1:\d+", line).group(0)  # type: ignore[union-attr]
                     for line in lines if line.startswith("Emulated hyperliquid: "))
        state = Path(re.search(r"state in (\S+) \(removed at exit\)", lines[-1]).group(1))  # type: ignore[union-attr]
        assert took < 5.0, f"the demo took {took:.1f}s to start"
        assert state.is_dir() and (state / "tradebot.db").exists()
        opener, base = open_page(page)
        assert "$10,000.00" in ask(opener, base, "/balance", "Account value")  # funded, on the emulated venue
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    stop_and_check(proc, [port_of(page), port_of(venue)])
    assert not state.exists()  # the temporary state went with it


def test_run_without_a_token_prints_the_chat_link_and_stops_cleanly(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"exchanges": {"paper": {"enabled": True}}, "web": {"port": 0},
                               "storage": {"path": str(tmp_path / "bot.db")}}))
    proc = spawn("run", "--config", str(cfg), cwd=tmp_path)
    try:
        lines = read_until(proc, "Chat page: ", within=15)
        page = lines[-1].split("Chat page: ")[1]
        opener, base = open_page(page)
        assert "paper" in ask(opener, base, "/balance", "Account value")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/history", timeout=5)  # no cookie, no token
        assert refused.value.code == 401
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    stop_and_check(proc, [port_of(page)])
    log = proc.stderr.read()  # type: ignore[union-attr]
    token = page.split("?t=")[1]
    assert token not in log and "the chat is the local page" in log  # the link is on the console, never in the log
