"""Kill switch: HALTED first, then cancel everything and (per config) flatten, on every venue at once.

Every result is read back from the venue over REST (`fresh=True`): a pushed state can be stale
exactly when it matters (a silent feed). The first attempt acts on what the adapter holds only where
its feed is proven live (a recent message on that subscription, or a probe that agreed); every retry
asks the venue too. Each venue has one worker that repeats
cancel → flatten → read back until the venue itself confirms it (no order left, flat when
flattening), with a per-attempt time limit and a capped backoff, for as long as trading is HALTED.
The trader gets a first report within `first_report_s` of the press whatever the venues do (what is
done, what is still open, what is being retried), then one final report when every venue confirmed.
A close whose answer is lost is not looked up here (that takes a lookup cycle); its outcome is
resolved in the background, and the next attempt reads the position again: the closes are
reduce-only, so a second one can never open a position. Firing it twice is harmless. Only an
explicit resume() returns to ACTIVE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from exchanges.models import Position
from risk.events import Bus, KillReport, TradingState, VenueKillReport
from risk.order_changes import Cause
from risk.orders import OrderManager
from risk.settings import KillSettings
from risk.state import StateBook

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF_S = 5.0
KILL_KEY = "kill"  # the last kill, until confirmed: {reason, by, flatten, confirmed}


@dataclass
class _Work:
    """One venue's worker and what it has found so far."""

    flatten: bool
    report: VenueKillReport
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class KillSwitch:
    def __init__(self, manager: OrderManager, state: StateBook, bus: Bus, settings: KillSettings,
                 clock: Callable[[], int], *, inflight_wait_s: float = 2.0, attempt_timeout_s: float = 10.0):
        self.m, self.state, self.bus, self.clock = manager, state, bus, clock
        self.mode = settings.flatten
        self.backoff = settings.retry_backoff_s
        self.slippage = settings.flatten_slippage
        self.first_report_s = settings.first_report_s
        self.inflight_wait_s = inflight_wait_s
        self.attempt_timeout_s = attempt_timeout_s
        self.max_backoff_s = MAX_BACKOFF_S
        self._work: dict[str, _Work] = {}
        self._finals: set[asyncio.Task[None]] = set()
        self._kills = 0
        self._lock = asyncio.Lock()

    async def fire(self, reason: str, by: str, *, flatten: bool | None = None,
                   reply_to: str | None = None) -> KillReport:
        """`flatten`: None = per config (`always` flattens; `ask` and `never` do not). Returns the first
        report (final when every venue confirmed within first_report_s); the final one is published."""
        t0 = time.monotonic()
        # no await before this line: from here on every new order is refused
        old = self.state.apply_now(TradingState.HALTED, reason)
        with self.bus.batch():  # the state change and the first report are told as one message
            return await self._fire(reason, by, flatten, reply_to, old, t0)

    async def _fire(self, reason: str, by: str, flatten: bool | None, reply_to: str | None, old: TradingState,
                    t0: float) -> KillReport:
        do_flatten = (self.mode == "always") if flatten is None else flatten
        mode = "now" if flatten else self.mode
        async with self._lock:
            self._kills = kill_id = max(self._kills + 1, self.clock())  # unique across restarts too
            await self.state.persist(old, by)
            await self._remember(reason, by, do_flatten, confirmed=False)
            await self.m.wait_inflight(self.inflight_wait_s)
            work = [self._start(v, do_flatten) for v in self.m.exchanges]
        left = max(0.0, self.first_report_s - (time.monotonic() - t0))
        waiters = [asyncio.ensure_future(w.done.wait()) for w in work]
        try:
            await asyncio.wait(waiters, timeout=left)
        finally:
            for waiter in waiters:
                waiter.cancel()
        first = self._report(reason, by, mode, work, kill_id, reply_to)
        log.warning("kill switch fired by %s (%s): %s", by, reason, first)
        if first.ok:
            await self._remember(reason, by, do_flatten, confirmed=True)
        self.bus.publish(first)
        if not first.final:
            task = asyncio.get_running_loop().create_task(self._final(reason, by, mode, work, kill_id, reply_to),
                                                          name=f"kill-{kill_id}-final")
            self._finals.add(task)
            task.add_done_callback(self._finals.discard)
        return first

    async def flatten_all(self, by: str, *, reply_to: str | None = None) -> KillReport:
        """The "Flatten all now" answer to `ask`: close every position, every venue."""
        return await self.fire(self.state.reason or "flatten requested", by, flatten=True, reply_to=reply_to)

    async def resume(self, by: str, *, to: TradingState = TradingState.ACTIVE, reason: str = "resumed") -> bool:
        """Lift the kill. `to` REDUCING: a loss limit still breaches (RiskMonitor.resume decides)."""
        await self._stop_workers()
        await self.state.store.set_state(KILL_KEY, "", self.clock())
        return await self.state.set(to, reason, by)

    async def _remember(self, reason: str, by: str, flatten: bool, *, confirmed: bool) -> None:
        """A kill survives a restart until the venues confirmed it: see finish_after_restart()."""
        await self.state.store.set_state(KILL_KEY, json.dumps({"reason": reason, "by": by, "flatten": flatten,
                                                                "confirmed": confirmed}), self.clock())

    async def finish_after_restart(self) -> KillReport | None:
        """The bot died during a kill (before the venues confirmed it): fire it again, as it was asked
        (flatten or not), and report. A kill already confirmed is not repeated."""
        raw = await self.state.store.get_state(KILL_KEY)
        if self.state.state is not TradingState.HALTED or not raw:
            return None
        kill = json.loads(raw)
        if kill.get("confirmed"):
            return None
        return await self.fire(f"{kill['reason']}, resumed after a restart", str(kill.get("by", "restart")),
                               flatten=bool(kill.get("flatten")))

    def _start(self, venue: str, flatten: bool) -> _Work:
        """The venue's worker: a new one, or the running one (told to flatten too, if asked now)."""
        w = self._work.get(venue)
        if w is not None and w.task is not None and not w.task.done():
            w.flatten = w.flatten or flatten
            return w
        w = _Work(flatten, VenueKillReport(venue))
        w.task = asyncio.get_running_loop().create_task(self._until_confirmed(venue, w), name=f"kill-{venue}")
        self._work[venue] = w
        return w

    def _report(self, reason: str, by: str, mode: str, work: list[_Work], kill_id: int,
                reply_to: str | None, *, follow_up: bool = False) -> KillReport:
        pending = tuple(w.report.venue for w in work if not w.done.is_set())
        return KillReport(reason, by, mode, tuple(w.report for w in work), self.clock(), pending, kill_id,
                          final=not pending, reply_to=reply_to, follow_up=follow_up)

    async def _final(self, reason: str, by: str, mode: str, work: list[_Work], kill_id: int,
                     reply_to: str | None) -> None:
        await asyncio.gather(*(w.done.wait() for w in work))
        if self.state.state is TradingState.HALTED:
            final = self._report(reason, by, mode, work, kill_id, reply_to, follow_up=True)
            if final.ok:
                await self._remember(reason, by, any(w.flatten for w in work), confirmed=True)
            self.bus.publish(final)

    async def _until_confirmed(self, venue: str, w: _Work) -> None:
        delay = self.backoff
        try:
            while self.state.state is TradingState.HALTED:
                w.report = await self._attempt(venue, w)
                if w.report.verified:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
        finally:
            w.done.set()

    async def _attempt(self, venue: str, w: _Work) -> VenueKillReport:
        """Cancel and flatten at the same time, then read both back from the venue."""
        r, flatten = w.report, w.flatten
        ex = self.m.venue(venue)
        failures: list[str] = []
        cancelled, closed = r.cancelled, set(r.closed)
        # the first attempt may act on pushed state where the venue's feed is proven live (the adapter
        # decides); every retry, and every check, asks the venue itself
        fresh = r.attempts > 0
        jobs = [self._cancel_all(venue, fresh)] + ([self._flatten(venue, fresh)] if flatten else [])
        for res in await asyncio.gather(*(self._timed(j) for j in jobs), return_exceptions=True):
            if isinstance(res, int):
                cancelled += res
            elif isinstance(res, set):
                closed |= res
            elif isinstance(res, list):
                failures += res
            elif isinstance(res, BaseException):
                failures.append(_why(res))
        orders, positions = await asyncio.gather(self._timed(ex.open_orders(fresh=True)),
                                                 self._timed(ex.positions(fresh=True)), return_exceptions=True)
        verified = True
        left_orders, left_positions, kept = r.remaining_orders, r.remaining_positions, r.kept_positions
        if isinstance(orders, BaseException):
            verified = False
            failures.append(f"reading orders back: {_why(orders)}")
        else:
            left_orders = len(orders)
        if isinstance(positions, BaseException):
            verified = False
            failures.append(f"reading positions back: {_why(positions)}")
        else:
            held = tuple(sorted(p.symbol for p in positions if p.size != 0))
            if flatten:
                left_positions, kept = held, ()
                closed -= set(held)
            else:
                left_positions, kept = (), held
        attempts = r.attempts + 1
        verified = verified and not failures and not left_orders and not left_positions
        if not verified:
            log.warning("kill switch on %s, attempt %d: %d order(s), positions %s still open; %s", venue, attempts,
                        left_orders, left_positions, "; ".join(failures) or "no error")
        return VenueKillReport(venue, cancelled, tuple(sorted(closed)), left_orders, left_positions, tuple(failures),
                               verified, kept, attempts)

    async def _timed(self, aw: Awaitable[T]) -> T:
        async with asyncio.timeout(self.attempt_timeout_s):
            return await aw

    async def _cancel_all(self, venue: str, fresh: bool) -> int:
        return len(await self.m.cancel_all(venue, fresh=fresh, cause=Cause.KILL))

    async def _flatten(self, venue: str, fresh: bool) -> set[str] | list[str]:
        positions = [p for p in await self.m.venue(venue).positions(fresh=fresh) if p.size != 0]
        results = await asyncio.gather(*(self._close(p) for p in positions), return_exceptions=True)
        failed = [f"close {p.symbol}: {_why(r)}" for p, r in zip(positions, results, strict=True)
                  if isinstance(r, BaseException)]
        return failed or {p.symbol for p in positions}

    async def _close(self, p: Position) -> None:
        await self.m.send(self.m.close_request(p, Decimal(1), self.slippage), reducing=True, origin="kill switch",
                          look_up=False)

    async def _stop_workers(self) -> None:
        tasks = [w.task for w in self._work.values() if w.task is not None] + list(self._finals)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._work.clear()

    async def close(self) -> None:
        await self._stop_workers()


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time; retrying"
    return str(getattr(exc, "raw", None) or exc or type(exc).__name__)


__all__ = ["KillSwitch"]
