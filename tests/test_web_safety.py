"""The chat page can place orders: strangers get nothing. Token, cookie, Origin, Host, password, headers."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.config import ConfigError, parse_config
from bot.web.guard import Guard, is_loopback
from bot.web.server import WebChat
from tests.web import session

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def page() -> AsyncIterator[WebChat]:
    chat = WebChat("127.0.0.1", 0)
    await chat.start()
    try:
        yield chat
    finally:
        await chat.stop()


def base(chat: WebChat) -> str:
    return f"http://127.0.0.1:{chat.port}"


async def status(url: str, method: str = "GET", **kw: object) -> int:
    async with aiohttp.ClientSession() as http, http.request(method, url, allow_redirects=False, **kw) as r:  # type: ignore[arg-type]
        await r.read()
        return r.status


async def test_no_token_wrong_token_and_a_foreign_origin_are_refused(page):
    b, token = base(page), page.page_token
    for path in ("/", "/chat.js", "/api/history", "/api/events", "/files/photo-x"):
        assert await status(b + path) == 401, path  # no token
        assert await status(f"{b}{path}?t=wrong-{token}") == 403, path  # a wrong one
        assert await status(b + path, cookies={page.guard.cookie: token[:-1]}) == 403, path
    send = {"json": {"text": "/kill"}}
    assert await status(b + "/api/send", "POST", headers={"Origin": b}, **send) == 401
    assert await status(f"{b}/api/send?t=nope", "POST", headers={"Origin": b}, **send) == 403
    # the right token, from another site: a CSRF attempt, a cross-site read, a script on another origin
    good = {"cookies": {page.guard.cookie: token}}
    assert await status(b + "/api/send", "POST", headers={"Origin": "http://evil.example"}, **send, **good) == 403
    assert await status(b + "/api/send", "POST", headers={"Origin": "null"}, **send, **good) == 403
    assert await status(b + "/api/send", "POST", **send, **good) == 403  # a POST must say where it comes from
    assert await status(b + "/api/history", headers={"Origin": "http://evil.example"}, **good) == 403
    assert await status(b + "/api/events", headers={"Origin": f"http://127.0.0.1:{page.port + 1}"}, **good) == 403
    # a form post (no preflight) cannot send JSON
    assert await status(b + "/api/send", "POST", headers={"Origin": b}, data={"text": "/kill"}, **good) == 415
    assert page.sim.messages == {}  # nothing reached the bot
    assert await status(b + "/api/history", **good) == 200


async def test_dns_rebinding_a_foreign_host_is_refused(page):
    good = {"cookies": {page.guard.cookie: page.page_token}}
    b = base(page)
    for host in ("evil.example", f"evil.example:{page.port}", f"127.0.0.1:{page.port + 1}", ""):
        assert await status(b + "/api/history", headers={"Host": host}, **good) == 421, host
    for host in (f"127.0.0.1:{page.port}", f"localhost:{page.port}"):
        assert await status(b + "/api/history", headers={"Host": host}, **good) == 200, host


async def test_the_first_load_moves_the_token_into_a_strict_cookie(page):
    b = base(page)
    async with session() as http:
        async with http.get(page.url, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/"  # the token leaves the address bar
            cookie = r.headers["Set-Cookie"]
            assert f"tradebot_{page.port}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with http.get(b + "/") as r:  # the cookie alone from now on
            assert r.status == 200 and "<title>tradebot</title>" in await r.text()
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
            assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "no-referrer"
        async with http.post(b + "/api/send", json={"text": "hello"}, headers={"Origin": b}) as r:
            assert r.status == 200
        async with http.post(b + "/api/send", json={"text": " "}, headers={"Origin": b}) as r:
            assert r.status == 400
        async with http.post(b + "/api/press", json={"message_id": 1, "data": "ok:x"}, headers={"Origin": b}) as r:
            assert r.status == 400  # the user's own message has no such button
    assert [m.text for m in page.sim.messages[page.user_id]] == ["hello"]


async def test_the_bot_api_behind_the_page_answers_only_the_bots_token_and_has_no_controls(page):
    api = page.bot_api_base
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/bot{page.bot_token}/getMe") as r:
            assert r.status == 200 and (await r.json())["ok"]
        async with http.post(f"{api}/bot123:guess/getUpdates") as r:
            assert r.status == 401  # another local user cannot read the chat or speak as the bot
        async with http.post(f"{api}/_sim/send", json={"user_id": page.user_id, "text": "/kill"}) as r:
            assert r.status == 404  # nor act as the trader
    assert api.startswith("http://127.0.0.1:")


async def test_a_password_is_asked_when_set():
    chat = WebChat("127.0.0.1", 0, password="correct horse")
    await chat.start()
    try:
        good = {"cookies": {chat.guard.cookie: chat.page_token}}
        url = base(chat) + "/api/history"
        async with aiohttp.ClientSession() as http, http.get(url, **good) as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        wrong = "Basic " + base64.b64encode(b"me:battery staple").decode()
        right = "Basic " + base64.b64encode(b"me:correct horse").decode()
        assert await status(url, headers={"Authorization": wrong}, **good) == 401
        assert await status(url, headers={"Authorization": "Basic !!"}, **good) == 401
        assert await status(url, headers={"Authorization": right}, **good) == 200
        assert await status(url, headers={"Authorization": right}) == 401  # and the token still
    finally:
        await chat.stop()


def test_off_loopback_the_page_needs_a_password_and_says_so_at_start():
    raw = {"exchanges": {"paper": {"enabled": True}}, "web": {"host": "0.0.0.0"}}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, env={})
    assert "web: password is required when host is '0.0.0.0'" in err.value.messages[0]
    raw["web"]["password"] = "${WEB_PASSWORD}"
    config, _ = parse_config(raw, env={"WEB_PASSWORD": "s3cret-enough"})
    chat = WebChat(config.web.host, 8080, config.web.password.get_secret_value())
    notices = "\n".join(chat.notices())
    assert "warning: the page listens on 0.0.0.0, not only on this machine" in notices and "web.password" in notices
    assert "s3cret-enough" not in notices
    assert "warning" not in "\n".join(WebChat("127.0.0.1", 0).notices())


def test_loopback_and_host_rules():
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    g = Guard("t", 8080, "127.0.0.1")
    assert g.host_ok("127.0.0.1:8080") and g.host_ok("localhost:8080") and g.host_ok("[::1]:8080")
    assert not g.host_ok("127.0.0.1:8081") and not g.host_ok("attacker.example:8080") and not g.host_ok(None)
    assert not g.host_ok("127.0.0.1") and not g.host_ok("127.0.0.1:80x")
    named = Guard("t", 8080, "trader-box.lan", "pw")
    assert named.host_ok("trader-box.lan:8080") and named.host_ok("192.168.1.5:8080")
    assert not named.host_ok("rebound.example:8080")
    assert g.origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080", "POST")
    assert not g.origin_ok("http://localhost:8080", "127.0.0.1:8080", "POST")  # another origin, as browsers see it
    assert not g.origin_ok(None, "127.0.0.1:8080", "POST") and g.origin_ok(None, "127.0.0.1:8080", "GET")
