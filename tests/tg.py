"""End-to-end harness: the real App (PTB, risk, paper exchange) against the Telegram emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import App
from bot.config import parse_config
from sim.serve import start_site
from sim.telegram import TelegramSim

TRADER = 111
OTHER_TRADER = 222
STRANGER = 999


class Chat:
    def __init__(self, http: aiohttp.ClientSession, base: str, user_id: int, chat_id: int | None = None):
        self.http, self.base, self.user_id = http, base, user_id
        self.chat_id = chat_id if chat_id is not None else user_id

    async def transcript(self) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/_sim/chats/{self.chat_id}") as r:
            return await r.json()  # type: ignore[no-any-return]

    async def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in (await self.transcript())["messages"] if m["from_bot"]]

    async def send(self, text: str) -> dict[str, Any]:
        async with self.http.post(f"{self.base}/_sim/send",
                                  json={"user_id": self.user_id, "chat_id": self.chat_id, "text": text}) as r:
            return await r.json()  # type: ignore[no-any-return]

    async def press(self, message_id: int, data: str) -> dict[str, Any]:
        async with self.http.post(f"{self.base}/_sim/press", json={"user_id": self.user_id, "chat_id": self.chat_id,
                                                                  "message_id": message_id, "data": data}) as r:
            assert r.status == 200, await r.text()
            return await r.json()  # type: ignore[no-any-return]

    async def wait(self, pred: Callable[[dict[str, Any]], bool], within: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            t = await self.transcript()
            if pred(t):
                return t
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; transcript: {t}")
            await asyncio.sleep(0.02)

    async def ask(self, text: str, within: float = 10.0) -> dict[str, Any]:
        """Send a message and return the bot's first new message."""
        before = len(await self.bot_messages())
        await self.send(text)
        t = await self.wait(lambda t: len([m for m in t["messages"] if m["from_bot"]]) > before, within)
        return [m for m in t["messages"] if m["from_bot"]][before]

    async def click(self, message: dict[str, Any], data: str, within: float = 10.0) -> dict[str, Any]:
        """Press a button; return the message as it is after the bot edited it (or the next new one)."""
        mid = message["message_id"]
        before = await self.transcript()
        old = next(m for m in before["messages"] if m["message_id"] == mid)
        n_bot, n_answers = len([m for m in before["messages"] if m["from_bot"]]), len(before["callback_answers"])
        await self.press(mid, data)

        def changed(t: dict[str, Any]) -> bool:
            now = next(m for m in t["messages"] if m["message_id"] == mid)
            return (now["edits"] > old["edits"] or len([m for m in t["messages"] if m["from_bot"]]) > n_bot
                    or (len(t["callback_answers"]) > n_answers and t["callback_answers"][-1]["text"]))

        t = await self.wait(changed, within)
        now = next(m for m in t["messages"] if m["message_id"] == mid)
        if now["edits"] > old["edits"]:
            return now
        bots = [m for m in t["messages"] if m["from_bot"]]
        return bots[n_bot] if len(bots) > n_bot else {"answer": t["callback_answers"][-1]}


def _started(t: dict[str, Any]) -> int:
    return sum(bool(m["from_bot"]) and "started</b>" in (m["text"] or "") for m in t["messages"])


def button(message: dict[str, Any], prefix: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for b in row:
            if b["callback_data"].startswith(prefix) or b["text"].startswith(prefix):
                return str(b["callback_data"])
    raise AssertionError(f"no button {prefix!r} in {message.get('reply_markup')}")


class Rig:
    def __init__(self, tmp_path: Path, clock: Callable[[], int] | None = None, venue: str = "paper",
                 telegram_limits: dict[str, float] | None = None, **overrides: Any):
        self.tmp_path = tmp_path
        self.clock = clock
        self.venue = venue
        self.hl_url: str | None = None
        self.overrides = overrides
        self.sim = TelegramSim(**(telegram_limits or {}))  # e.g. {"chat_rate": 100}: a test not about flood limits
        self.app: App | None = None

    async def __aenter__(self) -> Rig:
        self.runner, self.base = await start_site(self.sim.app())
        if self.venue in ("hyperliquid", "both"):
            from sim.hyperliquid.server import HyperliquidSim
            from tests.hl import ADDRESS

            self.hl = HyperliquidSim(fund_usdc=Decimal(10_000))
            self.hl.see(ADDRESS)
            self.hl_runner, self.hl_url = await start_site(self.hl.app())
        self.aster_url: str | None = None
        if self.venue in ("aster", "both"):
            from sim.aster.server import AsterSim
            from tests.aster import SIGNER, USER

            self.aster = AsterSim(fund_usdt=Decimal(10_000))
            self.aster.registry.agents[SIGNER.lower()] = USER.lower()
            self.aster.see(USER.lower())
            self.aster_runner, self.aster_url = await start_site(self.aster.app())
        self.http = aiohttp.ClientSession()
        try:
            await self.start_bot()
        except BaseException:
            await self.__aexit__()
            raise
        self.trader = Chat(self.http, self.base, TRADER)
        self.other = Chat(self.http, self.base, OTHER_TRADER)
        self.stranger = Chat(self.http, self.base, STRANGER)
        await self.started_told()
        return self

    async def started_told(self) -> None:
        """Wait for the "tradebot started" report when reports are on, so a test counting the messages
        that follow its own action does not count it."""
        if self.app is None or self.app.config.alerts.reports == "off" or not hasattr(self, "trader"):
            return
        n = self._started_before
        await self.trader.wait(lambda t: _started(t) > n, within=10)

    async def _count_started(self) -> int:
        return _started(await self.trader.transcript()) if hasattr(self, "trader") else 0

    def config(self) -> Any:
        raw: dict[str, Any] = {
            "telegram": {"bot_token": "123:SIMTOKEN", "base_url": f"{self.base}/bot",
                         "allowed_user_ids": [TRADER, OTHER_TRADER]},
            "exchanges": self._exchanges(),
            "storage": {"path": str(self.tmp_path / "bot.db")},
            "trading": {"max_leverage": 20, "max_order_size": 100_000,
                        "position_limits": {"max_positions_per_symbol": 1, "max_total_positions": 5,
                                            "max_position_size_usd": 100_000}},
            "risk": {"position_size_limit": 1},
            # pushed alerts would interleave with command replies; the alert tests switch them on
            "alerts": {k: "off" for k in ("fills", "orders", "risk", "streams", "reports")},
        }
        for k, v in self.overrides.items():
            raw[k] = {**raw.get(k, {}), **v} if isinstance(v, dict) else v
        return parse_config(raw, env={})[0]

    def _exchanges(self) -> dict[str, Any]:
        if self.venue == "paper":
            return {"paper": {"enabled": True, "tick_interval_seconds": 0}}
        out: dict[str, Any] = {}
        if self.venue in ("hyperliquid", "both"):
            out["hyperliquid"] = {"enabled": True, "testnet": True, "base_url": self.hl_url,
                                  "account_address": "0x14791697260E4c9A71f18484C9f997B308e59325",
                                  "secret_key": "0x" + "0123456789" * 6 + "0123"}
        if self.venue in ("aster", "both"):
            from tests.aster import SIGNER, SIGNER_KEY, USER

            ws = (self.aster_url or "").replace("http://", "ws://")
            out["aster"] = {"enabled": True, "user": USER, "signer": SIGNER, "signer_key": SIGNER_KEY,
                            "base_url": self.aster_url, "spot_base_url": self.aster_url,
                            "ws_url": f"{ws}/fstream", "spot_ws_url": f"{ws}/sstream"}
        return out

    async def start_bot(self) -> None:
        self._started_before = await self._count_started()
        self.app = App(self.config(), **({"clock": self.clock} if self.clock else {}))
        self.app.telegram.poll_timeout_s = 1  # type: ignore[union-attr]
        await self.app.start()
        assert self.app.telegram is not None
        await asyncio.wait_for(self.app.telegram.running.wait(), 10)
        await self.started_told()

    async def stop_bot(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    @property
    def paper(self) -> Any:
        """The venue under test (the paper exchange or the Hyperliquid adapter)."""
        assert self.app is not None
        return self.app.exchanges[self.venue]

    async def aster_control(self, route: str, body: dict[str, Any]) -> Any:
        from tests.aster import control

        return await control(self.aster_url or "", route, body)

    async def aster_price(self, coin: str, px: str) -> None:
        await self.aster_control("price", {"symbol": f"{coin}USDT", "px": px})

    async def fault(self, **body: Any) -> None:
        await self.control("fault", **body)

    async def control(self, name: str, **body: Any) -> None:
        async with self.http.post(f"{self.base}/_sim/{name}", json=body) as r:
            assert r.status == 200

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_bot()
        await self.http.close()
        await self.runner.cleanup()
        if self.hl_url:
            await self.hl_runner.cleanup()
        if self.aster_url:
            await self.aster_runner.cleanup()
