"""Two-leg faults on the emulated Hyperliquid + Aster pair (real adapters over loopback): Aster's
answer lost after it executed (503, found filled by client id), Aster refusing the leg (429), and a
book thinner than quoted (partial fill). Each ends with zero residual, as both venues' APIs say."""

from __future__ import annotations

from decimal import Decimal as D

from desk.spreads import Spreads
from tests.hl import control as hl_control
from tests.tg import Rig

BOTH = {"trading": {"default_exchange": "hyperliquid", "max_leverage": 20, "max_order_size": 100_000,
                    "position_limits": {"max_positions_per_symbol": 2, "max_total_positions": 5,
                                        "max_position_size_usd": 100_000}},
        "arbitrage": {"min_net_bps": 10, "max_notional_usd": 1000, "slippage": "0.002"}}


async def btc(rig: Rig, venue: str) -> D:
    assert rig.app is not None
    return sum((p.size for p in await rig.app.exchanges[venue].positions(fresh=True) if p.symbol == "BTC"), D(0))


async def pair(rig: Rig):  # type: ignore[no-untyped-def]
    assert rig.app is not None
    spreads: Spreads = rig.app.spreads
    q = await spreads.quote("BTC")
    assert q.ok and q.plan is not None, q.refusals
    assert (q.plan.buy.venue, q.plan.sell.venue) == ("hyperliquid", "aster")
    return await spreads.execute(q.plan), q.plan.buy.size


async def test_faults_on_the_emulated_pair_end_flat(tmp_path):
    async with Rig(tmp_path, venue="both", **BOTH) as rig:
        await hl_control(rig.hl_url or "", "price", {"coin": "BTC", "px": "100000"})
        await rig.aster_price("BTC", "100500")
        # 1. the answer is lost after Aster executed the leg: found filled by client id, nothing resent
        await rig.aster_control("fault", {"kind": "503", "executed": True, "path": "/fapi/v3/order"})
        rep, size = await pair(rig)
        sell = rep.leg("sell")
        assert sell is not None and sell.filled == size and rep.leg("retry") is None and rep.flat, rep
        assert await btc(rig, "hyperliquid") == size and await btc(rig, "aster") == -size
        # 2. Aster refuses the leg: the short leg is retried, else the excess is closed on Hyperliquid
        await rig.aster_control("fault", {"kind": "429", "path": "/fapi/v3/order"})
        rep, _ = await pair(rig)
        sell = rep.leg("sell")
        assert sell is not None and sell.status == "rejected" and sell.filled == 0, rep
        assert rep.flat and (rep.leg("retry") is not None or rep.leg("close") is not None), rep
        assert await btc(rig, "hyperliquid") + await btc(rig, "aster") == 0
        # 3. Aster's book thins out between the quote and the send: a partial fill, the excess closed on
        # Hyperliquid (a book thin already at the quote just limits the size: see test_spreads.py)
        assert rig.app is not None
        q = await rig.app.spreads.quote("BTC")
        assert q.ok and q.plan is not None
        size = q.plan.buy.size
        f = rig.aster.f
        f.engine.set_liquidity(f.cat.symbol("BTCUSDT"), [(D(100_450), D("0.003")), (D(90_000), D(5))],
                               [(D(100_550), D(5))])
        before = await btc(rig, "hyperliquid")
        rep = await rig.app.spreads.execute(q.plan)
        sell, close = rep.leg("sell"), rep.leg("close")
        assert sell is not None and sell.filled == D("0.003"), rep
        assert close is not None and close.venue == "hyperliquid" and close.filled == size - D("0.003"), rep
        assert rep.flat and await btc(rig, "hyperliquid") == before + D("0.003")
        assert await btc(rig, "hyperliquid") + await btc(rig, "aster") == 0
