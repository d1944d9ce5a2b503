"""The risk layer assembled: one object the app, handlers and jobs reach it through."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from risk.events import Bus, VenueReady, VenueWaiting
from risk.killswitch import KillSwitch
from risk.monitor import RiskMonitor
from risk.orders import OrderManager
from risk.pnl import PnLTracker
from risk.safety import SafetyNet
from risk.settings import RiskSettings
from risk.state import StateBook
from risk.sync import OrderSync
from store.db import Store

log = logging.getLogger(__name__)


@dataclass
class Risk:
    bus: Bus
    state: StateBook
    pnl: PnLTracker
    orders: OrderManager
    sync: OrderSync
    kill: KillSwitch
    monitor: RiskMonitor
    safety: SafetyNet
    settings: RiskSettings
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _prepared: bool = False
    _announced: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, exchanges: dict[str, Exchange], store: Store, settings: RiskSettings, clock: Callable[[], int],
              **manager_kw: Any) -> Risk:
        bus = Bus()
        state = StateBook(store, bus, clock)
        pnl = PnLTracker(store, bus, clock, settings.loss)
        orders = OrderManager(exchanges, store, state, pnl, settings.orders, settings.limits, bus, clock, **manager_kw)
        kill = KillSwitch(orders, state, bus, settings.kill, clock)
        monitor = RiskMonitor(orders, pnl, state, kill, settings.emergency_stop)
        return cls(bus, state, pnl, orders, OrderSync(orders), kill, monitor,
                   SafetyNet(orders, bus, clock, settings.dead_man_switch.timeout_s), settings)

    async def prepare(self) -> None:
        """The persisted state, before anything can be asked of the bot: a HALT survives a restart, and
        every venue accepts only risk-reducing orders until it is reconciled."""
        if self._prepared:
            return
        self._prepared = True
        await self.state.load()
        await self.pnl.load()
        for venue in self.orders.exchanges:
            self.state.block_venue(venue, "not reconciled with the venue yet")

    async def start(self, *, loops: bool = True, monitor_interval_s: float = 5.0,
                    resolve_interval_s: float = 5.0, reconcile_wait_s: float = 3.0) -> None:
        """Reconcile every venue; one that has not answered within reconcile_wait_s (a 429 storm, an
        outage) is said to be awaited and goes on reconciling in the background."""
        await self.prepare()
        tasks = {v: asyncio.ensure_future(self.sync.reconcile(v)) for v in self.orders.exchanges}
        await asyncio.wait(tasks.values(), timeout=reconcile_wait_s)
        for venue, task in tasks.items():
            if not task.done():
                self.announce_waiting(venue, "it has not answered yet")
                self._spawn(self._reconcile_after(venue, task), f"reconcile-{venue}")
            elif task.exception() is not None:
                why = task.exception()
                log.error("reconciliation with %s failed (%s); it stays REDUCING and is retried", venue, why)
                self.announce_waiting(venue, str(getattr(why, "raw", None) or why or type(why).__name__))
                self._spawn(self._reconcile_until_done(venue), f"reconcile-{venue}")
            else:
                self._ready(venue)
        if not loops:
            return
        # a kill the bot died in the middle of is carried on, whatever the venues answer now
        self._spawn(self.kill.finish_after_restart(), "kill-after-restart")
        for venue in self.orders.exchanges:
            self._spawn(self.sync.run(venue), f"events-{venue}")
        self._spawn(self.monitor.run(monitor_interval_s), "risk-monitor")  # quick checks between full ones
        # orders whose answer was lost are looked up in the background, not at the next restart
        self._spawn(self._every(resolve_interval_s, self.orders.resolve_unknown), "resolve-unknown")
        dms = self.settings.dead_man_switch
        if dms.enabled:
            self._spawn(self._every(dms.refresh_s, self.safety.refresh_once), "dead-man-switch")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    def announce_waiting(self, venue: str, why: str) -> None:
        """Tell (once) that start-up waits for a venue, and why; its reconciliation is told in turn."""
        if venue in self.state.venue_blocks and venue not in self._announced:
            self._announced.add(venue)
            self.bus.publish(VenueWaiting(venue, why, self.orders.clock()))

    def _ready(self, venue: str) -> None:
        if venue in self._announced:
            self._announced.discard(venue)
            self.bus.publish(VenueReady(venue, self.orders.clock()))

    async def _reconcile_after(self, venue: str, first: asyncio.Future[Any]) -> None:
        try:
            await first
        except (ExchangeError, OSError, TimeoutError) as exc:
            log.warning("reconciliation with %s failed: %s", venue, exc)
            await self._reconcile_until_done(venue)
            return
        self._ready(venue)

    async def _reconcile_until_done(self, venue: str) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self.sync.reconcile(venue)
                log.info("reconciled with %s", venue)
                self._ready(venue)
                return
            except (ExchangeError, OSError, TimeoutError) as exc:
                log.warning("reconciliation with %s failed again: %s", venue, exc)
                delay = min(delay * 2, 60.0)

    @staticmethod
    async def _every(interval_s: float, fn: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        me = asyncio.current_task()
        while True:
            try:
                await fn()
            except Exception:  # a failed round is logged; the next one still runs
                log.exception("periodic %s failed", getattr(fn, "__qualname__", fn))
            if me is not None and me.cancelling():  # a cancellation swallowed below us still stops us
                raise asyncio.CancelledError
            await asyncio.sleep(interval_s)

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.tasks.clear()
        await self.kill.close()
        await self.orders.close()
