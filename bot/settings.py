"""The composition root's mapping from the config file to each component's own settings object, so
nothing below bot/ reads the config schema."""

from __future__ import annotations

from bot.config_schema import Config
from desk.settings import DeskSettings
from risk.limits import Limits
from risk.settings import ArbitrageSettings, DeadManSettings, KillSettings, LossSettings, OrderSettings, RiskSettings


def limits_of(c: Config) -> Limits:
    t, r = c.trading, c.risk
    return Limits(
        min_order_usd=t.min_order_size, max_order_usd=t.max_order_size, max_leverage=t.max_leverage,
        max_position_usd=t.position_limits.max_position_size_usd, position_fraction=r.position_size_limit,
        max_positions_per_symbol=t.position_limits.max_positions_per_symbol,
        max_total_positions=t.position_limits.max_total_positions, correlation_limit=r.correlation_limit,
        price_band_percent=r.price_band_percent, max_data_age_ms=int(r.max_data_age_seconds * 1000),
        max_orders_per_minute=r.max_orders_per_minute,
    )


def risk_settings(c: Config) -> RiskSettings:
    t, r, k = c.trading, c.risk, c.kill
    return RiskSettings(
        limits=limits_of(c),
        orders=OrderSettings(default_leverage=t.default_leverage, default_slippage=t.default_slippage,
                             order_timeout_s=float(t.order_timeout), correlation_interval=r.correlation_interval,
                             correlation_window=r.correlation_window),
        loss=LossSettings(timezone=c.timezone, day_reset_hour=r.day_reset_hour, daily_loss_limit=r.daily_loss_limit,
                          max_drawdown_percent=r.max_drawdown_percent, warn_fractions=tuple(r.warn_fractions),
                          equity_stale_s=r.equity_stale_seconds),
        kill=KillSettings(flatten=k.flatten, retry_backoff_s=float(k.retry_backoff_seconds),
                          flatten_slippage=k.flatten_slippage, first_report_s=float(k.first_report_seconds)),
        dead_man_switch=DeadManSettings(enabled=r.dead_man_switch.enabled, timeout_s=r.dead_man_switch.timeout_seconds,
                                        refresh_s=r.dead_man_switch.refresh_seconds),
        emergency_stop=r.emergency_stop_enabled,
    )


def desk_settings(c: Config) -> DeskSettings:
    return DeskSettings(timezone=c.timezone, day_reset_hour=c.risk.day_reset_hour,
                        default_exchange=c.trading.default_exchange, default_slippage=c.trading.default_slippage,
                        max_leverage=c.trading.max_leverage)


def arbitrage_settings(c: Config) -> ArbitrageSettings:
    a = c.arbitrage
    return ArbitrageSettings(enabled=a.enabled, min_net_bps=a.min_net_bps, min_duration_ms=a.min_duration_ms,
                             cooldown_s=a.cooldown_s, max_notional_usd=a.max_notional_usd, slippage=a.slippage,
                             auto=a.auto, max_pairs_per_hour=a.max_pairs_per_hour,
                             max_data_age_ms=a.max_data_age_ms, poll_ms=a.poll_ms)


__all__ = ["arbitrage_settings", "desk_settings", "limits_of", "risk_settings"]
