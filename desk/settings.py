"""What the services and the chat need from the config file, built by the composition root
(bot/settings.py), so nothing below bot/ reads the config schema."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DeskSettings:
    timezone: str  # IANA name: days, reports and charts are local to it
    day_reset_hour: int  # the loss-limit day starts then; history periods too
    default_exchange: str | None
    default_slippage: Decimal
    max_leverage: int  # the config's cap; a market's own cap may be lower


__all__ = ["DeskSettings"]
