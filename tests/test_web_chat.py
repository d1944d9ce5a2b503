"""`tradebot run` without a Telegram token: the chat page drives the very path Telegram drives (PTB, the
handlers, the notifier and its outbox), shows exactly what the bot sent, live, and keeps it bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import App, StartupError
from bot.config import ConfigError, LoadedConfig, parse_config, summary
from bot.web.render import html_nodes, plain, safe_href, text_nodes
from bot.web.server import WEB_USER_ID, WebChat
from sim.telegram import TelegramSim
from tests.web import session

pytestmark = pytest.mark.timeout(60)


def config(tmp_path: Any, **extra: Any) -> Any:
    raw = {"exchanges": {"paper": {"enabled": True, "tick_interval_seconds": 0}},
           "storage": {"path": str(tmp_path / "bot.db")}, "web": {"port": 0}, **extra}
    return parse_config(raw, env={})[0]


class Page:
    """The page's HTTP API as the browser uses it, and its live stream parsed."""

    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base = http, base
        self.events: list[tuple[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self.open = asyncio.Event()

    async def listen(self) -> None:
        async with self.http.get(f"{self.base}/api/events") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
            self.open.set()
            name = None
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    self.events.append((name, json.loads(line[6:])))

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.base + path, json=body, headers={"Origin": self.base}) as r:
            assert r.status == 200, await r.text()
            return await r.json()  # type: ignore[no-any-return]

    async def history(self) -> dict[str, Any]:
        async with self.http.get(self.base + "/api/history") as r:
            return await r.json()  # type: ignore[no-any-return]

    async def arrived(self, pred: Any, within: float = 10.0) -> Any:
        """The data of the first event on the stream for which pred(name, data) holds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for name, data in self.events:
                if pred(name, data):
                    return data
            await asyncio.sleep(0.02)
        raise AssertionError(f"no such event; got {self.events}")

    async def pushed(self, pred: Any, within: float = 10.0) -> dict[str, Any]:
        """The first message event (new or edited) satisfying pred, as it arrived on the stream."""
        return await self.arrived(lambda name, data: name == "message" and pred(data), within)  # type: ignore[no-any-return]


@pytest.fixture
async def running(tmp_path) -> AsyncIterator[tuple[App, Page, list[str]]]:
    printed: list[str] = []
    app = App(config(tmp_path), console=printed.append)
    await app.start()
    try:
        assert app.web is not None and app.telegram is not None
        url = next(line.split("Chat page: ")[1] for line in printed if line.startswith("Chat page: "))
        async with session() as http:
            async with http.get(url) as r:
                assert r.status == 200  # the link with its token; the cookie from here on
            page = Page(http, url.split("/?")[0])
            page._task = asyncio.create_task(page.listen())
            await asyncio.wait_for(page.open.wait(), 5)
            try:
                yield app, page, printed
            finally:
                page._task.cancel()
    finally:
        await app.stop()


async def test_run_without_a_token_is_the_chat_page_on_the_telegram_path(running):
    app, page, printed = running
    assert printed[0].startswith("Chat page: http://127.0.0.1:") and "?t=" in printed[0]
    assert app.telegram.services.allowed_users == frozenset({WEB_USER_ID})  # the page's user, and nobody else
    assert (await page.history())["commands"][0]["command"] == "start"  # setMyCommands: the menu

    await page.post("/api/send", {"text": "/start"})
    start = await page.pushed(lambda m: not m["out"] and "is ready" in plain(m["body"]))
    assert start["keyboard"][0] == ["🛑 KILL"]
    await page.post("/api/send", {"text": "/balance"})
    bal = await page.pushed(lambda m: not m["out"] and "Account value" in plain(m["body"]))
    assert {"t": "b", "c": ["Balances"]} in bal["body"] and any(n.get("t") == "pre" for n in bal["body"]
                                                                  if isinstance(n, dict))
    [[refresh]] = bal["buttons"]
    assert refresh == {"text": "🔄 Refresh", "data": "r:balance"}
    await page.post("/api/send", {"text": "/buy ETH 0.01"})
    preview = await page.pushed(lambda m: not m["out"] and "Est. price" in plain(m["body"]))
    assert [b["text"] for b in preview["buttons"][0]] == ["✅ Confirm", "❌ Cancel"]
    await page.post("/api/press", {"message_id": preview["id"], "data": preview["buttons"][0][1]["data"]})
    cancelled = await page.pushed(lambda m: m["id"] == preview["id"] and m["edited"])  # edited in place, pushed
    assert plain(cancelled["body"]) == "❌ Cancelled; nothing was sent." and cancelled["buttons"] is None

    started = await page.pushed(lambda m: "started" in plain(m["body"] or []))  # the notifier's own push
    history = await page.history()
    typed = [plain(m["body"]) for m in history["messages"] if m["out"]]
    assert typed == ["/start", "/balance", "/buy ETH 0.01"]  # what the user typed, between the answers
    assert history["keyboard"][0] == ["🛑 KILL"]  # the reply keyboard survives a reload
    assert started in history["messages"] and cancelled in history["messages"]

    await page.post("/api/send", {"text": "/pnl"})
    photo = await page.pushed(lambda m: "photo" in m, within=20)
    async with page.http.get(page.base + photo["photo"]["src"]) as r:
        assert r.status == 200 and r.content_type == "image/png" and (await r.read())[:4] == b"\x89PNG"
    async with page.http.get(page.base + "/files/photo-0123") as r:
        assert r.status == 404

    await page.post("/api/send", {"text": "/alerts"})
    menu = await page.pushed(lambda m: "fills: on" in plain(m["body"] or []))
    await page.post("/api/press", {"message_id": menu["id"], "data": "al:fills"})
    await page.arrived(lambda n, d: n == "answer" and d["text"] == "fills: silent")  # the button's answer: a toast


async def test_a_user_typing_html_sees_it_as_text_and_a_stranger_is_not_the_user(running):
    app, page, _ = running
    await page.post("/api/send", {"text": "<b>not bold</b> <script>alert(1)</script>"})
    mine = await page.pushed(lambda m: m["out"])
    assert mine["body"] == ["<b>not bold</b> <script>alert(1)</script>"]
    await page.pushed(lambda m: not m["out"])  # the bot answered it (it is no command)
    sim = app.web.sim
    sim.user_send(999, "/balance")  # someone else in the emulator: the gate refuses them, as on Telegram
    await asyncio.sleep(0.5)
    assert 999 not in sim.messages or all(not m.from_bot for m in sim.messages[999])


async def test_a_taken_port_is_a_clear_error_and_nothing_is_left_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        app = App(config(tmp_path, web={"port": taken.getsockname()[1]}), console=lambda _: None)
        with pytest.raises(StartupError, match="the port is in use"):
            await app.start()
        await app.stop()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_the_default_port_taken_the_page_takes_another_and_says_so(tmp_path):
    assert App(config(tmp_path, web={})).web.any_port_if_taken  # 8080 only as a default: not in the config
    assert not App(config(tmp_path, web={"port": 8080})).web.any_port_if_taken  # asked for: that one or an error
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        chat = WebChat("127.0.0.1", taken.getsockname()[1], any_port_if_taken=True)
        await chat.start()
        try:
            assert chat.port != taken.getsockname()[1] and f":{chat.port}/?t=" in chat.url
            assert f"port {taken.getsockname()[1]} is in use" in "\n".join(chat.notices())
        finally:
            await chat.stop()


def test_telegram_html_becomes_safe_nodes():
    assert html_nodes("<b>B</b> <i>i</i> <code>c</code>\n<pre>p\nq</pre>\ntail") == [
        {"t": "b", "c": ["B"]}, " ", {"t": "i", "c": ["i"]}, " ", {"t": "code", "c": ["c"]},
        {"t": "pre", "c": ["p\nq"]}, "tail"]
    assert html_nodes('<a href="https://x.org/a?b=1&amp;c=2">x</a>') == [
        {"t": "a", "c": ["x"], "href": "https://x.org/a?b=1&c=2"}]
    assert html_nodes('<a href="javascript:alert(1)">x</a>') == [{"t": "a", "c": ["x"]}]  # no target
    assert html_nodes("<img src=x onerror=alert(1)>") == ["<img src=x onerror=alert(1)>"]  # text, not a tag
    assert html_nodes("<script>alert(1)</script>") == ["<script>alert(1)</script>"]
    assert html_nodes("1 &lt; 2 &amp;&amp; <b>3 &gt; 2</b>") == ["1 < 2 && ", {"t": "b", "c": ["3 > 2"]}]
    assert html_nodes('<pre><code class="language-py">x</code></pre>') == [{"t": "pre", "c": ["x"]}]
    assert html_nodes('<span class="tg-spoiler">s</span><strong>b</strong><em>i</em>') == [
        {"t": "spoiler", "c": ["s"]}, {"t": "b", "c": ["b"]}, {"t": "i", "c": ["i"]}]
    assert html_nodes("<b>open") == [{"t": "b", "c": ["open"]}]
    assert text_nodes("<b>x</b>", None) == ["<b>x</b>"] and text_nodes(None, "HTML") is None
    assert safe_href("tg://user?id=1") and not safe_href("data:text/html,x") and not safe_href("/relative")


def test_one_chat_at_a_time_and_the_summary_says_which(tmp_path):
    with pytest.raises(ConfigError) as err:
        config(tmp_path, web={"enabled": True}, telegram={"bot_token": "1:abcdefghijk", "allowed_user_ids": [1]})
    assert "not both" in err.value.messages[0]
    tg = config(tmp_path, telegram={"bot_token": "1:abcdefghijk", "allowed_user_ids": [1]})
    assert not tg.web_chat and App(tg).web is None
    assert "web chat page: off (Telegram is the chat)" in summary(LoadedConfig(tg, "x"))
    off = config(tmp_path, web={"enabled": False})
    app = App(off)
    assert app.web is None and app.telegram is None and app.notifier is None
    assert "web chat page: off (web.enabled is false)" in summary(LoadedConfig(off, "x"))
    on = config(tmp_path)
    assert "web chat page: on at 127.0.0.1, any free port" in "\n".join(summary(LoadedConfig(on, "x")))
    with pytest.raises(ConfigError) as err:
        config(tmp_path, web={"port": 70_000})
    assert err.value.messages[0].startswith("web.port:")


async def test_the_emulator_tells_listeners_and_forgets_old_messages_with_their_files():
    sim = TelegramSim(keep=8)
    seen: list[tuple[str, int]] = []
    stop = sim.subscribe(lambda event, chat, payload: seen.append((event, chat)))
    png = b"\x89PNG\r\n\x1a\n" + bytes(16)
    await sim.m_sendPhoto({"chat_id": "5", "photo": {"filename": "a.png", "data": png}})
    [file_id] = sim.files
    for i in range(8):
        sim.user_send(5, f"m{i}")
    assert len(sim.messages[5]) == 9 and file_id in sim.files  # trimmed in batches, not at each message
    sim.user_send(5, "m8")
    assert [m.text for m in sim.messages[5]] == [f"m{i}" for i in range(1, 9)]
    assert file_id not in sim.files  # the photo went with its message
    assert seen.count(("message", 5)) == 10 and seen.count(("deleted", 5)) == 2
    stop()
    sim.user_send(5, "unheard")
    assert seen.count(("message", 5)) == 10
    sim.subscribe(lambda *_: 1 / 0)  # a broken listener never breaks the emulator
    sim.user_send(5, "still works")
    assert sim.messages[5][-1].text == "still works"
