"""What every handler shares: the services, sending (split, safe) and editing (not-modified is fine)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from desk.desk import Desk
from desk.notifier import REPLIES, Notifier
from desk.services import Services
from desk.settings import DeskSettings
from exchanges.models import Market
from handlers.render import split_message
from risk.service import Risk
from store.db import Store

log = logging.getLogger(__name__)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


@dataclass
class BotServices:
    services: Services
    desk: Desk
    risk: Risk
    store: Store
    settings: DeskSettings
    clock: Callable[[], int]
    allowed_users: frozenset[int]
    chat_id: int | str | None
    notifier: Notifier | None = None


class BotData:
    """The application's bot_data: PTB creates it empty; the front end sets the services before the
    first update is processed."""

    def __init__(self) -> None:
        self.services: BotServices | None = None


Ctx = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
# PTB infers the bot and job-queue parameters from the builder (the rate limiter changes them): left open.
App = Application[Any, Ctx, dict[Any, Any], dict[Any, Any], BotData, Any]
CONTEXT_TYPES: ContextTypes[Ctx, dict[Any, Any], dict[Any, Any], BotData] = ContextTypes(bot_data=BotData)


def svc(context: Ctx) -> BotServices:
    services = context.bot_data.services
    if services is None:
        raise RuntimeError("handlers ran before the front end set the services")
    return services


def who(update: Update) -> tuple[int, int]:
    """The user and the chat of an update that passed the gate (which refuses updates without a user)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        raise RuntimeError("an update without a user or a chat got past the gate")
    return user.id, chat.id


def origin(update: Update) -> str:
    user = update.effective_user
    return f"telegram:{user.id}" if user else "telegram"


def _buttons(markup: Markup | None) -> list[list[tuple[str, str]]] | None:
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    return [[(b.text, str(b.callback_data)) for b in row] for row in markup.inline_keyboard]


async def _later(notifier: Notifier | None, chat_id: int, text: str, markup: Markup | None, *,
                 edit_message: int | None = None, key: str | None = None) -> bool:
    """Telegram did not take it now: hand it to the outbox, which delivers it once Telegram is back
    (also after a restart). False when there is no outbox to hand it to."""
    if notifier is None:
        return False
    await notifier.alert(REPLIES, text, chats=[str(chat_id)], buttons=_buttons(markup) or [],
                         edit_message=edit_message, dedupe_key=key)
    return True


async def reply(update: Update, context: Ctx, text: str, markup: Markup | None = None) -> Message | None:
    """Send in parts under 4096 characters; the keyboard goes with the last part. If Telegram cannot
    take it now, the rest goes through the outbox (returns None then)."""
    chat = update.effective_chat
    if chat is None:
        return None
    parts = split_message(text)
    last = None
    for i, part in enumerate(parts):
        keys = markup if i == len(parts) - 1 else None
        try:
            last = await context.bot.send_message(chat.id, part, reply_markup=keys)
        except (NetworkError, RetryAfter) as exc:  # TimedOut is a NetworkError
            log.warning("reply not delivered now (%s); it goes through the outbox", exc)
            notifier = svc(context).notifier
            if not await _later(notifier, chat.id, part, keys):
                raise
            for j, rest in enumerate(parts[i + 1:], start=i + 1):
                await _later(notifier, chat.id, rest, markup if j == len(parts) - 1 else None)
            return None
    return last


async def edit(update: Update, text: str, markup: InlineKeyboardMarkup | None = None, *,
               durable: str | None = None, notifier: Notifier | None = None) -> None:
    """Edit the pressed message in place; an identical edit is not an error. `durable`: an answer that
    must arrive (an order's result): if Telegram cannot take it now, the outbox delivers it later."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    parts = split_message(text)
    try:
        await query.edit_message_text(parts[0], reply_markup=markup if len(parts) == 1 else None)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise
    except (NetworkError, RetryAfter) as exc:
        chat_id = query.message.chat.id
        log.warning("edit not delivered now (%s)%s", exc, "; it goes through the outbox" if durable else "")
        if durable is None or not await _later(notifier, chat_id, parts[0], markup if len(parts) == 1 else None,
                                               edit_message=query.message.message_id, key=durable):
            raise
    chat = update.effective_chat
    if len(parts) > 1 and chat is not None:
        for i, part in enumerate(parts[1:], start=2):
            await query.get_bot().send_message(chat.id, part, reply_markup=markup if i == len(parts) else None)


async def markets_for(s: BotServices, pairs: Any) -> dict[tuple[str, str], Market]:
    out: dict[tuple[str, str], Market] = {}
    for venue, symbol in set(pairs):
        m = await s.services.market(venue, symbol)
        if m is not None:
            out[(venue, symbol)] = m
    return out
