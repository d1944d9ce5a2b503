"""Aster account reads: REST answers held while the user streams tell no change, positions at the
streamed mark, fills per market (`userTrades` needs a symbol: only the markets in play are asked),
income paged by time."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchanges.aster import parse
from exchanges.models import AccountBalances, Fill, Market, MarketKind, Order, Position

if TYPE_CHECKING:
    from exchanges.aster.adapter import AsterExchange

PAGE = 1000


class Account:
    def __init__(self, ex: AsterExchange):
        self.ex = ex

    def _held(self, key: str, path: str, fresh: bool) -> Any:
        """An account read: over REST, then held while the user streams are up and have told no change
        (any account event, or an action of ours, drops it), for at most `held_ms`."""
        return self.ex.reads.read(key, {"path": path}, self.ex.held_ms, fresh=fresh)

    def _marked(self, positions: list[Position]) -> list[Position]:
        """Positions at the streamed mark where it is fresh (a held answer's mark ages; the position
        itself cannot change without an event)."""
        out = []
        for p in positions:
            m = self.ex._markets.get(p.symbol)
            quote = self.ex.streams.quote(m, self.ex.trust_ms) if m is not None else None
            if quote is not None and quote[2] is not None:
                mark = quote[2]
                p = replace(p, mark_price=mark, unrealized_pnl=(mark - p.entry_price) * p.size)
            out.append(p)
        return out

    async def _marks(self) -> dict[str, Decimal]:
        """Spot assets at their USDT market's price (the streamed quote when fresh)."""
        spots = self.ex._spots
        out: dict[str, Decimal] = {}
        for m in spots.values():
            quote = self.ex.streams.quote(m, self.ex.trust_ms)
            if quote is not None and quote[2] is not None:
                out[m.base] = quote[2]
        missing = [m for m in spots.values() if m.base not in out]
        if missing:
            rows = await self.ex.http.public(f"{self.ex.s}/ticker/price")
            prices = {r["symbol"]: Decimal(r["price"]) for r in rows}
            for m in missing:
                if m.native in prices:
                    out[m.base] = prices[m.native]
        return out

    async def balances(self, fresh: bool) -> AccountBalances:
        ex = self.ex
        account, spot, marks, risk = await asyncio.gather(
            self._held("account", ex.account_path, fresh), self._held("spot_account", f"{ex.s}/account", fresh),
            self._marks(), self._held("positions", ex.risk_path, fresh))
        bal = parse.parse_balances(account, spot, marks, ex.clock())
        held = parse.parse_positions(risk, ex._perps)
        moved = sum((now.unrealized_pnl - then.unrealized_pnl for now, then in zip(self._marked(held), held,
                                                                                  strict=True)), Decimal(0))
        return replace(bal, account_value=bal.account_value + moved) if moved else bal

    async def positions(self, fresh: bool) -> list[Position]:
        risk = await self._held("positions", self.ex.risk_path, fresh)
        return self._marked(parse.parse_positions(risk, self.ex._perps))

    async def open_orders(self, fresh: bool) -> list[Order]:
        ex = self.ex
        fut, spot = await asyncio.gather(self._held("open_orders", f"{ex.f}/openOrders", fresh),
                                         self._held("spot_open_orders", f"{ex.s}/openOrders", fresh))
        return [parse.parse_order(o, ex._perps) for o in fut] + [parse.parse_order(o, ex._spots) for o in spot]

    async def in_play(self, since_ms: int, active: set[str]) -> list[Market]:
        """The markets that can have fills since `since_ms`: futures ones the income ledger charged a
        commission on, those held or with open orders, spot assets held, and what the bot traded."""
        ex = self.ex
        rows, positions, orders, bal = await asyncio.gather(
            self.income(since_ms, "COMMISSION"), self.positions(False), self.open_orders(False), self.balances(False))
        names = set(active) | {p.symbol for p in positions} | {o.symbol for o in orders}
        names |= {ex._perps[r["symbol"]].symbol for r in rows if r.get("symbol") in ex._perps}
        names |= {m.symbol for m in ex._spots.values() if any(b.asset == m.base for b in bal.spot)}
        return [ex._markets[n] for n in sorted(names) if n in ex._markets]

    async def fills(self, since_ms: int, active: set[str]) -> list[Fill]:
        markets = await self.in_play(since_ms, active)
        pages = await asyncio.gather(*(self.trades(m, since_ms, spot=m.kind is MarketKind.SPOT) for m in markets))
        return sorted((f for page in pages for f in page), key=lambda f: (f.ts_ms, f.fill_id))

    async def trades(self, m: Market, since_ms: int, *, spot: bool) -> list[Fill]:
        ex = self.ex
        path = f"{ex.s}/userTrades" if spot else f"{ex.f}/userTrades"  # spot names it as futures do
        by = ex._spots if spot else ex._perps
        out: list[Fill] = []
        params: dict[str, Any] = {"symbol": m.native, "startTime": since_ms, "limit": PAGE}
        while True:
            page = await ex.http.signed("GET", path, params)
            out += [parse.parse_trade(t, by, spot=spot) for t in page]
            if len(page) < PAGE:
                return out
            params = {"symbol": m.native, "fromId": max(int(t["id"]) for t in page) + 1, "limit": PAGE}

    async def income(self, since_ms: int, kind: str | None = None) -> list[dict[str, Any]]:
        """The income ledger from since_ms, oldest first. Paged by time, inclusively: funding pays every
        market in the same millisecond, so a full page may end inside one (its rows come again, deduped)."""
        found: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        start = since_ms
        while True:
            params: dict[str, Any] = {"startTime": start, "limit": PAGE}
            if kind:
                params["incomeType"] = kind
            page = await self.ex.http.signed("GET", f"{self.ex.f}/income", params)
            new = 0
            for r in page:
                key = (str(r.get("tranId")), str(r.get("incomeType")), str(r.get("symbol")), int(r["time"]))
                if key not in found:
                    found[key], new = r, new + 1
            last = max((int(r["time"]) for r in page), default=start)
            if len(page) < PAGE or not new or last <= start:
                return sorted(found.values(), key=lambda r: int(r["time"]))
            start = last
