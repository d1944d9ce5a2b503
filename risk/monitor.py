"""Loss limits in motion: read equity from every venue, feed the PnL tracker, act on a breach.

A breach moves the bot to REDUCING and, where `emergency_stop_enabled`, fires the kill switch.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from bot.config_schema import Config
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
        "equity_unknown": "equity unknown for too long"}


class RiskMonitor:
    def __init__(self, manager: OrderManager, pnl: PnLTracker, state: StateBook, kill: KillSwitch, config: Config,
                 *, read_timeout_s: float = 5.0):
        self.m, self.pnl, self.state, self.kill = manager, pnl, state, kill
        self.emergency = config.risk.emergency_stop_enabled
        self.read_timeout_s = read_timeout_s

    async def _equity(self, venue: str) -> Decimal | None:
        try:
            bal = await within(self.m.venue(venue).balances(), self.read_timeout_s)
        except (ExchangeError, OSError, TimeoutError) as exc:
            log.warning("equity of %s unknown: %s", venue, exc)
            return None
        return bal.equity

    async def check_once(self) -> LossStatus:
        with self.m.bus.batch():  # a breach, its state change and the kill report: told as one
            return await self._check()

    async def _check(self) -> LossStatus:
        names = list(self.m.exchanges)
        values = await asyncio.gather(*(self._equity(v) for v in names))
        status = await self.pnl.update(dict(zip(names, values, strict=True)))
        kind = status.breached
        if kind is not None:
            reason = _WHY[kind]
            await self.state.escalate(TradingState.REDUCING, reason, f"limit:{kind}")
            if self.emergency and self.state.state is not TradingState.HALTED:
                await self.kill.fire(reason, f"limit:{kind}", flatten=True)
        return status
