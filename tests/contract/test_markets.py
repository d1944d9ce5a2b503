"""Markets and their trading rules: lot, tick or significant figures, minimum notional."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.errors import InvalidOrderError, InvalidSymbolError
from exchanges.models import MarketKind, OrderStatus, Side
from tests.contract.conftest import req


async def test_markets_are_the_venues_own_and_priced(venue):
    ex, ctl = venue
    markets = await ex.markets()
    assert {"BTC", "ETH", "SOL", "PURR/USDC"} <= set(markets)
    assert all(m.exchange == ex.name for m in markets.values())
    assert (markets["BTC"].kind, markets["PURR/USDC"].kind) == (MarketKind.PERP, MarketKind.SPOT)
    assert (await ex.market("BTC")) == markets["BTC"]
    t = await ex.ticker("BTC")
    assert t.bid < t.mark < t.ask and t.mark == D(100_000) == ctl.mark("BTC")
    with pytest.raises(InvalidSymbolError):
        await ex.ticker("NOPE")
    with pytest.raises(InvalidSymbolError):
        await ex.market("NOPE")


async def test_an_order_off_the_tick_is_refused_and_its_rounding_is_accepted(venue):
    ex, _ = venue
    btc = await ex.market("BTC")
    assert not btc.is_valid_price(D("95000.5"))  # 6 significant figures (Hyperliquid allows 5)
    with pytest.raises(InvalidOrderError, match="divisible by tick size"):
        await ex.place(req(ex, "BTC", Side.BUY, "0.01", "95000.5"))
    price = btc.round_price(D("95000.5"))
    placed = await ex.place(req(ex, "BTC", Side.BUY, "0.01", str(price)))
    assert placed.status is OrderStatus.OPEN and placed.price == price == D(95000)


async def test_sizes_round_down_to_the_lot_and_an_odd_lot_is_refused(venue):
    ex, _ = venue
    btc = await ex.market("BTC")
    assert btc.lot_size == D("0.00001")
    assert btc.round_size(D("0.0123456")) == D("0.01234")  # never more than asked
    with pytest.raises(InvalidOrderError):
        btc.round_size(D("0.000001"))  # rounds to nothing
    with pytest.raises(InvalidOrderError):
        await ex.place(req(ex, "BTC", Side.BUY, "0.000015", "95000"))


async def test_an_order_below_the_minimum_notional_is_refused(venue):
    ex, _ = venue
    btc = await ex.market("BTC")
    assert btc.min_notional == D(10)
    tiny = req(ex, "BTC", Side.BUY, "0.00001", "95000")
    with pytest.raises(InvalidOrderError, match="minimum value of \\$10"):
        await ex.place(tiny)
    assert await ex.open_orders() == []
    # a refused order is still known by its client id, as rejected
    assert (await ex.order_status("BTC", client_id=tiny.client_id)).status is OrderStatus.REJECTED
