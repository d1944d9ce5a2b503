"""Markets and their trading rules: lot, tick or significant figures, minimum notional."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.errors import InvalidOrderError, InvalidSymbolError, OrderNotFoundError
from exchanges.models import MarketKind, OrderStatus, Side
from tests.contract.conftest import req


async def test_markets_are_the_venues_own_and_priced(venue):
    ex, ctl = venue
    markets = await ex.markets()
    spot = ctl.facts.spot
    assert {"BTC", "ETH", "SOL", spot} <= set(markets)
    assert all(m.exchange == ex.name for m in markets.values())
    assert (markets["BTC"].kind, markets[spot].kind) == (MarketKind.PERP, MarketKind.SPOT)
    assert (await ex.market("BTC")) == markets["BTC"]
    t = await ex.ticker("BTC")
    assert t.bid < t.mark < t.ask and t.mark == D(100_000) == ctl.mark("BTC")
    with pytest.raises(InvalidSymbolError):
        await ex.ticker("NOPE")
    with pytest.raises(InvalidSymbolError):
        await ex.market("NOPE")


async def test_an_order_off_the_tick_is_refused_and_its_rounding_is_accepted(venue):
    ex, ctl = venue
    btc = await ex.market("BTC")
    off = ctl.facts.btc_off_tick
    assert not btc.is_valid_price(D(off))  # 6 significant figures (Hyperliquid allows 5), or off the tick
    with pytest.raises(InvalidOrderError, match=ctl.facts.words["tick"]):
        await ex.place(req(ex, "BTC", Side.BUY, "0.01", off))
    price = btc.round_price(D(off))
    placed = await ex.place(req(ex, "BTC", Side.BUY, "0.01", str(price)))
    assert placed.status is OrderStatus.OPEN and placed.price == price == D(95000)


async def test_sizes_round_down_to_the_lot_and_an_odd_lot_is_refused(venue):
    ex, ctl = venue
    btc = await ex.market("BTC")
    lot = ctl.facts.btc_lot
    assert btc.lot_size == lot
    assert btc.round_size(lot * D("1234.56")) == lot * 1234  # never more than asked
    with pytest.raises(InvalidOrderError):
        btc.round_size(lot / 10)  # rounds to nothing
    with pytest.raises(InvalidOrderError):
        await ex.place(req(ex, "BTC", Side.BUY, str(lot * D("11.5")), "95000"))


async def test_an_order_below_the_minimum_notional_is_refused(venue):
    ex, ctl = venue
    btc = await ex.market("BTC")
    assert btc.min_notional == ctl.facts.min_notional
    tiny = req(ex, "BTC", Side.BUY, str(btc.lot_size), "1000")
    with pytest.raises(InvalidOrderError, match=ctl.facts.words["min_notional"]):
        await ex.place(tiny)
    assert await ex.open_orders() == []
    if ctl.facts.keeps_rejected:  # a refused order is still known by its client id, as rejected
        assert (await ex.order_status("BTC", client_id=tiny.client_id)).status is OrderStatus.REJECTED
    else:  # or the venue never saw it
        with pytest.raises(OrderNotFoundError):
            await ex.order_status("BTC", client_id=tiny.client_id)
