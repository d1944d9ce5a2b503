"""Venue dead man's switches (Hyperliquid scheduleCancel, Aster countdownCancelAll), kept armed while
orders rest. If the bot dies, the venue cancels its orders. A venue's refusal is reported, not fatal."""

from __future__ import annotations

import logging
from collections.abc import Callable

from exchanges.errors import ExchangeError
from risk.events import Bus, SafetyNetRefused
from risk.orders import OrderManager

log = logging.getLogger(__name__)


class SafetyNet:
    def __init__(self, manager: OrderManager, bus: Bus, clock: Callable[[], int], timeout_s: int):
        self.m, self.bus, self.clock, self.timeout_s = manager, bus, clock, timeout_s
        self.armed: dict[str, bool] = {}
        self.refused: dict[str, str] = {}

    async def refresh_once(self) -> None:
        for venue, ex in self.m.exchanges.items():
            try:
                resting = bool(await ex.open_orders())
                if resting:
                    await ex.arm_dead_man_switch(self.timeout_s)
                    self.armed[venue] = True
                elif self.armed.get(venue):
                    await ex.disarm_dead_man_switch()
                    self.armed[venue] = False
                self.refused.pop(venue, None)
            except ExchangeError as exc:
                if self.refused.get(venue) != exc.raw:  # say it once, not every refresh
                    self.refused[venue] = exc.raw
                    log.warning("dead man's switch on %s refused: %s", venue, exc.raw)
                    self.bus.publish(SafetyNetRefused(venue, exc.raw, self.clock()))
