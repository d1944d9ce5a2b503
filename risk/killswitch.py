"""Kill switch: HALTED first, then cancel everything and (per config) flatten, on every venue at once.

It works while a venue is down: the others complete, the dead one is retried in the background
and reported. Firing it twice is harmless. Only an explicit resume() returns to ACTIVE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from decimal import Decimal

from bot.config_schema import Config
from exchanges.errors import ExchangeError
from exchanges.models import Position
from risk.events import Bus, KillReport, TradingState, VenueKillReport
from risk.orders import OrderManager
from risk.state import StateBook

log = logging.getLogger(__name__)


class KillSwitch:
    def __init__(self, manager: OrderManager, state: StateBook, bus: Bus, config: Config,
                 clock: Callable[[], int], *, inflight_wait_s: float = 2.0, background_retry_s: float = 5.0):
        self.m, self.state, self.bus, self.clock = manager, state, bus, clock
        self.mode = config.kill.flatten
        self.attempts = config.kill.retry_attempts
        self.backoff = float(config.kill.retry_backoff_seconds)
        self.slippage = config.kill.flatten_slippage
        self.inflight_wait_s = inflight_wait_s
        self.background_retry_s = background_retry_s
        self._retry_tasks: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()

    async def fire(self, reason: str, by: str, *, flatten: bool | None = None) -> KillReport:
        """`flatten`: None = per config (`always` flattens; `ask` and `never` do not)."""
        # no await before this line: from here on every new order is refused
        old = self.state.apply_now(TradingState.HALTED, reason)
        await self.state.persist(old, by)
        do_flatten = (self.mode == "always") if flatten is None else flatten
        async with self._lock:
            await self.m.wait_inflight(self.inflight_wait_s)
            reports = await asyncio.gather(*(self._venue(v, do_flatten) for v in self.m.exchanges))
        failed = tuple(r.venue for r in reports if not r.ok)
        for venue in failed:
            self._retry_later(venue, do_flatten, reason, by)
        report = KillReport(reason, by, "now" if flatten else self.mode, tuple(reports), self.clock(), failed)
        log.warning("kill switch fired by %s (%s): %s", by, reason, report)
        self.bus.publish(report)
        return report

    async def flatten_all(self, by: str) -> KillReport:
        """The "Flatten all now" answer to `ask`: close every position, every venue."""
        return await self.fire(self.state.reason or "flatten requested", by, flatten=True)

    async def resume(self, by: str) -> bool:
        for task in self._retry_tasks.values():
            task.cancel()
        self._retry_tasks.clear()
        return await self.state.set(TradingState.ACTIVE, "resumed", by)

    async def _venue(self, venue: str, flatten: bool) -> VenueKillReport:
        cancelled, closed, failures = 0, [], []
        remaining_orders, remaining_positions = 0, ()
        ex = self.m.venue(venue)
        for attempt in range(self.attempts):
            failures = []
            try:
                cancelled += len(await self.m.cancel_all(venue))
                remaining_orders = len(await ex.open_orders())
                if remaining_orders:
                    failures.append(f"{remaining_orders} orders still open after cancel")
            except ExchangeError as exc:
                failures.append(f"cancel: {exc.raw}")
            except (OSError, TimeoutError) as exc:
                failures.append(f"cancel: {exc!r}")
            if flatten and not failures:
                try:
                    positions = [p for p in await ex.positions() if p.size != 0]
                    results = await asyncio.gather(*(self._close(p) for p in positions), return_exceptions=True)
                    for p, res in zip(positions, results, strict=True):
                        if isinstance(res, BaseException):
                            failures.append(f"close {p.symbol}: {getattr(res, 'raw', res)!s}")
                    left = [p for p in await ex.positions() if p.size != 0]
                    closed += [p.symbol for p in positions if p.symbol not in {q.symbol for q in left}]
                    remaining_positions = tuple(p.symbol for p in left)
                    if left:
                        failures.append(f"still open: {', '.join(remaining_positions)}")
                except ExchangeError as exc:
                    failures.append(f"flatten: {exc.raw}")
                except (OSError, TimeoutError) as exc:
                    failures.append(f"flatten: {exc!r}")
            if not failures:
                break
            await asyncio.sleep(self.backoff * (2 ** attempt))
        return VenueKillReport(venue, cancelled, tuple(closed), remaining_orders, remaining_positions,
                               tuple(failures))

    async def _close(self, p: Position) -> None:
        await self.m.send(self.m.close_request(p, Decimal(1), self.slippage), reducing=True, origin="kill switch")

    def _retry_later(self, venue: str, flatten: bool, reason: str, by: str) -> None:
        if venue in self._retry_tasks and not self._retry_tasks[venue].done():
            return

        async def loop() -> None:
            while self.state.state is TradingState.HALTED:
                await asyncio.sleep(self.background_retry_s)
                report = await self._venue(venue, flatten)
                if report.ok:
                    self.bus.publish(KillReport(reason, by, "retry", (report,), self.clock()))
                    return

        self._retry_tasks[venue] = asyncio.create_task(loop(), name=f"kill-retry-{venue}")

    async def close(self) -> None:
        for task in self._retry_tasks.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
