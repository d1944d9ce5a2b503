"""A bot killed with SIGKILL mid-order restarts consistent: every order resolved, none duplicated or
orphaned. The venue (the Hyperliquid emulator) lives on in this process; the bot is a child process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderStatus
from sim.hyperliquid.server import Fault
from tests.conftest import ROOT
from tests.hl import ADDRESS, hl_venue


async def run_until_killed(db: str, url: str, mode: str, sim) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.crash_bot", db, url, mode, cwd=ROOT,
                                                env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        cid = ""
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
            assert line, "the bot exited early"
            if line.startswith("SENDING"):
                cid = line.split()[1]
                break
        if mode == "after-send":
            for _ in range(500):  # wait until the venue has accepted the order
                if sim.engine.find(ADDRESS, cloid=cid) is not None:
                    break
                await asyncio.sleep(0.01)
            assert sim.engine.find(ADDRESS, cloid=cid) is not None
        else:
            await asyncio.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return cid


async def restarted(db: str, url: str) -> App:
    config = parse_config({
        "exchanges": {"hyperliquid": {"enabled": True, "testnet": True, "base_url": url,
                                      "account_address": ADDRESS, "secret_key": "0x" + "0123456789" * 6 + "0123"}},
        "storage": {"path": db}}, env={})[0]
    app = App(config)
    await app.start()
    return app


@pytest.mark.parametrize("mode", ["before-send", "after-send"])
async def test_sigkill_mid_order_then_restart(tmp_path, mode):
    db = str(tmp_path / "bot.db")
    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        if mode == "after-send":
            sim.faults.append(Fault("hold", count=1, ms=60_000, action="order"))  # accept, then hold the answer
        cid = await run_until_killed(db, url, mode, sim)
        app = await restarted(db, url)
        try:
            stored = await app.store.get_order(cid)
            on_venue = sim.engine.find(ADDRESS, cloid=cid)
            if mode == "before-send":
                assert on_venue is None
                assert stored.status is OrderStatus.REJECTED and "never reached the venue" in stored.reason
            else:
                assert on_venue is not None and stored.status is OrderStatus.OPEN
                assert stored.order_id == str(on_venue.oid)
            assert len([o for o in sim.engine.orders.values() if o.account == ADDRESS]) == (
                0 if mode == "before-send" else 1)  # nothing duplicated
            live = await app.store.orders_with_status([OrderStatus.PENDING, OrderStatus.UNKNOWN])
            assert live == []  # every order resolved
            venue_ids = {str(o.oid) for o in sim.engine.open_orders(ADDRESS)}
            stored_ids = {o.order_id for o in await app.store.orders_with_status([OrderStatus.OPEN])}
            assert venue_ids == stored_ids  # nothing orphaned
        finally:
            await app.stop()
