"""Alerts to the phone: written to the SQLite outbox first, sent in order, marked sent only when
Telegram confirms. While Telegram is down or rate-limiting, alerts wait (also across a restart).

Limits respected: one message per second per chat (Telegram's guidance), 30/s overall (PTB's
limiter), 429 retry_after waited out. Delivery is at-least-once: a crash between Telegram's answer
and the outbox update can repeat that one message, never lose it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from exchanges.aio import within
from store.db import OutboxItem, Store

log = logging.getLogger(__name__)
KINDS = ("fills", "orders", "risk", "streams", "reports")
# answers to the trader's own commands and presses (an order's result, the kill report, a reply that
# Telegram did not take): always delivered, never summarised with others, whatever the alert modes
REPLIES = "replies"
Buttons = list[list[tuple[str, str]]]  # rows of (label, callback data)
SUMMARY_LIMIT = 3500  # characters of one summary message: well under Telegram's 4096
Send = Callable[[OutboxItem], Awaitable[int | None]]  # returns the Telegram message id


class RetryLater(Exception):
    """Telegram cannot take it now (down, 429): keep it and try again after `delay` seconds."""

    def __init__(self, delay: float, why: str):
        super().__init__(why)
        self.delay = delay


class Notifier:
    def __init__(self, store: Store, chats: list[str], modes: dict[str, str], clock: Callable[[], int], *,
                 per_chat_interval_s: float = 1.0):
        self.store, self.chats, self.clock = store, chats, clock
        self.modes = dict(modes)
        self.per_chat_interval_s = per_chat_interval_s
        self._send: Send | None = None
        self._wake = asyncio.Event()
        self._last_sent: dict[str, float] = {}
        self.sent = 0

    def attach(self, send: Send) -> None:
        """Telegram is reachable: start delivering through `send`."""
        self._send = send
        self._wake.set()

    async def load_modes(self) -> None:
        for kind in KINDS:
            saved = await self.store.get_state(f"alerts.{kind}")
            if saved in ("on", "silent", "off"):
                self.modes[kind] = saved

    async def set_mode(self, kind: str, mode: str) -> None:
        if kind not in KINDS or mode not in ("on", "silent", "off"):
            raise ValueError(f"unknown alert kind or mode: {kind} {mode}")
        self.modes[kind] = mode
        await self.store.set_state(f"alerts.{kind}", mode, self.clock())

    async def alert(self, kind: str, text: str, *, dedupe_key: str | None = None, risk: bool = False,
                    payload: dict[str, Any] | None = None, chats: list[str] | None = None,
                    buttons: Buttons | None = None, edit_of: str | None = None,
                    edit_message: int | None = None, markup_only: bool = False) -> int:
        """Queue an alert for every chat (or `chats`); returns how many were queued (0 when off or a
        duplicate). `buttons` replace the KILL button; `edit_of` (another item's dedupe key) or
        `edit_message` edit that message in place instead of sending a new one (`markup_only`: only
        its buttons)."""
        mode = "on" if kind == REPLIES else self.modes.get(kind, "on")
        if mode == "off":
            return 0
        extra: dict[str, Any] = {}
        if buttons is not None:
            extra["buttons"] = [[list(b) for b in row] for row in buttons]
        if edit_of is not None:
            extra["edit_of"] = edit_of
        if edit_message is not None:
            extra["edit_message"] = edit_message
        if markup_only:
            extra["markup_only"] = True
        payload = {**(payload or {}), **extra}
        queued = 0
        for chat in self.chats if chats is None else chats:
            key = f"{dedupe_key}@{chat}" if dedupe_key else None
            item = await self.store.outbox_add(self.clock(), chat, kind, text, silent=mode == "silent",
                                               payload={**(payload or {}), "risk": risk}, dedupe_key=key)
            queued += item is not None
        if queued:
            self._wake.set()
        return queued

    async def run(self) -> None:
        """Deliver the outbox in order, forever."""
        while True:
            self._wake.clear()  # before looking: a wake-up that arrives while we look is not lost
            if self._send is None:
                await self._wait(None)
                continue
            pending = await self.store.outbox_pending(50)
            if not pending:
                await self._wait(None)
                continue
            for group in self._groups(pending):
                delay = await self._deliver(group)
                if delay:
                    await asyncio.sleep(delay)
                    break

    async def _wait(self, at_most_s: float | None) -> None:
        try:
            await within(self._wake.wait(), at_most_s)
        except TimeoutError:
            pass

    @staticmethod
    def _groups(pending: list[OutboxItem]) -> list[list[OutboxItem]]:
        """A backlog of alerts of one kind for one chat goes out as one summary message (bursts, and
        whatever piled up while Telegram was away), in order, under Telegram's length limit."""
        groups: list[list[OutboxItem]] = []
        latest: dict[str, list[OutboxItem]] = {}  # each chat is its own ordered stream
        for item in pending:
            last = latest.get(item.chat_id)
            if not _plain(item):
                latest.pop(item.chat_id, None)  # an answer or an edit goes alone, in its place in the order
                groups.append([item])
                continue
            if (last is not None and last[0].kind == item.kind
                    and sum(len(x.text) + 2 for x in last) + len(item.text) < SUMMARY_LIMIT):
                last.append(item)
            else:
                latest[item.chat_id] = [item]
                groups.append(latest[item.chat_id])
        return groups

    async def _deliver(self, group: list[OutboxItem]) -> float:
        """Send one item (or a summary of several). Returns 0 when done, else seconds to wait first."""
        first = group[0]
        gap = self._last_sent.get(first.chat_id, 0.0) + self.per_chat_interval_s - time.monotonic()
        if gap > 0:
            await asyncio.sleep(gap)
        assert self._send is not None
        edit_of = first.payload.get("edit_of")
        if edit_of is not None and "edit_message" not in first.payload:
            # edit what an earlier item became; if it never became a message, this one is sent afresh
            target = await self.store.outbox_message_id(f"{edit_of}@{first.chat_id}")
            if target is not None:
                first = OutboxItem(first.id, first.chat_id, first.kind, first.text, first.silent,
                                   {**first.payload, "edit_message": target}, first.attempts, first.created_ms)
        item = first if len(group) == 1 else OutboxItem(
            first.id, first.chat_id, first.kind, "\n\n".join(x.text for x in group), all(x.silent for x in group),
            {"risk": any(x.payload.get("risk") for x in group)}, first.attempts, first.created_ms)
        try:
            message_id = await self._send(item)
        except RetryLater as exc:
            await self.store.outbox_failed(first.id, str(exc))
            log.info("alert %d waits %.1fs: %s", first.id, exc.delay, exc)
            return max(exc.delay, 0.1)
        except Exception as exc:  # a message Telegram will never take (bad HTML, blocked): do not jam the rest
            give_up = first.attempts >= 4
            for x in group:
                await self.store.outbox_failed(x.id, f"{type(exc).__name__}: {exc}", give_up=give_up)
            log.warning("alert %d failed (%s)%s", first.id, exc, "; giving up" if give_up else "")
            return 0.0 if give_up else 1.0
        self._last_sent[first.chat_id] = time.monotonic()
        for x in group:
            await self.store.outbox_sent(x.id, self.clock(), message_id)
        self.sent += len(group)
        return 0.0


def _plain(item: OutboxItem) -> bool:
    """An alert that may be summarised with its neighbours of the same kind."""
    return item.kind != REPLIES and not ({"chart_days", "buttons", "edit_of", "edit_message"} & item.payload.keys())
