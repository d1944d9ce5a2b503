"""Keyboards. Confirmation buttons carry only a single-use token; the rest carry short action ids."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

__all__ = ["InlineKeyboardButton", "InlineKeyboardMarkup"]

from exchanges.models import Order, Position

KILL_TEXT = "🛑 KILL"


def confirm(token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("✅ Confirm", callback_data=f"ok:{token}"),
                                  InlineKeyboardButton("❌ Cancel", callback_data=f"no:{token}")]])


def refresh(what: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("🔄 Refresh", callback_data=f"r:{what}")]])


def positions(items: list[Position]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(f"Close {p.symbol} ({p.exchange})", callback_data=f"cl:{p.exchange}:{p.symbol}")]
            for p in items]
    rows.append([InlineKeyboardButton("🔄 Refresh", callback_data="r:positions")])
    return InlineKeyboardMarkup(rows)


def orders(items: list[Order], limit: int = 20) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(f"Cancel {o.symbol} {o.side.value} {o.order_id}",
                                  callback_data=f"co:{o.exchange}:{o.symbol}:{o.order_id}")]
            for o in items[:limit] if o.order_id]
    if items:
        rows.append([InlineKeyboardButton("Cancel all", callback_data="ca:all")])
    rows.append([InlineKeyboardButton("🔄 Refresh", callback_data="r:orders")])
    return InlineKeyboardMarkup(rows)


# the kill report's question, as (label, callback data) rows: shown directly or through the outbox
FLATTEN_CHOICE = [[("Flatten all now", "kf:yes"), ("Keep positions", "kf:no")]]


def flatten_choice() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in FLATTEN_CHOICE])


def kill_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup([[KeyboardButton(KILL_TEXT)], ["/balance", "/positions", "/orders"]],
                               resize_keyboard=True, is_persistent=True)
