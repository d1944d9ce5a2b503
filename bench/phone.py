"""The trader's wait on the phone: from the button press at the Telegram emulator to the preview
edited into the venue's answer in the chat, through the real bot (PTB, handlers, desk, risk, adapter).
The Telegram emulator's flood limits are lifted: this times the venue path, not Telegram's pacing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.app import App

BLOCK = 25
WARM_UP = 20


async def phone(config: Any, venue: str, n: int, prepare: Any = None) -> list[float]:
    """Button press at the Telegram emulator -> the preview edited into the result, as the trader sees it."""
    import aiohttp

    from sim.serve import start_site
    from sim.telegram import TelegramSim

    sim = TelegramSim(chat_capacity=10**6, chat_rate=10**6, global_rate=10**6)  # the venue path, not flood control
    runner, base = await start_site(sim.app())
    app = App(config(f"{base}/bot"))
    await app.start()
    if prepare is not None:
        prepare(app)
    assert app.telegram is not None
    app.telegram.poll_timeout_s = 1
    await asyncio.wait_for(app.telegram.running.wait(), 10)
    times: list[float] = []
    http = aiohttp.ClientSession()

    async def transcript() -> list[dict[str, Any]]:
        async with http.get(f"{base}/_sim/chats/111") as r:
            return list((await r.json())["messages"])

    async def post(route: str, body: dict[str, Any]) -> None:
        async with http.post(f"{base}/_sim/{route}", json=body) as r:
            assert r.status == 200

    try:
        for i in range(n + WARM_UP):
            before = len(await transcript())
            await post("send", {"user_id": 111, "text": f"/buy {venue} ETH 0.01 {3400 - i % 50}"})
            deadline = time.monotonic() + 10
            while True:
                msgs = await transcript()
                fresh = [m for m in msgs[before:] if m["from_bot"] and m["reply_markup"]
                         and "ok:" in str(m["reply_markup"])]
                if fresh:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"no preview to confirm: {[m['text'] for m in msgs[before:]]}")
                await asyncio.sleep(0.001)
            preview = fresh[0]
            data = next(b["callback_data"] for row_ in preview["reply_markup"]["inline_keyboard"] for b in row_
                        if str(b["callback_data"]).startswith("ok:"))
            edits = preview["edits"]
            t0 = time.perf_counter()
            await post("press", {"user_id": 111, "message_id": preview["message_id"], "data": data})
            deadline = time.monotonic() + 10
            while True:
                m = next(x for x in await transcript() if x["message_id"] == preview["message_id"])
                if m["edits"] > edits and "Resting" in (m["text"] or ""):  # the venue's answer, shown
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"no result shown: {m['text']}")
                await asyncio.sleep(0.0005)
            if i >= WARM_UP:
                times.append((time.perf_counter() - t0) * 1000)
            if i % BLOCK == BLOCK - 1:
                await app.risk.orders.cancel_all(venue)
            await asyncio.sleep(0.06)  # untimed: under a venue's 1,200 orders a minute per account
    finally:
        await http.close()
        await app.stop()
        await runner.cleanup()
    return times
