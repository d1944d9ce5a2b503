"""Notices raised by one piece of work are told together, and only with each other: two tasks batching
at the same time (the kill switch and a loss check) never mix or split each other's messages."""

from __future__ import annotations

import asyncio

from risk.events import Bus, NoticeBatch, SafetyNetRefused, StateChanged, TradingState


def changed(reason: str) -> StateChanged:
    return StateChanged(TradingState.ACTIVE, TradingState.HALTED, reason, "test", 0)


async def test_two_tasks_batching_at_once_keep_their_own_notices():
    bus, got = Bus(), []
    bus.subscribe(got.append)
    monitor_in, kill_published = asyncio.Event(), asyncio.Event()

    async def loss_check() -> None:
        with bus.batch():
            monitor_in.set()
            await kill_published.wait()  # its reads are slow; it ends while the kill is still working

    async def kill() -> None:
        await monitor_in.wait()
        with bus.batch():
            bus.publish(changed("kill requested"))
            kill_published.set()
            await asyncio.sleep(0.01)
            bus.publish(SafetyNetRefused("paper", "the report", 0))

    await asyncio.gather(loss_check(), kill())
    assert got == [NoticeBatch((changed("kill requested"), SafetyNetRefused("paper", "the report", 0)))]


async def test_a_task_started_inside_a_batch_is_told_after_it_ends():
    bus, got = Bus(), []
    bus.subscribe(got.append)
    go = asyncio.Event()

    async def later() -> None:
        await go.wait()
        bus.publish(SafetyNetRefused("paper", "later", 0))

    with bus.batch():
        task = asyncio.get_running_loop().create_task(later())  # inherits the batch's context
        bus.publish(changed("first"))
    go.set()
    await task
    assert got == [NoticeBatch((changed("first"),)), SafetyNetRefused("paper", "later", 0)]


async def test_nested_batches_in_one_task_are_one_message():
    bus, got = Bus(), []
    bus.subscribe(got.append)
    with bus.batch():
        bus.publish(changed("a"))
        with bus.batch():
            bus.publish(changed("b"))
    assert got == [NoticeBatch((changed("a"), changed("b")))]
