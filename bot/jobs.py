"""Scheduled work: the daily report (cron, in the configured time zone), a heartbeat, warnings when
a position nears liquidation, and a watchdog for silent streams.

`tick()` runs whatever is due by the bot's clock; PTB's JobQueue calls it every few seconds (one at
a time: a slow tick never overlaps the next), and tests call it after moving a controllable clock.
A job that fails is logged and runs again at its next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.config_schema import Config
from bot.cron import Cron
from desk.notifier import REPLIES, Notifier
from desk.services import Services
from handlers.alert_texts import heartbeat_text, liquidation_near_text, margin_high_text, stream_silent_text
from handlers.reports import daily_text, started_text

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


class Jobs:
    def __init__(self, services: Services, notifier: Notifier, config: Config, clock: Callable[[], int]):
        self.s, self.n, self.clock = services, notifier, clock
        a = config.alerts
        self.schedule: dict[str, tuple[Cron, Callable[[], object]]] = {
            "daily report": (Cron(a.daily_report_cron, config.timezone), self.daily_report)}
        if a.heartbeat_cron:
            self.schedule["heartbeat"] = (Cron(a.heartbeat_cron, config.timezone), self.heartbeat)
        self.liq_percent = a.liquidation_warning_percent
        self.margin_percent = a.margin_usage_warning_percent
        self.stream_silence_ms = a.stream_silence_seconds * 1000
        now = clock()
        self.next_run = {name: cron.next_after(now) for name, (cron, _) in self.schedule.items()}
        self._warned: dict[str, int] = {}

    async def tick(self) -> None:
        now = self.clock()
        for name, (cron, job) in self.schedule.items():
            if now >= self.next_run[name]:
                self.next_run[name] = cron.next_after(now)
                await self._run(name, job)
        await self._run("liquidation watch", self.liquidation_watch)
        await self._run("margin watch", self.margin_watch)
        await self._run("stream watchdog", self.stream_watchdog)
        await self._run("expired previews", self.expired_previews)

    async def _run(self, name: str, job: Callable[[], object]) -> None:
        try:
            await job()  # type: ignore[misc]
        except Exception:  # the next run still happens
            log.exception("job %s failed", name)

    async def started(self) -> None:
        """Told once per start, so a restart (a crash, a deploy) is never silent."""
        await self.n.alert("reports", await started_text(self.s), dedupe_key=f"started:{self.s.started_ms}")

    async def daily_report(self) -> None:
        text = await daily_text(self.s)
        day = self.clock() // DAY_MS
        await self.n.alert("reports", text, dedupe_key=f"report:{day}")
        await self.n.alert("reports", "Equity, last 30 days", dedupe_key=f"report-chart:{day}",
                           payload={"chart_days": 30})

    async def heartbeat(self) -> None:
        await self.n.alert("reports", heartbeat_text(self.s.risk.state.state.value),
                           dedupe_key=f"heartbeat:{self.clock() // 60_000}")

    async def liquidation_watch(self) -> None:
        hour = self.clock() // 3_600_000
        for r in await self.s.positions():
            for p in r.value or []:
                if p.liquidation_price is None or p.mark_price <= 0:
                    continue
                distance = abs(p.mark_price - p.liquidation_price) / p.mark_price * 100
                key = f"{p.exchange}:{p.symbol}"
                if distance <= self.liq_percent and self._warned.get(key) != hour:
                    self._warned[key] = hour
                    m = await self.s.market(p.exchange, p.symbol)
                    text = liquidation_near_text(p.symbol, p.exchange, m, distance, p.mark_price,
                                                 p.liquidation_price)
                    await self.n.alert("risk", text, risk=True, dedupe_key=f"liq:{key}:{hour}")

    async def margin_watch(self) -> None:
        hour = self.clock() // 3_600_000
        for r in await self.s.balances():
            b = r.value
            if b is None or b.account_value <= 0:
                continue
            used = b.margin_used / b.account_value * 100
            key = f"margin:{r.venue}"
            if used >= self.margin_percent and self._warned.get(key) != hour:
                self._warned[key] = hour
                await self.n.alert("risk", margin_high_text(r.venue, used, self.margin_percent), risk=True,
                                   dedupe_key=f"{key}:{hour}")

    async def expired_previews(self) -> None:
        """A preview whose quote expired unused loses its buttons (a press would only be refused)."""
        store = self.s.store
        for token, chat, message in await store.expired_previews(self.clock()):
            await self.n.alert(REPLIES, "", chats=[str(chat)], edit_message=message, markup_only=True, buttons=[],
                               dedupe_key=f"expired:{token}")
            await store.preview_closed(token)

    async def stream_watchdog(self) -> None:
        now = self.clock()
        for venue, (connected, last) in self.s.risk.sync.streams.items():
            if connected and last and now - last > self.stream_silence_ms:
                minutes = (now - last) // 60_000
                await self.n.alert("streams", stream_silent_text(venue, minutes), dedupe_key=f"silent:{venue}:{last}")


__all__ = ["Jobs"]
