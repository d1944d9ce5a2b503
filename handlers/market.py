"""Market views: /chart (the venue's candles with your entry, liquidation and TP/SL) and /book (top of book)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from telegram import Update

from exchanges.models import CANDLE_INTERVAL_MS, BookLevel, Market, OrderBook, OrderType
from exchanges.precision import decimals_of
from handlers.common import BotServices, Ctx, reply, svc
from handlers.parsing import parse_chart, parse_symbol
from handlers.render import PHONE_COLUMNS, esc, fmt_num, fmt_price, price_places

BARS = 100  # candles on a chart: enough to see a trend, few enough to read each one on a phone
DEPTH = 5  # book levels shown per side
ZERO = Decimal(0)

if TYPE_CHECKING:
    from desk.charts import Level  # matplotlib loads when the first chart is drawn, not at start


async def _market(update: Update, context: Ctx, venue: str, symbol: str) -> Market | None:
    market = await svc(context).services.market(venue, symbol)
    if market is None:
        await reply(update, context, f"{esc(symbol)} is not a market on {esc(venue)}.")
    return market


# ---- /chart ----

async def chart_levels(s: BotServices, venue: str, symbol: str) -> tuple[list[Level], list[str]]:
    """Your position's entry and liquidation price and the open TP/SL triggers of this market, and what
    could not be read (said on the chart's caption: a missing line must not look like no position)."""
    positions, orders = await asyncio.gather(s.services.positions(), s.services.open_orders())
    levels: list[Level] = []
    unread: list[str] = []
    for r in positions:
        if r.venue != venue:
            continue
        if r.value is None:
            unread.append(f"positions ({r.error})")
        for p in r.value or []:
            if p.symbol == symbol and p.size != 0:
                levels.append(("entry", p.entry_price))
                if p.liquidation_price is not None and p.liquidation_price > 0:
                    levels.append(("liq.", p.liquidation_price))
    triggers: list[Level] = []
    for ro in orders:
        if ro.venue != venue:
            continue
        if ro.value is None:
            unread.append(f"orders ({ro.error})")
        for o in ro.value or []:
            if o.symbol == symbol and o.trigger_price is not None and o.order_type in (OrderType.TAKE_PROFIT,
                                                                                      OrderType.STOP):
                triggers.append(("TP" if o.order_type is OrderType.TAKE_PROFIT else "SL", o.trigger_price))
    return levels + sorted(triggers), unread


def chart_caption(symbol: str, venue: str, interval: str, market: Market, last: Decimal,
                  levels: list[Level], unread: list[str]) -> str:
    lines = [f"<b>{esc(symbol)}</b> on {esc(venue)} · {interval} · last close {esc(fmt_price(market, last))}"]
    if levels:
        lines.append(" · ".join(f"{name} {esc(fmt_price(market, price))}" for name, price in levels))
    if unread:
        lines.append("⚠️ Not read: " + esc("; ".join(unread))[:300])
    return "\n".join(lines)


async def chart(update: Update, context: Ctx) -> str:
    s = svc(context)
    exchange, symbol, interval = parse_chart(list(context.args or []))
    venue = s.desk.resolve_exchange(exchange)
    market = await _market(update, context, venue, symbol)
    if market is None:
        return "unknown market"
    step, now = CANDLE_INTERVAL_MS[interval], s.clock()
    candles = (await s.risk.orders.venue(venue).candles(symbol, interval, now - BARS * step, now))[-BARS:]
    if not candles:
        await reply(update, context, f"No {interval} candles for {esc(symbol)} on {esc(venue)} yet.")
        return "no candles"
    from desk.charts import candle_chart

    levels, unread = await chart_levels(s, venue, symbol)
    last = candles[-1].close
    png = await asyncio.to_thread(candle_chart, candles, step, levels, price_places(market, last),
                                  s.settings.timezone, f"{symbol} on {venue} · {interval}")
    if update.effective_chat is not None:
        await context.bot.send_photo(update.effective_chat.id, png,
                                     caption=chart_caption(symbol, venue, interval, market, last, levels, unread))
    return "chart sent"


# ---- /book ----

def _side(levels: tuple[BookLevel, ...]) -> list[tuple[Decimal, Decimal, Decimal]]:
    out, total = [], ZERO
    for lv in levels:
        total += lv.size
        out.append((lv.price, lv.size, total))
    return out


def _cells(rows: list[tuple[Decimal, Decimal, Decimal]], market: Market | None, size_places: int | None,
           with_total: bool) -> list[list[str]]:
    out = []
    for price, size, total in rows:
        cells = [fmt_price(market, price), fmt_num(size, size_places)]
        if with_total:
            cells.append(fmt_num(total, size_places))
        out.append(cells)
    return out


def _mid_text(market: Market | None, bid: Decimal, ask: Decimal) -> str:
    mid = (bid + ask) / 2
    places = price_places(market, mid)
    exact = mid == mid.quantize(Decimal(1).scaleb(-places))
    return fmt_num(mid, places if exact else places + 1)  # a mid between two ticks keeps its half tick


def book_view(book: OrderBook, market: Market | None, depth: int = DEPTH) -> str:
    """Asks (highest first) above bids: price, size and cumulative size, at the market's precision; then
    the spread and the mid. Sizes lose decimals (and then the total column goes) before a line passes
    the phone's 32 columns."""
    head = f"<b>{esc(book.symbol)}</b> order book on {esc(book.exchange)}"
    asks, bids = _side(book.asks[:depth]), _side(book.bids[:depth])
    if not asks and not bids:
        return head + "\nThe book is empty."
    lot_places = decimals_of(market.lot_size) if market is not None else None
    plans = [(p, True) for p in ([lot_places] if lot_places is None else range(lot_places, -1, -1))]
    plans.append((0, False))
    for size_places, with_total in plans:
        header = ["Price", "Size", "Total"] if with_total else ["Price", "Size"]
        ask_cells = _cells(list(reversed(asks)), market, size_places, with_total)
        bid_cells = _cells(bids, market, size_places, with_total)
        every = [header, *ask_cells, *bid_cells]
        widths = [max(len(r[i]) for r in every) for i in range(len(header))]
        if sum(widths) + len(widths) - 1 <= PHONE_COLUMNS:
            break

    def line(cells: list[str]) -> str:
        return " ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))

    width = sum(widths) + len(widths) - 1
    lines = [line(header)]
    lines += [line(c) for c in ask_cells] or ["no asks".rjust(width)]
    lines.append("-" * width)
    lines += [line(c) for c in bid_cells] or ["no bids".rjust(width)]
    text = f"{head}\n<pre>{esc(chr(10).join(lines))}</pre>"
    if asks and bids:
        bid, ask = bids[0][0], asks[0][0]
        spread = ask - bid
        bps = spread / ((bid + ask) / 2) * 10_000
        places = price_places(market, ask)
        text += (f"\nSpread {esc(fmt_num(spread, places))} ({esc(fmt_num(bps, 2))} bps)"
                 f"\nMid {esc(_mid_text(market, bid, ask))}")
    return text


async def book(update: Update, context: Ctx) -> str:
    s = svc(context)
    exchange, symbol = parse_symbol(list(context.args or []), "book")
    venue = s.desk.resolve_exchange(exchange)
    market = await _market(update, context, venue, symbol)
    if market is None:
        return "unknown market"
    await reply(update, context, book_view(await s.risk.orders.venue(venue).order_book(symbol, DEPTH), market))
    return "shown"
