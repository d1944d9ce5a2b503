"""The Telegram front end: a python-telegram-bot Application run inside the bot's own event loop.

Telegram being unreachable never stops the bot: start-up keeps retrying in the background and
polling catches up with every command sent meanwhile (pending updates are not dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, Defaults

from bot.jobs import Jobs
from desk.notifier import RetryLater
from handlers.common import CONTEXT_TYPES, BotServices, Ctx
from handlers.registry import bot_commands, register
from store.db import OutboxItem

KILL_BUTTON = InlineKeyboardMarkup([[InlineKeyboardButton("🛑 KILL", callback_data="kill:now")]])

log = logging.getLogger(__name__)


class TelegramFrontend:
    def __init__(self, token: str, base_url: str, services: BotServices, *, jobs: Jobs | None = None,
                 poll_timeout_s: int = 10, max_retries: int = 10):
        self.services = services
        self.jobs = jobs
        self.poll_timeout_s = poll_timeout_s
        self.app = (
            Application.builder().token(token).base_url(base_url).context_types(CONTEXT_TYPES)
            .rate_limiter(AIORateLimiter(max_retries=max_retries))
            .defaults(Defaults(parse_mode=ParseMode.HTML))
            .build()
        )
        self.app.bot_data.services = services
        register(self.app)
        self.jobs_interval_s = 10.0
        self._task: asyncio.Task[None] | None = None
        self.running = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._start_until_up(), name="telegram-start")

    async def _start_until_up(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.app.initialize()
                break
            except InvalidToken:
                log.error("Telegram refused the bot token: check telegram.bot_token")
                return
            except TelegramError as exc:
                log.warning("Telegram unreachable (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        await self.app.start()
        try:
            await self.app.bot.set_my_commands(bot_commands())
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", exc)
        assert self.app.updater is not None
        await self.app.updater.start_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
                                             timeout=self.poll_timeout_s, error_callback=self._poll_error)
        self.running.set()
        log.info("Telegram connected as @%s", self.app.bot.username)
        s = self.services
        if s.notifier is not None:
            s.notifier.attach(self.send_alert)
        if self.jobs is not None and self.app.job_queue is not None:
            jobs = self.jobs

            async def tick(_: Ctx) -> None:
                await jobs.tick()

            # one tick at a time: a slow one is never overlapped by the next
            self.app.job_queue.run_repeating(tick, self.jobs_interval_s, first=1.0, name="jobs",
                                             job_kwargs={"max_instances": 1, "coalesce": True})

    async def send_alert(self, item: OutboxItem) -> int | None:
        """Deliver one outbox item: a new message, or an edit of one. Telegram being down or busy raises
        RetryLater (it stays queued)."""
        buttons = item.payload.get("buttons")
        markup = (InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in buttons])
                  if buttons else None) if buttons is not None else (KILL_BUTTON if item.payload.get("risk") else None)
        try:
            edit = item.payload.get("edit_message")
            if edit is not None:
                edited = await self._edit(item, int(edit), markup)
                if edited is not None:
                    return edited
            if "chart_days" in item.payload:
                png = await self.chart(int(item.payload["chart_days"]))
                msg = await self.app.bot.send_photo(item.chat_id, png, caption=item.text,
                                                    disable_notification=item.silent)
            else:
                msg = await self.app.bot.send_message(item.chat_id, item.text, reply_markup=markup,
                                                      disable_notification=item.silent)
        except RetryAfter as exc:
            delay = exc.retry_after
            raise RetryLater(float(delay.total_seconds() if hasattr(delay, "total_seconds") else delay),
                             "Telegram flood control") from None
        except (BadRequest, Forbidden):
            raise  # Telegram will never take this one: the notifier records it and moves on
        except NetworkError as exc:
            raise RetryLater(2.0, f"Telegram unreachable: {exc}") from None
        return msg.message_id

    async def _edit(self, item: OutboxItem, message_id: int, markup: InlineKeyboardMarkup | None) -> int | None:
        """Edit a message in place; None when it is gone (then the text is sent as a new message)."""
        try:
            if item.payload.get("markup_only"):
                await self.app.bot.edit_message_reply_markup(item.chat_id, message_id, reply_markup=markup)
            else:
                await self.app.bot.edit_message_text(item.text, item.chat_id, message_id, reply_markup=markup)
        except BadRequest as exc:
            why = str(exc).lower()
            if "not modified" in why:
                return message_id
            if "not found" in why and not item.payload.get("markup_only"):
                return None
            raise
        return message_id

    async def chart(self, days: int) -> bytes:
        return await self.services.services.equity_chart(days)

    @staticmethod
    def _poll_error(exc: TelegramError) -> None:
        log.warning("Telegram polling: %s (retrying)", exc)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.running.is_set():
            assert self.app.updater is not None
            await self.app.updater.stop()
            await self.app.stop()
            await self.app.shutdown()
            self.running.clear()
