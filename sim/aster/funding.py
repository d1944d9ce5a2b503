"""Funding of the perpetuals: every 8 hours of the emulator's clock (00:00, 08:00, 16:00 UTC), each
market at its own rate (`/_sim/funding` sets it), longs paying shorts when it is positive. The
public answers: premiumIndex (the emulator's mark is its index and settle price: it has no basis),
fundingRate (the settlements so far), fundingInfo (8-hour intervals; caps on the smaller markets,
none — null, as live answers show for BTCUSDT — on the large ones).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sim.aster.call import Call
from sim.aster.marketdata import MarketData
from sim.aster.markets import DEFAULT_FUNDING_RATE, FUNDING_INTERVAL_MS, INTEREST_RATE, Catalog, next_funding_ms
from sim.aster.wire import money
from sim.engine import Engine

UNCAPPED = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


class Funding:
    def __init__(self, engine: Engine, catalog: Catalog, market: MarketData, clock: Callable[[], int]):
        self.e, self.cat, self.market, self.clock = engine, catalog, market, clock
        self.rates: dict[str, Decimal] = dict.fromkeys(catalog.markets, DEFAULT_FUNDING_RATE)
        self.history: list[tuple[str, Decimal, int]] = []  # (native, rate, settled at)
        self.next_at = next_funding_ms(clock())

    def of(self, native: str) -> tuple[Decimal, int]:
        return self.rates[native], self.next_at

    def settle(self, native: str, at: int) -> None:
        self.e.apply_funding(self.cat.markets[native].symbol, self.rates[native])
        self.history.append((native, self.rates[native], at))

    def settle_due(self) -> bool:
        """Pay every funding time the clock has passed (at most a year of them at once)."""
        now, settled = self.clock(), 0
        while now >= self.next_at and settled < 3 * 366:
            for native in self.cat.markets:
                self.settle(native, self.next_at)
            self.next_at += FUNDING_INTERVAL_MS
            settled += 1
        return settled > 0

    # ---- REST ----
    def _premium(self, native: str, now: int) -> dict[str, Any]:
        mark = money(self.e.mark(self.cat.markets[native].symbol))
        return {"symbol": native, "markPrice": mark, "indexPrice": mark, "estimatedSettlePrice": mark,
                "lastFundingRate": money(self.rates[native]), "interestRate": money(INTEREST_RATE),
                "nextFundingTime": self.next_at, "time": now}

    def premium_index(self, c: Call) -> Any:
        native, now = self.market.native(c.params, required=False), self.clock()
        return self._premium(native, now) if native else [self._premium(n, now) for n in self.cat.markets]

    def funding_rate(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        start, end = c.int("startTime") or 0, c.int("endTime") or self.clock()
        limit = min(1000, c.int("limit") or 100)
        rows = [{"symbol": n, "fundingRate": money(rate), "fundingTime": at} for n, rate, at in self.history
                if (native is None or n == native) and start <= at <= end]
        return rows[:limit] if c.get("startTime") else rows[-limit:]

    def funding_info(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        out = []
        for n in self.cat.listings:
            if native is None or n == native:
                capped = n not in UNCAPPED
                out.append({"symbol": n, "interestRate": money(INTEREST_RATE), "time": self.clock(),
                            "fundingIntervalHours": FUNDING_INTERVAL_MS // 3_600_000,
                            "fundingFeeCap": 0.03 if capped else None, "fundingFeeFloor": -0.03 if capped else None})
        return out

