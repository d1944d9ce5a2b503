"""Read-only account views of the engine: equity, margin, positions. A mixin of Engine."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchanges.models import Market, MarketKind, OrderStatus, Side
from sim.accounts import (
    SimAccount,
    isolated_liquidation_price,
    key_side,
    key_symbol,
    liquidation_price,
    maintenance_rate,
    unrealized,
)
from sim.book import SimOrder

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    size: Decimal
    entry: Decimal
    mark: Decimal
    unrealized_pnl: Decimal
    leverage: int
    cross: bool
    margin_used: Decimal
    liquidation_price: Decimal | None
    realized_pnl: Decimal
    funding: Decimal
    raw_usd: Decimal = ZERO  # isolated only
    position_side: str | None = None  # hedge mode: "LONG" | "SHORT"; None for a one-way position

    @property
    def position_value(self) -> Decimal:
        return abs(self.size) * self.mark


class Ledger:
    markets: dict[str, Market]
    mids: dict[str, Decimal]
    accounts: dict[str, SimAccount]
    open: dict[int, SimOrder]
    taker_fee: Decimal

    def leverage_of(self, name: str, symbol: str) -> int:
        acct = self.accounts.get(name)
        if acct is not None and symbol in acct.leverage:
            return acct.leverage[symbol][0]
        return min(20, self.markets[symbol].max_leverage)

    def unrealized_pnl(self, name: str) -> Decimal:
        acct = self.accounts[name]
        return sum((unrealized(p.size, p.entry, self.mids[key_symbol(s)]) for s, p in acct.positions.items()), ZERO)

    def isolated_equity(self, name: str) -> Decimal:
        acct = self.accounts[name]
        return sum((p.equity(self.mids[key_symbol(s)]) for s, p in acct.positions.items() if not p.cross), ZERO)

    def cross_account_value(self, name: str) -> Decimal:
        """Collateral and the unrealized PnL of cross positions: what cross margin stands on."""
        acct = self.accounts[name]
        return acct.collateral + sum((unrealized(p.size, p.entry, self.mids[key_symbol(s)])
                                      for s, p in acct.positions.items() if p.cross), ZERO)

    def account_value(self, name: str) -> Decimal:
        return self.cross_account_value(name) + self.isolated_equity(name)

    def cross_margin_used(self, name: str) -> Decimal:
        acct = self.accounts[name]
        return sum((abs(p.size) * self.mids[key_symbol(s)] / p.leverage for s, p in acct.positions.items()
                    if p.cross), ZERO)

    def margin_used(self, name: str) -> Decimal:
        """Cross initial margin, and each isolated position's equity (the venue's totalMarginUsed)."""
        return self.cross_margin_used(name) + self.isolated_equity(name)

    def maintenance_margin(self, name: str) -> Decimal:
        """Of the cross positions (an isolated one answers for itself)."""
        acct = self.accounts[name]
        return sum(
            (abs(p.size) * self.mids[key_symbol(s)] * maintenance_rate(self.markets[key_symbol(s)].max_leverage)
             for s, p in acct.positions.items() if p.cross),
            ZERO,
        )

    def order_margin(self, name: str) -> Decimal:
        return sum(
            (o.remaining * o.price / self.leverage_of(name, o.symbol)
             for o in self.open.values()
             if o.account == name and not o.reduce_only and o.status is OrderStatus.OPEN
             and self.markets[o.symbol].kind is MarketKind.PERP),
            ZERO,
        )

    def available_margin(self, name: str) -> Decimal:
        return self.cross_account_value(name) - self.cross_margin_used(name) - self.order_margin(name)

    def withdrawable(self, name: str) -> Decimal:
        return max(ZERO, self.available_margin(name))

    def spot_available(self, name: str, asset: str) -> Decimal:
        acct = self.accounts[name]
        held = ZERO
        for o in self.open.values():
            m = self.markets[o.symbol]
            if o.account != name or m.kind is not MarketKind.SPOT or o.status is not OrderStatus.OPEN:
                continue
            if o.side is Side.BUY and m.quote == asset:
                held += o.remaining * o.price * (1 + self.taker_fee)
            elif o.side is Side.SELL and m.base == asset:
                held += o.remaining
        return acct.spot.get(asset, ZERO) - held

    def spot_hold(self, name: str, asset: str) -> Decimal:
        return self.accounts[name].spot.get(asset, ZERO) - self.spot_available(name, asset)

    def positions_view(self, name: str) -> list[PositionView]:
        acct = self.accounts.get(name)
        if acct is None:
            return []
        cross_av = self.cross_account_value(name)
        mm = {s: abs(p.size) * self.mids[key_symbol(s)] * maintenance_rate(self.markets[key_symbol(s)].max_leverage)
              for s, p in acct.positions.items() if p.cross}
        total_mm = sum(mm.values(), ZERO)
        out = []
        for s, p in acct.positions.items():
            mark = self.mids[key_symbol(s)]
            mmr = maintenance_rate(self.markets[key_symbol(s)].max_leverage)
            if p.cross:
                used, liq = abs(p.size) * mark / p.leverage, liquidation_price(p.size, mark, cross_av, total_mm - mm[s],
                                                                              mmr)
            else:
                used, liq = p.equity(mark), isolated_liquidation_price(p.size, p.raw_usd, mmr)
            out.append(PositionView(
                symbol=key_symbol(s), size=p.size, entry=p.entry, mark=mark,
                unrealized_pnl=unrealized(p.size, p.entry, mark), leverage=p.leverage, cross=p.cross,
                margin_used=used, liquidation_price=liq, realized_pnl=p.realized, funding=p.funding,
                raw_usd=p.raw_usd, position_side=key_side(s),
            ))
        return out
