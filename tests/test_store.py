"""SQLite store: migrations, dedupe, atomic confirmations, outbox, and consistency after SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal as D

import pytest

from exchanges.models import Fill, Order, OrderStatus, Side
from store.db import MIGRATIONS, Confirmation, Store
from tests.conftest import ROOT


@pytest.fixture
async def store(tmp_path):
    s = Store(str(tmp_path / "t.db"))
    await s.open()
    yield s
    await s.close()


def order(cid: str = "c1", **kw) -> Order:
    base = dict(exchange="paper", symbol="BTC", side=Side.BUY, size=D("0.5"), price=D("100000.5"),
                status=OrderStatus.PENDING, client_id=cid, created_ms=1, updated_ms=1)
    base.update(kw)
    return Order(**base)


def fill(fid: str = "f1", **kw) -> Fill:
    base = dict(exchange="paper", fill_id=fid, order_id="9", symbol="BTC", side=Side.BUY, price=D("100000.5"),
                size=D("0.1"), fee=D("4.500022500"), ts_ms=5, client_id="c1")
    base.update(kw)
    return Fill(**base)


async def test_schema_version_and_wal(store, tmp_path):
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    await store.close()
    await store.open()  # reopening applies nothing twice


async def test_orders_round_trip_exact_decimals_and_unique_client_id(store):
    await store.insert_order(order(), extra={"chat": 1})
    got = await store.get_order("c1")
    assert got == order() and got.price == D("100000.5")
    with pytest.raises(sqlite3.IntegrityError):
        await store.insert_order(order())
    await store.update_order(order(status=OrderStatus.OPEN, order_id="9"))
    assert (await store.get_order_by_venue_id("paper", "9")).status is OrderStatus.OPEN
    assert [o.client_id for o in await store.orders_with_status([OrderStatus.OPEN])] == ["c1"]
    assert await store.order_extra("c1") == {"chat": 1}


async def test_a_fill_seen_twice_is_stored_once(store):
    await store.insert_order(order())
    moved = order(filled=D("0.1"), status=OrderStatus.PARTIALLY_FILLED)
    assert await store.add_fill(fill(), moved) is True
    assert await store.add_fill(fill(), order(filled=D("0.2"))) is False  # replay changes nothing
    assert (await store.get_order("c1")).filled == D("0.1")
    assert await store.fills_since(0) == [fill()]
    assert (await store.fills_since(0))[0].fee == D("4.500022500")
    assert await store.last_fill_ms("paper") == 5
    assert await store.fills_for_order("paper", "9") == [fill()]


async def test_confirmation_tokens_are_single_use_personal_and_expire(store):
    c = Confirmation("tok", 42, 42, "order", {"symbol": "BTC"}, expires_ms=1000)
    await store.put_confirmation(c, now_ms=0)
    assert (await store.consume_confirmation("tok", 7, 10))[0] == "not_yours"
    assert (await store.consume_confirmation("nope", 42, 10))[0] == "unknown"
    outcome, got = await store.consume_confirmation("tok", 42, 10)
    assert outcome == "ok" and got.payload == {"symbol": "BTC"}
    assert (await store.consume_confirmation("tok", 42, 11))[0] == "used"
    await store.put_confirmation(Confirmation("late", 42, 42, "order", {}, 1000), now_ms=0)
    assert (await store.consume_confirmation("late", 42, 1000))[0] == "expired"


async def test_concurrent_consumers_get_one_ok(store):
    await store.put_confirmation(Confirmation("race", 1, 1, "order", {}, 10_000), now_ms=0)
    results = await asyncio.gather(*(store.consume_confirmation("race", 1, 5) for _ in range(10)))
    assert [r[0] for r in results].count("ok") == 1


async def test_state_audit_equity_outbox(store):
    await store.set_state("trading_state", "HALTED", 1)
    await store.set_state("trading_state", "ACTIVE", 2)
    assert await store.get_state("trading_state") == "ACTIVE"
    await store.audit(1, 42, 42, "command", "/balance", "ok")
    assert (await store.audit_log())[0]["text"] == "/balance"
    await store.add_equity(1, "paper", D("10000.01"))
    assert await store.equity_since(0) == [(1, "paper", D("10000.01"))]
    a = await store.outbox_add(1, "42", "fill", "filled", dedupe_key="fill:1")
    assert await store.outbox_add(2, "42", "fill", "filled again", dedupe_key="fill:1") is None
    b = await store.outbox_add(3, "42", "risk", "loss", silent=True)
    assert [i.id for i in await store.outbox_pending()] == [a, b]
    await store.outbox_failed(a, "429")
    await store.outbox_sent(a, 4, 77)
    [left] = await store.outbox_pending()
    assert left.id == b and left.silent


def test_sigkill_mid_write_leaves_a_consistent_database(tmp_path):
    path = tmp_path / "crash.db"
    for delay_lines in (5, 40, 120):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.store_writer", str(path)], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            for _ in range(delay_lines):
                assert proc.stdout.readline().startswith("progress")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            orders = db.execute("SELECT client_id, filled, status FROM orders").fetchall()
            assert len(orders) >= delay_lines
            for cid, filled, status in orders:
                sizes = [D(r[0]) for r in db.execute("SELECT size FROM fills WHERE client_id = ?", (cid,))]
                # each fill and its order update commit together: never one without the other
                assert D(filled) == sum(sizes, D(0)), cid
                assert (status == "filled") == (len(sizes) == 3)
        path.unlink()
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"crash.db{suffix}").unlink(missing_ok=True)


def _busy(store: Store, seconds: float) -> asyncio.Future:
    """Keep the database thread busy: whatever is asked of it next waits behind this."""
    return asyncio.ensure_future(store.db._execute(time.sleep, seconds))


async def _cancelled_meanwhile(task: asyncio.Task) -> None:
    await asyncio.sleep(0.02)  # the task is now waiting on the busy database thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):  # nothing else: no "cannot rollback" error
        await task


async def test_a_write_cancelled_while_begin_waits_leaves_no_open_transaction(store):
    # a periodic job cancelled at shutdown, its BEGIN queued on the database thread
    busy = _busy(store, 0.1)
    await asyncio.sleep(0)
    await _cancelled_meanwhile(asyncio.ensure_future(store.set_state("k", "v", 1)))
    await busy
    await store.set_state("k", "after", 2)  # would fail inside a transaction left open
    assert await store.get_state("k") == "after" and not store.db.in_transaction


async def test_a_write_cancelled_while_commit_waits_is_kept_and_not_rolled_back(store):
    async def write() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO state (key, value, updated_ms) VALUES ('k', 'v', 1)")
            _busy(store, 0.1)  # COMMIT queues behind it
            await asyncio.sleep(0)

    await _cancelled_meanwhile(asyncio.ensure_future(write()))
    await asyncio.sleep(0.15)
    assert await store.get_state("k") == "v" and not store.db.in_transaction  # the commit happened


async def test_commits_never_checkpoint_and_the_checkpointer_catches_up(tmp_path):
    # a checkpoint syncs the database file to disk: it must not land inside an order's commit
    store = Store(str(tmp_path / "ck.db"), checkpoint_s=3600)  # the background round will not come
    await store.open()
    try:
        for i in range(1200):  # SQLite's own threshold is 1000 pages
            await store.audit(i, 1, 1, "command", f"/status {i}", "ok")
        busy, log_frames, done = await store.checkpoint()
        assert busy == 0 and log_frames >= 1200 and done == log_frames  # all of it waited for us
        busy, log_frames, done = await store.checkpoint()
        assert done == log_frames  # nothing new: nothing left behind
        assert len(await store.audit_log(2000)) == 1200
    finally:
        await store.close()
    assert not (tmp_path / "ck.db-wal").exists() or (tmp_path / "ck.db-wal").stat().st_size == 0
