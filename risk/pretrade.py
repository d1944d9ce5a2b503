"""Pre-trade: what an order would do (rounding, estimated fill, fee, margin, resulting position) and
whether every check lets it through, on one instant's view of every venue. Nothing here sends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from exchanges.aio import gather_reads
from exchanges.base import Exchange
from exchanges.errors import ExchangeError, InvalidOrderError, InvalidSymbolError
from exchanges.models import (
    CANDLE_INTERVAL_MS,
    AccountBalances,
    Market,
    MarketKind,
    OrderRequest,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from risk.limits import CheckContext, Limits, LossStatus, Refusal, run_checks
from risk.pnl import PnLTracker
from risk.quote import estimate_fill, liquidation_estimate, pearson, returns
from risk.settings import OrderSettings
from risk.state import StateBook

ZERO = Decimal(0)
RETURNS_REUSE_MS = 300_000  # the correlation check's candles: reused for five minutes


class OrderRefused(Exception):
    def __init__(self, refusals: list[Refusal], preview: Preview | None = None):
        super().__init__("; ".join(r.message for r in refusals))
        self.refusals = refusals
        self.preview = preview


@dataclass(frozen=True)
class Preview:
    request: OrderRequest  # rounded, as it would be sent (without client id)
    market: Market | None
    mark: Decimal
    est_price: Decimal
    est_filled: Decimal
    notional: Decimal
    fee: Decimal
    margin: Decimal
    leverage: int
    position_before: Decimal
    position_after: Decimal
    liquidation_price: Decimal | None
    reducing: bool
    refusals: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ts_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.refusals


class PreTrade:
    def __init__(self, exchanges: dict[str, Exchange], state: StateBook, pnl: PnLTracker, settings: OrderSettings,
                 limits: Limits, clock: Callable[[], int], orders_last_minute: Callable[[], int]):
        self.exchanges, self.state, self.pnl, self.settings, self.limits = exchanges, state, pnl, settings, limits
        self.clock = clock
        self.orders_last_minute = orders_last_minute
        self._correlation_cache: dict[tuple[str, str], tuple[int, list[Decimal]]] = {}

    def venue(self, name: str) -> Exchange:
        try:
            return self.exchanges[name]
        except KeyError:
            raise InvalidSymbolError(f"exchange {name!r} is not enabled") from None

    def _in_memory(self) -> bool:
        return all(ex.reads_in_memory() for ex in self.exchanges.values())

    async def _all_positions(self) -> tuple[list[Position], bool]:
        results = await gather_reads(*(ex.positions() for ex in self.exchanges.values()), return_exceptions=True,
                                     in_memory=self._in_memory())
        out: list[Position] = []
        complete = True
        for r in results:
            if isinstance(r, BaseException):
                complete = False
            else:
                out.extend(r)
        return out, complete

    async def _all_balances(self) -> dict[str, AccountBalances | None]:
        results = await gather_reads(*(ex.balances() for ex in self.exchanges.values()), return_exceptions=True,
                                     in_memory=self._in_memory())
        return {name: None if isinstance(r, BaseException) else r for name, r in zip(self.exchanges, results,
                                                                                   strict=True)}

    async def preview(self, req: OrderRequest) -> Preview:
        ex = self.venue(req.exchange)
        now = self.clock()
        try:
            market: Market | None = await ex.market(req.symbol)
        except InvalidSymbolError:
            market = None
        if market is None:
            ctx_refusal = Refusal("UNKNOWN_MARKET", f"{req.symbol} is not a market on {req.exchange}.")
            return Preview(req, None, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, 1, ZERO, ZERO, None, False,
                           [ctx_refusal], ts_ms=now)
        # one instant's view; from memory when every venue streams it (the order path's common case)
        book, ticker, balances, (positions, positions_ok) = await gather_reads(
            ex.order_book(req.symbol), ex.ticker(req.symbol), self._all_balances(), self._all_positions(),
            in_memory=ex.reads_in_memory(req.symbol) and self._in_memory())
        bal = balances[req.exchange]
        if bal is None:  # the venue we trade on must answer; raise its error
            bal = await ex.balances()
        # a venue that does not answer counts as holding nothing: a lower bound of the equity, so the
        # limits drawn from it are stricter, never looser (the loss monitor fails closed on its own terms)
        equity = sum((b.equity for b in balances.values() if b is not None), ZERO)
        warnings: list[str] = []
        silent = [name for name, b in balances.items() if b is None]
        if silent:
            warnings.append(f"Equity of {', '.join(silent)} unknown right now: limits use the equity of the other"
                            " exchanges only.")
        if not positions_ok:
            warnings.append("Positions of some exchange could not be read; counts may be incomplete.")
        mine = next((p for p in positions if p.exchange == req.exchange and p.symbol == req.symbol), None)
        if market.kind is MarketKind.SPOT:
            held = next((b for b in bal.spot if b.asset == market.base), None)
            before = held.total if held else ZERO
            quote = next((b for b in bal.spot if b.asset == market.quote), None)
            available = quote.available if quote else ZERO
            leverage = 1
        else:
            before = mine.size if mine else ZERO
            available = bal.withdrawable
            leverage = req.leverage or (mine.leverage if mine else self.settings.default_leverage)
        reducing = req.reduce_only or (before != 0 and req.side.sign * before < 0 and req.size <= abs(before))
        try:
            size = market.round_size(req.size)
            if req.price is not None:
                price = market.round_price_passive(req.price, req.side)
            else:
                price = None
        except InvalidOrderError as exc:
            return Preview(req, market, ticker.mark, ZERO, ZERO, ZERO, ZERO, ZERO, leverage, before, before, None,
                           reducing, [Refusal("PRECISION", exc.message)], ts_ms=now)
        slippage = req.slippage if req.slippage is not None else self.settings.default_slippage
        rounded = replace(req, size=size, price=price, slippage=slippage if price is None else req.slippage,
                          leverage=leverage if market.kind is MarketKind.PERP else None)
        # what can really fill: a reduce-only order is capped by the venue at the position it reduces
        fillable = size
        if req.reduce_only and before * req.side.sign < 0 and size > abs(before):
            fillable = abs(before)
            warnings.append(f"Reduce-only: only {fillable} (your position) can fill; the venue caps the rest.")
        maker_part = ZERO  # of `fillable`, what rests on the book and pays the maker fee when it fills
        if req.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT):
            # a trigger waits: nothing fills now; when it fires it trades at about its trigger, as a taker
            est, filled = price or req.trigger_price or ticker.mark, ZERO
        elif price is None:
            cap = market.round_price_aggressive(ticker.mid * (1 + slippage * req.side.sign), req.side)
            est, filled = estimate_fill(book, req.side, fillable, cap)
            if filled < fillable:
                warnings.append(f"The book within {slippage * 100:.2f}% holds only {filled} of {fillable}: the"
                                " rest would not fill.")
            est = est or cap
        elif req.tif is TimeInForce.ALO:  # post-only never takes: it rests or the venue refuses it
            est, filled, maker_part = price, ZERO, fillable
        else:
            est, filled = estimate_fill(book, req.side, fillable, price)
            if req.tif is not TimeInForce.IOC:
                maker_part = fillable - filled
            est = est if filled > 0 else price
        ctx = CheckContext(
            request=rounded, market=market, state=self.state.effective(req.exchange), reducing=reducing,
            price=est if price is None else price, mark=ticker.mark, leverage=leverage, position_before=before,
            equity=equity, available_margin=available, positions=tuple(positions),
            data_age_ms=max(0, now - ticker.ts_ms), orders_last_minute=self.orders_last_minute(),
            loss=self.pnl.status() if self.pnl.started else LossStatus(ZERO, Decimal(1), ZERO, Decimal(1)),
            correlations=await self._correlations(rounded, positions) if not reducing else {},
            limits=self.limits,
        )
        refusals = run_checks(ctx)
        if market.kind is MarketKind.SPOT and not reducing:
            margin = ctx.notional
        else:
            margin = ctx.margin_required
        after = before + fillable * req.side.sign
        entry = est if before == 0 or (before > 0) != (after > 0) else (
            (abs(before) * (mine.entry_price if mine else est) + fillable * est) / (abs(before) + fillable)
            if (before > 0) == (req.side is Side.BUY) else (mine.entry_price if mine else est))
        liq = (liquidation_estimate(after, entry, bal.account_value, market.max_leverage)
               if market.kind is MarketKind.PERP else None)
        taker_part = fillable - maker_part
        fee = est * taker_part * ex.taker_fee + (price or est) * maker_part * ex.maker_fee
        return Preview(
            request=rounded, market=market, mark=ticker.mark, est_price=est,
            est_filled=filled,
            notional=est * fillable, fee=fee, margin=margin, leverage=leverage,
            position_before=before, position_after=after, liquidation_price=liq, reducing=reducing,
            refusals=refusals, warnings=warnings, ts_ms=now,
        )

    async def _correlations(self, req: OrderRequest, positions: list[Position]) -> dict[str, Decimal]:
        same_dir = [p for p in positions if p.size != 0 and (p.size > 0) == (req.side is Side.BUY)
                    and not (p.exchange == req.exchange and p.symbol == req.symbol)]
        if not same_dir or self.limits.correlation_limit >= 1:
            return {}
        mine = await self._returns(req.exchange, req.symbol)
        out: dict[str, Decimal] = {}
        for p in same_dir:
            theirs = await self._returns(p.exchange, p.symbol)
            corr = pearson(mine, theirs) if mine and theirs else None
            if corr is not None:
                out[p.symbol] = corr
        return out

    async def _returns(self, venue: str, symbol: str) -> list[Decimal]:
        now = self.clock()
        cached = self._correlation_cache.get((venue, symbol))
        if cached and now - cached[0] < RETURNS_REUSE_MS:
            return cached[1]
        interval = self.settings.correlation_interval
        span = CANDLE_INTERVAL_MS[interval] * (self.settings.correlation_window + 1)
        try:
            candles = await self.venue(venue).candles(symbol, interval, now - span, now)
        except ExchangeError:
            return []
        r = returns([c.close for c in candles])
        self._correlation_cache[(venue, symbol)] = (now, r)
        return r
