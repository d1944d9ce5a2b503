"""A venue joins the contract suite by one line: its entry in tests/contract/conftest.py's VENUES.

The `venue` and `gappy` fixtures take their params from that table, so every contract test runs on
every entry; and a venue the bot registers (venues.VENUES) without an entry fails here, unless it is
named in PENDING and the bot still cannot build it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.contract.conftest import RUNS, VARIANTS, VENUES

# registered for the bot, but no adapter yet: the builder refuses it (when it builds, add its VENUES line)
PENDING: dict[str, str] = {}


def test_every_venue_the_bot_registers_runs_the_contract():
    from venues import VENUES as REGISTERED
    from venues import BuildContext, VenueSetupError

    names = [v.name for v in REGISTERED]
    missing = [n for n in names if n not in VENUES and n not in PENDING]
    assert not missing, f"add {missing} to VENUES in tests/contract/conftest.py"
    assert set(VENUES) <= set(names), "a contract venue the bot no longer registers"
    assert not set(VENUES) & set(PENDING), "a venue in the suite is no longer pending: drop it from PENDING"
    ctx = BuildContext(sections={v.name: v.section() for v in REGISTERED}, storage_path=":memory:",
                       default_slippage=Decimal("0.05"))
    for v in REGISTERED:
        if v.name in PENDING:  # built now? then it belongs in VENUES, not here
            with pytest.raises(VenueSetupError):
                v.build(v.section(), ctx)


def test_each_contract_test_runs_on_every_venue(request):
    if request.config.option.keyword or request.config.option.markexpr or any(
            "::" in a for a in request.config.args):
        pytest.skip("a filtered run collects only some venues")
    ran: dict[str, set[str]] = {}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        for fixture in ("venue", "gappy"):
            if fixture in params and item.nodeid.startswith("tests/contract/"):
                ran.setdefault(f"{item.module.__name__}.{item.originalname}", set()).add(params[fixture])
    assert ran, "no contract test was collected with the venue fixture"
    assert {name: sorted(got) for name, got in ran.items() if got != set(RUNS)} == {}
    assert all(v.split("-")[0] in VENUES for v in VARIANTS)  # a variant is a way into a registered venue
