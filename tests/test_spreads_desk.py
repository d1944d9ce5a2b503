"""The alert debounce, the two-leg preview on two paper venues, and the pure views of /spread."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from desk.spreads import Debounce, Spreads
from exchanges.models import Side
from handlers.spread import preview_view, report_view, table_view
from risk.pairs import Fillable, PairReport
from risk.settings import ArbitrageSettings
from tests.conftest import FakeClock
from tests.harness import paper, rig


def test_debounce_needs_duration_and_respects_cooldown() -> None:
    d = Debounce(D(10), min_duration_ms=500, cooldown_ms=60_000)
    assert not d.observe("BTC", D(20), 0)
    assert not d.observe("BTC", D(20), 499)  # not long enough yet
    assert d.observe("BTC", D(20), 500)  # lasted min_duration_ms: one alert
    assert not d.observe("BTC", D(20), 1_000)  # within the cooldown
    assert not d.observe("BTC", D(5), 2_000)  # below: the wait starts again
    assert not d.observe("BTC", D(20), 61_000)
    assert d.observe("BTC", D(20), 61_500)  # past the cooldown and lasted again
    assert not d.observe("ETH", None, 0) and not d.observe("ETH", D(30), 0)  # per market


def test_a_blip_shorter_than_min_duration_never_alerts() -> None:
    d = Debounce(D(10), min_duration_ms=300, cooldown_ms=0)
    fired = [d.observe("BTC", D(50) if t % 400 < 200 else D(0), t) for t in range(0, 4000, 50)]
    assert not any(fired)


async def test_preview_rounds_caps_and_checks_both_legs(tmp_path: Path, clock: FakeClock) -> None:
    venues = {"hl": paper(clock, "hl", 100_000), "as": paper(clock, "as", 100_000)}
    r = await rig(tmp_path, clock, venues)  # type: ignore[arg-type]
    try:
        venues["hl"].set_price("BTC", D(100_000))
        venues["as"].set_price("BTC", D(100_500))
        s = Spreads(r.risk, ArbitrageSettings(enabled=True, min_net_bps=D(10), max_notional_usd=D(3000)), clock)
        [v] = await s.table("BTC")
        assert v.best is not None and (v.best.buy_venue, v.best.sell_venue) == ("hl", "as")
        q = await s.quote("BTC")
        assert q.ok and q.plan is not None and q.previews is not None
        assert q.plan.buy.size == q.plan.sell.size == D("0.02999")  # 3000 USD at the ask, lot-rounded
        assert q.plan.buy.price > v.best.best_ask and q.plan.sell.price < v.best.best_bid  # +/- slippage
        assert q.expected_net is not None and q.fees is not None and q.expected_net > 0
        text = preview_view(q)
        assert "Margin hl" in text and "Margin as" in text and "Expected net" in text
        assert "hedged" in text  # the risk warning is said
        # no edge: a refusal with the reason, nothing to execute
        venues["as"].set_price("BTC", D(100_000))
        q = await s.quote("BTC")
        assert not q.ok and "No opportunity" in preview_view(q)
        table = table_view(await s.table(), D(10))
        assert "BTC" in table and "Net" in table
    finally:
        await r.close()


def test_report_says_what_is_left_or_zero() -> None:
    legs = (Fillable("buy", "hl", Side.BUY, "a", D("0.05"), D(100_000), "filled"),
            Fillable("sell", "as", Side.SELL, "b", D(0), None, "rejected", "Margin is insufficient."))
    left = report_view(PairReport("p1", "BTC", legs, D("0.05"), "hl", None, None, 120, ("Could not retry",)))
    assert "Residual exposure 0.05 BTC on hl" in left and "KILL" in left and "Could not retry" in left
    unknown = report_view(PairReport("p1", "BTC", legs, None, None, None, None, None))
    assert "unknown" in unknown and "zero" not in unknown
    flat = report_view(PairReport("p1", "BTC", legs[:1], D(0), None, D("12.5"), D("2"), 80))
    assert "Residual exposure: zero" in flat and "$12.50" in flat and "80 µs" in flat


async def test_watcher_alerts_once_and_auto_mode_executes_within_its_caps(tmp_path: Path, clock: FakeClock) -> None:
    from bot.arbitrage import ArbitrageWatcher

    venues = {"hl": paper(clock, "hl", 100_000), "as": paper(clock, "as", 100_000)}
    r = await rig(tmp_path, clock, venues)  # type: ignore[arg-type]
    try:
        venues["hl"].set_price("BTC", D(100_000))
        venues["as"].set_price("BTC", D(100_500))
        settings = ArbitrageSettings(enabled=True, auto=True, min_net_bps=D(10), min_duration_ms=500, cooldown_s=60,
                                     max_notional_usd=D(1000), max_pairs_per_hour=1)
        s = Spreads(r.risk, settings, clock)
        w = ArbitrageWatcher(s, None, clock)
        await w.scan_once()
        assert w.alerted == [] and not s.reports  # the edge has not lasted min_duration_ms yet
        clock.advance(500)
        await w.scan_once()
        assert [sym for _, sym in w.alerted] == ["BTC"]
        [rep] = s.reports.values()  # auto: executed, capped at max_notional_usd
        assert rep.flat and rep.leg("buy").filled == D("0.00999")  # type: ignore[union-attr]
        assert (await venues["hl"].positions())[0].size == D("0.00999")
        clock.advance(60_000)
        await w.scan_once()
        assert len(w.alerted) == 2 and len(s.reports) == 1  # alerted again; max_pairs_per_hour holds it back
        clock.advance(3_600_000)
        await w.scan_once()
        assert len(s.reports) == 2
    finally:
        await r.close()
