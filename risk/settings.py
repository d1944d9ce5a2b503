"""Risk's own settings: small frozen objects built by the composition root (bot/settings.py) from the
config file, so nothing in risk/ reads the config schema."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from risk.limits import Limits


@dataclass(frozen=True, slots=True)
class OrderSettings:
    default_leverage: int
    default_slippage: Decimal
    order_timeout_s: float
    correlation_interval: str
    correlation_window: int


@dataclass(frozen=True, slots=True)
class LossSettings:
    timezone: str
    day_reset_hour: int
    daily_loss_limit: Decimal
    max_drawdown_percent: Decimal
    warn_fractions: tuple[Decimal, ...]
    equity_stale_s: int


@dataclass(frozen=True, slots=True)
class KillSettings:
    flatten: Literal["always", "ask", "never"]
    retry_backoff_s: float
    flatten_slippage: Decimal
    first_report_s: float


@dataclass(frozen=True, slots=True)
class DeadManSettings:
    enabled: bool
    timeout_s: int
    refresh_s: int


@dataclass(frozen=True, slots=True)
class RiskSettings:
    limits: Limits
    orders: OrderSettings
    loss: LossSettings
    kill: KillSettings
    dead_man_switch: DeadManSettings
    emergency_stop: bool


@dataclass(frozen=True, slots=True)
class ArbitrageSettings:
    """Cross-venue spreads and pairs (the `arbitrage` config section; off by default)."""

    enabled: bool = False
    min_net_bps: Decimal = Decimal(10)
    min_duration_ms: int = 500
    cooldown_s: int = 300
    max_notional_usd: Decimal = Decimal(1000)
    slippage: Decimal = Decimal("0.001")
    auto: bool = False
    max_pairs_per_hour: int = 4
    max_data_age_ms: int = 2000
    poll_ms: int = 200


__all__ = ["ArbitrageSettings", "DeadManSettings", "KillSettings", "LossSettings", "OrderSettings", "RiskSettings"]
