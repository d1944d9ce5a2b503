"""Composition root: the only place that knows every part. Builds, starts and stops the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.alerts import AlertRouter
from bot.arbitrage import ArbitrageWatcher
from bot.config import Config
from bot.jobs import Jobs
from bot.settings import arbitrage_settings, desk_settings, risk_settings
from bot.telegram import TelegramFrontend
from desk.desk import Desk
from desk.notifier import Notifier
from desk.services import Services
from desk.spreads import Spreads
from exchanges.aio import within
from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from handlers.common import BotServices
from risk.service import Risk
from store.db import Store
from venues import NAMES, BuildContext, VenueSetupError, build_all

if TYPE_CHECKING:
    from bot.web.server import WebChat

log = logging.getLogger("tradebot")
CONNECT_WAIT_S = 15.0
STARTUP_NOTICE_S = 3.0
UNTOLD_WINDOW_MS = 86_400_000  # results not shown are told at start for orders of the last day


class StartupError(Exception):
    """Something the trader must fix before the bot can run; the message says what."""


def build_exchanges(config: Config, clock: Callable[[], int] | None = None) -> dict[str, Exchange]:
    """Every enabled venue of the registry, built from its config section."""
    sections = {name: config.exchanges.section(name) for name in NAMES}
    ctx = BuildContext(sections, config.storage.path, config.trading.default_slippage, clock)
    try:
        return build_all(sections, ctx)
    except VenueSetupError as exc:
        raise StartupError(str(exc)) from None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_console(line: str) -> None:
    """What the trader must see at start and is not a log line (the chat page's link carries its token)."""
    print(line, file=sys.stdout, flush=True)


class App:
    def __init__(self, config: Config, *, clock: Callable[[], int] = now_ms,
                 console: Callable[[str], None] = to_console):
        self.config = config
        self.clock = clock
        self.console = console
        self.store = Store(config.storage.path)
        self.exchanges = build_exchanges(config, clock)
        self.risk = Risk.build(self.exchanges, self.store, risk_settings(config), clock)
        settings = desk_settings(config)
        self.services = Services(self.risk, self.store, settings, clock)
        self.desk = Desk(self.risk, self.store, settings, clock, config.telegram.confirm_ttl_seconds)
        self.telegram: TelegramFrontend | None = None
        tg = config.telegram
        self.notifier: Notifier | None = None
        self.alerts: AlertRouter | None = None
        self.jobs: Jobs | None = None
        self.web: WebChat | None = None
        self._bot_services: BotServices | None = None
        self._started_task: asyncio.Task[None] | None = None
        if tg.enabled or config.web_chat:
            if tg.enabled:
                users, chat_id = tg.authorized_user_ids, tg.chat_id
            else:  # the local page: its one user, in a private chat, is the only one allowed
                from bot.web.server import WEB_USER_ID, WebChat

                w = config.web
                self.web = WebChat(w.host, w.port, w.password.get_secret_value(),
                                   any_port_if_taken="port" not in w.model_fields_set)
                users, chat_id = frozenset({WEB_USER_ID}), WEB_USER_ID
            chats = [str(chat_id)] if chat_id is not None else [str(u) for u in sorted(users)]
            a = config.alerts
            self.notifier = Notifier(self.store, chats, {"fills": a.fills, "orders": a.orders, "risk": a.risk,
                                                         "streams": a.streams, "reports": a.reports}, clock)
            self.alerts = AlertRouter(self.notifier, self.risk, clock, coalesce_s=a.coalesce_ms / 1000,
                                      stream_grace_s=a.stream_grace_seconds)
            self.jobs = Jobs(self.services, self.notifier, config, clock)
            self._bot_services = BotServices(self.services, self.desk, self.risk, self.store, settings, clock,
                                             users, chat_id, self.notifier)
            if tg.enabled:
                self.telegram = TelegramFrontend(tg.bot_token.get_secret_value(), tg.base_url, self._bot_services,
                                                 jobs=self.jobs)
        # cross-venue spreads: the table always; alerts, Execute and auto only with arbitrage.enabled
        self.spreads = Spreads(self.risk, arbitrage_settings(config), clock)
        self.desk.spreads = self.spreads
        self.arbitrage = ArbitrageWatcher(self.spreads, self.notifier, clock)
        self._notifier_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        """The persisted trading state first, then Telegram (so the trader hears from the bot, and can
        kill, while venues are still being reached), then the venues, each bounded in time."""
        await self.store.open()
        await self.risk.prepare()
        if self.notifier is not None:
            await self.notifier.load_modes()
            self._notifier_task = asyncio.create_task(self.notifier.run(), name="notifier")
        if self.web is not None:
            await self._start_web()
        elif self.telegram is not None:
            await self.telegram.start()
        else:
            log.warning("Telegram is off (no telegram.bot_token) and the chat page too (web.enabled false):"
                        " nobody can reach this bot's chat")
        names = list(self.exchanges)
        # a venue still unreachable after a few seconds (a 429 storm, an outage) is said to be awaited
        def waiting() -> None:
            for n in names:
                self.risk.announce_waiting(n, "still connecting")

        notice = asyncio.get_running_loop().call_later(STARTUP_NOTICE_S, waiting)
        try:
            results = await asyncio.gather(*(self.exchanges[n].connect() for n in names), return_exceptions=True)
        finally:
            notice.cancel()
        for name, res in zip(names, results, strict=True):
            if isinstance(res, BaseException):
                log.error("exchange %s failed to connect: %s", name, getattr(res, "raw", None) or res or
                          type(res).__name__)
            else:
                try:
                    bal = await within(self.exchanges[name].balances(), CONNECT_WAIT_S)
                    log.info("exchange %s connected: account value %s USDC", name, bal.account_value)
                except (ExchangeError, OSError, TimeoutError) as exc:
                    log.warning("exchange %s connected; its balances cannot be read yet: %s", name, exc)
        await self.risk.start()
        try:  # pairs a crash left unfinished: both legs read back by client id, any excess closed
            await self.arbitrage.recover()
        except Exception:
            log.exception("resolving unfinished pairs failed; they are tried again at the next start")
        if self.spreads.settings.enabled:
            self.arbitrage.start()
        if self.alerts is not None:
            await self.alerts.tell_untold(self.clock() - UNTOLD_WINDOW_MS)
        if self.jobs is not None:  # in the background: a venue that is slow to answer must not hold the start
            self._started_task = asyncio.create_task(self.jobs.started(), name="started report")
        log.info("trading state %s", self.risk.state.state)

    async def _start_web(self) -> None:
        """The chat page, and the same Telegram front end pointed at its in-process Bot API."""
        from bot.web.server import WebStartError

        assert self.web is not None and self._bot_services is not None
        try:
            await self.web.start()
        except WebStartError as exc:
            raise StartupError(str(exc)) from None
        self.telegram = TelegramFrontend(self.web.bot_token, self.web.bot_api_url, self._bot_services, jobs=self.jobs)
        await self.telegram.start()
        log.info("Telegram is off (no telegram.bot_token): the chat is the local page on %s:%s (its link, with"
                 " its token, is printed on the console)", self.web.host, self.web.port)
        for line in self.web.notices():
            self.console(line)

    async def stop(self) -> None:
        if self._started_task is not None:
            self._started_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._started_task
        await self.arbitrage.stop()
        if self.telegram is not None:
            await self.telegram.stop()
        if self.web is not None:
            await self.web.stop()
        if self._notifier_task is not None:
            self._notifier_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._notifier_task
        if self.alerts is not None:
            await self.alerts.drain()
        await self.risk.stop()
        await asyncio.gather(*(ex.close() for ex in self.exchanges.values()), return_exceptions=True)
        await self.store.close()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
        except BaseException:
            await self.stop()  # what did start is stopped: nothing left open, no task left running
            raise
        log.info("tradebot running (exchanges: %s); stop with Ctrl-C or SIGTERM", ", ".join(self.exchanges))
        try:
            await self._stop.wait()
        finally:
            log.info("shutting down")
            await self.stop()
            log.info("stopped cleanly")


__all__ = ["App", "StartupError", "build_exchanges"]
