"""Builds the real risk layer on real paper exchanges for tests (nothing of the manager is mocked)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import parse_config
from bot.config_schema import Config
from bot.settings import desk_settings, risk_settings
from desk.settings import DeskSettings
from exchanges.base import Exchange
from risk.service import Risk
from sim.engine import Engine
from sim.markets import default_markets, starting_prices
from sim.paper import PaperExchange
from store.db import Store
from tests.conftest import FakeClock


def make_config(**sections: Any) -> Config:
    raw: dict[str, Any] = {
        "exchanges": {"paper": {"enabled": True}},
        "trading": {"default_leverage": 10, "max_leverage": 20, "min_order_size": 10, "max_order_size": 1_000_000,
                    "position_limits": {"max_positions_per_symbol": 2, "max_total_positions": 10,
                                        "max_position_size_usd": 1_000_000}},
        "risk": {"daily_loss_limit": 500, "max_drawdown_percent": 50, "position_size_limit": 1,
                 "correlation_limit": 1, "max_orders_per_minute": 100_000},
        "kill": {"flatten": "always", "retry_attempts": 3, "retry_backoff_seconds": "0.01",
                 "first_report_seconds": "0.5"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return parse_config(raw, env={})[0]


def paper(clock: FakeClock, name: str = "paper", balance: int = 10_000) -> PaperExchange:
    engine = Engine(default_markets(name), starting_prices(), clock=clock)
    return PaperExchange(starting_balance=Decimal(balance), clock=clock, tick_interval_s=None, name=name,
                         engine=engine)


@dataclass
class Rig:
    risk: Risk
    store: Store
    venues: dict[str, Exchange]
    clock: FakeClock
    config: Config
    path: Path

    @property
    def orders(self):
        return self.risk.orders

    @property
    def settings(self) -> DeskSettings:  # what the composition root hands the desk and the services
        return desk_settings(self.config)

    async def drain(self) -> None:
        """Apply every queued stream event (what the event task does in the running bot)."""
        for name, ex in self.venues.items():
            queue = getattr(ex, "_queue", None)
            while queue is not None and not queue.empty():
                await self.risk.sync.handle(queue.get_nowait())
            del name

    async def close(self) -> None:
        await self.risk.stop()
        for ex in self.venues.values():
            await ex.close()
        await self.store.close()


async def rig(tmp_path: Path, clock: FakeClock, venues: dict[str, Exchange] | None = None,
              config: Config | None = None, *, connect: bool = True, start: bool = True) -> Rig:
    venues = venues or {"paper": paper(clock)}
    config = config or make_config()
    store = Store(str(tmp_path / "bot.db"))
    await store.open()
    if connect:
        for ex in venues.values():
            await ex.connect()
    risk = Risk.build(venues, store, risk_settings(config), clock, lookup_grace_s=0, lookup_attempts=3)
    if start:
        await risk.start(loops=False)
    return Rig(risk, store, venues, clock, config, tmp_path / "bot.db")
