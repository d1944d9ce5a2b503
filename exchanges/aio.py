"""asyncio helpers.

`within()` replaces `asyncio.wait_for`: on Python 3.11, wait_for can swallow a cancellation that
arrives as the awaited call finishes (fixed in 3.12), leaving a "cancelled" task running forever.
`asyncio.timeout` does not have that flaw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float | None) -> T:
    """Await `aw`, raising TimeoutError after `seconds` (None: no limit)."""
    async with asyncio.timeout(seconds):
        return await aw
