"""The paper account survives a restart: what the trader holds, has open and has done, and the ids."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from decimal import Decimal as D

import pytest

from exchanges.models import OrderRequest, OrderStatus, OrderType, Side
from sim.paper import PaperExchange, PaperStateError
from tests.conftest import ROOT
from tests.tg import Rig, button


def venue(path, clock, balance: int = 10_000) -> PaperExchange:
    return PaperExchange(starting_balance=D(balance), clock=clock, tick_interval_s=None, state_path=str(path))


async def everything(ex: PaperExchange) -> tuple:
    """What a trader sees of the account: /balance, /positions, /orders, fills, funding."""
    return (await ex.balances(), await ex.positions(), await ex.open_orders(), await ex.fills(0),
            await ex.funding_payments(0))


async def test_a_restart_keeps_balances_positions_orders_fills_and_ids(tmp_path, clock):
    path = tmp_path / "bot.db.paper"
    first = venue(path, clock)
    await first.connect()
    await first.set_leverage("ETH", 5, cross=False)
    await first.place(OrderRequest("paper", "ETH", Side.BUY, D("1.5"), client_id="buy-eth"))
    await first.place(OrderRequest("paper", "BTC", Side.BUY, D("0.01"), client_id="buy-btc",
                                   take_profit=D(110_000), stop_loss=D(90_000)))
    await first.place(OrderRequest("paper", "SOL", Side.BUY, D(2), D(120), client_id="rest-sol"))
    await first.place(OrderRequest("paper", "ETH", Side.SELL, D("0.5"), order_type=OrderType.STOP,
                                   trigger_price=D(3000), reduce_only=True, client_id="stop-eth"))
    with pytest.raises(Exception, match="minimum value"):
        await first.place(OrderRequest("paper", "BTC", Side.BUY, D("0.00001"), D(90_000), client_id="tiny"))
    await first.place(OrderRequest("paper", "PURR/USDC", Side.BUY, D(200), client_id="spot"))
    clock.advance(60_000)
    first.tick(30)
    first.engine.apply_funding("BTC", D("0.0001"))
    await first.arm_dead_man_switch(3600)
    before = await everything(first)
    mids = dict(first.engine.mids)
    await first.close()

    second = venue(path, clock, balance=99)  # the saved account wins over the starting balance
    await second.connect()
    after = await everything(second)
    assert after == before
    [eth] = [p for p in after[1] if p.symbol == "ETH"]
    assert (eth.size, eth.leverage, eth.leverage_type) == (D("1.5"), 5, "isolated")
    assert {o.client_id for o in after[2]} >= {"rest-sol", "stop-eth"} and len(after[2]) == 4  # + the TP/SL pair
    assert second.engine.mids == mids  # the walk goes on from where it was: the marks do not jump
    assert (await second.order_status("ETH", client_id="buy-eth")).status is OrderStatus.FILLED
    assert (await second.order_status("BTC", client_id="tiny")).status is OrderStatus.REJECTED
    # ids never repeat: a new order and fill get ids above every one made before the restart
    new = await second.place(OrderRequest("paper", "DOGE", Side.BUY, D(100), client_id="after"))
    assert int(new.order_id) > max(int(o.order_id) for o in after[2])
    assert int((await second.fills(0))[-1].fill_id) > max(int(f.fill_id) for f in before[3])
    with pytest.raises(Exception, match="Duplicate client order id"):
        await second.place(OrderRequest("paper", "SOL", Side.BUY, D(2), D(120), client_id="rest-sol"))
    # a resting order from before the restart still rests, fills on a price move, and cancels
    await second.cancel("SOL", client_id="rest-sol")
    assert "rest-sol" not in {o.client_id for o in await second.open_orders()}
    await second.close()


async def test_a_crash_loses_nothing_already_done(tmp_path, clock):
    """Saved after each change, not at shutdown: a bot killed without closing restarts with it all."""
    path = tmp_path / "bot.db.paper"
    first = venue(path, clock)
    await first.connect()
    await first.place(OrderRequest("paper", "BTC", Side.BUY, D("0.02"), client_id="a"))
    await first.place(OrderRequest("paper", "BTC", Side.SELL, D("0.01"), D(150_000), client_id="b"))
    first.set_price("BTC", D(151_000))  # the resting sell fills on the move
    before = await everything(first)
    # no close(): the process died here
    second = venue(path, clock)
    await second.connect()
    assert await everything(second) == before
    [pos] = await second.positions()
    assert pos.size == D("0.01") and second.engine.mark("BTC") == D(151_000)
    await second.close()
    await first.close()


async def test_the_state_file_is_private(tmp_path, clock):
    path = tmp_path / "bot.db.paper"
    old = os.umask(0o022)
    try:
        ex = venue(path, clock)
        await ex.connect()
        await ex.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\x01" * 200])
async def test_an_unreadable_state_file_is_an_error_that_says_what_to_do(tmp_path, clock, content):
    path = tmp_path / "bot.db.paper"
    path.write_bytes(content)
    ex = venue(path, clock)
    with pytest.raises(PaperStateError) as exc:
        await ex.connect()
    text = str(exc.value)
    assert str(path) in text and "cannot be read" in text and "move it away" in text
    assert path.read_bytes() == content  # never overwritten: the trader may still recover it


def test_tradebot_run_refuses_a_corrupt_paper_state_file(tmp_path):
    """A silent reset to 10,000 USDC would look like the losses vanished: the bot stops and says why."""
    (tmp_path / "tradebot.db.paper").write_bytes(b"garbage" * 50)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "paper account's state" in proc.stderr and "tradebot.db.paper" in proc.stderr
    assert "move it away" in proc.stderr


async def test_telegram_shows_the_same_position_and_orders_after_a_restart(tmp_path):
    async with Rig(tmp_path) as rig:
        me = rig.trader
        preview = await me.ask("/buy ETH 0.5")
        done = await me.click(preview, button(preview, "ok:"))
        assert "✅ Filled" in done["text"], done["text"]
        preview = await me.ask("/buy SOL 1 120")
        rested = await me.click(preview, button(preview, "ok:"))
        assert "SOL" in rested["text"], rested["text"]
        positions, orders = (await me.ask("/positions"))["text"], (await me.ask("/orders"))["text"]
        [resting] = await rig.paper.open_orders()
        entry = (await rig.paper.positions())[0].entry_price

        await rig.stop_bot()
        await rig.start_bot()

        assert (await rig.paper.positions())[0].entry_price == entry
        assert (await me.ask("/positions"))["text"] == positions
        assert (await me.ask("/orders"))["text"] == orders
        cancelled = await me.ask(f"/cancel {resting.order_id}")
        assert f"Cancelled SOL order {resting.order_id}" in cancelled["text"], cancelled["text"]
        assert await rig.paper.open_orders() == []


async def test_deposits_and_withdrawals_survive_a_crash(tmp_path, clock):
    path = tmp_path / "bot.db.paper"
    first = venue(path, clock)
    await first.connect()
    first.deposit(D(2_500))
    clock.advance(1000)
    first.withdraw(D(700))
    await asyncio.sleep(0)  # the engine's call is over: saved before anything else runs
    flows, balances = await first.cash_flows(0), await first.balances()
    second = venue(path, clock)  # the first one never closed: it died
    await second.connect()
    assert await second.cash_flows(0) == flows and len(flows) == 2
    assert (await second.balances()).account_value == balances.account_value == D(11_800)
    await second.close()
    await first.close()


async def test_close_then_connect_again_keeps_one_of_each_order(tmp_path, clock):
    ex = venue(tmp_path / "bot.db.paper", clock)
    await ex.connect()
    await ex.place(OrderRequest("paper", "SOL", Side.BUY, D(2), D(149), client_id="rest"))
    await ex.close()
    await ex.connect()  # the same venue reconnected: nothing is put back twice
    assert [o.client_id for o in await ex.open_orders()] == ["rest"]
    ex.set_price("SOL", D(140))
    assert [(f.client_id, f.size) for f in await ex.fills(0)] == [("rest", D(2))]
    await ex.close()


CHILD = """
import asyncio, sys
from decimal import Decimal as D
from exchanges.models import OrderRequest, Side
from sim.paper import PaperExchange

async def main():
    ex = PaperExchange(tick_interval_s=None, state_path=sys.argv[1])
    await ex.connect()
    i = 0
    while True:
        side = Side.BUY if i % 3 else Side.SELL
        await ex.place(OrderRequest("paper", "ETH", side, D("0.01"), client_id=f"c{i}"))
        i += 1
        if i == 20:
            print("trading", flush=True)

asyncio.run(main())
"""


async def test_a_kill_mid_trading_never_leaves_a_torn_file(tmp_path):
    path = tmp_path / "bot.db.paper"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, str(path), env=env,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None and await asyncio.wait_for(proc.stdout.readline(), 30) == b"trading\n"
        await asyncio.sleep(0.3)
    finally:
        proc.kill()  # SIGKILL, somewhere in the middle of a save
        await proc.wait()
    ex = PaperExchange(tick_interval_s=None, state_path=str(path))
    await ex.connect()
    fills = await ex.fills(0)
    [pos] = await ex.positions()
    assert len(fills) > 20 and pos.size == sum((f.size if f.side is Side.BUY else -f.size for f in fills), D(0))
    for f in fills:  # every fill's order is there, filled as its fills say
        assert (await ex.order_status("ETH", client_id=f.client_id)).filled == sum(
            g.size for g in fills if g.client_id == f.client_id)
    fees = sum((f.fee for f in fills), D(0))
    realized = sum((f.realized_pnl for f in fills), D(0))
    assert ex.engine.accounts["paper"].collateral == D(10_000) + realized - fees
    await ex.close()
