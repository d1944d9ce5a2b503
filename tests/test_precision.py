"""Rounding to venue rules, on real market metadata from ../shared/fixtures."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.aster.parse import parse_markets
from exchanges.errors import InvalidOrderError
from exchanges.hyperliquid.parse import parse_perp_markets, parse_spot_markets
from exchanges.models import MarketKind, Side
from exchanges.precision import round_sig_figs, to_wire
from tests.conftest import fixture


@pytest.fixture(scope="module")
def hl_perps():
    return parse_perp_markets(fixture("hyperliquid/info/meta_recomma_2025_head.json")["response_head"])


@pytest.fixture(scope="module")
def hl_spot():
    return parse_spot_markets(fixture("hyperliquid/info/spotMeta_docs.json")["response"])


@pytest.fixture(scope="module")
def aster_perps():
    return parse_markets(fixture("aster/futures_exchangeInfo.json")["payload"], MarketKind.PERP)


@pytest.fixture(scope="module")
def aster_spot():
    return parse_markets(fixture("aster/spot_exchangeInfo.json")["payload"], MarketKind.SPOT)


def test_hyperliquid_perp_metadata(hl_perps):
    btc, eth, matic = hl_perps["BTC"], hl_perps["ETH"], hl_perps["MATIC"]
    assert (btc.asset_id, btc.lot_size, btc.price_decimals, btc.max_leverage) == (0, D("0.00001"), 1, 40)
    assert (eth.asset_id, eth.lot_size, eth.price_decimals) == (1, D("0.0001"), 2)
    assert hl_perps["SOL"].asset_id == 5
    assert not matic.tradable  # isDelisted


def test_hyperliquid_perp_price_five_sig_figs_and_decimals(hl_perps):
    btc, sol = hl_perps["BTC"], hl_perps["SOL"]  # szDecimals 5 -> 1 decimal; 2 -> 4 decimals
    assert btc.round_price(D("97123.46")) == D("97123")  # 5 significant figures
    assert btc.round_price(D("9712.346")) == D("9712.3")  # 1 decimal cap
    assert btc.round_price(D("123456.7")) == D("123457")  # integers are always valid, even 6 digits
    assert btc.is_valid_price(D("123456")) and not btc.is_valid_price(D("12345.6"))
    assert sol.round_price(D("1.234567")) == D("1.2346")  # 5 sig figs inside the 4-decimal cap
    assert sol.round_price(D("0.0123456")) == D("0.0123")  # 4-decimal cap beats 5 sig figs


def test_hyperliquid_spot_uses_eight_minus_sz_decimals(hl_spot):
    purr, hfun = hl_spot["PURR/USDC"], hl_spot["HFUN/USDC"]
    assert (purr.native, purr.asset_id, purr.lot_size, purr.price_decimals) == ("PURR/USDC", 10000, D(1), 8)
    assert (hfun.native, hfun.asset_id, hfun.price_decimals) == ("@1", 10001, 6)
    assert purr.round_price(D("0.000123456789")) == D("0.00012346")
    assert hfun.round_price(D("0.000123456789")) == D("0.000123")


def test_passive_rounding_never_worsens_the_limit(hl_perps):
    btc = hl_perps["BTC"]
    assert btc.round_price_passive(D("97123.9"), Side.BUY) == D("97123")
    assert btc.round_price_passive(D("97123.1"), Side.SELL) == D("97124")
    assert btc.round_price_aggressive(D("97123.1"), Side.BUY) == D("97124")


def test_size_rounds_down_to_lot_and_refuses_zero(hl_perps, hl_spot):
    assert hl_perps["BTC"].round_size(D("0.123456789")) == D("0.12345")
    with pytest.raises(InvalidOrderError, match=r"rounds to zero; the smallest size is 0\.00001"):
        hl_perps["BTC"].round_size(D("0.000004"))
    with pytest.raises(InvalidOrderError, match="rounds to zero; the smallest size is 1"):
        hl_spot["PURR/USDC"].round_size(D("0.9"))


def test_minimum_notional_is_named(hl_perps):
    btc = hl_perps["BTC"]
    with pytest.raises(InvalidOrderError, match=r"order value 9.71 USDC is below the minimum of 10 USDC"):
        btc.prepare(D("97123"), D("0.0001"), Side.BUY)
    assert btc.prepare(D("97123.4"), D("0.000113"), Side.BUY) == (D("97123"), D("0.00011"))
    # reduce-only closes may be smaller than the minimum
    assert btc.check_notional(D("97123"), D("0.00001"), reduce_only=True) == D("0.97123")


def test_aster_perp_tick_step_and_min_notional(aster_perps):
    # doc sample: tick 0.0001, step 1, minQty 1, MIN_NOTIONAL notional 1 (its baseAsset "BLZ" is a doc typo
    # for DOGEUSDT; the symbol the trader types comes from baseAsset)
    doge = aster_perps["BLZ"]
    assert (doge.native, doge.tick_size, doge.lot_size, doge.min_size, doge.min_notional) == (
        "DOGEUSDT", D("0.0001"), D(1), D(1), D(1))
    assert doge.round_price(D("0.123456")) == D("0.1235")
    assert doge.round_price_passive(D("0.123456"), Side.BUY) == D("0.1234")
    assert doge.round_size(D("12.9")) == D(12)
    assert doge.max_leverage == 1  # exchangeInfo has no cap: nothing above 1x until leverageBracket says so
    with pytest.raises(InvalidOrderError, match="minimum of 1 USDT"):
        doge.prepare(D("0.1234"), D(5), Side.BUY)


def test_aster_spot_min_qty_and_notional(aster_spot):
    bnb = aster_spot["BNB/USDT"]
    assert (bnb.tick_size, bnb.lot_size, bnb.min_size, bnb.min_notional) == (D("0.01"), D("0.001"), D(1), D(5))
    assert bnb.round_price(D("612.3456")) == D("612.35")
    with pytest.raises(InvalidOrderError, match="below the minimum size 1"):
        bnb.round_size(D("0.5"))
    with pytest.raises(InvalidOrderError, match="above the maximum size 1000"):
        bnb.round_size(D("1000.001"))


@pytest.mark.parametrize(
    ("value", "wire"),
    [(D("1.2300"), "1.23"), (D("100"), "100"), (D("1E+2"), "100"), (D("-0.0"), "0"), (D("0.00001000"), "0.00001"),
     (D("97123.0"), "97123")],
)
def test_to_wire_has_no_exponent_or_trailing_zeros(value, wire):
    assert to_wire(value) == wire


def test_sig_figs_zero_and_large_values():
    assert round_sig_figs(D(0), 5, 6) == 0
    assert round_sig_figs(D("1234567.89"), 5, 0) == D("1234568")
