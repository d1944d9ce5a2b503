"""One authenticated REST call as the handlers see it, and the route table's entry type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sim.aster.params import integer


@dataclass
class Call:
    user: str  # "" on public endpoints
    params: dict[str, str]
    method: str
    version: str
    ip: str = "?"
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

    def int(self, name: str, *, required: bool = False) -> int | None:
        return integer(self.params, name, required=required)


Handler = Callable[[Call], Any | Awaitable[Any]]

# security types (the docs'): NONE / MARKET_DATA need nothing; SIGNED = TRADE and USER_DATA;
# STREAM = USER_STREAM (V1: the API key only; V3: signed like the others)
NONE, SIGNED, STREAM = "NONE", "SIGNED", "STREAM"


@dataclass(frozen=True)
class Route:
    fn: Handler
    security: str = NONE
    versions: frozenset[str] = frozenset({"v1", "v3"})
    action: str | None = None  # a main-wallet action signed over its own typed struct
    orders: bool = False  # counts against the account's order rate limit
