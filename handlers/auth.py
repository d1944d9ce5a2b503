"""One gate before every handler (group -1): messages and button presses alike.

Strangers get no answer and no effect; the attempt is audited. Allowed: the configured users, in a
private chat with the bot or in the configured chat.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.common import Ctx, svc

log = logging.getLogger(__name__)


def describe(update: Update) -> tuple[str, str]:
    if update.callback_query is not None:
        return "button", update.callback_query.data or ""
    msg = update.effective_message
    return "message", (msg.text or msg.caption or "") if msg else ""


async def gate(update: Update, context: Ctx) -> None:
    s = svc(context)
    user, chat = update.effective_user, update.effective_chat
    allowed = user is not None and chat is not None and user.id in s.allowed_users
    if allowed and chat is not None and chat.type != "private":
        allowed = s.chat_id is not None and str(chat.id) == str(s.chat_id)
    if allowed:
        return
    kind, text = describe(update)
    log.warning("ignored %s from stranger %s in chat %s", kind, user.id if user else "?", chat.id if chat else "?")
    await s.store.audit(s.clock(), user.id if user else None, chat.id if chat else None, kind, text[:500], "denied")
    raise ApplicationHandlerStop
