"""Command handlers: parse -> call a service -> render. Each returns its outcome for the audit log."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from telegram import Update

from desk.desk import Confirm, DeskError, Quote, still_breached
from desk.services import PerVenue, Services, app_version
from exchanges.errors import InvalidOrderError
from exchanges.models import OrderRequest, OrderType, Side, TimeInForce
from handlers import keyboards as kb
from handlers import views
from handlers.common import Ctx, markets_for, origin, reply, svc, who
from handlers.parsing import (
    UsageError,
    at_least_a_lot,
    exact_on,
    parse_cancel,
    parse_close,
    parse_lev,
    parse_order,
    parse_symbol,
    too_little_to_close,
)
from handlers.render import esc, fmt_num, fmt_pct, fmt_usd


async def start(update: Update, context: Ctx) -> str:
    from handlers.registry import help_text

    await reply(update, context, "👋 <b>tradebot</b> is ready. The 🛑 KILL button below cancels every order and"
                                 " stops trading at once.\n\n" + help_text(), kb.kill_keyboard())
    return "shown"


async def help_(update: Update, context: Ctx) -> str:
    from handlers.registry import help_text

    await reply(update, context, help_text())
    return "shown"


async def balance(update: Update, context: Ctx) -> str:
    await reply(update, context, *await balance_message(context))
    return "shown"


async def balance_message(context: Ctx) -> tuple[str, kb.InlineKeyboardMarkup]:
    return views.balances_view(await svc(context).services.balances()), kb.refresh("balance")


async def positions(update: Update, context: Ctx) -> str:
    await reply(update, context, *await positions_message(context))
    return "shown"


async def _listing(context: Ctx, read: Callable[[Services], Awaitable[list[PerVenue[list[Any]]]]],
                   view: Callable[[Any, Any], str], keyboard: Callable[[Any], kb.InlineKeyboardMarkup],
                   ) -> tuple[str, kb.InlineKeyboardMarkup]:
    """A per-venue listing (positions, orders) with each market's precision and a button per row."""
    s = svc(context)
    items = await read(s.services)
    rows = [x for r in items for x in r.value or []]
    markets = await markets_for(s, ((x.exchange, x.symbol) for x in rows))
    return view(items, markets), keyboard(rows)


async def positions_message(context: Ctx) -> tuple[str, kb.InlineKeyboardMarkup]:
    s = svc(context)
    # the open orders too: a position's TP and SL are its market's open trigger orders
    items, orders = await asyncio.gather(s.services.positions(), s.services.open_orders())
    held = [p for r in items for p in r.value or []]
    markets = await markets_for(s, ((p.exchange, p.symbol) for p in held))
    return views.positions_view(items, markets, orders), kb.positions(held)


async def orders(update: Update, context: Ctx) -> str:
    await reply(update, context, *await orders_message(context))
    return "shown"


async def orders_message(context: Ctx) -> tuple[str, kb.InlineKeyboardMarkup]:
    return await _listing(context, Services.open_orders, views.orders_view, kb.orders)


async def _order(update: Update, context: Ctx, side: Side, cmd: str) -> str:
    s = svc(context)
    args = parse_order(list(context.args or []), side, cmd)
    venue = s.desk.resolve_exchange(args.exchange)
    market = await s.services.market(venue, args.symbol)
    if market is None:  # refused at once: no preview filled with zeros first
        raise DeskError(f"{args.symbol} is not a market on {venue}")
    exact_on(market, args, cmd)  # the typed size and prices are what is sent, or a usage line
    size = args.size
    if args.usd is not None:
        ticker = await s.risk.orders.venue(venue).ticker(args.symbol)
        ref = args.price or ticker.mid
        size = args.usd / ref
        at_least_a_lot(market, args.usd, size, cmd)  # else a preview of zeros, then a refusal
    assert size is not None
    tif = TimeInForce.ALO if args.post else TimeInForce.IOC if args.ioc else TimeInForce.GTC
    req = OrderRequest(venue, args.symbol, side, size, args.price, OrderType.LIMIT, tif, args.reduce,
                       leverage=args.leverage, take_profit=args.tp, stop_loss=args.sl)
    quote = await s.desk.quote_order(update.effective_user.id, update.effective_chat.id, req,  # type: ignore[union-attr]
                                     f"{side.value}")
    await show_quote(update, context, quote)
    return f"preview {'ok' if quote.token else 'refused'}"


async def show_quote(update: Update, context: Ctx, quote: Quote) -> None:
    """The preview, with its buttons; where it was shown is kept, so it loses them when it expires."""
    sent = await reply(update, context, views.preview_view(quote.preview, quote.description),
                       kb.confirm(quote.token) if quote.token else None)
    if quote.token and sent is not None:
        await svc(context).store.confirmation_shown(quote.token, sent.message_id)


async def buy(update: Update, context: Ctx) -> str:
    return await _order(update, context, Side.BUY, "buy")


async def sell(update: Update, context: Ctx) -> str:
    return await _order(update, context, Side.SELL, "sell")


async def close(update: Update, context: Ctx) -> str:
    s = svc(context)
    args = parse_close(list(context.args or []))
    venue = s.desk.resolve_exchange(args.exchange)
    try:
        quote = await s.desk.quote_close(*who(update),
                                         venue, args.symbol, args.percent)
    except InvalidOrderError as exc:  # the part asked for rounds below the lot: the text's fault, not the venue's
        raise too_little_to_close(args.percent, exc.message) from None
    await show_quote(update, context, quote)
    return "close preview"


async def cancel(update: Update, context: Ctx) -> str:
    s = svc(context)
    args = parse_cancel(list(context.args or []))
    venues = [s.desk.resolve_exchange(args.exchange)] if args.exchange or args.kind == "id" else s.desk.venues
    if args.kind == "all" or args.kind == "symbol":
        symbol = None if args.kind == "all" else args.target
        what = "open orders" if symbol is None else f"open {symbol} orders"
        if await s.desk.open_order_count(venues, symbol) == 0:
            await reply(update, context, f"No {esc(what)} on {esc(', '.join(venues))}; nothing to cancel.")
            return "nothing to cancel"
        token = await s.desk.quote_action(*who(update),
                                          Confirm.CANCEL_ALL, {"exchanges": venues, "symbol": symbol})
        what = "every open order" if symbol is None else f"every open {symbol} order"
        await reply(update, context, f"Cancel {esc(what)} on {esc(', '.join(venues))}?", kb.confirm(token))
        return "cancel-all preview"
    for r in await s.services.open_orders():
        for o in r.value or []:
            if args.target in (o.order_id, o.client_id) and o.exchange in venues:
                await s.risk.orders.cancel(o.exchange, o.symbol, order_id=o.order_id)
                await reply(update, context, f"Cancelled {esc(o.symbol)} order {esc(o.order_id)} on {esc(o.exchange)}.")
                return f"cancelled {o.order_id}"
    await reply(update, context, f"No open order {esc(args.target)}. /orders lists them.")
    return "not found"


async def lev(update: Update, context: Ctx) -> str:
    s = svc(context)
    exchange, symbol, leverage = parse_lev(list(context.args or []))
    venue = s.desk.resolve_exchange(exchange)
    market = await s.services.market(venue, symbol)
    if market is None:
        raise DeskError(f"{symbol} is not a market on {venue}")
    cap = min(s.settings.max_leverage, market.max_leverage)
    if leverage > cap:
        await reply(update, context, f"⛔ {leverage}x is above the maximum of {cap}x for {esc(symbol)}.")
        return "refused"
    token = await s.desk.quote_action(*who(update),
                                      Confirm.LEVERAGE, {"exchange": venue, "symbol": symbol, "leverage": leverage})
    await reply(update, context, f"Set {esc(symbol)} leverage to {leverage}x (cross) on {esc(venue)}?",
                kb.confirm(token))
    return "leverage preview"


async def price(update: Update, context: Ctx) -> str:
    s = svc(context)
    _, symbol = parse_symbol(list(context.args or []), "price")
    items = await s.services.prices(symbol)
    markets = await markets_for(s, ((r.venue, symbol) for r in items))
    await reply(update, context, views.prices_view(symbol, items, markets))
    return "shown"


async def funding(update: Update, context: Ctx) -> str:
    s = svc(context)
    _, symbol = parse_symbol(list(context.args or []), "funding")
    items = await s.services.funding(symbol)
    await reply(update, context, views.funding_view(symbol, items, s.clock(), s.settings.timezone))
    return "shown"


async def pnl(update: Update, context: Ctx) -> str:
    s = svc(context)
    await reply(update, context, *await pnl_message(context))
    if update.effective_chat is not None:
        await context.bot.send_photo(update.effective_chat.id, await s.services.equity_chart(30),
                                     caption="Equity, last 30 days")
    return "shown"


async def pnl_message(context: Ctx) -> tuple[str, kb.InlineKeyboardMarkup]:
    periods, unrealized = await svc(context).services.pnl()
    return views.pnl_view(periods, unrealized), kb.refresh("pnl")


def loss_line(context: Ctx) -> str:
    """Two lines: the daily loss and the drawdown, each against its limit."""
    st = svc(context).risk.pnl.status()
    used = st.daily_loss / st.daily_limit * 100 if st.daily_limit else Decimal(0)
    return (f"Daily loss {fmt_usd(st.daily_loss)} of {fmt_usd(st.daily_limit)} ({fmt_pct(used, sign=False)})\n"
            f"Drawdown {fmt_pct(st.drawdown_percent, sign=False)} of {fmt_pct(st.drawdown_limit, sign=False)}")


async def status(update: Update, context: Ctx) -> str:
    await reply(update, context, *await status_message(context))
    return "shown"


async def status_message(context: Ctx) -> tuple[str, kb.InlineKeyboardMarkup]:
    s = svc(context)
    text = views.status_view(await s.services.status(), s.risk.state.state.value, s.risk.state.reason,
                             loss_line(context), s.services.uptime_s(), app_version())
    return text, kb.refresh("status")


# what each Refresh button rebuilds: the same message its command shows
REFRESHABLE = {"balance": balance_message, "positions": positions_message, "orders": orders_message,
               "pnl": pnl_message, "status": status_message}


async def limits(update: Update, context: Ctx) -> str:
    s = svc(context)
    lim, st = s.risk.orders.limits, s.risk.pnl.status()
    held = [p for r in await s.services.positions() for p in r.value or [] if p.size != 0]
    biggest = max((p.notional for p in held), default=Decimal(0))
    per_symbol = max(Counter(p.symbol for p in held).values(), default=0)
    known = [v for v in s.risk.pnl.by_venue.values() if v is not None]
    equity = sum(known, Decimal(0)) if known and len(known) == len(s.risk.pnl.by_venue) else None
    share = fmt_pct(biggest / equity * 100, sign=False) if equity else "unknown"
    row = views.LimitRow
    rows = [
        row("Daily loss", fmt_usd(st.daily_loss), fmt_usd(st.daily_limit)),
        row("Drawdown", fmt_pct(st.drawdown_percent, sign=False), fmt_pct(st.drawdown_limit, sign=False)),
        row("Positions", str(len(held)), str(lim.max_total_positions)),
        row("Per symbol", str(per_symbol), str(lim.max_positions_per_symbol)),
        row("Largest pos.", fmt_usd(biggest), fmt_usd(lim.max_position_usd)),
        row("Pos./equity", share, fmt_pct(lim.position_fraction * 100, sign=False)),
        row("Orders/min", str(s.risk.orders.orders_last_minute()), str(lim.max_orders_per_minute)),
        row("Leverage", f"{max(p.leverage for p in held)}x" if held else "none", f"{lim.max_leverage}x"),
        # bounds on each order: nothing to measure now
        row("Max order", None, fmt_usd(lim.max_order_usd)),
        row("Min order", None, fmt_usd(lim.min_order_usd), "min"),
        row("Price band", None, fmt_pct(lim.price_band_percent, sign=False)),
        row("Correlation", None, fmt_num(lim.correlation_limit)),
    ]
    await reply(update, context, views.limits_view(s.risk.state.state.value, rows))
    return "shown"


async def kill(update: Update, context: Ctx) -> str:
    s = svc(context)
    chat = update.effective_chat
    # the report comes back through the outbox as one message (delivered even if Telegram fails now),
    # first within seconds, then edited with the venue-confirmed final result
    where = str(chat.id) if chat is not None and s.notifier is not None else None
    report = await s.risk.kill.fire("kill requested", origin(update), reply_to=where)
    if where is None:
        markup = kb.flatten_choice() if report.flatten == "ask" and report.kept_positions else None
        await reply(update, context, views.kill_view(report), markup)
    return "kill fired" + ("" if report.ok else " (not confirmed yet)" if not report.final else " (failures)")


async def resume(update: Update, context: Ctx) -> str:
    s = svc(context)
    token = await s.desk.quote_action(*who(update),
                                      Confirm.RESUME, {})
    state = s.risk.state.state.value
    text = f"Trading is {esc(state)}. Resume normal trading?"
    loss = s.risk.pnl.status()
    if loss.breached:  # said before the press: the answer will be checked again on fresh figures
        text += ("\n" + esc(still_breached(loss, state)).replace("⚠️ Not resumed. ", "⚠️ Right now: ")
                 + " Confirm checks again.")
    await reply(update, context, text, kb.confirm(token))
    return "resume preview"


def alerts_message(s: object) -> tuple[str, kb.InlineKeyboardMarkup]:
    from desk.notifier import KINDS

    modes = s.notifier.modes if s.notifier is not None else {}  # type: ignore[attr-defined]
    icon = {"on": "🔔", "silent": "🔕", "off": "⛔"}
    lines = ["<b>Alerts</b> (tap to switch: on → silent → off)"]
    lines += [f"{icon[modes.get(k, 'on')]} {k}: {modes.get(k, 'on')}" for k in KINDS]
    buttons = [[kb.InlineKeyboardButton(f"{k}: {modes.get(k, 'on')}", callback_data=f"al:{k}")] for k in KINDS]
    return "\n".join(lines), kb.InlineKeyboardMarkup(buttons)


async def alerts(update: Update, context: Ctx) -> str:
    await reply(update, context, *alerts_message(svc(context)))
    return "shown"


async def unknown(update: Update, context: Ctx) -> str:
    await reply(update, context, "Unknown command. /help lists what I understand.")
    return "unknown command"


USAGE_ERRORS = (UsageError, DeskError)
