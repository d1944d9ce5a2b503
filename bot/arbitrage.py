"""The spread watcher in the composition root: scans the books, debounces, alerts with an Execute
button (auto mode: executes within its caps), and resolves pairs a crash left unfinished."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from desk.notifier import Notifier
from desk.spreads import Spreads
from handlers.spread import alert_view, report_view
from risk.pairs import PairReport
from risk.pretrade import OrderRefused

log = logging.getLogger(__name__)
RECOVER_EVERY_S = 30.0
ALERT_KIND = "reports"  # a market observation: its mode is the reports' (on / silent / off)


class ArbitrageWatcher:
    def __init__(self, spreads: Spreads, notifier: Notifier | None, clock: Callable[[], int]):
        self.spreads, self.notifier, self.clock = spreads, notifier, clock
        self.poll_s = spreads.settings.poll_ms / 1000
        self._task: asyncio.Task[None] | None = None
        self.alerted: list[tuple[int, str]] = []  # (when, symbol): the bench reads it (bounded below)

    async def tell(self, report: PairReport) -> None:
        """Every execution is reported; a residual also goes out as a risk alert with the KILL button."""
        if self.notifier is None:
            return
        kind = "replies" if report.flat else "risk"
        await self.notifier.alert(kind, report_view(report), risk=not report.flat,
                                  dedupe_key=f"pair:{report.pair_id}:{report.residual}")  # each new outcome once

    async def recover(self) -> None:
        """Pairs left unfinished (a crash, or a leg whose outcome was still unknown): read back from the
        venues and hedged; told when the outcome is new."""
        for report in await self.spreads.recover():
            log.warning("pair %s resolved again: residual %s", report.pair_id, report.residual)
            await self.tell(report)

    async def scan_once(self) -> None:
        for o in await self.spreads.scan():
            now = self.clock()
            self.alerted = [*self.alerted[-99:], (now, o.symbol)]
            if self.notifier is not None:
                await self.notifier.alert(
                    ALERT_KIND, alert_view(o.symbol, o.buy_venue, o.sell_venue, o.net_bps, o.size, o.best_ask,
                                           o.best_bid),
                    dedupe_key=f"spread:{o.symbol}:{now}",
                    buttons=[[("Execute", f"sp:{o.symbol}"), ("🔄 Spreads", f"sr:{o.symbol}")]])
            if self.spreads.settings.auto:
                q = await self.spreads.quote(o.symbol)
                if self.spreads.auto_allowed(q) and q.plan is not None:
                    try:
                        await self.tell(await self.spreads.execute(q.plan, origin="auto"))
                    except OrderRefused as exc:
                        log.info("auto pair on %s refused: %s", o.symbol, exc)

    async def run(self) -> None:
        last_recover = time.monotonic()
        while True:
            try:
                await self.scan_once()
                if time.monotonic() - last_recover >= RECOVER_EVERY_S:  # an unknown leg, known by now?
                    last_recover = time.monotonic()
                    await self.recover()
            except Exception:  # a failed round is logged; the next one still runs
                log.exception("spread scan failed")
            await asyncio.sleep(self.poll_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="spread-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


__all__ = ["ArbitrageWatcher"]
