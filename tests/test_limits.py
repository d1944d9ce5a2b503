"""Every pre-trade check at its limit (allowed) and one tick past it (refused with its code)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from exchanges.models import Market, MarketKind, OrderRequest, Position, Side
from risk.events import TradingState
from risk.limits import CheckContext, Limits, LossStatus, run_checks

BTC = Market("paper", "BTC", MarketKind.PERP, "BTC", "USDC", "BTC", lot_size=D("0.001"), tick_size=D("0.5"),
             min_notional=D(10), max_leverage=20)
LIMITS = Limits(min_order_usd=D(10), max_order_usd=D(5000), max_leverage=10, max_position_usd=D(8000),
                position_fraction=D("0.5"), max_positions_per_symbol=1, max_total_positions=3,
                correlation_limit=D("0.7"), price_band_percent=D(5), max_data_age_ms=10_000,
                max_orders_per_minute=20)


def pos(symbol: str, size: str, exchange: str = "paper") -> Position:
    return Position(exchange, symbol, D(size), D(100), D(100), D(0), 5, D(0))


def ctx(**kw) -> CheckContext:
    base = dict(
        request=OrderRequest("paper", "BTC", Side.BUY, D("0.01"), D(50000)), market=BTC, state=TradingState.ACTIVE,
        reducing=False, price=D(50000), mark=D(50000), leverage=5, position_before=D(0), equity=D(100_000),
        available_margin=D(100_000), positions=(), data_age_ms=0, orders_last_minute=0,
        loss=LossStatus(D(0), D(500), D(0), D(10)), correlations={}, limits=LIMITS,
    )
    base.update(kw)
    return CheckContext(**base)


def codes(c: CheckContext) -> list[str]:
    return [r.code for r in run_checks(c)]


def sized(size: str, price: str = "50000", **kw) -> CheckContext:
    kw.setdefault("mark", D(price))
    return ctx(request=OrderRequest("paper", "BTC", Side.BUY, D(size), D(price)), price=D(price), **kw)


def test_a_plain_order_passes():
    assert codes(ctx()) == []


@pytest.mark.parametrize(("state", "code"), [(TradingState.REDUCING, "REDUCING"), (TradingState.HALTED, "HALTED")])
def test_state(state, code):
    assert codes(ctx(state=state)) == [code]
    assert codes(ctx(state=state, reducing=True)) == []


def test_market_known_and_tradable():
    assert codes(ctx(market=None)) == ["UNKNOWN_MARKET"]
    assert codes(ctx(market=replace(BTC, tradable=False))) == ["NOT_TRADABLE"]
    assert codes(ctx(market=None, reducing=True)) == ["UNKNOWN_MARKET"]  # a close still needs a real market


def test_venue_min_notional():
    m = replace(BTC, min_notional=D(20))
    assert "MIN_NOTIONAL" not in codes(sized("0.001", "20000", market=m))  # exactly 20
    assert "MIN_NOTIONAL" in codes(sized("0.001", "19999.5", market=m))  # one tick under


def test_min_order_size():
    limits = replace(LIMITS, min_order_usd=D(25))  # above the venue's $10 minimum
    assert codes(sized("0.001", "25000", limits=limits)) == []  # exactly $25
    assert codes(sized("0.001", "24999.5", limits=limits)) == ["ORDER_TOO_SMALL"]  # one tick under


def test_max_order_size():
    assert codes(sized("0.1", "50000")) == []  # exactly $5000
    assert codes(sized("0.1", "50000.5")) == ["ORDER_TOO_LARGE"]  # one tick over
    assert codes(sized("0.101", "50000")) == ["ORDER_TOO_LARGE"]  # one lot over


def test_leverage_capped_by_config_and_market():
    assert codes(ctx(leverage=10)) == []
    assert codes(ctx(leverage=11)) == ["LEVERAGE"]
    low = replace(BTC, max_leverage=3)
    assert codes(ctx(leverage=3, market=low)) == []
    assert codes(ctx(leverage=4, market=low)) == ["LEVERAGE"]


def test_max_position_size_usd_counts_the_existing_position():
    limits = replace(LIMITS, max_order_usd=D(10_000))
    assert codes(sized("0.06", position_before=D("0.1"), limits=limits)) == []  # 0.16 * 50000 = 8000
    assert codes(sized("0.061", position_before=D("0.1"), limits=limits)) == ["POSITION_SIZE"]


def test_position_fraction_of_equity():
    limits = replace(LIMITS, max_order_usd=D(10_000))
    assert codes(sized("0.1", equity=D(10_000), limits=limits)) == []  # 5000 = 0.5 of 10000
    assert codes(sized("0.1", "50000.5", equity=D(10_000), limits=limits)) == ["POSITION_FRACTION"]
    assert codes(ctx(equity=None)) == ["EQUITY_UNKNOWN"]  # unknown equity fails closed


def test_positions_per_symbol_and_in_total():
    other_venue_btc = pos("BTC", "1", exchange="aster")
    assert codes(ctx(positions=(other_venue_btc,))) == ["MAX_POSITIONS_SYMBOL"]
    two_symbols = (pos("ETH", "1"), pos("SOL", "-3"))
    assert codes(ctx(positions=two_symbols)) == []  # the 3rd position is allowed
    assert codes(ctx(positions=(*two_symbols, pos("DOGE", "5")))) == ["MAX_POSITIONS"]
    # adding to a position you already hold opens no new one
    assert codes(ctx(positions=(*two_symbols, pos("DOGE", "5")), position_before=D("0.01"))) == []


def test_correlation_limit():
    assert codes(ctx(correlations={"ETH": D("0.7")})) == []
    assert codes(ctx(correlations={"ETH": D("0.7001")})) == ["CORRELATION"]


def test_price_band_against_mark():
    mark = D(50000)
    assert codes(sized("0.01", "52500", mark=mark)) == []  # exactly 5 % above mark
    assert codes(sized("0.01", "52500.5", mark=mark)) == ["PRICE_BAND"]  # one tick further
    assert codes(sized("0.01", "47499.5", mark=mark)) == []  # a buy below the market only rests


def test_market_data_freshness():
    assert codes(ctx(data_age_ms=10_000)) == []
    assert codes(ctx(data_age_ms=10_001)) == ["STALE_DATA"]


def test_order_rate():
    assert codes(ctx(orders_last_minute=19)) == []  # this is the 20th in the window
    assert codes(ctx(orders_last_minute=20)) == ["ORDER_RATE"]


def test_available_margin():
    # 0.01 BTC at 50000 with 5x: 100 of margin
    assert codes(ctx(available_margin=D(100))) == []
    assert codes(ctx(available_margin=D("99.99"))) == ["INSUFFICIENT_MARGIN"]
    # adding to a short by buying more than it flips: only the new long side needs margin
    flip = sized("0.03", position_before=D("-0.01"), available_margin=D(200))  # 0.02 long * 50000 / 5
    assert codes(flip) == []
    assert codes(replace(flip, available_margin=D("199.99"))) == ["INSUFFICIENT_MARGIN"]


def test_daily_loss_and_drawdown():
    at = LossStatus(D(500), D(500), D(10), D(10))
    assert codes(ctx(loss=at)) == []
    assert codes(ctx(loss=replace(at, daily_loss=D("500.01")))) == ["DAILY_LOSS"]
    assert codes(ctx(loss=replace(at, drawdown_percent=D("10.01")))) == ["DRAWDOWN"]
    assert codes(ctx(loss=replace(at, equity_known=False))) == ["EQUITY_UNKNOWN"]


def test_reducing_orders_pass_every_exposure_loss_and_state_check():
    worst = ctx(
        state=TradingState.HALTED, leverage=50, equity=None, available_margin=D(0), data_age_ms=10**9,
        orders_last_minute=10**6, correlations={"ETH": D(1)}, positions=tuple(pos(s, "1") for s in "ABCDE"),
        loss=LossStatus(D(10**6), D(500), D(99), D(10), equity_known=False), reducing=True,
        request=OrderRequest("paper", "BTC", Side.SELL, D(5), D(1)), price=D(1), position_before=D(5),
    )
    assert codes(worst) == []
    assert set(codes(replace(worst, reducing=False))) >= {"HALTED", "EQUITY_UNKNOWN", "LEVERAGE", "ORDER_RATE"}


# ---- loss warnings: the highest step crossed, once, with true figures (issue #11, item 12) ----------

async def _one_check_to(tmp_path, clock, price: str, **risk):
    from exchanges.models import OrderRequest as Req
    from risk.events import LimitBreached, LossWarning, NoticeBatch
    from tests.harness import make_config, rig

    rg = await rig(tmp_path, clock, config=make_config(risk={"daily_loss_limit": 500, **risk}))
    seen: list = []
    rg.risk.bus.subscribe(lambda n: seen.append(n))
    try:
        await rg.orders.place(Req("paper", "BTC", Side.BUY, D("0.1")))
        await rg.risk.monitor.check_once()  # day start and peak
        seen.clear()
        rg.venues["paper"].set_price("BTC", D(price))
        status = await rg.risk.monitor.check_once()
        flat = [x for n in seen for x in (n.notices if isinstance(n, NoticeBatch) else [n])]
        return status, [x for x in flat if isinstance(x, LossWarning | LimitBreached)], seen
    finally:
        await rg.close()


async def test_a_loss_past_every_step_at_once_is_told_as_the_breach_alone(tmp_path, clock):
    from handlers.alert_texts import describe
    from risk.events import LimitBreached, NoticeBatch

    status, told, batches = await _one_check_to(tmp_path, clock, "94900")  # about -510: 102 % of 500
    [breach] = told
    assert isinstance(breach, LimitBreached) and breach.kind == "daily_loss" and breach.value == status.daily_loss
    text = describe(breach)[1]
    assert f"Daily loss ${breach.value.quantize(D('0.01'))} of $500.00: past the limit" in text
    assert "80%" not in text and "50%" not in text
    assert len(batches) == 1 and isinstance(batches[0], NoticeBatch)  # with its state change: one message


async def test_a_loss_past_two_steps_tells_the_higher_with_its_true_figures(tmp_path, clock):
    from handlers.alert_texts import describe
    from risk.events import LossWarning

    status, told, _ = await _one_check_to(tmp_path, clock, "95500")  # about -450: 90 % of 500
    [warning] = told
    assert isinstance(warning, LossWarning) and warning.fraction == D("0.8") and warning.value == status.daily_loss
    text = describe(warning)[1]
    assert "Daily loss at 80% of the limit" in text and f"${warning.value.quantize(D('0.01'))} of $500.00" in text


async def test_a_drawdown_past_the_50_and_80_steps_and_the_limit_is_one_breach(tmp_path, clock):
    from risk.events import LimitBreached

    # -6,500 of 20,000 equity in one check: 32.5 % drawdown, past 50 %, 80 % and the 20 % limit itself
    status, told, _ = await _one_check_to(tmp_path, clock, "35000", daily_loss_limit=1_000_000,
                                          max_drawdown_percent=20)
    assert [(type(n).__name__, n.kind) for n in told] == [("LimitBreached", "drawdown")]
    assert isinstance(told[0], LimitBreached) and told[0].value == status.drawdown_percent > D(20)
