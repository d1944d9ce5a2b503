"""Button handlers. Every press is answered (the phone shows a spinner until then); a Confirm's answer
goes out alongside the order, so the order never waits on Telegram."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from telegram import Update

from desk.desk import TOKEN_REFUSED, Confirm, Status
from handlers import commands as cmd
from handlers import keyboards as kb
from handlers import views
from handlers.common import Ctx, edit, markets_for, origin, reply, svc, who

log = logging.getLogger(__name__)


def _data(update: Update) -> list[str]:
    return (update.callback_query.data or "").split(":") if update.callback_query else []


async def on_confirm(update: Update, context: Ctx) -> str:
    s = svc(context)
    query = update.callback_query
    assert query is not None
    refused, claimed = await s.desk.claim(_data(update)[1], who(update)[0])
    if claimed is None:
        assert refused is not None
        await query.answer(views.outcome_view(refused), show_alert=True)  # told why; nothing happens
        return refused.status
    answering = asyncio.ensure_future(query.answer())  # the order does not wait on Telegram's round trip
    shown = {"chat_id": query.message.chat.id, "message_id": query.message.message_id} if query.message else None
    try:
        out = await s.desk.act(claimed, origin(update), shown_at=shown)
    finally:
        [answered] = await asyncio.gather(answering, return_exceptions=True)
        if isinstance(answered, Exception):
            log.warning("could not answer the button press: %s", answered)
    if out.status in TOKEN_REFUSED:
        return out.status  # another press used it first; its message shows what happened
    if out.status is Status.REQUOTE and out.preview is not None:
        await edit(update, views.preview_view(out.preview, out.detail, requote=True),
                   kb.confirm(out.token) if out.token else None)
        return "requote"
    if out.status is Status.REFUSED and out.preview is not None:
        await edit(update, views.preview_view(out.preview, out.detail))
        return "refused"
    if out.status is Status.PLACED and out.order is not None:
        markets = await markets_for(s, [(out.order.exchange, out.order.symbol)])
        await edit(update, views.order_result_view(out.order, markets.get((out.order.exchange, out.order.symbol)),
                                                   out.detail), durable=f"result:{out.order.client_id}",
                   notifier=s.notifier)
        await s.store.order_told(out.order.client_id or "")
        return f"placed {out.order.client_id} {out.order.status.value}"
    await edit(update, f"✅ {out.detail}" if out.status is Status.DONE else views.outcome_view(out))
    return out.status


async def on_kill_button(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer("Kill switch fired")
    return await cmd.kill(update, context)


async def on_alert_toggle(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    s = svc(context)
    kind = _data(update)[1]
    if s.notifier is None:
        await query.answer("Alerts are not set up", show_alert=True)
        return "no notifier"
    order = ["on", "silent", "off"]
    mode = order[(order.index(s.notifier.modes.get(kind, "on")) + 1) % 3]
    await s.notifier.set_mode(kind, mode)
    await query.answer(f"{kind}: {mode}")
    await edit(update, *cmd.alerts_message(s))
    return f"alerts {kind} {mode}"


async def on_stale(update: Update, context: Ctx) -> str:
    if update.callback_query is not None:
        await update.callback_query.answer("This button is no longer valid.", show_alert=True)
    return "stale button"


async def on_discard(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    out = await svc(context).desk.discard(_data(update)[1], who(update)[0])
    if out.status is not Status.CANCELLED:
        await query.answer(views.outcome_view(out), show_alert=True)
        return out.status
    await query.answer("Cancelled")
    await edit(update, "❌ Cancelled; nothing was sent.")
    return "cancelled"


async def on_refresh(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    what = _data(update)[1]
    build = cmd.REFRESHABLE.get(what)
    if build is None:
        return f"unknown refresh {what}"
    await edit(update, *await build(context))
    return f"refreshed {what}"


async def on_close(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    _, venue, symbol = _data(update)
    s = svc(context)
    quote = await s.desk.quote_close(*who(update),
                                     venue, symbol, Decimal(100))
    await cmd.show_quote(update, context, quote)
    return f"close preview {venue} {symbol}"


async def on_cancel_order(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    _, venue, symbol, order_id = _data(update)
    await svc(context).risk.orders.cancel(venue, symbol, order_id=order_id)
    await query.answer(f"Cancelled {symbol} order {order_id}")
    await edit(update, *await cmd.orders_message(context))
    return f"cancelled {order_id}"


async def on_cancel_all(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    s = svc(context)
    token = await s.desk.quote_action(*who(update),
                                      Confirm.CANCEL_ALL, {"exchanges": s.desk.venues, "symbol": None})
    await reply(update, context, "Cancel every open order on every exchange?", kb.confirm(token))
    return "cancel-all preview"


async def on_flatten(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    if _data(update)[1] != "yes":
        await edit(update, "Positions kept. Trading stays HALTED until /resume.")
        return "kept positions"
    s = svc(context)
    message = query.message
    # the pressed report becomes the flatten's report (through the outbox, like every kill report)
    where = f"{message.chat.id}:{message.message_id}" if message is not None and s.notifier is not None else None
    report = await s.risk.kill.flatten_all(origin(update), reply_to=where)
    if where is None:
        await edit(update, views.kill_view(report))
    return "flattened" if report.ok else "flatten sent (not confirmed yet)"
