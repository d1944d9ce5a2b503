"""asyncio helpers.

`within()` replaces `asyncio.wait_for`: on Python 3.11, wait_for can swallow a cancellation that
arrives as the awaited call finishes (fixed in 3.12), leaving a "cancelled" task running forever.
`asyncio.timeout` does not have that flaw.

`gather_reads()` awaits reads that are usually answered from memory without a task each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float | None) -> T:
    """Await `aw`, raising TimeoutError after `seconds` (None: no limit)."""
    async with asyncio.timeout(seconds):
        return await aw


async def gather_reads(*coros: Coroutine[Any, Any, Any], in_memory: bool,
                       return_exceptions: bool = False) -> list[Any]:
    """asyncio.gather for reads. When the caller knows they are answered from memory, they are awaited
    one after another: no task per read (several times cheaper on the order path), and no turn of the
    event loop in between, so the values are of one instant. Otherwise they run concurrently."""
    if not in_memory:
        return list(await asyncio.gather(*coros, return_exceptions=return_exceptions))
    out: list[Any] = []
    for i, c in enumerate(coros):
        try:
            out.append(await c)
        except Exception as exc:
            if not return_exceptions:
                for rest in coros[i + 1:]:
                    rest.close()  # never started: closed, not left to warn "never awaited"
                raise
            out.append(exc)
    return out
