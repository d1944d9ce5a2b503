"""The trading state: global (persisted, survives restarts) and per venue (until reconciled)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from risk.events import Bus, StateChanged, TradingState
from store.db import Store

log = logging.getLogger(__name__)
STATE_KEY = "trading_state"


class StateBook:
    def __init__(self, store: Store, bus: Bus, clock: Callable[[], int]):
        self.store = store
        self.bus = bus
        self.clock = clock
        self.state = TradingState.ACTIVE
        self.reason = ""
        self.venue_blocks: dict[str, str] = {}  # venue -> why it is REDUCING (e.g. not reconciled)

    async def load(self) -> None:
        raw = await self.store.get_state(STATE_KEY)
        if raw:
            value, _, reason = raw.partition("|")
            self.state, self.reason = TradingState(value), reason

    def apply_now(self, new: TradingState, reason: str) -> TradingState:
        """Change the state in memory, synchronously: every check after this line sees it.
        Returns the previous state; persist() must follow."""
        old = self.state
        self.state, self.reason = new, reason
        return old

    async def persist(self, old: TradingState, by: str) -> None:
        await self.store.set_state(STATE_KEY, f"{self.state.value}|{self.reason}", self.clock())
        if old is not self.state:
            log.warning("trading state %s -> %s (%s, by %s)", old, self.state, self.reason, by)
            self.bus.publish(StateChanged(old, self.state, self.reason, by, self.clock()))

    async def set(self, new: TradingState, reason: str, by: str) -> bool:
        """Change and persist the state. Returns False when nothing changed."""
        if self.state is new:
            return False
        await self.persist(self.apply_now(new, reason), by)
        return True

    async def escalate(self, new: TradingState, reason: str, by: str) -> bool:
        """Move to a stricter state only (a breach never relaxes a HALT)."""
        if new.severity <= self.state.severity:
            return False
        return await self.set(new, reason, by)

    def block_venue(self, venue: str, reason: str) -> None:
        self.venue_blocks[venue] = reason

    def unblock_venue(self, venue: str) -> None:
        self.venue_blocks.pop(venue, None)

    def effective(self, venue: str) -> TradingState:
        if self.state is TradingState.ACTIVE and venue in self.venue_blocks:
            return TradingState.REDUCING
        return self.state
