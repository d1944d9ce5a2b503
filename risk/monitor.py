"""Loss limits in motion: read equity and cash flows from every venue, feed the PnL tracker, act on a breach.

A breach moves the bot to REDUCING and, where `emergency_stop_enabled`, fires the kill switch.

How often: a full check every `interval_s` (default 5 s) reads each venue's balances and then its
ledger of deposits, withdrawals and transfers. Between them, a quick check every `quick_s` (1 s)
uses only what the venues have pushed (no request; skipped where a venue has nothing trusted in
memory), so a crossing is told about a second after the venue reports it rather than at the next
full check. Nothing is told, and no baseline is set, from a reading the ledger might contradict:
a crossing seen by a quick check, or by a full check whose ledger read brought something new, is
confirmed first with fresh balances and another ledger read (see risk/pnl.py).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from exchanges.aio import within
from exchanges.errors import ExchangeError
from risk.events import TradingState
from risk.killswitch import KillSwitch
from risk.limits import LossStatus
from risk.orders import OrderManager
from risk.pnl import PnLTracker
from risk.state import StateBook

log = logging.getLogger(__name__)
_WHY = {"daily_loss": "daily loss limit breached", "drawdown": "max drawdown breached",
        "equity_unknown": "equity or cash flows unknown for too long"}
ROUNDS = 3  # readings per full check at most, until the ledger brings nothing new
_READ_ERRORS = (ExchangeError, OSError, TimeoutError)


class RiskMonitor:
    def __init__(self, manager: OrderManager, pnl: PnLTracker, state: StateBook, kill: KillSwitch, emergency_stop: bool,
                 *, read_timeout_s: float = 5.0):
        self.m, self.pnl, self.state, self.kill = manager, pnl, state, kill
        self.emergency = emergency_stop
        self.read_timeout_s = read_timeout_s
        self._lock = asyncio.Lock()  # one check at a time: a quick check and a full one never interleave

    async def _read(self, venue: str, fresh: bool) -> Decimal | None:
        """The venue's equity, then its ledger since the last entry seen (stored). None when either
        cannot be read: the loss status fails closed the same way for both."""
        ex = self.m.venue(venue)
        since = self.pnl.cursor(venue)  # taken first: a move during the balance read is read after it
        try:
            bal = await within(ex.balances(fresh=fresh), self.read_timeout_s)
        except _READ_ERRORS as exc:
            log.warning("equity of %s unknown: %s", venue, exc)
            return None
        # after the balances: every move they show is in the ledger by now
        try:
            flows = await within(ex.cash_flows(since), self.read_timeout_s)
        except _READ_ERRORS as exc:
            log.warning("cash flows of %s unknown: %s", venue, exc)
            return None
        await self.pnl.record_flows(venue, flows)
        return bal.equity

    async def check_once(self) -> LossStatus:
        """A full check (balances and ledgers)."""
        async with self._lock:
            with self.m.bus.batch():  # a breach, its state change and the kill report: told as one
                return await self._act(await self._full())

    async def _full(self) -> LossStatus:
        names = list(self.m.exchanges)
        fresh, consistent = False, False
        equities: dict[str, Decimal | None] = {}
        for _ in range(ROUNDS):
            values = await asyncio.gather(*(self._read(v, fresh) for v in names))
            equities = dict(zip(names, values, strict=True))
            if await self.pnl.apply_flows():
                fresh = True  # some of them may be newer than the balances just read: read again
                continue
            if fresh or not self.pnl.would_tell(equities):
                consistent = True
                break
            fresh = True  # about to tell: on balances asked of the venue now, not pushed ones
        if not consistent:
            log.info("cash flows kept arriving while reading; the loss check is told next round")
        return await self.pnl.update(equities, consistent=consistent)

    async def quick_check(self) -> LossStatus | None:
        """From pushed state only. None when some venue has nothing trusted in memory (the full check
        covers it) or no full check has run yet."""
        venues = self.m.exchanges
        if not self.pnl.started or not all(ex.reads_in_memory() for ex in venues.values()):
            return None
        async with self._lock:
            equities: dict[str, Decimal | None] = {}
            for name, ex in venues.items():  # in memory: one after another costs nothing
                try:
                    equities[name] = (await within(ex.balances(), self.read_timeout_s)).equity
                except _READ_ERRORS:
                    return None
            if not self.pnl.would_tell(equities):
                return await self.pnl.update(equities, consistent=False)
            with self.m.bus.batch():
                return await self._act(await self._full())

    async def _act(self, status: LossStatus) -> LossStatus:
        kind = status.breached
        if kind is not None:
            reason = _WHY[kind]
            await self.state.escalate(TradingState.REDUCING, reason, f"limit:{kind}")
            if self.emergency and self.state.state is not TradingState.HALTED:
                await self.kill.fire(reason, f"limit:{kind}", flatten=True)
        return status

    async def run(self, interval_s: float = 5.0, quick_s: float = 1.0) -> None:
        """Full checks every interval_s, quick ones every quick_s between them, until cancelled."""
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        last_full: float | None = None
        while True:
            try:
                if last_full is None or loop.time() - last_full >= interval_s - quick_s / 2:
                    last_full = loop.time()
                    await self.check_once()
                else:
                    await self.quick_check()
            except Exception:  # a failed round is logged; the next one still runs
                log.exception("loss check failed")
            if me is not None and me.cancelling():  # a cancellation swallowed below us still stops us
                raise asyncio.CancelledError
            await asyncio.sleep(min(quick_s, interval_s))

    async def resume(self, by: str) -> tuple[bool, LossStatus]:
        """The trader's resume: back to ACTIVE unless a loss limit still breaches, read now (cash flows
        included). Then trading stays REDUCING (a HALT is lifted to REDUCING) and the status says why.
        Returns (the state changed, the loss status)."""
        status = await self.check_once()
        kind = status.breached
        if kind is None:
            return await self.kill.resume(by), status
        if self.state.state is TradingState.HALTED:
            return await self.kill.resume(by, to=TradingState.REDUCING, reason=_WHY[kind]), status
        return False, status
