"""Secrets stay secret: no token or key in any log at any level, private files 0600, exposed configs refused."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config
from bot.logsafe import MASK, install, register_secrets
from exchanges.models import Order, OrderStatus, Side
from store.db import Store
from tests.conftest import ROOT
from tests.tg import Rig, button

TOKEN = "123:SIMTOKEN"  # the harness's bot token
HL_KEY = "0x" + "0123456789" * 6 + "0123"  # the harness's Hyperliquid secret key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the common default, which makes new files world-readable
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Everything every logger says at DEBUG, written to a file; logging is put back as it was afterwards."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    libs = [logging.getLogger(n) for n in ("httpx", "httpcore", "telegram", "aiohttp")]
    saved_levels = root.level, [lib.level for lib in libs]
    saved_factory = logging.getLogRecordFactory()
    root.setLevel(logging.DEBUG)
    for lib in libs:
        lib.setLevel(logging.NOTSET)
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(saved_levels[0])
        for lib, level in zip(libs, saved_levels[1], strict=True):
            lib.setLevel(level)
        logging.setLogRecordFactory(saved_factory)


async def test_a_whole_session_at_debug_logs_no_token_and_no_key(tmp_path, debug_log):
    async with Rig(tmp_path, venue="hyperliquid") as rig:
        me = rig.trader
        assert "KILL" in (await me.ask("/start"))["text"]
        assert "Account value" in (await me.ask("/balance"))["text"]
        preview = await me.ask("/buy BTC 0.01")
        done = await me.click(preview, button(preview, "ok:"))
        assert "✅ Filled" in done["text"], done["text"]
        try:
            raise RuntimeError(f"request to /bot{TOKEN}/getUpdates failed")  # a traceback that names it
        except RuntimeError:
            logging.getLogger("tradebot").exception("poll failed for %s", TOKEN)
    text = debug_log.read_text(encoding="utf-8")
    assert len(text.splitlines()) > 50  # the libraries did talk at DEBUG
    assert f"/bot{MASK}/getUpdates" in text  # ... about the token's URL, masked
    assert "httpx" in text and "Traceback" in text
    for secret in (TOKEN, "SIMTOKEN", HL_KEY, HL_KEY[2:]):
        assert secret not in text


def test_a_record_with_arguments_is_stored_masked():
    secret = f"unit-{uuid.uuid4().hex}"
    register_secrets(secret)
    record = logging.getLogger("t").makeRecord("t", logging.DEBUG, __file__, 1, "key=%s url=%s",
                                               (secret, "https://x/bot42:AbC_d-9/sendMessage"), None)
    assert record.args is None and record.msg == f"key={MASK} url=https://x/bot{MASK}/sendMessage"
    assert record.getMessage() == record.msg


def test_a_traceback_is_masked_before_any_formatter_sees_it():
    secret = f"unit-{uuid.uuid4().hex}"
    register_secrets(secret)
    try:
        raise ValueError(f"signature rejected for {secret}")
    except ValueError:
        record = logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    out = logging.Formatter().format(record)
    assert "ValueError: signature rejected for " + MASK in out and secret not in out
    assert record.exc_text is not None and secret not in record.exc_text


def test_short_values_are_not_masked_and_installing_twice_changes_nothing():
    register_secrets("", "abc", None)
    factory = logging.getLogRecordFactory()
    install()
    assert logging.getLogRecordFactory() is factory
    record = factory("t", logging.INFO, __file__, 1, "abc is not a secret", (), None)
    assert record.getMessage() == "abc is not a secret"


def order() -> Order:
    return Order(exchange="paper", symbol="BTC", side=Side.BUY, size=D("0.5"), price=D("100"),
                 status=OrderStatus.PENDING, client_id="c1", created_ms=1, updated_ms=1)


async def test_the_database_and_its_wal_and_shm_are_owner_only(tmp_path, umask_022):
    db = tmp_path / "bot.db"
    store = Store(str(db))
    await store.open()
    try:
        await store.insert_order(order())
        for p in (db, tmp_path / "bot.db-wal", tmp_path / "bot.db-shm"):
            assert p.exists() and mode(p) == 0o600, (p, oct(mode(p)))
    finally:
        await store.close()


async def test_an_existing_world_readable_database_is_tightened(tmp_path, umask_022):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # an older version created it with the umask's 0644
        conn.execute("CREATE TABLE t (x)")
    assert mode(db) == 0o644
    store = Store(str(db))
    await store.open()
    try:
        await store.insert_order(order())
        for p in (db, tmp_path / "old.db-wal", tmp_path / "old.db-shm"):
            assert mode(p) == 0o600, (p, oct(mode(p)))
    finally:
        await store.close()


def hl_config(secret_key: str) -> dict[str, object]:
    return {"exchanges": {"hyperliquid": {"enabled": True, "testnet": True, "secret_key": secret_key,
                                          "account_address": "0x14791697260E4c9A71f18484C9f997B308e59325"}}}


def test_a_world_readable_config_with_a_literal_secret_is_refused(tmp_path, capsys, monkeypatch):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(hl_config(HL_KEY)))
    p.chmod(0o644)
    with pytest.raises(ConfigError) as exc:
        load_config(p, env={})
    assert f"chmod 600 {p}" in str(exc.value) and "${ENV_VAR}" in str(exc.value)
    assert "exchanges.hyperliquid.secret_key" in str(exc.value) and HL_KEY not in str(exc.value)
    assert main(["check-config", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error:") and "chmod 600" in err and HL_KEY not in err

    p.write_text(json.dumps(hl_config("${TB_TEST_HL_KEY}")))  # still 0644: the key is not in it
    assert mode(p) == 0o644
    loaded = load_config(p, env={"TB_TEST_HL_KEY": HL_KEY})
    assert loaded.config.exchanges.hyperliquid.secret_key.get_secret_value() == HL_KEY
    monkeypatch.setenv("TB_TEST_HL_KEY", HL_KEY)
    assert main(["check-config", "--config", str(p)]) == 0
    assert "config OK" in capsys.readouterr().out


def test_run_writes_its_log_to_an_owner_only_log_file(tmp_path):
    log = tmp_path / "bot.log"
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--log-file", str(log)], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True,
                            umask=0o022)
    try:
        deadline = time.monotonic() + 30
        while "tradebot running" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline and proc.poll() is None, "the bot did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert mode(log) == 0o600 and "stopped cleanly" in log.read_text()
    assert "tradebot running" not in err  # the log went to the file, not to stderr
    assert mode(tmp_path / "tradebot.db") == 0o600
