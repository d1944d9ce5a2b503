"""What every handler shares: the services, sending (split, safe) and editing (not-modified is fine)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.config_schema import Config
from bot.desk import Desk
from bot.jobs import Jobs
from bot.notifier import Notifier
from bot.services import Services
from bot.store import Store
from exchanges.models import Market
from handlers.render import split_message
from risk.service import Risk

log = logging.getLogger(__name__)
Ctx = ContextTypes.DEFAULT_TYPE
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


@dataclass
class BotServices:
    services: Services
    desk: Desk
    risk: Risk
    store: Store
    config: Config
    clock: Callable[[], int]
    allowed_users: frozenset[int]
    chat_id: int | str | None
    notifier: Notifier | None = None
    jobs: Jobs | None = None


def svc(context: Ctx) -> BotServices:
    return context.bot_data["svc"]  # type: ignore[no-any-return]


def origin(update: Update) -> str:
    user = update.effective_user
    return f"telegram:{user.id}" if user else "telegram"


async def reply(update: Update, context: Ctx, text: str, markup: Markup | None = None) -> Message | None:
    """Send in parts under 4096 characters; the keyboard goes with the last part."""
    chat = update.effective_chat
    if chat is None:
        return None
    parts = split_message(text)
    last = None
    for i, part in enumerate(parts):
        last = await context.bot.send_message(chat.id, part, reply_markup=markup if i == len(parts) - 1 else None)
    return last


async def edit(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the pressed message in place; an identical edit is not an error."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    parts = split_message(text)
    try:
        await query.edit_message_text(parts[0], reply_markup=markup if len(parts) == 1 else None)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
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
