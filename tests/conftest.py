from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
DATA = Path(__file__).resolve().parent / "data"


def fixture(rel: str) -> Any:
    path = FIXTURES / rel
    if not path.exists():
        pytest.fail(f"shared fixture {rel} missing: tests expect ../shared beside the checkout")
    return json.loads(path.read_text())


class FakeClock:
    """A controllable millisecond clock."""

    def __init__(self, start_ms: int = 1_700_000_000_000):
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def hl():
    """An emulated Hyperliquid in the test's loop, the account funded, and a connected adapter."""
    from tests.hl import ADDRESS, adapter, hl_venue

    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url)
        await ex.connect()
        try:
            yield sim, url, ex
        finally:
            await ex.close()
