"""The venue registry: the one list of venues. Each registers its name, the words a trader may type for
it, its config section and a builder. The config schema, the composition root and the command parser
derive their lists from here, so a new venue is its folder under exchanges/ plus one line in VENUES."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchanges.base import Exchange
from venues.sections import AsterConfig, HyperliquidConfig, PaperConfig


class VenueSetupError(Exception):
    """The config asks for something this venue cannot do; the message says what to change."""


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a builder may know beyond its own section (built by the composition root)."""

    sections: Mapping[str, Any]  # every venue's section, by name (paper reads Hyperliquid's URL)
    storage_path: str
    default_slippage: Decimal
    clock: Callable[[], int] | None = None


@dataclass(frozen=True, slots=True)
class Venue:
    name: str
    section: type[Any]  # the pydantic model of `exchanges.<name>`
    build: Callable[[Any, BuildContext], Exchange]
    aliases: tuple[str, ...] = ()
    in_process: bool = False  # no network: built (and so listed in /status, /balances...) before the others


def _build_hyperliquid(hl: HyperliquidConfig, ctx: BuildContext) -> Exchange:
    from exchanges.hyperliquid.adapter import HyperliquidExchange

    clock_kw: dict[str, Any] = {"clock": ctx.clock} if ctx.clock else {}
    return HyperliquidExchange(
        api_url=hl.api_url, ws_url=hl.stream_url, account_address=hl.account_address,
        secret_key=hl.secret_key.get_secret_value(), vault_address=hl.vault_address, is_mainnet=not hl.testnet,
        weight_per_minute=hl.rate_limit.requests_per_minute, default_slippage=ctx.default_slippage,
        probe_s=float(hl.stream.probe_seconds), stall_s=float(hl.stream.stall_seconds),
        **clock_kw,
    )


def _build_aster(aster: AsterConfig, ctx: BuildContext) -> Exchange:
    from exchanges.aster.adapter import AsterExchange
    from exchanges.aster.http import Credentials

    if aster.signer_key.get_secret_value():
        creds = Credentials(user=aster.user.lower(), signer_key=aster.signer_key.get_secret_value())
    else:
        creds = Credentials(api_key=aster.api_key.get_secret_value(), api_secret=aster.api_secret.get_secret_value())
    clock_kw: dict[str, Any] = {"clock": ctx.clock} if ctx.clock else {}
    return AsterExchange(
        base_url=aster.base_url, spot_base_url=aster.spot_base_url, ws_url=aster.ws_url,
        spot_ws_url=aster.spot_ws_url, credentials=creds, testnet=aster.testnet,
        weight_per_minute=aster.rate_limit.weight_limit, default_slippage=ctx.default_slippage, **clock_kw,
    )


def _build_paper(paper: PaperConfig, ctx: BuildContext) -> Exchange:
    from sim.paper import PaperExchange, PaperStateError, PriceFeed

    feed: PriceFeed | None = None
    if paper.price_source == "hyperliquid":
        from exchanges.hyperliquid.public import HyperliquidPrices

        feed = HyperliquidPrices(ctx.sections["hyperliquid"].api_url)
    elif paper.price_source == "aster":
        from exchanges.aster.public import AsterPrices

        feed = AsterPrices(ctx.sections["aster"].base_url)
    db = ctx.storage_path
    ex = PaperExchange(
        starting_balance=paper.starting_balance, seed=paper.seed, clock=ctx.clock, price_feed=feed,
        tick_interval_s=float(paper.tick_interval_seconds) or None,
        state_path=None if db == ":memory:" or db.startswith("file:") else f"{db}.paper",
    )
    try:  # here, so a bad file stops the start with what to do instead of a venue that never connects
        ex.load_state()
    except PaperStateError as exc:
        raise VenueSetupError(str(exc)) from None
    return ex


# The config's order (`exchanges enabled` lists them so); in-process venues are built first.
VENUES: tuple[Venue, ...] = (
    Venue("hyperliquid", HyperliquidConfig, _build_hyperliquid, aliases=("hl", "hyper")),
    Venue("aster", AsterConfig, _build_aster),
    Venue("paper", PaperConfig, _build_paper, in_process=True),
)
NAMES: tuple[str, ...] = tuple(v.name for v in VENUES)
ALIASES: dict[str, str] = {a: v.name for v in VENUES for a in v.aliases}


def build_all(sections: Mapping[str, Any], ctx: BuildContext) -> dict[str, Exchange]:
    """Every enabled venue, by name. Raises VenueSetupError for a config a venue cannot run."""
    order = sorted(VENUES, key=lambda v: not v.in_process)  # stable: the registry's order otherwise
    return {v.name: v.build(sections[v.name], ctx) for v in order if sections[v.name].enabled}


__all__ = ["ALIASES", "NAMES", "VENUES", "BuildContext", "Venue", "VenueSetupError", "build_all"]
