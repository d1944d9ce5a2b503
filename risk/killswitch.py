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
        """Cancel and flatten at the same time, then read both back; retry what is left."""
        cancelled, closed = 0, set()
        failures: list[str] = []
        left_orders, left_positions = 0, ()
        ex = self.m.venue(venue)
        for attempt in range(self.attempts):
            failures = []
            jobs = [self._cancel_all(venue)] + ([self._flatten(venue)] if flatten else [])
            for res in await asyncio.gather(*jobs, return_exceptions=True):
                if isinstance(res, int):
                    cancelled += res
                elif isinstance(res, set):
                    closed |= res
                elif isinstance(res, list):
                    failures += res
                elif isinstance(res, BaseException):
                    failures.append(_why(res))
            checks = await asyncio.gather(ex.open_orders(), *([ex.positions()] if flatten else []),
                                          return_exceptions=True)
            if isinstance(checks[0], BaseException):
                failures.append(f"reading orders back: {_why(checks[0])}")
            else:
                left_orders = len(checks[0])
                if left_orders:
                    failures.append(f"{left_orders} orders still open after cancel")
            if flatten:
                if isinstance(checks[1], BaseException):
                    failures.append(f"reading positions back: {_why(checks[1])}")
                else:
                    left_positions = tuple(p.symbol for p in checks[1] if p.size != 0)
                    closed -= set(left_positions)
                    if left_positions:
                        failures.append(f"still open: {', '.join(left_positions)}")
            if not failures:
                break
            await asyncio.sleep(self.backoff * (2 ** attempt))
        return VenueKillReport(venue, cancelled, tuple(sorted(closed)), left_orders, left_positions, tuple(failures))

    async def _cancel_all(self, venue: str) -> int:
        return len(await self.m.cancel_all(venue))

    async def _flatten(self, venue: str) -> set[str] | list[str]:
        positions = [p for p in await self.m.venue(venue).positions() if p.size != 0]
        results = await asyncio.gather(*(self._close(p) for p in positions), return_exceptions=True)
        failed = [f"close {p.symbol}: {_why(r)}" for p, r in zip(positions, results, strict=True)
                  if isinstance(r, BaseException)]
        return failed or {p.symbol for p in positions}

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


def _why(exc: BaseException) -> str:
    return str(getattr(exc, "raw", None) or exc or type(exc).__name__)
