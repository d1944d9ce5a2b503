"""The venue registry is the one list of venues: the config file, the command parser and the start-up
all take theirs from it."""

from __future__ import annotations

import pytest

from bot.app import build_exchanges
from bot.config import ConfigError, parse_config
from exchanges.aster.adapter import AsterExchange
from exchanges.aster.public import AsterPrices
from handlers.parsing import exchange_prefix
from sim.paper import PaperExchange
from venues import NAMES, VENUES


def test_the_parser_knows_every_registered_venue_by_name_and_alias():
    assert NAMES == ("hyperliquid", "aster", "paper")
    for v in VENUES:
        for word in (v.name, *v.aliases):
            assert exchange_prefix([word.upper(), "BTC", "0.01"]) == (v.name, ["BTC", "0.01"])
    assert exchange_prefix(["hl", "BTC"]) == ("hyperliquid", ["BTC"])
    assert exchange_prefix(["kraken", "BTC"]) == (None, ["kraken", "BTC"])  # a symbol, not a venue


def test_the_config_has_a_section_per_registered_venue_and_refuses_any_other():
    config, _ = parse_config({"exchanges": {"paper": {"enabled": True}}, "storage": {"path": ":memory:"}})
    assert [config.exchanges.section(n).enabled for n in NAMES] == [False, False, True]
    assert config.exchanges.enabled == ["paper"]
    with pytest.raises(ConfigError, match="kraken"):
        parse_config({"exchanges": {"paper": {"enabled": True}, "kraken": {"enabled": True}}})
    with pytest.raises(ConfigError, match="set enabled true on hyperliquid, aster or paper"):
        parse_config({"exchanges": {}})


def test_the_start_builds_what_the_registry_builds_and_says_what_a_venue_cannot_do():
    config, _ = parse_config({"exchanges": {"paper": {"enabled": True}}, "storage": {"path": ":memory:"}})
    built = build_exchanges(config)
    assert list(built) == ["paper"] and isinstance(built["paper"], PaperExchange)
    config, _ = parse_config({"exchanges": {"paper": {"enabled": True, "price_source": "aster"}},
                              "storage": {"path": ":memory:"}})
    assert isinstance(build_exchanges(config)["paper"].price_feed, AsterPrices)  # paper on Aster's prices
    config, _ = parse_config({"exchanges": {"aster": {"enabled": True, "user": "0x" + "1" * 40,
                                                      "signer": "0x" + "2" * 40, "signer_key": "0x" + "3" * 64}},
                              "storage": {"path": ":memory:"}})
    [aster] = build_exchanges(config).values()
    assert isinstance(aster, AsterExchange) and aster.creds.v3 and aster.f == "/fapi/v3"
    config, _ = parse_config({"exchanges": {"aster": {"enabled": True, "api_key": "k", "api_secret": "s"}},
                              "storage": {"path": ":memory:"}})
    [aster] = build_exchanges(config).values()
    assert isinstance(aster, AsterExchange) and not aster.creds.v3 and aster.f == "/fapi/v1"


def test_the_paper_venue_is_listed_first_beside_a_live_one():
    config, _ = parse_config({"exchanges": {"paper": {"enabled": True}, "hyperliquid": {
        "enabled": True, "testnet": True, "account_address": "0x" + "1" * 40, "secret_key": "0x" + "2" * 64}},
        "storage": {"path": ":memory:"}})
    assert config.exchanges.enabled == ["hyperliquid", "paper"]  # the config's order
    assert list(build_exchanges(config)) == ["paper", "hyperliquid"]  # the order every venue list shows
