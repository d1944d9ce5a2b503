"""The bot as a child process for the chaos benchmark's SIGKILL cells.

    python -m bench.chaos_child '{"tmp": DIR, "base": TELEGRAM_URL, "hl_url": VENUE_URL, "overrides": {...}}'

It builds exactly the configuration `tests.tg.Rig` builds (same database under DIR, the emulators
in the parent), prints READY once Telegram polls, and stops cleanly on SIGTERM. SIGUSR1 / SIGUSR2
arm it: from then on each order it sends is announced as `SENDING <client id>`; armed with SIGUSR1
(before-send) it stops right there, after the intent is committed and before the request goes out,
so the parent can SIGKILL it at that step (as tests/crash_bot.py does for the order path alone).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from exchanges.models import Order, OrderRequest
from tests.tg import Rig


async def main(spec: dict[str, Any]) -> None:
    rig = Rig(Path(spec["tmp"]), venue="hyperliquid", **spec["overrides"])
    rig.base, rig.hl_url = spec["base"], spec["hl_url"]
    await rig.start_bot()
    assert rig.app is not None
    venue = rig.app.exchanges["hyperliquid"]
    real_place = venue.place
    armed: list[str] = []

    async def place(request: OrderRequest) -> Order:
        if armed:
            print(f"SENDING {request.client_id}", flush=True)
            if armed[0] == "before-send":
                await asyncio.sleep(3600)  # killed here: the intent is written, nothing went out
        return await real_place(request)

    venue.place = place  # type: ignore[method-assign]

    def arm(mode: str) -> None:
        armed[:] = [mode]
        print(f"ARMED {mode}", flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, arm, "before-send")
    loop.add_signal_handler(signal.SIGUSR2, arm, "after-send")
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    try:
        await stop.wait()
    finally:
        await rig.stop_bot()


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main(json.loads(sys.argv[1])))
