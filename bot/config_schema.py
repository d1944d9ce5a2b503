"""The config file's schema. Superset of the original exchange-services config: that file loads unchanged.

Every model forbids unknown keys (a typo must not silently disable a limit). Secrets are SecretStr,
so they never print. Defaults are documented in README.md ("Configuration reference").
"""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator, model_validator

from venues import NAMES, VENUES
from venues.sections import AsterConfig as AsterConfig  # the venues' sections, re-exported with the schema
from venues.sections import AsterRateLimit as AsterRateLimit
from venues.sections import HyperliquidConfig as HyperliquidConfig
from venues.sections import HyperliquidRateLimit as HyperliquidRateLimit
from venues.sections import NonNegDecimal, PosDecimal, PosInt
from venues.sections import PaperConfig as PaperConfig
from venues.sections import StreamConfig as StreamConfig

SECRET_FIELDS = frozenset({"bot_token", "secret_key", "api_key", "api_secret", "signer_key", "password"})
AlertMode = Literal["on", "silent", "off"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramConfig(Strict):
    bot_token: SecretStr = SecretStr("")
    chat_id: int | str | None = None
    allowed_user_ids: list[int] = []
    base_url: str = "https://api.telegram.org/bot"
    confirm_ttl_seconds: Annotated[int, Field(ge=10, le=3600)] = 60

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token.get_secret_value())

    @field_validator("chat_id", mode="before")
    @classmethod
    def _numeric_chat_id(cls, v: object) -> object:
        # the original config wrote chat ids as strings; "@channel" names stay strings
        if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
            return int(v)
        return v

    @model_validator(mode="after")
    def _who_may_use_it(self) -> TelegramConfig:
        if self.enabled and not self.allowed_user_ids and not isinstance(self.chat_id, int):
            raise ValueError(
                "allowed_user_ids is required when bot_token is set (or a numeric chat_id of a private chat):"
                " list the Telegram user ids allowed to trade"
            )
        return self

    @property
    def authorized_user_ids(self) -> frozenset[int]:
        ids = set(self.allowed_user_ids)
        if not ids and isinstance(self.chat_id, int) and self.chat_id > 0:
            ids.add(self.chat_id)  # a private chat's id is the user's id
        return frozenset(ids)


class WebConfig(Strict):
    """The local chat page (bot/web/): the bot's chat in a browser when there is no Telegram bot token."""

    enabled: Literal["auto"] | bool = "auto"  # auto: served when telegram.bot_token is empty
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65_535)] = 8080  # 0: any free port
    password: SecretStr = SecretStr("")

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if not v or any(c in v for c in "/ ?#@"):
            raise ValueError("must be an address or host name to listen on, such as 127.0.0.1")
        return v

    @model_validator(mode="after")
    def _password_off_loopback(self) -> WebConfig:
        from bot.web.guard import is_loopback

        if not is_loopback(self.host) and not self.password.get_secret_value():
            raise ValueError(f"password is required when host is {self.host!r}: the page can place orders and"
                             " would be reachable from other machines. Set it (for example to"
                             " \"${TRADEBOT_WEB_PASSWORD}\"), or keep host 127.0.0.1")
        return self


class _Exchanges(Strict):
    @property
    def enabled(self) -> list[str]:
        return [n for n in NAMES if getattr(self, n).enabled]

    def section(self, name: str) -> Any:
        return getattr(self, name)

    @model_validator(mode="after")
    def _at_least_one(self) -> _Exchanges:
        if not self.enabled:
            raise ValueError(f"no exchange is enabled: set enabled true on {', '.join(NAMES[:-1])} or {NAMES[-1]}")
        return self


# `exchanges`: one section per registered venue, so a venue added to the registry is configurable at once
if TYPE_CHECKING:
    class ExchangesConfig(_Exchanges):
        def __getattr__(self, name: str) -> Any: ...  # the sections exist at run time, made from the registry
else:
    ExchangesConfig = create_model(
        "ExchangesConfig", __base__=_Exchanges, **{v.name: (v.section, v.section()) for v in VENUES})
if TYPE_CHECKING:
    VenueName = str
else:
    VenueName = Literal[NAMES]


class PositionLimits(Strict):
    max_positions_per_symbol: PosInt = 1
    max_total_positions: PosInt = 5
    max_position_size_usd: PosDecimal = Decimal(10_000)


class TradingConfig(Strict):
    default_exchange: VenueName | None = None
    default_leverage: PosInt = 1
    max_leverage: PosInt = 10
    min_order_size: NonNegDecimal = Decimal(10)
    max_order_size: PosDecimal = Decimal(10_000)
    default_slippage: Annotated[Decimal, Field(gt=0, le=Decimal("0.5"))] = Decimal("0.005")
    order_timeout: PosDecimal = Decimal(30)
    position_limits: PositionLimits = PositionLimits()

    @model_validator(mode="after")
    def _consistent(self) -> TradingConfig:
        if self.default_leverage > self.max_leverage:
            raise ValueError(f"default_leverage {self.default_leverage} exceeds max_leverage {self.max_leverage}")
        if self.min_order_size > self.max_order_size:
            raise ValueError(f"min_order_size {self.min_order_size} exceeds max_order_size {self.max_order_size}")
        return self


class DeadManSwitchConfig(Strict):
    enabled: bool = False
    timeout_seconds: Annotated[int, Field(ge=5, le=86_400)] = 60
    refresh_seconds: Annotated[int, Field(ge=1)] = 20

    @model_validator(mode="after")
    def _refresh_before_timeout(self) -> DeadManSwitchConfig:
        if self.refresh_seconds >= self.timeout_seconds:
            raise ValueError(
                "refresh_seconds must be shorter than timeout_seconds, or the switch fires between refreshes"
            )
        return self


class RiskConfig(Strict):
    daily_loss_limit: PosDecimal = Decimal(500)
    max_drawdown_percent: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(10)
    emergency_stop_enabled: bool = False
    position_size_limit: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.25")
    correlation_limit: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.8")
    correlation_window: Annotated[int, Field(ge=3, le=500)] = 48
    correlation_interval: Literal["1m", "5m", "15m", "1h", "4h", "1d"] = "1h"
    price_band_percent: PosDecimal = Decimal(5)
    max_data_age_seconds: PosDecimal = Decimal(10)
    max_orders_per_minute: PosInt = 20
    equity_stale_seconds: PosInt = 120
    warn_fractions: list[Annotated[Decimal, Field(gt=0, lt=1)]] = [Decimal("0.5"), Decimal("0.8")]
    day_reset_hour: Annotated[int, Field(ge=0, le=23)] = 0
    dead_man_switch: DeadManSwitchConfig = DeadManSwitchConfig()


class StorageConfig(Strict):
    path: str = "tradebot.db"


class AlertsConfig(Strict):
    fills: AlertMode = "on"
    orders: AlertMode = "on"
    risk: AlertMode = "on"
    streams: AlertMode = "on"
    reports: AlertMode = "on"
    daily_report_cron: str = "0 20 * * *"
    heartbeat_cron: str | None = None
    coalesce_ms: Annotated[int, Field(ge=0, le=10_000)] = 300
    stream_grace_seconds: Annotated[int, Field(ge=0)] = 10
    stream_silence_seconds: Annotated[int, Field(ge=10)] = 300
    liquidation_warning_percent: PosDecimal = Decimal(10)
    margin_usage_warning_percent: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(80)

    @field_validator("daily_report_cron", "heartbeat_cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from bot.cron import Cron, CronError

        try:
            Cron(v)
        except CronError as exc:
            raise ValueError(f"must be a 5-field cron expression like '0 20 * * *' ({exc})") from None
        return v


class KillConfig(Strict):
    flatten: Literal["always", "ask", "never"] = "ask"
    retry_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    retry_backoff_seconds: PosDecimal = Decimal("0.5")
    flatten_slippage: Annotated[Decimal, Field(gt=0, le=Decimal("0.5"))] = Decimal("0.05")
    # the first report goes out by then even while a venue is down (what is done, what is pending)
    first_report_seconds: Annotated[Decimal, Field(gt=0, le=30)] = Decimal(3)


class ArbitrageConfig(Strict):
    """Cross-venue spreads (issue #16): the /spread table always works; alerts and auto need enabled."""

    enabled: bool = False
    min_net_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal(10)  # after both taker fees
    min_duration_ms: Annotated[int, Field(ge=0, le=600_000)] = 500
    cooldown_s: Annotated[int, Field(ge=0, le=86_400)] = 300
    max_notional_usd: PosDecimal = Decimal(1000)
    slippage: Annotated[Decimal, Field(gt=0, le=Decimal("0.05"))] = Decimal("0.001")
    auto: bool = False
    max_pairs_per_hour: Annotated[int, Field(ge=0, le=1000)] = 4
    max_data_age_ms: Annotated[int, Field(ge=100, le=60_000)] = 2000
    poll_ms: Annotated[int, Field(ge=20, le=10_000)] = 200


class Config(Strict):
    telegram: TelegramConfig = TelegramConfig()
    exchanges: ExchangesConfig
    trading: TradingConfig = TradingConfig()
    risk: RiskConfig = RiskConfig()
    storage: StorageConfig = StorageConfig()
    timezone: str = "UTC"
    alerts: AlertsConfig = AlertsConfig()
    kill: KillConfig = KillConfig()
    web: WebConfig = WebConfig()
    arbitrage: ArbitrageConfig = ArbitrageConfig()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as 'UTC' or 'Europe/Berlin'") from None
        return v

    @model_validator(mode="after")
    def _one_chat(self) -> Config:
        if self.web.enabled is True and self.telegram.enabled:
            raise ValueError("web.enabled is true and telegram.bot_token is set: the chat is Telegram or the local"
                             " page, not both (set web.enabled \"auto\" to use the page only without a token)")
        return self

    @property
    def web_chat(self) -> bool:
        """The local chat page is served: no Telegram token, and the page not switched off."""
        return not self.telegram.enabled and self.web.enabled is not False

    @model_validator(mode="after")
    def _default_exchange_enabled(self) -> Config:
        d = self.trading.default_exchange
        if d is not None and d not in self.exchanges.enabled:
            raise ValueError(f"trading.default_exchange is {d!r} but that exchange is not enabled")
        return self
