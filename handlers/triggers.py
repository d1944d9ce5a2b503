"""/tp and /sl: set, move or remove a position's take profit and stop loss, each confirmed."""

from __future__ import annotations

from telegram import Update

from desk.desk import TRIGGERS, Confirm, DeskError
from exchanges.models import Side
from handlers import keyboards as kb
from handlers.commands import show_quote
from handlers.common import Ctx, reply, svc, who
from handlers.parsing import exact_price, parse_trigger
from handlers.render import esc, fmt_price


async def _trigger(update: Update, context: Ctx, kind: str) -> str:
    s = svc(context)
    exchange, symbol, price = parse_trigger(list(context.args or []), kind)
    venue = s.desk.resolve_exchange(exchange)
    user, chat = who(update)
    market = await s.services.market(venue, symbol)
    if market is None:
        raise DeskError(f"{symbol} is not a market on {venue}")
    if price is not None:
        exact_price(market, price, Side.SELL, kind)  # the price typed is the trigger sent
        await show_quote(update, context, await s.desk.quote_trigger(user, chat, venue, symbol, kind, price))
        return f"{kind} preview"
    _, name = TRIGGERS[kind]
    _, orders = await s.desk.triggers(venue, symbol, kind)
    if not orders:
        await reply(update, context, f"No {name} is set on {esc(symbol)} ({esc(venue)}).")
        return "nothing to remove"
    at = ", ".join(fmt_price(market, o.trigger_price) for o in orders)
    token = await s.desk.quote_action(user, chat, Confirm.TRIGGER_OFF, {
        "exchange": venue, "symbol": symbol, "order_ids": [o.order_id for o in orders if o.order_id],
        "what": f"The {symbol} {name} at {at}"})
    await reply(update, context, f"Remove the {esc(symbol)} {name} at {esc(at)} on {esc(venue)}?"
                                 " The position stays open without it.", kb.confirm(token))
    return f"{kind} off preview"


async def tp(update: Update, context: Ctx) -> str:
    return await _trigger(update, context, "tp")


async def sl(update: Update, context: Ctx) -> str:
    return await _trigger(update, context, "sl")
