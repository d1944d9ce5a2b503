"""Each venue's config section (`exchanges.<name>` in the config file). Every model forbids unknown keys
(a typo must not silently disable a limit); secrets are SecretStr, so they never print."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

PosDecimal = Annotated[Decimal, Field(gt=0)]
NonNegDecimal = Annotated[Decimal, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_address(value: str, field: str) -> None:
    if not _ADDRESS.match(value):
        raise ValueError(f"{field} must be 0x followed by 40 hex digits")


class HyperliquidRateLimit(Strict):
    requests_per_minute: PosInt = 1200
    burst_limit: PosInt = 100


class AsterRateLimit(Strict):
    requests_per_minute: PosInt = 2400
    weight_limit: PosInt = 2400


class StreamConfig(Strict):
    # a feed quiet this long is checked against the venue over REST (cheap: weight 2 per probe)
    probe_seconds: Annotated[Decimal, Field(ge=Decimal("0.5"), le=60)] = Decimal(2)
    # no message at all this long: reconnect without asking
    stall_seconds: Annotated[Decimal, Field(ge=5, le=55)] = Decimal(30)


class HyperliquidConfig(Strict):
    enabled: bool = False
    account_address: str = ""
    secret_key: SecretStr = SecretStr("")
    vault_address: str | None = None
    base_url: str | None = None
    ws_url: str | None = None
    testnet: bool = False
    rate_limit: HyperliquidRateLimit = HyperliquidRateLimit()
    stream: StreamConfig = StreamConfig()

    @model_validator(mode="after")
    def _credentials(self) -> HyperliquidConfig:
        if self.enabled:
            check_address(self.account_address, "account_address")
            if not _KEY.match(self.secret_key.get_secret_value()):
                raise ValueError("secret_key must be a 32-byte hex private key (64 hex digits, optional 0x)")
        if self.vault_address is not None:
            check_address(self.vault_address, "vault_address")
        return self

    @property
    def api_url(self) -> str:
        default = "https://api.hyperliquid-testnet.xyz" if self.testnet else "https://api.hyperliquid.xyz"
        return (self.base_url or default).rstrip("/")

    @property
    def stream_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        return self.api_url.replace("https://", "wss://").replace("http://", "ws://") + "/ws"


class AsterConfig(Strict):
    enabled: bool = False
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    user: str = ""
    signer: str = ""
    signer_key: SecretStr = SecretStr("")
    base_url: str = "https://fapi.asterdex.com"
    spot_base_url: str = "https://sapi.asterdex.com"
    ws_url: str = "wss://fstream.asterdex.com"
    spot_ws_url: str = "wss://sstream.asterdex.com"
    testnet: bool = False
    rate_limit: AsterRateLimit = AsterRateLimit()

    @model_validator(mode="after")
    def _credentials(self) -> AsterConfig:
        if not self.enabled:
            return self
        v1 = bool(self.api_key.get_secret_value() and self.api_secret.get_secret_value())
        v3 = bool(self.user and self.signer and self.signer_key.get_secret_value())
        if not (v1 or v3):
            raise ValueError("give api_key and api_secret (V1 HMAC) or user, signer and signer_key (V3)")
        if v3:
            check_address(self.user, "user")
            check_address(self.signer, "signer")
        return self


class PaperConfig(Strict):
    enabled: bool = False
    starting_balance: PosDecimal = Decimal(10_000)
    price_source: Literal["sim", "hyperliquid", "aster"] = "sim"
    seed: int = 1
    tick_interval_seconds: NonNegDecimal = Decimal(1)  # 0: prices move only when told (tests, demos)
