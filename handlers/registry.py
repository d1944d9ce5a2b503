"""Every command and button, registered in one place that also makes /help and the command menu."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from exchanges.errors import ExchangeError
from handlers import buttons, commands, market, spread, triggers
from handlers import history as hist
from handlers.auth import describe, gate
from handlers.common import App, Ctx, reply, svc
from handlers.keyboards import KILL_TEXT
from handlers.parsing import UsageError
from handlers.views import usage_view
from risk.pretrade import OrderRefused

log = logging.getLogger(__name__)
Handler = Callable[[Update, Ctx], Coroutine[Any, Any, str]]


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]
    fn: Handler
    description: str


COMMANDS: tuple[Command, ...] = (
    Command(("start",), commands.start, "Show the keyboard and what I can do"),
    Command(("help",), commands.help_, "List the commands"),
    Command(("balance",), commands.balance, "Balances and equity per exchange"),
    Command(("positions",), commands.positions, "Open positions, with Close buttons"),
    Command(("orders",), commands.orders, "Open orders, with Cancel buttons"),
    Command(("buy", "long"), commands.buy, "Buy: /buy [exchange] SYMBOL SIZE|$USD [PRICE] [options]"),
    Command(("sell", "short"), commands.sell, "Sell: /sell [exchange] SYMBOL SIZE|$USD [PRICE] [options]"),
    Command(("close",), commands.close, "Close a position: /close SYMBOL [PERCENT]"),
    Command(("cancel",), commands.cancel, "Cancel: /cancel ORDER_ID|SYMBOL|all"),
    Command(("lev",), commands.lev, "Set leverage: /lev SYMBOL N"),
    Command(("tp",), triggers.tp, "Set or move a take profit: /tp SYMBOL PRICE|off"),
    Command(("sl",), triggers.sl, "Set or move a stop loss: /sl SYMBOL PRICE|off"),
    Command(("price",), commands.price, "Bid/ask/mark on every exchange: /price SYMBOL"),
    Command(("chart",), market.chart, "Candle chart with your levels: /chart SYMBOL [interval]"),
    Command(("book",), market.book, "Top of the order book: /book SYMBOL"),
    Command(("spread",), spread.spread, "Cross-venue spreads, net of fees: /spread [SYMBOL]"),
    Command(("funding",), commands.funding, "Funding rate, next payment, who pays: /funding SYMBOL"),
    Command(("pnl",), commands.pnl, "PnL today, 7 and 30 days"),
    Command(("status",), commands.status, "Connections, latency, trading state"),
    Command(("limits",), commands.limits, "Every limit and its usage"),
    Command(("alerts",), commands.alerts, "Switch alert kinds on, silent or off"),
    Command(("kill",), commands.kill, "EMERGENCY STOP: cancel all orders, halt trading"),
    Command(("resume",), commands.resume, "Resume trading after a kill"),
    Command(("trades",), hist.trades, "Recent fills, newest first: /trades [N]"),
    Command(("profit",), hist.profit, "All-time realized, fees, funding, net, win rate"),
    Command(("performance",), hist.performance, "Realized, fees, funding, win rate per market"),
    Command(("daily",), hist.daily, "Net per day: /daily [DAYS]"),
    Command(("weekly",), hist.weekly, "Net per week (from Monday): /weekly [WEEKS]"),
    Command(("monthly",), hist.monthly, "Net per month: /monthly [MONTHS]"),
)
BUTTONS: tuple[tuple[str, Handler], ...] = (
    (r"^ok:[\w-]+$", buttons.on_confirm), (r"^no:[\w-]+$", buttons.on_discard),
    (r"^r:\w+$", buttons.on_refresh), (r"^cl:\w+:[\w/]+$", buttons.on_close),
    (r"^co:\w+:[\w/]+:\w+$", buttons.on_cancel_order), (r"^ca:all$", buttons.on_cancel_all),
    (r"^kf:(yes|no)$", buttons.on_flatten), (r"^kill:now$", buttons.on_kill_button),
    (r"^al:\w+$", buttons.on_alert_toggle),
    (r"^tr:\d{1,2}:\d{1,6}:\d{1,15}$", hist.on_trades_page),
    (r"^sr:[\w/]+$", spread.on_refresh), (r"^sp:[\w/]+$", spread.on_preview), (r"^sx:[\w-]+$", spread.on_execute),
)


def help_text() -> str:
    lines = ["<b>Commands</b>"]
    for c in COMMANDS:
        alias = f" (/{', /'.join(c.names[1:])})" if len(c.names) > 1 else ""
        lines.append(f"/{c.names[0]}{alias}: {html.escape(c.description, quote=False)}")
    lines.append("\nOrder options: lev=N, post (post-only), ioc, reduce (reduce-only), tp=PRICE, sl=PRICE."
                 " No PRICE means a market order. Every order is previewed and needs ✅ Confirm.")
    return "\n".join(lines)


def bot_commands() -> list[BotCommand]:
    return [BotCommand(c.names[0], c.description[:256]) for c in COMMANDS]


def audited(fn: Handler) -> Callable[[Update, Ctx], Coroutine[Any, Any, None]]:
    """Run a handler; a usage problem or a refusal is answered, not raised; every outcome is audited."""

    @functools.wraps(fn)
    async def run(update: Update, context: Ctx) -> None:
        s = svc(context)
        try:
            outcome = await fn(update, context)
        except commands.USAGE_ERRORS as exc:
            text = usage_view(exc) if isinstance(exc, UsageError) else f"⚠️ {html.escape(str(exc), quote=False)}"
            await reply(update, context, text)
            outcome = f"usage: {exc}"
        except OrderRefused as exc:
            await reply(update, context, "⛔ " + html.escape(str(exc), quote=False))
            outcome = f"refused: {exc}"
        except ExchangeError as exc:
            await reply(update, context, f"⚠️ {html.escape(exc.venue or 'exchange')} says:"
                                         f" {html.escape(exc.raw, quote=False)}")
            outcome = f"venue error: {exc.raw}"
        kind, text = describe(update)
        user, chat = update.effective_user, update.effective_chat
        await s.store.audit(s.clock(), user.id if user else None, chat.id if chat else None, kind, text[:500],
                            outcome[:500])

    return run


async def on_error(update: object, context: Ctx) -> None:
    log.error("handler failed on %s", update, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, "⚠️ Something went wrong handling that"
                                           f" ({type(context.error).__name__}). It is logged; check /orders before"
                                           " trying again.")
        except TelegramError:
            log.warning("could not report the error to the chat")
        s = svc(context)
        kind, text = describe(update)
        user = update.effective_user
        await s.store.audit(s.clock(), user.id if user else None, update.effective_chat.id, kind, text[:500],
                            f"error: {type(context.error).__name__}")


def register(app: App) -> None:
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for c in COMMANDS:
        app.add_handler(CommandHandler(list(c.names), audited(c.fn)))
    app.add_handler(MessageHandler(filters.Text([KILL_TEXT]), audited(commands.kill)))
    app.add_handler(MessageHandler(filters.COMMAND | filters.TEXT, audited(commands.unknown)))
    for pattern, fn in BUTTONS:
        app.add_handler(CallbackQueryHandler(audited(fn), pattern=pattern))
    app.add_handler(CallbackQueryHandler(audited(buttons.on_stale)))
    app.add_error_handler(on_error)
