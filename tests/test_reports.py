"""What the bot says on its own: that it started (and what it holds), and the daily report."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from exchanges.models import OrderRequest, Side
from tests.conftest import FakeClock
from tests.tg import Rig

REPORTS_ON = {"alerts": {"fills": "off", "orders": "off", "risk": "off", "streams": "off", "reports": "on"}}


def texts(t: dict) -> list[str]:
    return [m["text"] or m["caption"] or "" for m in t["messages"] if m["from_bot"]]


async def test_a_start_is_told_with_what_each_venue_holds(tmp_path):
    async with Rig(tmp_path, **REPORTS_ON) as rig:
        t = await rig.trader.wait(lambda t: any("started" in x for x in texts(t)), within=10)
        [first] = [x for x in texts(t) if "started" in x]
        assert "trading ACTIVE" in first and "paper</b>: equity $20,000.00, 0 positions, 0 open orders" in first
        await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.5"), None))
        await rig.app.risk.orders.place(OrderRequest("paper", "BTC", Side.BUY, D("0.01"), D("90000")))
        await rig.stop_bot()
        await rig.start_bot()  # a restart is never silent
        t = await rig.trader.wait(lambda t: sum("started" in x for x in texts(t)) == 2, within=10)
        second = [x for x in texts(t) if "started" in x][-1]
        assert "1 position, 1 open order" in second, second


async def test_the_daily_report_has_pnl_balances_and_positions(tmp_path):
    clock = FakeClock(int(datetime(2026, 11, 21, 18, 59, 30, tzinfo=UTC).timestamp() * 1000))
    async with Rig(tmp_path, clock=clock, timezone="Europe/Berlin",
                   alerts={**REPORTS_ON["alerts"], "daily_report_cron": "0 20 * * *"}) as rig:
        await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.5"), None))
        await rig.app.risk.monitor.check_once()
        clock.advance(31_000)
        await rig.app.jobs.tick()
        t = await rig.trader.wait(lambda t: any("Daily report" in x for x in texts(t)), within=10)
        [report] = [x for x in texts(t) if "Daily report" in x]
        assert "PnL" in report and "Balances" in report and "Total equity" in report
        assert "ETH" in report and "LONG" in report and "+0.5" in report, report
